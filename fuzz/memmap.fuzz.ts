/*
 * The memory-map fuzzer: JSON maps built from valid ones (the presets, the
 * lab-box fixture, small random maps) and then damaged one to four times:
 * hostile values in any field, duplicated keys, thousands of ranges, deep
 * nesting, shifted addresses, bytes inserted, deleted or cut off. Each text
 * goes to parseMemoryMapJson. A map that comes back must satisfy every
 * documented rule (checked here independently of validateMemoryMap), survive
 * a round trip through memoryMapToJson, and, when small, boot; an error must
 * be an EMEMMAP or ESIZE PagelabError of one safe, bounded line.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  MAX_MAP_RANGES,
  MAX_RAM_BYTES,
  MAX_RAM_RUNS,
  MEMMAP_MAX_BYTES,
  memoryMapToJson,
  parseMemoryMapJson,
  PRESET_NAMES,
  presetMemoryMap,
  type MemoryMap,
  type PhysRange,
} from '../src/machine/index.js';
import { seededRng } from '../src/util/rng.js';
import { checkPhys } from '../src/vm/checker.js';
import { Vm } from '../src/vm/vm.js';
import { errorProblem, newReport, note, shorten, UNSAFE_IN_OUTPUT, type FuzzReport } from './oracle.js';

const PAGE = 4096;
/* Maps up to this much RAM are booted too (lazily, then the consistency checker). */
const BOOT_LIMIT = 256 * 2 ** 20;

type Rng = () => number;
const pick = <T>(rng: Rng, list: readonly T[]): T => list[Math.floor(rng() * list.length)];
const int = (rng: Rng, n: number): number => Math.floor(rng() * n);

/* Values a hand-edited or malicious file might hold where an address, a size, a domain or a name goes. */
export const HOSTILE_VALUES: readonly unknown[] = [
  0, -1, 4096, 4097, 1.5, -0.5, 2 ** 32, 2 ** 52, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308,
  '0', '4K', '-4K', '+4K', '1e3', '0x', '0x1000', '0X1000', '0xFFFFFFFFFFFFFFFF', '99999999999999999999', '1.5G', '4 K', '4k',
  '16T', '17592186036224', '64T', '1P', '4P', '', ' ', 'NaN', 'Infinity', '0b101', '1_000',
  'x\u001b[2J\n', '\u202eevil', '\ud800', 'a'.repeat(5000), '\u0000',
  null, true, false, [], {}, [1, 2], { start: 0 },
];

const KEYS = ['start', 'end', 'size', 'domain', 'what', 'comment', 'name', 'ndomains', 'ram', 'reserved', 'phys_avail', 'sise', '__proto__', 'constructor', 'x\u001b[31m'];

/* A small valid map: a few ranges, touching or not, in up to three domains. */
function randomBase(rng: Rng): Record<string, unknown> {
  const ndomains = 1 + int(rng, 3);
  const ram: Array<Record<string, unknown>> = [];
  const reserved: Array<Record<string, unknown>> = [];
  let at = int(rng, 4) * PAGE;
  for (let i = 0, n = 1 + int(rng, 6); i < n; i++) {
    const len = (1 + int(rng, 4096)) * PAGE;
    ram.push({ start: at, size: len, domain: int(rng, ndomains) });
    if (len > PAGE && rng() < 0.5) reserved.push({ start: at, size: PAGE, what: `r${i}` });
    at += len + (rng() < 0.5 ? 0 : (1 + int(rng, 1024)) * PAGE);
  }
  return { name: 'random', ndomains, ram, reserved };
}

function baseDoc(rng: Rng): Record<string, unknown> {
  if (rng() < 0.5) return randomBase(rng);
  return JSON.parse(memoryMapToJson(presetMemoryMap(pick(rng, PRESET_NAMES)))) as Record<string, unknown>;
}

function lists(doc: Record<string, unknown>): Array<Array<Record<string, unknown>>> {
  return (['ram', 'reserved', 'phys_avail'] as const).map((k) => doc[k]).filter((l): l is Array<Record<string, unknown>> => Array.isArray(l));
}

/* One structural damage to the parsed document. */
function damageDoc(rng: Rng, doc: Record<string, unknown>): void {
  const ls = lists(doc);
  const list = ls.length > 0 ? pick(rng, ls) : [];
  const item = list.length > 0 ? pick(rng, list) : undefined;
  switch (int(rng, 7)) {
    case 0: // a hostile value in a range
      if (item !== undefined && typeof item === 'object' && item !== null) item[pick(rng, KEYS)] = pick(rng, HOSTILE_VALUES);
      break;
    case 1: // a hostile value at the top
      doc[pick(rng, KEYS)] = pick(rng, HOSTILE_VALUES);
      break;
    case 2: {
      // many ranges: copies of one, touching or not, sometimes past MAX_MAP_RANGES
      if (item === undefined) break;
      const n = pick(rng, [10, 64, 100, 1000, MAX_MAP_RANGES, MAX_MAP_RANGES + 1, 20_000]);
      const stride = (rng() < 0.5 ? 1 : 2) * 16 * PAGE;
      const copies = Array.from({ length: n }, (_, i) => ({ start: i * stride, size: 16 * PAGE, domain: item.domain }));
      list.splice(0, list.length, ...copies);
      break;
    }
    case 3: // drop or swap ranges
      if (list.length > 1 && rng() < 0.5) {
        const i = int(rng, list.length);
        const j = int(rng, list.length);
        [list[i], list[j]] = [list[j], list[i]];
      } else if (list.length > 0) list.splice(int(rng, list.length), 1);
      break;
    case 4: // shift an address by a few pages, or by an odd amount
      if (item !== undefined && typeof item.start === 'number') item.start += (int(rng, 9) - 4) * (rng() < 0.8 ? PAGE : 1);
      else if (item !== undefined && typeof item.start === 'string') item.start = `${item.start}${pick(rng, ['', '0', 'K', '1'])}`;
      break;
    case 5: {
      // deep nesting in a comment
      let nested: unknown = [];
      for (let d = pick(rng, [2, 31, 33, 1000]); d > 0; d--) nested = [nested];
      doc.comment = nested;
      break;
    }
    default: // a huge string
      if (item !== undefined) item.what = 'w'.repeat(pick(rng, [100, 100_000]));
  }
}

/* One damage to the text: bytes in, bytes out, a cut, a duplicated key, deep nesting. */
function damageText(rng: Rng, text: string): string {
  const at = int(rng, text.length + 1);
  switch (int(rng, 6)) {
    case 0:
      return text.slice(0, at) + pick(rng, ['{', '}', '[', ']', '"', ',', ':', '\\', '\u0000', '\u001b', '\n', '\u202e', '\ud800', '0', '-', 'e', 'x']) + text.slice(at);
    case 1:
      return text.slice(0, at) + text.slice(at + 1 + int(rng, 8));
    case 2:
      return text.slice(0, at);
    case 3: {
      // the same key twice in one object
      const brace = text.indexOf('{', at);
      if (brace < 0) return text;
      const key = pick(rng, KEYS);
      return `${text.slice(0, brace + 1)}"${key}": 0, "${key}": 1, ${text.slice(brace + 1)}`;
    }
    case 4: {
      const depth = pick(rng, [31, 32, 33, 100_000]);
      return text.replace(/^\{/, `{"comment": ${'['.repeat(depth)}${']'.repeat(depth)}, `);
    }
    default: {
      const from = int(rng, text.length);
      return text.slice(0, at) + text.slice(from, from + int(rng, 200)) + text.slice(at);
    }
  }
}

export function memmapCase(rng: Rng): string {
  const doc = baseDoc(rng);
  const structural = 1 + int(rng, 3);
  for (let i = 0; i < structural; i++) if (rng() < 0.8) damageDoc(rng, doc);
  let text = JSON.stringify(doc, null, rng() < 0.5 ? 2 : undefined);
  if (rng() < 0.4) text = damageText(rng, text);
  // What `--memmap` would read: the rest is refused there, unread.
  return text.slice(0, MEMMAP_MAX_BYTES);
}

/* Why a returned map breaks a documented rule, or null. Independent of validateMemoryMap. */
function mapProblem(map: MemoryMap): string | null {
  const listOk = (l: readonly PhysRange[], name: string): string | null => {
    if (l.length > MAX_MAP_RANGES) return `${name} has ${l.length} ranges`;
    for (let i = 0; i < l.length; i++) {
      const r = l[i];
      if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.end) || r.start < 0 || r.end <= r.start) return `${name}[${i}] is not a range`;
      if (r.start % PAGE !== 0 || r.end % PAGE !== 0) return `${name}[${i}] is not page-aligned`;
      if (i > 0 && l[i - 1].end > r.start) return `${name}[${i}] overlaps or is unsorted`;
    }
    return null;
  };
  const p = listOk(map.ram, 'ram') ?? listOk(map.physAvail, 'phys_avail') ?? listOk(map.reserved, 'reserved');
  if (p !== null) return p;
  if (map.ram.length === 0 || map.physAvail.length === 0) return 'empty ram or phys_avail';
  let runs = 0;
  let bytes = 0;
  map.ram.forEach((r, i) => {
    if (i === 0 || map.ram[i - 1].end !== r.start) runs++;
    bytes += r.end - r.start;
  });
  if (runs > MAX_RAM_RUNS) return `${runs} runs of RAM`;
  if (bytes > MAX_RAM_BYTES) return `${bytes} bytes of RAM`;
  for (const r of map.ram) if (!Number.isInteger(r.domain) || r.domain < 0 || r.domain >= map.ndomains) return `domain ${r.domain}`;
  // Both lists are sorted (checked above): one walk finds each phys_avail range's RAM range.
  let k = 0;
  for (const a of map.physAvail) {
    while (k < map.ram.length && map.ram[k].end <= a.start) k++;
    if (k === map.ram.length || map.ram[k].start > a.start || a.end > map.ram[k].end) return `phys_avail ${a.start} outside one RAM range`;
  }
  for (const n of [map.name, ...map.reserved.map((r) => r.what)]) if (UNSAFE_IN_OUTPUT.test(n)) return `name or label ${shorten(n, 80)} would print control characters`;
  return null;
}

/*
 * Runs `iterations` cases from `seed`. Guarantees: a report whose findings
 * list every case that broke the oracle; never throws for a case.
 */
export function fuzzMemoryMaps(iterations: number, seed: number): FuzzReport {
  const report = newReport('memmap', seed);
  const rng = seededRng(seed);
  for (let it = 0; it < iterations; it++) {
    const text = memmapCase(rng);
    const t0 = performance.now();
    let outcome = 'ok';
    let problem: string | null = null;
    try {
      const map = parseMemoryMapJson(text, 'fuzz.json');
      problem = mapProblem(map);
      if (problem === null) {
        const again = parseMemoryMapJson(memoryMapToJson(map), 'fuzz.json');
        if (!isDeepStrictEqual(again, map)) problem = 'memoryMapToJson does not round-trip';
      }
      if (problem === null && map.ram.reduce((s, r) => s + r.end - r.start, 0) <= BOOT_LIMIT) {
        try {
          checkPhys(new Vm(map).phys);
          outcome = 'booted';
        } catch (e) {
          outcome = `boot ${(e as { code?: string }).code ?? 'threw'}`;
          problem = errorProblem(e, ['EMEMMAP', 'EHOST']);
        }
      }
    } catch (e) {
      outcome = (e as { code?: string }).code ?? 'threw';
      problem = errorProblem(e, ['EMEMMAP', 'ESIZE']);
    }
    const ms = performance.now() - t0;
    note(report, outcome, ms, () => shorten(text));
    if (problem !== null) report.findings.push({ iteration: it, problem, input: shorten(text) });
  }
  return report;
}
