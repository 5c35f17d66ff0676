/*
 * Hostile memory maps: the limits are checked before the work they bound,
 * validation is O(n log n), duplicate keys and deep nesting are refused, and
 * --mem's ceiling is the page array's.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  buildMemoryMap,
  describeMemoryMap,
  MAX_MAP_RANGES,
  MAX_MEM,
  MAX_RAM_BYTES,
  MAX_RAM_RUNS,
  memoryMapForSize,
  memoryMapFromHost,
  memoryMapToJson,
  parseMemoryMapJson,
  presetMemoryMap,
  resolveMachine,
  validateMemoryMap,
  type MemoryMap,
  type PhysRange,
  type RamRange,
} from '../src/machine/index.js';
import { MAX_PAGES, PAGE_SIZE, VM_PHYSSEG_MAX } from '../src/vm/param.js';
import { code } from './helpers/errors.js';
import { runs } from './helpers/runs.js';

const K = 2 ** 10;
const T = 2 ** 40;
const PAGE = 4096;

/* `n` RAM ranges of 16 pages, touching or with a 16-page gap between them. */
function manyRanges(n: number, touching: boolean): Array<{ start: number; end: number }> {
  const step = (touching ? 16 : 32) * PAGE;
  return Array.from({ length: n }, (_, i) => ({ start: i * step, end: i * step + 16 * PAGE }));
}

describe('memory map limits', () => {
  it('the machine layer\'s limits are the VM\'s (machine/ cannot import them)', () => {
    assert.equal(MAX_RAM_RUNS, VM_PHYSSEG_MAX);
    assert.equal(MAX_RAM_BYTES, MAX_PAGES * PAGE_SIZE);
    assert.equal(MAX_RAM_BYTES, 16 * T - 8 * K);
    assert.equal(MAX_MEM, MAX_RAM_BYTES);
  });

  it('--mem: 16T - 8K is the largest machine; 16T, 64T and 1P are ESIZE naming the ceiling', () => {
    assert.equal(memoryMapForSize(MAX_MEM).ram.reduce((s, r) => s + r.end - r.start, 0), MAX_MEM);
    for (const mem of ['16T', '64T', '1P', String(MAX_MEM + PAGE)]) {
      assert.match(code(() => resolveMachine({ mem })), /^ESIZE: --mem .*: more than 16T - 8K \(17592186036224 bytes\), the most RAM/);
    }
    assert.equal(code(() => resolveMachine({ mem: '-4K' })), 'ESIZE: --mem: "-4K" is negative; sizes and addresses are never below 0');
  });

  it('a list longer than MAX_MAP_RANGES is refused before any range is looked at', () => {
    const ram = manyRanges(20_000, false);
    const text = JSON.stringify({ ram, phys_avail: ram });
    assert.equal(code(() => parseMemoryMapJson(text, 'big.json')), `EMEMMAP: big.json: ram has 20000 ranges; a map has at most ${MAX_MAP_RANGES} in each list`);
    const map: MemoryMap = { name: 'big', source: 't', ndomains: 1, ram: ram.map((r) => ({ ...r, domain: 0 })), physAvail: ram, reserved: [] };
    assert.match(code(() => validateMemoryMap(map)), /^EMEMMAP: memory map "big": ram has 20000 ranges/);
    // Even with the first range broken: the limit is reported, not the range.
    map.ram[0] = { start: 5, end: 3, domain: 9 };
    assert.match(code(() => validateMemoryMap(map)), /ram has 20000 ranges/);
    assert.match(code(() => buildMemoryMap({ name: 'b', source: 't', ndomains: 1, ram: map.ram, reserved: ram.map((r) => ({ ...r, what: 'x' })) })), /ram has 20000 ranges/);
  });

  it('more than VM_PHYSSEG_MAX separate runs of RAM are refused, naming the range that starts the first run too many', () => {
    const ram = manyRanges(MAX_MAP_RANGES, false);
    assert.equal(
      code(() => parseMemoryMapJson(JSON.stringify({ ram }), 'runs.json')),
      'EMEMMAP: runs.json: ram[63] [0x7e0000, 0x7f0000) starts run 64 of separate RAM ranges; each run is at least one vm_phys segment and VM_PHYSSEG_MAX is 63',
    );
    const ok = parseMemoryMapJson(JSON.stringify({ ram: ram.slice(0, MAX_RAM_RUNS) }), 'runs.json');
    assert.equal(ok.ram.length, MAX_RAM_RUNS);
  });

  it('MAX_MAP_RANGES touching ranges with as many reservations validate and describe in one pass', () => {
    const ram = manyRanges(MAX_MAP_RANGES, true);
    const reserved = ram.map((r) => ({ start: r.start, end: r.start + PAGE, what: 'r' }));
    const map = parseMemoryMapJson(JSON.stringify({ ram, reserved }), 'many.json');
    assert.equal(map.physAvail.length, MAX_MAP_RANGES);
    const rows = describeMemoryMap(map);
    assert.equal(rows.length, MAX_MAP_RANGES);
    assert.deepEqual(rows[4095].notAvail, ['[0xfff0000, 0xfff1000) 4K r']);
    assert.equal(rows[4095].availBytes, 15 * PAGE);
  });

  it('--from-host reads the host\'s files to a cap too', () => {
    assert.match(
      code(() => memoryMapFromHost({ procIomem: '/dev/zero', sysFirmwareMemmap: '/nonexistent' })),
      /^EHOST: --from-host: cannot read this machine's memory map\. \/dev\/zero: more than 4M \(4194304 bytes\), the limit for a \/proc\/iomem listing; then /,
    );
  });

  it('total RAM above the page array\'s reach is refused from a file too', () => {
    const text = JSON.stringify({ ram: [{ start: '0', size: '8T' }, { start: '9T', size: '8T' }] });
    assert.match(code(() => parseMemoryMapJson(text, 'huge.json')), /^EMEMMAP: huge\.json: 16T of RAM \(4294967296 pages\) is more than the 16T - 8K \(4294967294 pages\)/);
  });
});

describe('memory map JSON: duplicate keys and nesting', () => {
  const base = (inner: string) => `{"ram": [{"start": "0", "end": "16M"${inner}}]}`;

  it('a repeated key is refused, naming the object, the key and where it is', () => {
    assert.equal(code(() => parseMemoryMapJson(base(', "end": "32M"'), 'd.json')), 'EMEMMAP: d.json: ram[0]: duplicate key "end" at line 1, column 39 (JSON.parse would keep only the last)');
    assert.match(code(() => parseMemoryMapJson('{"ram": [],\n "ram": [{"start": 0, "size": "16M"}]}', 'd.json')), /^EMEMMAP: d\.json: memory map: duplicate key "ram" at line 2, column 2/);
    // Spelt differently, the same key: JSON escapes are decoded before comparing.
    assert.match(code(() => parseMemoryMapJson(base(', "\\u0065nd": "32M"'), 'd.json')), /ram\[0\]: duplicate key "end"/);
    // Inside an ignored comment it is still refused: the file is ambiguous.
    assert.match(code(() => parseMemoryMapJson(base(', "comment": {"a": 1, "a": 2}'), 'd.json')), /ram\[0\]\.comment: duplicate key "a"/);
    // The same key in two different objects is fine.
    assert.equal(parseMemoryMapJson('{"ram": [{"start": 0, "size": "16M"}, {"start": "32M", "size": "16M"}]}', 'ok.json').ram.length, 2);
  });

  it('nesting deeper than 32 levels is refused without recursing into it', () => {
    const deep = `{"comment": ${'['.repeat(100_000)}${']'.repeat(100_000)}, "ram": [{"start": 0, "size": "16M"}]}`;
    assert.equal(code(() => parseMemoryMapJson(deep, 'deep.json')), 'EMEMMAP: deep.json: invalid JSON at line 1, column 44: nested more than 32 levels deep');
  });

  it('"name" and "what" are printed in reports, so they must be short and printable', () => {
    const map = (name: string, what = 'kernel') => JSON.stringify({ name, ram: [{ start: 0, size: '16M' }], reserved: [{ start: '2M', size: '4K', what }] });
    assert.equal(parseMemoryMapJson(map('lab box ✓', 'noyau'), 'l.json').name, 'lab box ✓');
    assert.equal(code(() => parseMemoryMapJson(map('x\u001b[2J'), 'l.json')), 'EMEMMAP: l.json: "name" "x\\x1b[2J" holds the control character U+001b');
    assert.match(code(() => parseMemoryMapJson(map('ok', 'a\u202eb'), 'l.json')), /^EMEMMAP: l\.json: reserved\[0\] \[0x200000, 0x201000\): "what" "a\\u\{202e\}b" holds the control character U\+202e$/);
    assert.match(code(() => parseMemoryMapJson(map('n'.repeat(201)), 'l.json')), /"name" is 201 characters long; at most 200/);
    assert.match(code(() => parseMemoryMapJson(JSON.stringify({ name: 7, ram: [] }), 'l.json')), /"name" must be a string, got 7/);
  });

  it('every message is one line, however the file spells its keys and values', () => {
    assert.equal(
      code(() => parseMemoryMapJson('{"ram": [{"start": 0, "size": "16M", "x\\ny\\u001b[2J": 1}]}', 'k.json')),
      'EMEMMAP: k.json: ram[0]: unknown key "x\\ny\\x1b[2J" (allowed: start, end, size, domain, comment)',
    );
  });
});

/* The obvious quadratic versions, as reference models for the one-pass ones. */
function naiveDescribe(map: MemoryMap): Array<{ availBytes: number; notAvail: string[] }> {
  const hex = (n: number) => '0x' + n.toString(16);
  const size = (n: number) => describeMemoryMap({ ...map, ram: [{ start: 0, end: n, domain: 0 }], physAvail: [], reserved: [] })[0].size;
  return map.ram.map((r) => {
    const avail = map.physAvail.filter((a) => a.start >= r.start && a.end <= r.end);
    const holes: PhysRange[] = [];
    let at = r.start;
    for (const a of avail) {
      if (a.start > at) holes.push({ start: at, end: a.start });
      at = a.end;
    }
    if (at < r.end) holes.push({ start: at, end: r.end });
    const notAvail: string[] = [];
    for (const h of holes) {
      let p = h.start;
      for (const res of map.reserved) {
        const s = Math.max(res.start, h.start);
        const e = Math.min(res.end, h.end);
        if (e <= s) continue;
        if (s > p) notAvail.push(`[${hex(p)}, ${hex(s)}) ${size(s - p)} not in phys_avail`);
        notAvail.push(`[${hex(s)}, ${hex(e)}) ${size(e - s)} ${res.what}`);
        p = e;
      }
      if (p < h.end) notAvail.push(`[${hex(p)}, ${hex(h.end)}) ${size(h.end - p)} not in phys_avail`);
    }
    return { availBytes: avail.reduce((s, a) => s + a.end - a.start, 0), notAvail };
  });
}

describe('one-pass map arithmetic against the quadratic reference', () => {
  /* Touching and separate RAM ranges, reservations that span range boundaries, and a random phys_avail. */
  const arbPieces = fc.array(
    fc.record({ gap: fc.integer({ min: 0, max: 3 }), len: fc.integer({ min: 1, max: 6 }), domain: fc.nat(1), reserve: fc.nat(7), availCut: fc.nat(7) }),
    { minLength: 1, maxLength: 24 },
  );

  it('subtractReserved, validateMemoryMap and describeMemoryMap agree with brute force over pages', () => {
    fc.assert(
      fc.property(arbPieces, (pieces) => {
        const ram: RamRange[] = [];
        const reserved: Array<PhysRange & { what: string }> = [];
        let at = 0;
        for (const p of pieces) {
          const start = (at + p.gap) * PAGE;
          ram.push({ start, end: start + p.len * PAGE, domain: p.domain });
          at = start / PAGE + p.len;
          // Sometimes a reservation that runs into the next range.
          const last = reserved[reserved.length - 1];
          if (p.reserve < 3 && (last === undefined || last.end <= at * PAGE - PAGE)) reserved.push({ start: at * PAGE - PAGE, end: (at + p.reserve) * PAGE, what: `r${reserved.length}` });
        }
        const spec = { name: 'p', source: 'fc', ndomains: 2, ram, reserved };
        const isRam = (pg: number) => ram.some((r) => r.start <= pg * PAGE && pg * PAGE < r.end);
        const isRes = (pg: number) => reserved.some((r) => r.start <= pg * PAGE && pg * PAGE < r.end);
        const reservedOk = reserved.every((r) => Array.from({ length: (r.end - r.start) / PAGE }, (_, k) => r.start / PAGE + k).every(isRam));
        let map: MemoryMap;
        try {
          map = buildMemoryMap(spec);
        } catch (e) {
          const allReserved = ram.every((r) => Array.from({ length: (r.end - r.start) / PAGE }, (_, k) => r.start / PAGE + k).every(isRes));
          if (allReserved) assert.match(String(e), /phys_avail is empty/);
          else {
            assert.ok(!reservedOk, String(e));
            assert.match(String(e), /reserved\[\d+\].*is not inside RAM/);
          }
          return;
        }
        assert.ok(reservedOk);
        // phys_avail is exactly the RAM pages that are not reserved, split at RAM range ends.
        for (let pg = 0; pg <= at; pg++) {
          const inAvail = map.physAvail.some((a) => a.start <= pg * PAGE && pg * PAGE < a.end);
          assert.equal(inAvail, isRam(pg) && !isRes(pg), `page ${pg}`);
        }
        assert.deepEqual(describeMemoryMap(map).map((r) => ({ availBytes: r.availBytes, notAvail: r.notAvail })), naiveDescribe(map));
        // A phys_avail range cut across a RAM boundary is refused, inside one is accepted.
        const i = pieces[0].availCut % map.physAvail.length;
        const a = map.physAvail[i];
        const grown = { ...map, physAvail: map.physAvail.map((r, k) => (k === i ? { start: r.start, end: r.end + PAGE } : r)) };
        const inside = ram.some((r) => r.start <= a.start && a.end + PAGE <= r.end);
        const clash = i + 1 < map.physAvail.length && map.physAvail[i + 1].start < a.end + PAGE;
        if (!clash) {
          if (inside) validateMemoryMap(grown);
          else assert.match(code(() => validateMemoryMap(grown)), /phys_avail\[\d+\].*not inside a single RAM range/);
        }
      }),
      { numRuns: runs(300) },
    );
  });

  it('presets still describe as before', () => {
    const map = presetMemoryMap('numa-2x32g');
    assert.deepEqual(describeMemoryMap(map).map((r) => ({ availBytes: r.availBytes, notAvail: r.notAvail })), naiveDescribe(map));
    assert.deepEqual(parseMemoryMapJson(memoryMapToJson(map), 'rt.json'), { ...map, source: 'rt.json' });
  });
});
