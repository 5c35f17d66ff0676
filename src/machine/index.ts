/*
 * The machine layer's front door: one call that turns command-line style
 * options into a validated MemoryMap, and a tabular description of a map for
 * reports.
 */
import { PagelabError } from '../errors.js';
import { host } from '../host/node.js';
import { formatSize, hex, parseSize } from '../util/units.js';
import { memoryMapFromHost } from './iomem.js';
import { parseMemoryMapJson } from './memmap.js';
import { memoryMapForSize, presetMemoryMap } from './presets.js';
import type { MemoryMap, PhysRange } from './types.js';

export type { MemoryMap, PhysRange, RamRange } from './types.js';
export {
  buildMemoryMap,
  memoryMapToJson,
  memoryMapTotals,
  MAX_DOMAINS,
  MAX_MAP_RANGES,
  MAX_RAM_BYTES,
  MAX_RAM_RUNS,
  MAX_RAM_TEXT,
  PAGE_SIZE,
  parseMemoryMapJson,
  rangeText,
  subtractReserved,
  validateMemoryMap,
} from './memmap.js';
export { firecrackerMapForSize, KERNLOAD, MAX_MEM, memoryMapForSize, PRESET_NAMES, presetMemoryMap, PRESETS } from './presets.js';
export type { PresetInfo } from './presets.js';
export {
  memoryMapFromHost,
  memoryMapFromRamRanges,
  parseNodeMemoryBlocks,
  parseProcIomem,
  parseSysFirmwareMemmap,
  readNodeMemoryBlocks,
  readSysFirmwareMemmap,
} from './iomem.js';
export type { FirmwareMemmapEntry, NodeMemoryBlocks } from './iomem.js';

export const DEFAULT_PRESET = 'firecracker-1g';

/*
 * The most bytes `--memmap FILE` reads. A map at the range limits
 * (MAX_MAP_RANGES in each list, ~100 bytes a range) is about 300 KiB; 1 MiB
 * leaves room for comments and still refuses /dev/zero or a mistyped path to
 * a disk image at once.
 */
export const MEMMAP_MAX_BYTES = 1 << 20;

export interface MachineOptions {
  /** `--preset NAME` */
  preset?: string;
  /** `--mem SIZE`: bytes, or a string for parseSize ("1T", "0x40000000"). */
  mem?: string | number;
  /** `--memmap FILE`: a JSON memory map (docs/memmap-format.md). */
  memmapFile?: string;
  /** `--from-host`: this machine's /proc/iomem or /sys/firmware/memmap. */
  fromHost?: boolean;
}

/*
 * The memory map the options ask for.
 * Requires: at most one source among preset, mem, memmapFile, fromHost;
 * none means DEFAULT_PRESET.
 * Guarantees: a fresh, valid MemoryMap, or one PagelabError: EINVAL for two
 * sources at once, EMEMMAP for an unknown preset or a bad or unreadable file,
 * EFBIG for a file above MEMMAP_MAX_BYTES, ESIZE for a bad --mem, EHOST when
 * the host map cannot be read.
 */
export function resolveMachine(opts: MachineOptions = {}): MemoryMap {
  const given: string[] = [];
  if (opts.preset !== undefined) given.push(`--preset ${opts.preset}`);
  if (opts.mem !== undefined) given.push(`--mem ${opts.mem}`);
  if (opts.memmapFile !== undefined) given.push(`--memmap ${opts.memmapFile}`);
  if (opts.fromHost === true) given.push('--from-host');
  if (given.length > 1) {
    throw new PagelabError('EINVAL', `give one memory map source, not ${given.length}: ${given.join(', ')}`);
  }
  if (opts.mem !== undefined) return memoryMapForSize(parseSize(opts.mem, '--mem'));
  if (opts.memmapFile !== undefined) {
    const text = host.readTextBounded(opts.memmapFile, { maxBytes: MEMMAP_MAX_BYTES, label: `--memmap ${opts.memmapFile}`, what: 'a memory map', code: 'EMEMMAP' });
    return parseMemoryMapJson(text, opts.memmapFile);
  }
  if (opts.fromHost === true) return memoryMapFromHost();
  return presetMemoryMap(opts.preset ?? DEFAULT_PRESET);
}

export interface MemoryMapRow {
  /** Index in map.ram. */
  index: number;
  start: string;
  end: string;
  size: string;
  domain: number;
  bytes: number;
  /** Bytes of this range inside phys_avail. */
  availBytes: number;
  /**
   * The parts of this range outside phys_avail, as
   * "[0x200000, 0x1800000) 22M kernel and preloaded modules"; a part no
   * reserved range explains is labelled "not in phys_avail".
   */
  notAvail: string[];
}

/*
 * One row per RAM range, for a table: where it is, how big, which domain, and
 * which parts the kernel keeps for itself (start allocated in the VM layer).
 * Requires: a valid map.
 */
export function describeMemoryMap(map: MemoryMap): MemoryMapRow[] {
  // All three lists are sorted and disjoint, so one forward walk over each
  // serves every row: O(ram + phys_avail + reserved), not their product.
  let a = 0;
  let q = 0;
  return map.ram.map((r, index) => {
    while (a < map.physAvail.length && map.physAvail[a].end <= r.start) a++;
    const holes: PhysRange[] = [];
    let at = r.start;
    let availBytes = 0;
    for (; a < map.physAvail.length && map.physAvail[a].end <= r.end; a++) {
      const av = map.physAvail[a];
      if (av.start > at) holes.push({ start: at, end: av.start });
      availBytes += av.end - av.start;
      at = av.end;
    }
    if (at < r.end) holes.push({ start: at, end: r.end });
    const notAvail: string[] = [];
    for (const h of holes) {
      // Name each hole by the reserved ranges inside it; whatever is left
      // between them is reported as anonymous.
      while (q < map.reserved.length && map.reserved[q].end <= h.start) q++;
      let p = h.start;
      for (let k = q; k < map.reserved.length && map.reserved[k].start < h.end; k++) {
        const res = map.reserved[k];
        const s = Math.max(res.start, h.start);
        const e = Math.min(res.end, h.end);
        if (s > p) notAvail.push(`[${hex(p)}, ${hex(s)}) ${formatSize(s - p)} not in phys_avail`);
        notAvail.push(`[${hex(s)}, ${hex(e)}) ${formatSize(e - s)} ${res.what}`);
        p = e;
      }
      if (p < h.end) notAvail.push(`[${hex(p)}, ${hex(h.end)}) ${formatSize(h.end - p)} not in phys_avail`);
    }
    return {
      index,
      start: hex(r.start),
      end: hex(r.end),
      size: formatSize(r.end - r.start),
      domain: r.domain,
      bytes: r.end - r.start,
      availBytes,
      notAvail,
    };
  });
}
