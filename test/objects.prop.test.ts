/**
 * Property tests of the page layer (vm_page, vm_object, vm_reserv) against a
 * model of objects and pages, with both checkers after every step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Vm } from '../src/vm/vm.js';
import type { MemoryMap } from '../src/machine/types.js';
import { PAGE_SIZE, VM_ALLOC_NOBUSY, VM_ALLOC_SYSTEM, VM_ALLOC_INTERRUPT, VM_ALLOC_WIRED, VM_ALLOC_ZERO, VM_FREEPOOL_DEFAULT, PG_ZERO, OBJ_NONE } from '../src/vm/param.js';
import { smallMap, numaMap } from './helpers/maps.js';
import { runs } from './helpers/runs.js';

type Op =
  | { k: 'obj'; phys: boolean; size: number; color: number | null }
  | { k: 'page'; obj: number; pindex: number; n: number; cls: number; zero: boolean; wired: boolean }
  | { k: 'contig'; obj: number; pindex: number; n: number; alignLog: number }
  | { k: 'free'; pick: number }
  | { k: 'wire'; pick: number }
  | { k: 'unwire'; pick: number }
  | { k: 'terminate'; obj: number }
  | { k: 'remove'; obj: number; start: number; len: number; toEnd: boolean }
  | { k: 'reclaim'; domain: number }
  | { k: 'noobj'; n: number; zero: boolean; wired: boolean }
  | { k: 'tick' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ k: fc.constant('obj' as const), phys: fc.boolean(), size: fc.integer({ min: 1, max: 4000 }), color: fc.oneof(fc.constant(null), fc.nat(1023)) }) },
  {
    weight: 8,
    arbitrary: fc.record({
      k: fc.constant('page' as const),
      obj: fc.nat(),
      pindex: fc.oneof(fc.nat(4000), fc.nat(600)),
      n: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 700 })),
      cls: fc.constantFrom(0, 0, 0, VM_ALLOC_SYSTEM, VM_ALLOC_INTERRUPT),
      zero: fc.boolean(),
      wired: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('contig' as const), obj: fc.nat(), pindex: fc.nat(3000), n: fc.integer({ min: 1, max: 600 }), alignLog: fc.integer({ min: 12, max: 22 }) }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('free' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('wire' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('unwire' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('terminate' as const), obj: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('remove' as const), obj: fc.nat(), start: fc.nat(3000), len: fc.nat(1500), toEnd: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('reclaim' as const), domain: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('noobj' as const), n: fc.integer({ min: 1, max: 40 }), zero: fc.boolean(), wired: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('tick' as const) }) },
);

/* The free blocks as (head, order), pools aside: pools may differ after DIRECT frees. */
function freeBlocks(vm: Vm): string[] {
  const out: string[] = [];
  vm.phys.forEachFreeBlock((m, o) => out.push(`${m}:${o}`));
  return out.sort();
}

function run(map: MemoryMap, tunables: Record<string, number | string>, ops: Op[]): void {
  const vm = new Vm(map, { 'vm.lazy_page_init': 0, ...tunables });
  const before = freeBlocks(vm);
  const { page, object: objects, reserv, phys } = vm;
  const p = phys.pages;
  // Model: object -> pindex -> page; pages in no object; wire counts.
  const objs: number[] = [];
  const model = new Map<number, Map<number, number>>();
  const noobj = new Set<number>();
  const wired = new Map<number, number>();
  const held = new Set<number>();
  const allPages = (): number[] => [...held];
  const pickObj = (i: number): number => objs[i % objs.length];
  for (const op of ops) {
    switch (op.k) {
      case 'obj': {
        const id = objects.allocate(op.phys ? 'phys' : 'anon', { size: op.phys ? op.size : op.size * 2, color: op.color });
        objs.push(id);
        model.set(id, new Map());
        break;
      }
      case 'page': {
        if (objs.length === 0) break;
        const obj = pickObj(op.obj);
        const mm = model.get(obj) as Map<number, number>;
        const req = op.cls | VM_ALLOC_NOBUSY | (op.zero ? VM_ALLOC_ZERO : 0) | (op.wired ? VM_ALLOC_WIRED : 0);
        for (let i = 0; i < op.n; i++) {
          const pi: number = op.pindex + i;
          if (pi >= objects.size[obj]) break;
          if (mm.has(pi)) {
            assert.throws(() => page.alloc(obj, pi, req), /already has page/);
            continue;
          }
          const m = page.alloc(obj, pi, req);
          if (m < 0) {
            // A refusal means the class's threshold or the memory is reached.
            const d = 0;
            const limit = op.cls === VM_ALLOC_INTERRUPT ? 0 : op.cls === VM_ALLOC_SYSTEM ? vm.domains.interruptFreeMin[d] : vm.domains.freeReserved[d];
            assert.ok(vm.domains.freeCount(d) < limit + 1 || phys.domainFreePages(d) === 0 || reserv !== null, `alloc failed with ${vm.domains.freeCount(d)} free (limit ${limit})`);
            break;
          }
          assert.ok(!held.has(m), `page ${m} handed out twice`);
          held.add(m);
          mm.set(pi, m);
          if (op.wired) wired.set(m, 1);
          assert.equal(p.object[m], obj);
          assert.equal(p.pindex[m], pi);
        }
        break;
      }
      case 'contig': {
        if (objs.length === 0) break;
        const obj = pickObj(op.obj);
        const mm = model.get(obj) as Map<number, number>;
        if (op.pindex + op.n > objects.size[obj]) {
          assert.throws(() => page.allocContig(obj, op.pindex, VM_ALLOC_NOBUSY, op.n), /beyond its size/);
          break;
        }
        let taken = false;
        for (const k of mm.keys()) if (k >= op.pindex && k < op.pindex + op.n) taken = true;
        if (taken) {
          assert.throws(() => page.allocContig(obj, op.pindex, VM_ALLOC_NOBUSY, op.n), /already has page/);
          break;
        }
        const m = page.allocContig(obj, op.pindex, VM_ALLOC_NOBUSY, op.n, 0, Number.MAX_SAFE_INTEGER, 2 ** op.alignLog);
        if (m < 0) break;
        assert.equal(phys.pageToPa(m) % 2 ** op.alignLog, 0, 'contig run misaligned');
        for (let i = 0; i < op.n; i++) {
          mm.set(op.pindex + i, m + i);
          assert.ok(!held.has(m + i), `page ${m + i} handed out twice`);
          held.add(m + i);
          assert.equal(phys.pageToPa(m + i), phys.pageToPa(m) + i * PAGE_SIZE, 'contig run not contiguous');
        }
        break;
      }
      case 'free': {
        const all = allPages();
        if (all.length === 0) break;
        const m = all[op.pick % all.length];
        if ((wired.get(m) ?? 0) > 0) {
          assert.throws(() => page.free(m), (e: Error) => /is wired/.test(e.message));
          break;
        }
        const obj = p.object[m];
        page.free(m);
        held.delete(m);
        if (obj !== OBJ_NONE) (model.get(obj) as Map<number, number>).delete(p.pindex[m]);
        else noobj.delete(m);
        assert.throws(() => page.free(m), /already free|not allocated/);
        break;
      }
      case 'wire': {
        const all = allPages();
        if (all.length === 0) break;
        const m = all[op.pick % all.length];
        page.wire(m);
        wired.set(m, (wired.get(m) ?? 0) + 1);
        break;
      }
      case 'unwire': {
        const w = [...wired.keys()];
        if (w.length === 0) break;
        const m = w[op.pick % w.length];
        const obj = p.object[m];
        const freed = page.unwire(m);
        const left = (wired.get(m) as number) - 1;
        if (left === 0) wired.delete(m);
        else wired.set(m, left);
        assert.equal(freed, left === 0 && obj === OBJ_NONE);
        if (freed) {
          noobj.delete(m);
          held.delete(m);
        }
        break;
      }
      case 'terminate': {
        if (objs.length === 0) break;
        const i = op.obj % objs.length;
        const obj = objs[i];
        const mm = model.get(obj) as Map<number, number>;
        objects.terminate(obj);
        for (const m of mm.values()) {
          if (wired.has(m)) noobj.add(m);
          else held.delete(m);
        }
        model.delete(obj);
        objs.splice(i, 1);
        if (reserv !== null) assert.deepEqual(reserv.objectReservations(obj), []);
        break;
      }
      case 'remove': {
        if (objs.length === 0) break;
        const obj = pickObj(op.obj);
        const mm = model.get(obj) as Map<number, number>;
        // vm_object_page_remove(start, end): end 0 means through the end of the object.
        const end = op.toEnd ? 0 : op.start + op.len;
        const stop = end === 0 ? Infinity : end;
        let want = 0;
        for (const [k, m] of [...mm]) {
          if (k >= op.start && k < stop && !wired.has(m)) {
            mm.delete(k);
            held.delete(m);
            want++;
          }
        }
        assert.equal(objects.pageRemove(obj, op.start, end), want);
        break;
      }
      case 'reclaim':
        if (reserv !== null) {
          const q = reserv.pqLen[op.domain % phys.ndomains];
          assert.equal(reserv.reclaimInactive(op.domain % phys.ndomains), q > 0);
        }
        break;
      case 'noobj':
        for (let i = 0; i < op.n; i++) {
          const m = page.allocNoobj(VM_ALLOC_SYSTEM | (op.zero ? VM_ALLOC_ZERO : 0) | (op.wired ? VM_ALLOC_WIRED : 0));
          if (m < 0) break;
          if (op.zero) assert.ok((p.flags[m] & PG_ZERO) !== 0, 'VM_ALLOC_ZERO noobj page not zeroed');
          noobj.add(m);
          held.add(m);
          if (op.wired) wired.set(m, 1);
        }
        break;
      case 'tick':
        if (reserv !== null) reserv.tick();
        break;
    }
    vm.check();
    // The model and the objects agree.
    for (const [obj, mm] of model) {
      assert.equal(objects.resident[obj], mm.size);
      for (const [k, m] of mm) assert.equal(objects.lookup(obj, k), m);
      // Pages of one reservation window sit at matching offsets of its block.
      if (reserv !== null) {
        for (const [k, m] of mm) {
          const rv = reserv.fromPage(m);
          if (reserv.object[rv] === obj && k >= reserv.pindex[rv] && k < reserv.pindex[rv] + reserv.npages) {
            assert.equal(m - reserv.first[rv], k - reserv.pindex[rv], `pindex ${k} at the wrong offset of its reservation`);
            assert.equal(reserv.first[rv] % 1, 0);
          }
        }
      }
    }
    for (const m of wired.keys()) assert.equal(p.wire[m], wired.get(m));
  }
  // Everything back: terminate, unwire, free; then the free queues are as at boot.
  for (const obj of objs) objects.terminate(obj);
  for (const [m, w] of wired) for (let i = 0; i < w; i++) page.unwire(m);
  for (const m of noobj) if (!wired.has(m) && p.astate[m] === 1) page.free(m);
  page.drainCaches();
  vm.check();
  assert.deepEqual(freeBlocks(vm), before, 'free queues differ from boot after every page came back');
  if (reserv !== null) assert.deepEqual(reserv.counters().active, new Array(phys.ndomains).fill(0));
}

test('page layer against a model, reservations on (amd64), checker after every step', () => {
  fc.assert(
    fc.property(fc.array(opArb, { size: 'max', maxLength: 60 }), (ops) => run(smallMap(), {}, ops)),
    { numRuns: runs(40) },
  );
});

test('page layer against a model on two domains, arm64 geometry, no page caches', () => {
  fc.assert(
    fc.property(fc.array(opArb, { size: 'max', maxLength: 60 }), (ops) => run(numaMap(), { 'vm.reserv.geometry': 'arm64-16k', 'vm.pgcache.enable': 0 }, ops)),
    { numRuns: runs(25) },
  );
});

test('page layer against a model, reservations off', () => {
  fc.assert(
    fc.property(fc.array(opArb, { size: 'max', maxLength: 60 }), (ops) => run(smallMap(), { 'vm.reserv.enable': 0 }, ops)),
    { numRuns: runs(25) },
  );
});

test('with reservations and page caches off, vm_page_alloc hands out what vm_phys order-0 allocation does', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.record({ alloc: fc.constant(true), n: fc.integer({ min: 1, max: 300 }) }), fc.record({ alloc: fc.constant(false), pick: fc.nat() })), { size: 'max', maxLength: 40 }), (ops) => {
      const t = { 'vm.reserv.enable': 0, 'vm.pgcache.enable': 0, 'vm.lazy_page_init': 0 };
      const a = new Vm(smallMap(), t);
      const b = new Vm(smallMap(), t);
      const obj = a.object.allocate('anon');
      const heldA: number[] = [];
      const heldB: number[] = [];
      let next = 0;
      for (const op of ops) {
        if (op.alloc) {
          for (let i = 0; i < op.n; i++) {
            const ma = a.page.alloc(obj, next++, VM_ALLOC_INTERRUPT | VM_ALLOC_NOBUSY);
            const mb = b.phys.allocPages(0, VM_FREEPOOL_DEFAULT, 0);
            assert.equal(ma, mb);
            if (ma < 0) break;
            heldA.push(ma);
            heldB.push(mb);
          }
        } else if (heldA.length > 0) {
          const i = op.pick % heldA.length;
          a.page.free(heldA[i]);
          b.phys.freePages(heldB[i], 0);
          heldA.splice(i, 1);
          heldB.splice(i, 1);
        }
      }
      a.check();
      assert.deepEqual(freeBlocks(a), freeBlocks(b));
    }),
    { numRuns: runs(30) },
  );
});
