/** Small memory maps for tests: holes, several segments, two domains, two free lists. */
import type { MemoryMap } from '../../src/machine/types.js';

const K = 1024;
const M = 1024 * K;

/* One domain; a low range, a kernel hole, a firmware hole; crosses the 16 MiB LOWMEM boundary. */
export function smallMap(): MemoryMap {
  return {
    name: 'small-24m',
    source: 'test',
    ndomains: 1,
    ram: [
      { start: 0, end: 640 * K, domain: 0 },
      { start: 1 * M, end: 24 * M, domain: 0 },
    ],
    physAvail: [
      { start: 4 * K, end: 640 * K },
      { start: 1 * M, end: 2 * M },
      { start: 3 * M + 12 * K, end: 9 * M },
      { start: 9 * M + 4 * K, end: 24 * M },
    ],
    reserved: [
      { start: 0, end: 4 * K, what: 'bios' },
      { start: 2 * M, end: 3 * M + 12 * K, what: 'kernel' },
      { start: 9 * M, end: 9 * M + 4 * K, what: 'firmware' },
    ],
  };
}

/* Two domains, adjacent at 12 MiB. */
export function numaMap(): MemoryMap {
  return {
    name: 'numa-2x6m',
    source: 'test',
    ndomains: 2,
    ram: [
      { start: 1 * M, end: 12 * M, domain: 0 },
      { start: 12 * M, end: 20 * M, domain: 1 },
    ],
    physAvail: [
      { start: 1 * M, end: 2 * M },
      { start: 2 * M + 64 * K, end: 12 * M },
      { start: 12 * M, end: 20 * M - 4 * K },
    ],
    reserved: [
      { start: 2 * M, end: 2 * M + 64 * K, what: 'kernel' },
      { start: 20 * M - 4 * K, end: 20 * M, what: 'acpi' },
    ],
  };
}
