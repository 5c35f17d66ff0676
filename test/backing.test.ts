import { test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import fc from 'fast-check';
import { BackingStore } from '../src/machine/backing.js';
import { BULK_WASM, bulkOps, newSharedMemory, validateBulkModule, type WasmMemory } from '../src/machine/wasm.js';
import type { MemoryMap } from '../src/machine/types.js';
import { code } from './helpers/errors.js';
import { runs } from './helpers/runs.js';

function mapOf(ram: Array<[number, number, number?]>): MemoryMap {
  return {
    name: 'test',
    source: 'test',
    ndomains: 2,
    ram: ram.map(([start, end, domain]) => ({ start, end, domain: domain ?? 0 })),
    physAvail: ram.map(([start, end]) => ({ start, end })),
    reserved: [],
  };
}

/**
 * Three RAM ranges, the last two adjacent (different domains), packed into
 * 128 KiB memories so that ranges cross memory boundaries:
 *   [0x1000, 0x40000)    mem0 [0x1000,0x21000), mem1 [0x21000,0x40000)
 *   [0x100000, 0x180000) mem1 [0x100000,0x101000), mem2, mem3, mem4, mem5 [0x161000,0x180000)
 *   [0x180000, 0x1a0000) mem5 [0x180000,0x181000), mem6 [0x181000,0x1a0000)
 */
const RAM: Array<[number, number, number?]> = [
  [0x1000, 0x40000],
  [0x100000, 0x180000],
  [0x180000, 0x1a0000, 1],
];
const PER_MEMORY = 128 * 1024;
const small = (): BackingStore => new BackingStore(mapOf(RAM), { memoryBytesMax: PER_MEMORY });


// lib ES2022 has no WebAssembly declarations (see wasm.ts)
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const WA = (globalThis as unknown as { WebAssembly: any }).WebAssembly;

const patByte = (pattern: number, a: number): number => (pattern >>> ((a & 3) * 8)) & 0xff;

// ---- the wasm module -----------------------------------------------------------

test('wasm module validates and every export works at every alignment', () => {
  assert.equal(validateBulkModule(), true);
  assert.equal(WA.validate(BULK_WASM), true);
  const mem = newSharedMemory(2);
  const ops = bulkOps(mem);
  const u8 = new Uint8Array(mem.buffer);
  const ref = new Uint8Array(u8.length);
  const pattern = 0xa1b2c3d4 | 0;
  for (const start of [0, 1, 3, 15, 16, 17, 63, 64, 100]) {
    for (const n of [0, 1, 15, 16, 63, 64, 65, 127, 128, 200, 1000]) {
      // fill
      ops.fill(start, 0x5a, n);
      ref.fill(0x5a, start, start + n);
      assert.deepEqual(u8.subarray(0, 2048), ref.subarray(0, 2048), `fill ${start} ${n}`);
      // fillPattern, anchored at offset 0
      ops.fillPattern(start, n, pattern);
      for (let a = start; a < start + n; a++) ref[a] = patByte(pattern, a);
      assert.deepEqual(u8.subarray(0, 2048), ref.subarray(0, 2048), `fillPattern ${start} ${n}`);
      assert.equal(ops.checkPattern(start, n, pattern), -1);
      if (n > 0) {
        // a mismatch at each position is found, at its offset
        for (const at of new Set([0, n >> 1, n - 1])) {
          u8[start + at] ^= 0x10;
          assert.equal(ops.checkPattern(start, n, pattern), at, `checkPattern ${start} ${n} at ${at}`);
          u8[start + at] ^= 0x10;
        }
      }
      // fill 0 then firstNonZero
      ops.fill(start, 0, n);
      ref.fill(0, start, start + n);
      assert.equal(ops.firstNonZero(start, n), -1);
      if (n > 0) {
        for (const at of new Set([0, n >> 1, n - 1])) {
          u8[start + at] = 7;
          assert.equal(ops.firstNonZero(start, n), at, `firstNonZero ${start} ${n} at ${at}`);
          u8[start + at] = 0;
        }
      }
    }
  }
  // copy: disjoint, and overlapping both ways (memmove)
  for (let i = 0; i < 300; i++) u8[i] = ref[i] = i & 0xff;
  ops.copy(1000, 0, 300);
  ref.copyWithin(1000, 0, 300);
  ops.copy(10, 0, 200);
  ref.copyWithin(10, 0, 200);
  ops.copy(0, 5, 200);
  ref.copyWithin(0, 5, 205);
  assert.deepEqual(u8.subarray(0, 2048), ref.subarray(0, 2048));
  // the last bytes of the memory are reachable; one beyond traps
  ops.fill(131072 - 64, 1, 64);
  assert.equal(ops.firstNonZero(131072 - 128, 128), 64);
  assert.throws(() => ops.fill(131072 - 63, 1, 64), WA.RuntimeError);
});

test('wasm module refuses a non-shared memory', () => {
  const plain = new WA.Memory({ initial: 1, maximum: 2 });
  assert.throws(() => bulkOps(plain as never), WA.LinkError);
});

// ---- layout, bounds, host limit -----------------------------------------------

test('layout: ranges are packed into memories and split at their boundaries', () => {
  const b = small();
  assert.equal(b.ramBytes, 0x3f000 + 0x80000 + 0x20000);
  assert.equal(b.memoryCount, 7);
  const mems = b.memories();
  assert.deepEqual(
    mems.map((m) => [m.index, m.bytes, m.materialised, m.startPa, m.endPa]),
    [
      [0, PER_MEMORY, false, 0x1000, 0x21000],
      [1, PER_MEMORY, false, 0x21000, 0x101000],
      [2, PER_MEMORY, false, 0x101000, 0x121000],
      [3, PER_MEMORY, false, 0x121000, 0x141000],
      [4, PER_MEMORY, false, 0x141000, 0x161000],
      [5, PER_MEMORY, false, 0x161000, 0x181000],
      [6, PER_MEMORY, false, 0x181000, 0x1a0000],
    ],
  );
  assert.deepEqual(b.locateAddress(0x1000), { memory: 0, offset: 0, contiguousBytes: 0x20000 });
  assert.deepEqual(b.locateAddress(0x20fff), { memory: 0, offset: 0x1ffff, contiguousBytes: 1 });
  assert.deepEqual(b.locateAddress(0x21000), { memory: 1, offset: 0, contiguousBytes: 0x1f000 });
  // the second RAM range continues memory 1 right after the first range
  assert.deepEqual(b.locateAddress(0x100000), { memory: 1, offset: 0x1f000, contiguousBytes: 0x1000 });
  assert.deepEqual(b.memorySpan(0x20000, 0x2000), [0, 1]);
  assert.deepEqual(b.memorySpan(0x17f000, 0x3000), [5, 6]);
});

test('bounds: every operation names the first address outside RAM', () => {
  const b = small();
  assert.match(code(() => b.zero(0, 0x2000)), /^ERANGE: .*address 0x0 is outside the machine's RAM/);
  assert.match(code(() => b.fill(0x3f000, 0x2000, 1)), /^ERANGE: .*0x40000 is outside/);
  assert.match(code(() => b.isZero(0x50000, 1)), /^ERANGE: .*0x50000 is outside/);
  assert.match(code(() => b.fillPattern(0x19f000, 0x1001, 1)), /^ERANGE: .*0x1a0000 is outside/);
  assert.match(code(() => b.checkPattern(0x1a0000, 1, 1)), /^ERANGE: .*0x1a0000/);
  assert.match(code(() => b.view(0x40000, 16)), /^ERANGE: .*0x40000/);
  assert.match(code(() => b.copy(0x1000, 0x3f000, 0x2000)), /^ERANGE: backing copy source: .*0x40000/);
  assert.match(code(() => b.copy(0x3f000, 0x1000, 0x2000)), /^ERANGE: backing copy destination: .*0x40000/);
  assert.match(code(() => b.locateAddress(0xfffff)), /^ERANGE: .*0xfffff/);
  assert.match(code(() => b.zero(-1, 1)), /^EINVAL/);
  assert.match(code(() => b.zero(0x1000, 1.5)), /^EINVAL/);
  assert.match(code(() => b.fill(0x1000, 1, 256)), /^EINVAL/);
  // a failed operation writes nothing
  b.fill(0x3f000, 0x1000, 9);
  assert.throws(() => b.zero(0x3f000, 0x2000));
  assert.equal(b.checkPattern(0x3f000, 0x1000, 0x09090909), -1);
  // across adjacent RAM ranges is fine
  b.fill(0x17f000, 0x2000, 3);
  assert.equal(b.checkPattern(0x17f000, 0x2000, 0x03030303), -1);
});

test('host limit: a backing larger than the host is refused with the sizes named', () => {
  const huge = mapOf([[0, 2 ** 46]]);
  const msg = code(() => new BackingStore(huge));
  assert.match(msg, /^EHOST: backing: the machine has 64T of RAM .* at most .*os\.totalmem\(\)/);
  assert.ok(msg.includes(String(os.totalmem())));
  assert.match(code(() => new BackingStore(mapOf(RAM), { hostLimitBytes: 0x10000 })), /^EHOST: .*at most 64K \(65536 bytes\)/);
  assert.match(code(() => new BackingStore(mapOf(RAM), { memoryBytesMax: 4096 })), /^EINVAL/);
  assert.match(code(() => new BackingStore(mapOf(RAM), { memoryBytesMax: 2 ** 33 })), /^EINVAL/);
  // laying out a large backing costs nothing until touched
  const big = new BackingStore(mapOf([[0, 2 ** 40]]), { hostLimitBytes: Infinity });
  assert.equal(big.memoryCount, 256);
  assert.equal(big.materialisedBytes(), 0);
  assert.equal(big.isZero(2 ** 39, 2 ** 20), true);
});

// ---- operations ------------------------------------------------------------------

test('lazy materialisation: only writes of non-zero data create memories', () => {
  const b = small();
  assert.equal(b.isZero(0x1000, b.memories()[0].bytes), true);
  b.zero(0x1000, 0x3f000);
  b.fill(0x1000, 0x1000, 0);
  b.fillPattern(0x1000, 0x1000, 0);
  b.copy(0x100000, 0x1000, 0x1000);
  assert.equal(b.checkPattern(0x1000, 0x1000, 0), -1);
  assert.equal(b.checkPattern(0x1000, 0x1000, 0x01000000), 3);
  assert.equal(b.materialisedBytes(), 0);
  b.fill(0x22000, 0x10, 0xff);
  assert.deepEqual(b.memories().map((m) => m.materialised), [false, true, false, false, false, false, false]);
  assert.equal(b.firstNonZero(0x1000, 0x30000), 0x21000);
  // copying an untouched source zeroes the destination
  b.copy(0x22000, 0x1000, 0x10);
  assert.equal(b.isZero(0x22000, 0x10), true);
  assert.equal(b.materialisedBytes(), PER_MEMORY);
});

test('view aliases the memory and refuses to cross a memory boundary', () => {
  const b = small();
  const v = b.view(0x2000, 0x1000);
  assert.equal(v.length, 0x1000);
  v[5] = 42;
  assert.equal(b.firstNonZero(0x2000, 0x1000), 5);
  b.fill(0x2000, 4, 1);
  assert.deepEqual([...v.subarray(0, 6)], [1, 1, 1, 1, 0, 42]);
  // within one memory, across two RAM ranges packed into it
  const w = b.view(0x3f000, 0x1000);
  assert.equal(w.length, 0x1000);
  assert.match(code(() => b.view(0x3f000, 0x1001)), /^ERANGE: .*0x40000/);
  assert.match(code(() => b.view(0x20000, 0x2000)), /^EINVAL: backing view: range \[0x20000, 0x22000\) crosses from memory 0 into memory 1/);
  // [0x17f000, 0x181000) spans two adjacent RAM ranges, both in memory 5
  const x = b.view(0x17f000, 0x2000);
  assert.equal(x.length, 0x2000);
  x[0x1000] = 1; // pa 0x180000, start of the third RAM range
  assert.equal(b.firstNonZero(0x180000, 16), 0);
});

test('copy splits across memories and handles overlap in both directions', () => {
  const b = small();
  const ref = new Uint8Array(0x1a0000);
  for (let a = 0x1000; a < 0x40000; a++) ref[a] = (a * 7 + 3) & 0xff;
  b.view(0x1000, 0x20000).set(ref.subarray(0x1000, 0x21000));
  b.view(0x21000, 0x1f000).set(ref.subarray(0x21000, 0x40000));
  const check = (what: string): void => {
    for (const [s, e] of RAM) {
      for (let a = s; a < e; a += 0x1000) {
        const len = Math.min(0x1000, e - a);
        assert.deepEqual(b.view(a, len), ref.subarray(a, a + len), `${what}: page ${a.toString(16)}`);
      }
    }
  };
  // forward overlap across the memory 0/1 boundary
  b.copy(0x1f000, 0x1f800, 0x3000);
  ref.copyWithin(0x1f000, 0x1f800, 0x22800);
  check('down');
  // backward overlap across the boundary
  b.copy(0x1f123, 0x1e000, 0x5000);
  ref.copyWithin(0x1f123, 0x1e000, 0x23000);
  check('up');
  // between RAM ranges, different memories
  b.copy(0x17ff00, 0x1000, 0x20000);
  ref.copyWithin(0x17ff00, 0x1000, 0x21000);
  check('far');
});

test('unchecked twins agree with the checked operations', () => {
  const b = small();
  b.fillPatternUnsafe(0x2000, 0x1000, 0x01020304);
  assert.equal(b.checkPattern(0x2000, 0x1000, 0x01020304), -1);
  assert.equal(b.checkPatternUnsafe(0x2000, 0x1000, 0x01020304), -1);
  assert.equal(b.checkPatternUnsafe(0x2001, 0x10, 0x01020304), -1);
  assert.equal(b.isZeroUnsafe(0x2000, 0x1000), false);
  b.zeroUnsafe(0x2000, 0x800);
  assert.equal(b.isZeroUnsafe(0x2000, 0x800), true);
  assert.equal(b.firstNonZero(0x2000, 0x1000), 0x800);
  assert.equal(b.isZeroUnsafe(0x150000, 0x1000), true); // untouched memory
});

test('attach: another store over the same memories sees the same bytes', () => {
  const b = small();
  b.fill(0x2000, 0x100, 0x11);
  const desc = b.describe();
  const later: Record<number, WasmMemory> = {};
  const a = BackingStore.attach(desc, (k) => later[k]);
  assert.equal(a.checkPattern(0x2000, 0x100, 0x11111111), -1);
  a.zero(0x2000, 0x80);
  assert.equal(b.firstNonZero(0x2000, 0x100), 0x80);
  // a memory materialised after describe() is fetched on demand
  b.fill(0x150000, 0x10, 0x22);
  assert.equal(a.isZero(0x150000, 0x10), true); // not given yet: reads as zero
  later[4] = b.memory(4)!;
  assert.equal(a.isZero(0x150000, 0x10), false);
  // an attached store never creates memories of its own
  assert.match(code(() => a.fill(0x190000, 1, 1)), /^EINVARIANT: backing: memory 6 was never shared/);
});

// ---- property: random operations against a plain Uint8Array -------------------

type Cmd =
  | { op: 'fill'; pa: number; n: number; byte: number }
  | { op: 'zero'; pa: number; n: number }
  | { op: 'pattern'; pa: number; n: number; pattern: number }
  | { op: 'copy'; dst: number; src: number; n: number }
  | { op: 'scan'; pa: number; n: number; pattern: number };

// A range inside RAM: start anywhere in the concatenated RAM, clipped to the
// contiguous RAM after it ([0x1000,0x40000) and [0x100000,0x1a0000)).
const CONTIG: Array<[number, number]> = [
  [0x1000, 0x40000],
  [0x100000, 0x1a0000],
];
const TOTAL = CONTIG.reduce((s, [a, e]) => s + e - a, 0);
function toPa(x: number): [number, number] {
  for (const [s, e] of CONTIG) {
    if (x < e - s) return [s + x, e];
    x -= e - s;
  }
  throw new Error('unreachable');
}
const rangeArb = fc
  .tuple(fc.integer({ min: 0, max: TOTAL - 1 }), fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 0x30000 })))
  .map(([x, n]) => {
    const [pa, end] = toPa(x);
    return { pa, n: Math.min(n, end - pa) };
  });
const patternArb = fc.oneof(fc.constant(0), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ op: fc.constant('fill' as const), r: rangeArb, byte: fc.integer({ min: 0, max: 255 }) }).map(({ r, byte }) => ({ op: 'fill' as const, ...r, byte })),
  fc.record({ op: fc.constant('zero' as const), r: rangeArb }).map(({ r }) => ({ op: 'zero' as const, ...r })),
  fc.record({ op: fc.constant('pattern' as const), r: rangeArb, pattern: patternArb }).map(({ r, pattern }) => ({ op: 'pattern' as const, ...r, pattern })),
  fc.record({ r: rangeArb, to: fc.integer({ min: 0, max: TOTAL - 1 }), near: fc.integer({ min: -300, max: 300 }), useNear: fc.boolean() }).map(
    ({ r, to, near, useNear }) => {
      let [dst, end] = toPa(to);
      if (useNear) {
        // overlapping copies inside one contiguous stretch
        const [s, e] = CONTIG.find(([s0, e0]) => r.pa >= s0 && r.pa < e0)!;
        dst = Math.min(Math.max(r.pa + near, s), e - 1);
        end = e;
      }
      return { op: 'copy' as const, dst, src: r.pa, n: Math.min(r.n, end - dst) };
    },
  ),
  fc.record({ r: rangeArb, pattern: patternArb }).map(({ r, pattern }) => ({ op: 'scan' as const, ...r, pattern })),
);

test('property: random fill/zero/copy/isZero/checkPattern agree with a Uint8Array model', () => {
  fc.assert(
    fc.property(fc.array(cmdArb, { minLength: 1, maxLength: 40, size: 'max' }), (cmds) => {
      const b = small();
      const ref = new Uint8Array(0x1a0000);
      for (const c of cmds) {
        switch (c.op) {
          case 'fill':
            b.fill(c.pa, c.n, c.byte);
            ref.fill(c.byte, c.pa, c.pa + c.n);
            break;
          case 'zero':
            b.zero(c.pa, c.n);
            ref.fill(0, c.pa, c.pa + c.n);
            break;
          case 'pattern':
            b.fillPattern(c.pa, c.n, c.pattern);
            for (let a = c.pa; a < c.pa + c.n; a++) ref[a] = patByte(c.pattern, a);
            break;
          case 'copy':
            b.copy(c.dst, c.src, c.n);
            ref.copyWithin(c.dst, c.src, c.src + c.n);
            break;
          case 'scan': {
            let nz = -1;
            let mis = -1;
            for (let i = 0; i < c.n; i++) {
              if (nz < 0 && ref[c.pa + i] !== 0) nz = i;
              if (mis < 0 && ref[c.pa + i] !== patByte(c.pattern, c.pa + i)) mis = i;
            }
            assert.equal(b.firstNonZero(c.pa, c.n), nz);
            assert.equal(b.isZero(c.pa, c.n), nz < 0);
            assert.equal(b.checkPattern(c.pa, c.n, c.pattern), mis);
            break;
          }
        }
      }
      // the whole of RAM, page by page (a page never crosses a memory)
      for (const [s, e] of RAM) {
        for (let a = s; a < e; a += 0x1000) {
          const k = b.locateAddress(a).memory;
          if (!b.isMaterialised(k)) {
            assert.equal(ref.subarray(a, a + 0x1000).every((x) => x === 0), true);
            continue;
          }
          const v = b.view(a, 0x1000);
          for (let i = 0; i < 0x1000; i++) if (v[i] !== ref[a + i]) assert.fail(`byte at 0x${(a + i).toString(16)}: ${v[i]} != ${ref[a + i]}`);
        }
      }
    }),
    { numRuns: runs(60) },
  );
});

test('patterns are 32-bit integers: NaN, fractions and 2^40 + 5 are EINVAL, not coerced', () => {
  const b = small();
  for (const bad of [NaN, Infinity, 1.5, 2 ** 40 + 5, 2 ** 32, -(2 ** 31) - 1]) {
    assert.match(code(() => b.fillPattern(0x1000, 0x1000, bad)), new RegExp(`^EINVAL: backing fillPattern: pattern ${String(bad).replace('+', '\\+')} is not a 32-bit integer`));
    assert.match(code(() => b.checkPattern(0x1000, 0x1000, bad)), /^EINVAL: backing checkPattern: pattern/);
  }
  assert.equal(b.isZero(0x1000, 0x1000), true, 'a refused fill writes nothing');
  // Both spellings of one 32-bit pattern are the same pattern.
  b.fillPattern(0x1000, 0x1000, 0xdeadbeef);
  assert.equal(b.checkPattern(0x1000, 0x1000, 0xdeadbeef | 0), -1);
  assert.equal(b.checkPattern(0x1000, 0x1000, -(2 ** 31)), 0);
});

test('an empty range still names an address, which must be RAM or the end of RAM', () => {
  const b = small();
  const [first, second] = RAM;
  const hole = first[1] + 0x1000;
  assert.equal(code(() => b.view(hole, 0)), `ERANGE: backing view: address 0x${hole.toString(16)} is outside the machine's RAM (range [0x${hole.toString(16)}, 0x${hole.toString(16)}))`);
  assert.match(code(() => b.zero(2 ** 50, 0)), /^ERANGE: backing zero: address 0x4000000000000/);
  assert.equal(b.view(first[0], 0).length, 0);
  assert.equal(b.view(first[1], 0).length, 0, 'one past the end of a range');
  assert.equal(b.view(second[0], 0).length, 0);
});
