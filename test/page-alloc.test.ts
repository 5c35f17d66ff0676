/**
 * Unit tests of the page layer: allocation classes and thresholds,
 * VM_ALLOC_ZERO's two meanings, wiring and busy errors, reservation
 * patterns, reclaim, contiguous runs, rename, the domainset iterator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Vm } from '../src/vm/vm.js';
import { memoryMapForSize } from '../src/machine/index.js';
import { DomainSet } from '../src/vm/domainset.js';
import {
  PAGE_SIZE,
  PG_ZERO,
  VM_ALLOC_INTERRUPT,
  VM_ALLOC_NOBUSY,
  VM_ALLOC_NODUMP,
  VM_ALLOC_NOWAIT,
  VM_ALLOC_SBUSY,
  VM_ALLOC_SYSTEM,
  VM_ALLOC_WIRED,
  VM_ALLOC_ZERO,
  VM_FREEPOOL_DEFAULT,
  VPB_XBUSY,
} from '../src/vm/param.js';
import { smallMap, numaMap } from './helpers/maps.js';
import { code } from './helpers/errors.js';

const NB = VM_ALLOC_NOBUSY;

test('allocation classes stop at free_reserved, interrupt_free_min and zero, as a normal -1', () => {
  const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 0, 'vm.reserv.enable': 0, 'vm.pgcache.enable': 0 });
  const d = vm.domains;
  const obj = vm.object.allocate('anon');
  let pi = 0;
  while (vm.page.alloc(obj, pi, NB) >= 0) pi++;
  assert.equal(d.freeCount(0), d.freeReserved[0], 'NORMAL stops at free_reserved');
  assert.equal(d.freeReserved[0], 32 + 34 + Math.floor(d.pageCount[0] / 768));
  while (vm.page.alloc(obj, pi, NB | VM_ALLOC_SYSTEM) >= 0) pi++;
  assert.equal(d.freeCount(0), d.interruptFreeMin[0], 'SYSTEM stops at interrupt_free_min');
  while (vm.page.alloc(obj, pi, NB | VM_ALLOC_INTERRUPT) >= 0) pi++;
  assert.equal(d.freeCount(0), 0, 'INTERRUPT takes the last page');
  assert.equal(vm.page.allocNoobj(VM_ALLOC_INTERRUPT), -1);
  assert.ok(d.refused[0] > 0 && d.refused[1] > 0 && d.refused[2] > 0);
  vm.check();
  vm.object.terminate(obj);
  vm.check();
  assert.equal(d.freeCount(0), d.pageCount[0]);
});

test('VM_ALLOC_ZERO: a preference for object pages, a guarantee for noobj and grab, real with backing', () => {
  const vm = new Vm(memoryMapForSize(64 * 2 ** 20), { 'vm.backed': 1, 'vm.reserv.enable': 0, 'vm.pgcache.enable': 0 });
  const b = vm.backing;
  assert.ok(b !== null);
  const obj = vm.object.allocate('anon');
  // A previous owner left its bytes in every free page: all of memory allocated, written, freed.
  const held: Array<[number, number]> = [];
  for (let o = vm.phys.maxOrder; o >= 0; o--) for (let m; (m = vm.phys.allocPages(0, VM_FREEPOOL_DEFAULT, o)) >= 0; ) held.push([m, o]);
  for (const [m, o] of held) {
    b.fill(vm.phys.pageToPa(m), 2 ** o * PAGE_SIZE, 0xa5);
    vm.phys.freePages(m, o);
  }
  assert.equal(vm.phys.zeroFreePages(), 0);
  const m1 = vm.page.alloc(obj, 0, NB | VM_ALLOC_ZERO);
  assert.equal(vm.phys.pages.flags[m1] & PG_ZERO, 0, 'not PG_ZERO: the caller must zero it');
  assert.equal(b.isZero(vm.phys.pageToPa(m1), PAGE_SIZE), false, 'object allocation does not zero');
  const m2 = vm.page.allocNoobj(VM_ALLOC_ZERO);
  assert.ok(b.isZero(vm.phys.pageToPa(m2), PAGE_SIZE), 'noobj VM_ALLOC_ZERO zeroes');
  const m3 = vm.page.grab(obj, 1, NB | VM_ALLOC_ZERO);
  assert.ok(b.isZero(vm.phys.pageToPa(m3), PAGE_SIZE), 'grab VM_ALLOC_ZERO zeroes');
  assert.equal(vm.page.statsObject().zeroed, 2, 'two pages zeroed');
  assert.equal(vm.page.grab(obj, 0, NB), m1, 'grab finds the resident page');
  vm.check();
  void vm.shutdown();
});

test('a wired page cannot be freed: EWIRED names it, nothing changes; unwire frees an orphan', () => {
  const vm = new Vm(smallMap());
  const obj = vm.object.allocate('anon', { name: 'guest' });
  const m = vm.page.alloc(obj, 7, NB | VM_ALLOC_WIRED);
  const pa = vm.phys.pageToPa(m).toString(16);
  assert.match(code(() => vm.page.free(m)), new RegExp(`^EWIRED: vm_page_free: page 0x${pa} \\(pindex 7 of object guest \\(slot ${obj}\\)\\) is wired \\(wire count 1\\)`));
  assert.equal(vm.object.lookup(obj, 7), m);
  vm.check();
  // Terminate leaves the wired page allocated, out of the object; the last unwire frees it.
  vm.object.terminate(obj);
  assert.equal(vm.phys.pages.astate[m], 1);
  vm.check();
  assert.equal(vm.page.unwire(m), true);
  assert.match(code(() => vm.page.free(m)), /^EDOUBLEFREE/);
  vm.check();
});

test('busy state: exclusive by default, shared or none on request; terminate refuses a busy page', () => {
  const vm = new Vm(smallMap());
  const obj = vm.object.allocate('anon');
  const x = vm.page.alloc(obj, 0);
  assert.equal(vm.phys.pages.busy[x], VPB_XBUSY);
  const s = vm.page.alloc(obj, 1, VM_ALLOC_SBUSY);
  assert.equal(vm.phys.pages.busy[s], 1);
  assert.equal(vm.page.grab(obj, 0, VM_ALLOC_NOWAIT), -1, 'grab of an xbusy page without waiting');
  assert.match(code(() => vm.page.grab(obj, 0)), /^EBUSY: vm_page_grab: page .* at pindex 0 .* is exclusive busy/);
  assert.equal(vm.page.grab(obj, 1, VM_ALLOC_SBUSY), s);
  assert.equal(vm.phys.pages.busy[s], 2);
  assert.match(code(() => vm.object.terminate(obj)), /^EBUSY: vm_object_terminate: .* exclusive busy page at pindex 0/);
  assert.equal(vm.object.resident[obj], 2, 'nothing freed');
  vm.page.xunbusy(x);
  vm.page.sunbusy(s);
  vm.page.sunbusy(s);
  vm.object.terminate(obj);
  vm.check();
});

test('reservation strings: F, E, B, P and - per reservation window, after colour', () => {
  const vm = new Vm(memoryMapForSize(64 * 2 ** 20), { 'vm.lazy_page_init': 0 });
  const r = vm.reserv;
  assert.ok(r !== null);
  const obj = vm.object.allocate('anon', { color: 0 });
  const fill = (a: number, b: number, step = 1): void => {
    for (let i = a; i < b; i += step) assert.ok(vm.page.alloc(obj, i, NB) >= 0);
  };
  fill(0, 512); // F
  fill(600, 1024); // E
  fill(1024, 1100); // B
  fill(1600, 1700, 7); // P
  assert.equal(r.describeObject(obj, 0, 2560), 'FEBP-');
  assert.equal(r.counters().fullpop, 1);
  // Every page of a window sits at its offset of one 2 MiB block.
  const base = vm.object.lookup(obj, 600) - 600 % 512;
  for (let i = 600; i < 1024; i++) assert.equal(vm.object.lookup(obj, i), base + (i % 512));
  assert.equal(vm.phys.pageToPa(base) % (2 * 2 ** 20), 0);
  // psind / vm_reserv_to_superpage on the full one only.
  const f = vm.object.lookup(obj, 5);
  assert.equal(r.toSuperpage(f), f - 5);
  assert.equal(r.psind(f - 5), 1);
  assert.equal(r.toSuperpage(vm.object.lookup(obj, 700)), -1);
  // A coloured object whose first window starts before pindex 0 has no reservation there.
  const c = vm.object.allocate('anon', { color: 100 });
  for (let i = 0; i < 500; i++) vm.page.alloc(c, i, NB);
  assert.equal(r.describeObject(c, 0, 1000), '-B-');
  // An uncoloured object never uses reservations.
  const u = vm.object.allocate('anon', { color: null });
  for (let i = 0; i < 600; i++) vm.page.alloc(u, i, NB);
  assert.equal(r.describeObject(u, 0, 600), '--');
  vm.check();
});

test('OBJT_PHYS: no reservation for a window reaching past its size; anonymous objects may', () => {
  const vm = new Vm(memoryMapForSize(64 * 2 ** 20), { 'vm.lazy_page_init': 0 });
  const phys = vm.object.allocate('phys', { size: 700 });
  const anon = vm.object.allocate('anon', { size: 700 });
  for (let i = 0; i < 700; i++) {
    vm.page.alloc(phys, i, NB);
    vm.page.alloc(anon, i, NB);
  }
  assert.equal(vm.reserv?.describeObject(phys), 'F-');
  assert.equal(vm.reserv?.describeObject(anon), 'FB');
  assert.match(code(() => vm.page.alloc(phys, 700)), /^EINVAL: object slot \d+: pindex 700 is beyond its size of 700 pages/);
  vm.check();
});

test('vm_page_alloc breaks an inactive reservation when vm_phys is empty, then retries', () => {
  const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 0, 'vm.pgcache.enable': 0 });
  const r = vm.reserv;
  assert.ok(r !== null);
  // A partly populated reservation, then memory filled by an uncoloured object.
  const a = vm.object.allocate('anon');
  for (let i = 0; i < 10; i++) vm.page.alloc(a, i, NB);
  assert.equal(r.pqLen[0], 1);
  const u = vm.object.allocate('anon', { color: null });
  let n = 0;
  while (vm.page.alloc(u, n, NB | VM_ALLOC_INTERRUPT) >= 0) n++;
  assert.equal(r.reclaimed, 1, 'the partly populated reservation was reclaimed');
  assert.equal(r.pqLen[0], 0);
  assert.equal(vm.page.statsObject().reclaim_retry, 1, 'one retry after reclaim');
  vm.check();
  vm.object.terminate(u);
  vm.object.terminate(a);
  vm.check();
  assert.equal(vm.domains.freeCount(0), vm.domains.pageCount[0]);
});

test('vm_page_alloc_contig fills whole reservations; vm_reserv_reclaim_contig carves a run from a partial one', () => {
  const vm = new Vm(memoryMapForSize(64 * 2 ** 20), { 'vm.lazy_page_init': 0, 'vm.pgcache.enable': 0 });
  const r = vm.reserv;
  assert.ok(r !== null);
  const obj = vm.object.allocate('anon');
  const m = vm.page.allocContig(obj, 0, NB, 1024, 0, Number.MAX_SAFE_INTEGER, 2 * 2 ** 20);
  assert.ok(m >= 0);
  assert.equal(r.describeObject(obj, 0, 1024), 'FF');
  for (let i = 0; i < 1024; i++) assert.equal(vm.object.lookup(obj, i), m + i);
  // Fill the rest with an uncoloured object, leaving one partial reservation.
  const part = vm.object.allocate('anon');
  for (let i = 0; i < 100; i++) vm.page.alloc(part, i, NB);
  // Exhaust vm_phys behind the page layer's back, so nothing reclaims on the way.
  while (vm.phys.allocPages(0, 1, 0) >= 0);
  assert.equal(r.pqLen[0], 1);
  const run = vm.page.allocNoobjContig(VM_ALLOC_INTERRUPT, 64, 0, Number.MAX_SAFE_INTEGER, 64 * PAGE_SIZE);
  assert.ok(run >= 0, 'a run carved out of the partial reservation');
  assert.equal(vm.phys.pageToPa(run) % (64 * PAGE_SIZE), 0);
  assert.equal(r.reclaimed, 1);
  vm.check();
});

test('vm_page_rename moves a page; its reservation stays with the old object; vm_reserv_rename moves it', () => {
  const vm = new Vm(memoryMapForSize(64 * 2 ** 20), { 'vm.lazy_page_init': 0 });
  const r = vm.reserv;
  assert.ok(r !== null);
  const a = vm.object.allocate('anon');
  const b = vm.object.allocate('anon');
  for (let i = 0; i < 512; i++) vm.page.alloc(a, i, NB);
  const m = vm.object.lookup(a, 3);
  assert.equal(vm.page.rename(m, b, 40), true);
  assert.equal(vm.object.lookup(b, 40), m);
  assert.equal(vm.object.lookup(a, 3), -1);
  assert.equal(r.describeObject(a, 0, 512), 'F', 'the popmap still counts the renamed page');
  assert.equal(vm.page.alloc(a, 3, NB) >= 0, true, 'pindex 3 of a comes from elsewhere');
  vm.check();
  // Shadow-style rename of the whole reservation: a's pindex 0.. become b's pindex 1000..
  const c = vm.object.allocate('anon');
  r.rename(vm.object.lookup(a, 0), c, a, -1024);
  assert.deepEqual(r.objectReservations(a), []);
  assert.equal(r.objectReservations(c).length, 1);
  assert.equal(r.pindex[r.objectReservations(c)[0]], 1024);
});

test('domainset: a depleted preferred domain falls back; interleave stripes reservations across domains', () => {
  const vm = new Vm(numaMap(), { 'vm.lazy_page_init': 0, 'vm.pgcache.enable': 0 });
  const obj = vm.object.allocate('anon', { domainset: new DomainSet('prefer', 2, 1) });
  let n = 0;
  const seen = [0, 0];
  for (; ; n++) {
    const m = vm.page.alloc(obj, n, NB);
    if (m < 0) break;
    seen[vm.page.domainOf(m)]++;
  }
  assert.ok(seen[1] > 0 && seen[0] > 0, `both domains used: ${seen}`);
  // Domain 1 was tried first while it had pages above free_min.
  assert.ok(vm.domains.freeCount(1) <= vm.domains.freeMin[1]);
  vm.check();
  vm.object.terminate(obj);
  const il = vm.object.allocate('anon', { domainset: new DomainSet('interleave', 2) });
  const doms: number[] = [];
  for (let w = 0; w < 4; w++) doms.push(vm.page.domainOf(vm.page.alloc(il, w * 512, NB)));
  assert.deepEqual(doms, [il % 2, (il + 1) % 2, il % 2, (il + 1) % 2]);
  vm.check();
});

test('arm64 geometry: 2048-page reservations; reservations need vm.nfreeorder above their order', () => {
  const vm = new Vm(memoryMapForSize(64 * 2 ** 20), { 'vm.reserv.geometry': 'arm64-16k', 'vm.lazy_page_init': 0 });
  assert.equal(vm.reserv?.npages, 2048);
  const obj = vm.object.allocate('anon');
  for (let i = 0; i < 2048; i++) vm.page.alloc(obj, i, NB);
  assert.equal(vm.reserv?.describeObject(obj, 0, 2048), 'F');
  vm.check();
  assert.equal(new Vm(smallMap(), { 'vm.nfreeorder': 9 }).reserv, null);
});

test('terminate: full reservations go back whole, one with a wired page page by page; counters and queues as single frees leave them', () => {
  const vm = new Vm(memoryMapForSize(64 * 2 ** 20), { 'vm.lazy_page_init': 0, 'vm.pgcache.enable': 0 });
  const r = vm.reserv;
  assert.ok(r !== null);
  const before = vm.domains.freeCount(0);
  const obj = vm.object.allocate('anon');
  for (let i = 0; i < 3 * 512 + 100; i++) vm.page.alloc(obj, i, NB);
  const w = vm.object.lookup(obj, 700);
  vm.page.wire(w);
  assert.equal(r.describeObject(obj, 0, 2048), 'FFFB');
  vm.object.terminate(obj);
  vm.check();
  assert.equal(r.freed, 3, 'two full reservations freed whole, the partial one by its last free');
  assert.equal(r.broken, 1, 'the reservation holding the wired page is broken');
  assert.equal(vm.phys.pages.object[w], 0);
  assert.equal(vm.domains.freeCount(0), before - 1, 'only the wired page is still out');
  assert.equal(vm.page.unwire(w), true);
  vm.check();
  assert.equal(vm.domains.freeCount(0), before);
});

test('sequential fast path: the same page state, counters and reservations as the general path, for each request; refusals counted once', () => {
  const vm = new Vm(memoryMapForSize(64 * 2 ** 20), { 'vm.lazy_page_init': 0, 'vm.pgcache.enable': 0 });
  const p = vm.phys.pages;
  const r = vm.reserv;
  assert.ok(r !== null);
  // Count how often vm_page_alloc takes the general path, to know the fast one was used.
  const proto = Object.getPrototypeOf(vm.page) as { allocChecked: (...a: number[]) => number };
  const general = proto.allocChecked;
  let slow = 0;
  proto.allocChecked = function (this: unknown, ...a: number[]): number {
    slow++;
    return general.apply(this, a);
  };
  try {
    const N = 300;
    const reqs = [0, NB, VM_ALLOC_SBUSY, VM_ALLOC_WIRED | NB, VM_ALLOC_NODUMP | NB, VM_ALLOC_ZERO | VM_ALLOC_SBUSY, VM_ALLOC_SYSTEM | NB, VM_ALLOC_INTERRUPT];
    for (const req of reqs) {
      const up = vm.object.allocate('anon');
      const down = vm.object.allocate('anon');
      const st0 = vm.page.statsObject();
      slow = 0;
      for (let i = 0; i < N; i++) assert.ok(vm.page.alloc(up, i, req) >= 0);
      assert.ok(slow <= 2 + 2 * Math.ceil(N / 64), `req ${req}: ${slow} of ${N} ascending allocations took the general path`);
      const st1 = vm.page.statsObject();
      slow = 0;
      for (let i = N - 1; i >= 0; i--) assert.ok(vm.page.alloc(down, i, req) >= 0);
      assert.equal(slow, N, 'descending allocations never take the fast path');
      const st2 = vm.page.statsObject();
      for (const k of ['alloc', 'from_reserv', 'from_phys', 'failed']) assert.equal(st1[k] - st0[k], st2[k] - st1[k], `req ${req}: ${k}`);
      for (let i = 0; i < N; i++) {
        const a = vm.object.lookup(up, i);
        const b = vm.object.lookup(down, i);
        const state = (m: number): number[] => [p.flags[m] & ~PG_ZERO, p.busy[m], p.wire[m], p.pool[m], p.astate[m], p.pindex[m]];
        assert.deepEqual(state(a), state(b), `req ${req}, pindex ${i}`);
        assert.equal(p.object[a], up);
      }
      assert.equal(vm.object.resident[up], N);
      assert.equal(vm.object.busyPages[up], vm.object.busyPages[down]);
      assert.equal(r.describeObject(up, 0, N), r.describeObject(down, 0, N));
      vm.check();
      if ((req & VM_ALLOC_WIRED) !== 0) for (let i = 0; i < N; i++) for (const o of [up, down]) vm.page.unwire(vm.object.lookup(o, i));
      for (const o of [up, down]) {
        for (let i = 0; i < N; i++) {
          const m = vm.object.lookup(o, i);
          if (p.busy[m] === VPB_XBUSY) vm.page.xunbusy(m);
          else while (p.busy[m] !== 0) vm.page.sunbusy(m);
        }
        vm.object.terminate(o);
      }
      vm.check();
    }
    // At free_reserved with one free page inside a reservation: vm_page_alloc
    // of that page is refused, and counted alike whether the fast path saw it
    // (the second attempt, once the first left the trie's hint in its leaf) or not.
    const d = vm.domains;
    const obj = vm.object.allocate('anon');
    let pi = 0;
    while (vm.page.alloc(obj, pi, NB) >= 0) pi++;
    assert.equal(d.freeCount(0), d.freeReserved[0], 'NORMAL stops at free_reserved with reservations too');
    const k = 100;
    vm.page.free(vm.object.lookup(obj, k));
    assert.ok(vm.page.allocNoobj(NB) >= 0, 'one page above free_reserved, taken from vm_phys');
    const rv = r.fromPage(vm.object.lookup(obj, k - 1));
    assert.ok(r.object[rv] === obj && !r.isPopulated(rv, k), 'pindex k is free inside its reservation');
    const before = d.refused[0];
    assert.equal(vm.page.alloc(obj, k, NB), -1);
    const first = d.refused[0] - before;
    assert.ok(first > 0);
    slow = 0;
    assert.equal(vm.page.alloc(obj, k, NB), -1);
    assert.equal(d.refused[0] - before, 2 * first, 'the second, fast-path attempt counts as the first');
    assert.equal(slow, 1);
    vm.check();
  } finally {
    proto.allocChecked = general;
  }
});
