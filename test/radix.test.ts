/**
 * vm_radix against a model (a sorted key list per trie): insert, remove,
 * lookup, lookup_le/ge, in-order gather and reclaim, with keys near 0, in
 * dense runs, and up to 2^32 - 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Radix, RADIX_NODE_BYTES } from '../src/vm/radix.js';
import { NIL } from '../src/vm/param.js';
import { runs } from './helpers/runs.js';

type Op =
  | { k: 'ins'; t: number; key: number }
  | { k: 'rm'; t: number; pick: number }
  | { k: 'le'; t: number; key: number }
  | { k: 'ge'; t: number; key: number }
  | { k: 'run'; t: number; key: number; n: number }
  | { k: 'gather'; t: number; key: number }
  | { k: 'reclaim'; t: number };

const keyArb = fc.oneof(fc.nat(200), fc.integer({ min: 0, max: 70000 }), fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(0, 63, 64, 4095, 4096, 0xffffffff, 0xfffffffe, 2 ** 30, 2 ** 30 - 1));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ k: fc.constant('ins' as const), t: fc.nat(2), key: keyArb }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('rm' as const), t: fc.nat(2), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('le' as const), t: fc.nat(2), key: keyArb }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('ge' as const), t: fc.nat(2), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('run' as const), t: fc.nat(2), key: keyArb, n: fc.integer({ min: 1, max: 300 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('gather' as const), t: fc.nat(2), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('reclaim' as const), t: fc.nat(2) }) },
);

test('vm_radix agrees with a sorted-list model on every operation', () => {
  fc.assert(
    fc.property(fc.array(opArb, { size: 'max', maxLength: 300 }), (ops) => {
      const r = new Radix(2, 1);
      r.ensureTrees(3);
      const model: Array<Map<number, number>> = [new Map(), new Map(), new Map()];
      const sorted = (t: number): number[] => [...model[t].keys()].sort((a, b) => a - b);
      let v = 0;
      const ins = (t: number, key: number): void => {
        const had = model[t].has(key);
        const ok = r.insert(t, key, v);
        assert.equal(ok, !had, `insert ${key} into ${t}`);
        if (!had) model[t].set(key, v);
        v = (v + 7) % 1000003;
      };
      for (const op of ops) {
        const keys = sorted(op.t);
        switch (op.k) {
          case 'ins':
            ins(op.t, op.key);
            break;
          case 'run':
            for (let i = 0; i < op.n && op.key + i <= 0xffffffff; i++) ins(op.t, op.key + i);
            break;
          case 'rm': {
            if (keys.length === 0) {
              assert.equal(r.remove(op.t, 5), NIL);
              break;
            }
            const key = keys[op.pick % keys.length];
            assert.equal(r.remove(op.t, key), model[op.t].get(key));
            model[op.t].delete(key);
            assert.equal(r.lookup(op.t, key), NIL);
            break;
          }
          case 'le': {
            const want = keys.filter((k) => k <= op.key).pop();
            const got = r.lookupLe(op.t, op.key);
            assert.equal(got, want === undefined ? NIL : model[op.t].get(want), `le ${op.key}`);
            if (want !== undefined) assert.equal(r.foundKey, want);
            break;
          }
          case 'ge': {
            const want = keys.find((k) => k >= op.key);
            const got = r.lookupGe(op.t, op.key);
            assert.equal(got, want === undefined ? NIL : model[op.t].get(want), `ge ${op.key}`);
            if (want !== undefined) assert.equal(r.foundKey, want);
            break;
          }
          case 'gather': {
            const want = keys.filter((k) => k >= op.key).slice(0, 50);
            const out = new Uint32Array(50);
            const kk = new Float64Array(50);
            const got = r.gather(op.t, op.key, out, kk);
            assert.deepEqual(Array.from(kk.subarray(0, got)), want);
            assert.deepEqual(Array.from(out.subarray(0, got)), want.map((k) => model[op.t].get(k)));
            break;
          }
          case 'reclaim':
            r.reclaimAll(op.t);
            model[op.t].clear();
            assert.ok(r.isEmpty(op.t));
            break;
        }
        for (const k of keys.slice(0, 5)) if (model[op.t].has(k)) assert.equal(r.lookup(op.t, k), model[op.t].get(k));
      }
      // Emptying every trie frees every node.
      for (let t = 0; t < 3; t++) for (const k of sorted(t)) r.remove(t, k);
      assert.equal(r.liveNodes, 0);
    }),
    { numRuns: runs(60) },
  );
});

test('vm_radix memory: a dense run costs about 4.1 bytes per key, a sparse one a path per key', () => {
  const r = new Radix();
  const n = 262144;
  for (let i = 0; i < n; i++) r.insert(0, i, i);
  const dense = r.bytesInUse() / n;
  assert.ok(dense > 4 && dense < 4.3, `dense ${dense} B/key`);
  r.reclaimAll(0);
  assert.equal(r.liveNodes, 0);
  for (let i = 0; i < 1000; i++) r.insert(0, i * 4099 * 977, i);
  const sparse = r.bytesInUse() / 1000;
  assert.ok(sparse > RADIX_NODE_BYTES, `sparse ${sparse} B/key`);
});
