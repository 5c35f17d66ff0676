/**
 * Kernel stacks (vm_glue.c after D38852): the pindex map, the kstack arenas'
 * imports and releases, the reservation patterns of the seed, the cache,
 * the domain policy, and the three bugs of the review as regression tests
 * that fail on the buggy revision.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PagelabError } from '../src/errors.js';
import { Vm } from '../src/vm/vm.js';
import { VMEM_ALLOC } from '../src/kern/vmem.js';
import { PAGE_SIZE, VM_ALLOC_SYSTEM } from '../src/vm/param.js';
import {
  KSTACK_MAX_PAGES,
  MAXMEMDOM,
  kstackLinearOfPindex,
  kstackPindexNonlinear,
  newKThread,
  type KThread,
  type KstackReview,
} from '../src/vm/kstack.js';
import { kstacksForVm, VmKstackPages } from '../src/vm/kstack_pages.js';
import { ReservWindows } from '../src/vm/kstack_windows.js';
import { KernelArenas } from '../src/vm/vm_kern.js';
import { kstackMachine } from '../src/lab/kstack-pindex.js';
import { numaMap } from './helpers/maps.js';
import { code } from './helpers/errors.js';

const MiB = 2 ** 20;

/* A two-domain machine (numa-2x6m: 11 MiB + 8 MiB) with kernel stacks. */
function machine(t: Record<string, string | number> = {}, review?: KstackReview, ncpu = 4) {
  const vm = new Vm(numaMap(), { 'vm.lazy_page_init': 0, ...t });
  const { arenas, kstacks } = kstacksForVm(vm, { ncpu, ...(review ? { review } : {}) });
  return { vm, arenas, ks: kstacks };
}

/* Takes every free page of `domain` out of vm_phys; returns them. */
function exhaust(vm: Vm, domain: number): number[] {
  const taken: number[] = [];
  for (;;) {
    const m = vm.page.allocNoobjDomain(domain, VM_ALLOC_SYSTEM);
    if (m < 0) return taken;
    taken.push(m);
  }
}

function threads(n: number): KThread[] {
  return Array.from({ length: n }, newKThread);
}

test('vm_kstack_pindex: guard pages skipped, stacks consecutive, G = 0 the identity, guard pages refused', () => {
  // K = 4, G = 1: slot j is [guard, 4 stack pages]; its stack pages get pindexes 4j..4j+3.
  assert.deepEqual([1, 2, 3, 4, 6, 7, 8, 9, 11].map((L) => kstackPindexNonlinear(L, 4, 1)), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([2, 3, 6, 7].map((L) => kstackPindexNonlinear(L, 2, 2)), [0, 1, 2, 3]);
  assert.deepEqual([0, 5, 17].map((L) => kstackPindexNonlinear(L, 4, 0)), [0, 5, 17]);
  assert.match(code(() => kstackPindexNonlinear(5, 4, 1)), /^EINVARIANT: vm_kstack_pindex: linear index 5 is a guard page \(K=4, G=1\)/);
  assert.match(code(() => kstackPindexNonlinear(12, 2, 2)), /linear index 12 is a guard page/);
  assert.deepEqual([0, 3, 4, 8].map((p) => kstackLinearOfPindex(p, 4, 1)), [1, 4, 6, 11]);
});

test('kernel arenas: per-domain arenas import KVA_QUANTUM-aligned chunks; bad base and size are named', () => {
  const a = new KernelArenas({ base: 0xfe0000000000, size: 2 ** 36, ndomains: 2, reservOrder: 9 });
  assert.equal(a.kvaQuantum, 2 * MiB);
  assert.equal(a.importQuantum, 256 * MiB, 'KVA_NUMA_IMPORT_QUANTUM on a NUMA machine');
  const x = a.kmemAllocKva(1, 12 * 1024);
  assert.ok(x >= a.base && (x - a.base) % PAGE_SIZE === 0);
  assert.equal(a.kernelArenaInUse(), 256 * MiB);
  assert.equal(new KernelArenas({ base: 0, size: 2 ** 30, ndomains: 1, reservOrder: 9 }).importQuantum, 2 * MiB);
  assert.equal(new KernelArenas({ base: 0, size: 2 ** 30, ndomains: 1, reservOrder: null }).kvaQuantum, 1 * MiB, '8 + PAGE_SHIFT without reservations');
  assert.match(code(() => new KernelArenas({ base: 0x1000, size: 2 ** 30, ndomains: 1, reservOrder: 9 })), /^EINVAL: vm.kva_base 0x1000 is not a multiple of the KVA quantum 0x200000/);
  assert.match(code(() => new KernelArenas({ base: 0, size: 3 * MiB, ndomains: 1, reservOrder: 9 })), /vm.kva_size 0x300000 is not a positive multiple/);
  a.kmemFreeKva(1, x, 12 * 1024);
  a.check();
  assert.equal(a.domainArena[1].size(VMEM_ALLOC), 0);
});

test('kstack arena imports: KVA_KSTACK_QUANTUM x (K+G) from the domain arena, start moved up to a multiple of K+G, one stack less', () => {
  const { arenas, ks } = machine();
  // Shift the next import by 2 MiB so that its start needs moving: linear index 512 is 2 mod 5.
  const pad = arenas.kmemAllocKva(0, 2 * MiB);
  const td = newKThread();
  assert.ok(ks.vm_thread_new(td, 0));
  const [c] = ks.chunks();
  assert.equal(c.importStart, pad + 2 * MiB);
  assert.equal(arenas.linearIndex(c.importStart) % 512, 0, 'import is 2 MiB aligned');
  assert.equal(c.start - c.importStart, 3 * PAGE_SIZE, 'moved up 3 pages: 512 + 3 = 515 = 5 x 103');
  assert.equal(c.size, (512 * 5 - 5) * PAGE_SIZE);
  assert.equal(c.slots, 511);
  assert.equal(td.td_kstack, c.start + PAGE_SIZE, 'first stack after its guard page');
  assert.equal(ks.pindexOf(td.td_kstack, 4), (515 / 5) * 4);
  assert.equal(td.td_kstack_domain, 0);
  ks.check();
});

test('the seed: a full chunk of the non-linear scheme populates its reservations EFFFB; linear holds 25% more', () => {
  const { arenas, ks } = machine();
  arenas.kmemAllocKva(0, 2 * MiB);
  const tds = threads(511);
  for (const td of tds) assert.ok(ks.vm_thread_new(td, 0));
  const [c] = ks.chunks();
  assert.equal(ks.chunks().length, 1);
  assert.equal(ks.chunkPattern(c), 'EFFFB');
  assert.equal(c.pindexEnd - c.pindexStart, 511 * 4);

  const lin = machine({ 'vm.kstack.pindex': 'linear' });
  const ltds = threads(511);
  for (const td of ltds) assert.ok(lin.ks.vm_thread_new(td, 0));
  // 511 stacks at linear pindexes [5j + 1, 5j + 5): 2555 pages of pindex space, five reservations.
  assert.equal(lin.ks.windows.touched(), 5);
  const overhead = (lin.ks.windows.touched() * 512) / lin.ks.stackPages() - 1;
  assert.ok(Math.abs(overhead - 0.25) < 0.01, `linear overhead ${overhead}`);
  assert.equal(lin.ks.chunkPattern(lin.ks.chunks()[0]), 'PPPPP');
});

test('aligned: every chunk holds 512 stacks from a reservation boundary, so a full chunk is FFFF', () => {
  const { arenas, ks } = machine({ 'vm.kstack.pindex': 'aligned' });
  arenas.kmemAllocKva(0, 2 * MiB);
  const tds = threads(512);
  for (const td of tds) assert.ok(ks.vm_thread_new(td, 0));
  const [c] = ks.chunks();
  assert.equal(ks.chunks().length, 1);
  assert.equal(c.slots, 512);
  assert.equal(ks.parentImportSize, 12 * MiB, '10 MiB of stacks and at most 640 - 128 pages of move, in 2 MiB quanta');
  assert.equal(c.pindexStart % 512, 0);
  assert.equal(arenas.linearIndex(c.start) % 640, 0, 'K=4, G=1: chunk starts at a multiple of 5 x 512 / gcd(4, 512) = 640 pages');
  assert.equal(ks.chunkPattern(c), 'FFFF');
  assert.deepEqual(ks.windows.letters(), { F: 4, E: 0, B: 0, P: 0 });
  // Half used, the chunk is FF--: FFFF needs the whole chunk in use.
  for (const td of tds.slice(256)) ks.vm_thread_dispose(td);
  ks.lowmem();
  assert.equal(ks.chunkPattern(c), 'FF--');
  ks.check();
  for (const td of tds.slice(0, 256)) ks.vm_thread_dispose(td);
  ks.lowmem();
  assert.equal(ks.chunks().length, 0, 'the wholly free chunk went back to the domain arena');
  assert.equal(arenas.domainArena[0].size(VMEM_ALLOC), 2 * MiB);
});

test('the cache: per domain, max(128, 4 x ncpu), hits before creation, drained by lowmem; vm.kstack_cache_size', () => {
  const { ks } = machine({}, undefined, 64);
  assert.equal(ks.cacheMax, 256);
  assert.equal(machine().ks.cacheMax, 128);
  const small = machine({ 'vm.kstack_cache_size': 3 }).ks;
  assert.equal(small.cacheMax, 3);
  const tds = threads(5);
  tds.forEach((td, i) => assert.ok(small.vm_thread_new(td, i % 2)));
  for (const td of tds) small.vm_thread_dispose(td);
  assert.equal(small.cachedStacks(), 3);
  assert.equal(small.cachedStacks(0), 2, 'stacks 0 and 2 (domain 0) cached first');
  assert.equal(small.cachedStacks(1), 1);
  assert.equal(small.stats.disposed, 2);
  const again = newKThread();
  assert.ok(small.vm_thread_new(again, 1));
  assert.equal(small.stats.cacheHits, 1);
  assert.equal(again.td_kstack_domain, 1);
  assert.equal(small.lowmem(), 2);
  assert.equal(small.cachedStacks(), 0);
  small.check();
});

test('ilp32 and other sizes: linear pindex; KVA from kernel_arena, or from the domain kernel arena into kstack_alt_object', () => {
  const { arenas, ks } = machine({ 'vm.kstack.ilp32': 1 });
  const td = newKThread();
  assert.ok(ks.vm_thread_new(td, 1));
  assert.equal(ks.pindexOf(td.td_kstack, 4), arenas.linearIndex(td.td_kstack));
  assert.equal(ks.chunks().length, 0);
  assert.equal(arenas.kernelArena.size(VMEM_ALLOC), 5 * PAGE_SIZE);
  ks.vm_thread_dispose(td);
  ks.lowmem();
  assert.equal(arenas.kernelArena.size(VMEM_ALLOC), 0);

  const m = machine();
  const big = newKThread();
  assert.ok(m.ks.vm_thread_new(big, 1, 8));
  assert.equal(big.td_kstack_pages, 8);
  assert.equal(m.ks.pindexOf(big.td_kstack, 8), m.arenas.linearIndex(big.td_kstack));
  assert.equal(m.arenas.domainArena[1].size(VMEM_ALLOC), 9 * PAGE_SIZE);
  assert.equal(m.ks.stackPages(), 0, 'kstack_alt_object pages are not kstack_object pages');
  const huge = newKThread();
  assert.ok(m.ks.vm_thread_new(huge, 0, 1000));
  assert.equal(huge.td_kstack_pages, KSTACK_MAX_PAGES);
  m.ks.check();
  m.ks.vm_thread_dispose(big);
  m.ks.vm_thread_dispose(huge);
  assert.equal(m.arenas.domainArena[1].size(VMEM_ALLOC), 0, 'other sizes are never cached');
});

test('bad input is one error naming the thing', () => {
  const { ks } = machine();
  const td = newKThread();
  assert.match(code(() => ks.vm_thread_new(td, 2)), /^EINVAL: vm_thread_new: CPU domain 2 is out of range \(machine has 2\)/);
  assert.match(code(() => ks.vm_thread_dispose(td)), /^EINVAL: vm_thread_dispose: kstack 0x0 \(0 pages\) is not a live stack/);
  ks.vm_thread_new(td, 0);
  const copy = { ...td };
  ks.vm_thread_dispose(td);
  assert.equal(td.td_kstack_domain, MAXMEMDOM);
  assert.match(code(() => ks.vm_thread_dispose(copy)), /is not a live stack of this machine/);
  assert.match(code(() => machine({ 'kern.kstack_pages': 0 })), /^ETUNABLE: tunable kern.kstack_pages: bad value "0"/);
  assert.match(code(() => machine({ 'vm.kstack.pindex': 'sparse' })), /expected one of linear, nonlinear, aligned/);
});

/* ---------------------------------------------------------------- the review's bugs */

test('regression (review bug 1): a stack whose pages fell back to another domain returns its KVA to that domain\'s arena', () => {
  const run = (review: KstackReview | undefined) => {
    const { vm, ks } = machine({}, review);
    exhaust(vm, 0);
    const td = newKThread();
    assert.ok(ks.vm_thread_new(td, 0), 'DOMAINSET_PREF falls back to domain 1');
    assert.equal(td.td_kstack_domain, 1);
    ks.vm_thread_dispose(td);
    ks.lowmem();
    ks.check();
    return ks;
  };
  const good = run(undefined);
  assert.equal(good.stats.fallbacks, 1);
  assert.equal(good.chunks().length, 0);
  // The buggy revision took the KVA from domain 0's arena and frees it to domain 1's.
  assert.throws(
    () => run({ kvaFromCpuDomain: true }),
    (e: unknown) => e instanceof PagelabError && /kstack arena domain 1/.test(e.message),
  );
});

test('regression (review bug 2): a released import is rounded back to KVA_KSTACK_QUANTUM before vmem_xfree', () => {
  const run = (review: KstackReview | undefined) => {
    const { arenas, ks } = machine({}, review);
    const pad = arenas.kmemAllocKva(0, 2 * MiB); // the import's start must move up
    const td = newKThread();
    assert.ok(ks.vm_thread_new(td, 0));
    assert.notEqual(ks.chunks()[0].start, ks.chunks()[0].importStart);
    ks.vm_thread_dispose(td);
    ks.lowmem();
    arenas.kmemFreeKva(0, pad, 2 * MiB);
    return arenas;
  };
  const arenas = run(undefined);
  assert.equal(arenas.domainArena[0].size(VMEM_ALLOC), 0);
  assert.throws(
    () => run({ releaseUnrounded: true }),
    (e: unknown) => e instanceof PagelabError && /vmem_xfree: 0x[0-9a-f]+ freed to arena 'kernel arena domain 0'/.test(e.message),
  );
});

test('regression (review bug 3): an exhausted domain falls back, all exhausted fails at once, never a busy loop', () => {
  const run = (review: KstackReview | undefined, both: boolean) => {
    const { vm, ks } = machine({}, review);
    exhaust(vm, 0);
    if (both) exhaust(vm, 1);
    return ks.vm_thread_new(newKThread(), 0);
  };
  assert.equal(run(undefined, false), true);
  assert.equal(run(undefined, true), false);
  for (const both of [false, true]) {
    assert.throws(() => run({ retrySameDomain: true }, both), /busy loop, domain 0 retried/);
  }
  // Domain 1's kstack arena exhausted: the whole kernel address space is domain 0's one import.
  const kva = (review: KstackReview | undefined) => {
    const { ks, arenas } = machine({ 'vm.kva_size': '256M' }, review);
    arenas.kmemAllocKva(0, PAGE_SIZE);
    assert.equal(arenas.kmemAllocKva(1, PAGE_SIZE), 0, 'domain 1 gets no KVA');
    const td = newKThread();
    assert.ok(ks.vm_thread_new(td, 1));
    return td;
  };
  assert.equal(kva(undefined).td_kstack_domain, 0, 'KVA and pages both from domain 0');
  assert.throws(() => kva({ retrySameDomain: true }), /busy loop, domain 1 retried/);
});

test('finding: under the non-linear map a reservation window can straddle two domains\' chunks, and vm_reserv then hands a stack the other domain\'s pages; aligned chunks cannot', () => {
  const run = (scheme: string) => {
    const vm = new Vm(kstackMachine(), { 'vm.kstack.pindex': scheme });
    const { arenas, kstacks: ks } = kstacksForVm(vm);
    // Domain 0's kstack chunk at the very end of its 256 MiB import, domain 1's at the start of the next.
    arenas.kmemAllocKva(0, 256 * MiB - ks.parentImportSize);
    const d0 = threads(scheme === 'aligned' ? 512 : 511);
    for (const td of d0) assert.ok(ks.vm_thread_new(td, 0));
    const [c0] = ks.chunks();
    const td = newKThread();
    assert.ok(ks.vm_thread_new(td, 1));
    const c1 = ks.chunks()[1];
    assert.equal(c1.importStart, c0.importStart + ks.parentImportSize, 'the two chunks are adjacent in KVA');
    return { ks, td, c0, c1, R: ks.reservPages };
  };
  const non = run('nonlinear');
  assert.equal(Math.floor((non.c0.pindexEnd - 1) / non.R), Math.floor(non.c1.pindexStart / non.R), 'one reservation window holds the end of chunk 0 and the start of chunk 1');
  assert.equal(non.td.td_kstack_domain, 0, 'domain 1\'s stack got domain 0\'s pages (rv->domain wins)');
  assert.match(code(() => non.ks.check()), /has pages in domain 0 but KVA outside kstack arena 0/);
  const al = run('aligned');
  assert.notEqual(Math.floor((al.c0.pindexEnd - 1) / al.R), Math.floor(al.c1.pindexStart / al.R));
  assert.equal(al.td.td_kstack_domain, 1);
  al.ks.check();
});

test('reservation windows: letters of whole windows and of a range seen through itself', () => {
  const w = new ReservWindows(3); // 8-page windows
  for (const p of [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19]) w.add(p);
  assert.equal(w.rangeString(0, 24), 'EFP');
  assert.equal(w.rangeString(2, 18), 'EFB', 'a fully populated range that starts and ends inside windows');
  assert.equal(w.rangeString(2, 20), 'EFP');
  assert.equal(w.letter(2, 0, 2), 'B');
  assert.deepEqual(w.letters(), { F: 1, E: 1, B: 0, P: 1 });
  w.remove(19);
  assert.equal(w.letter(2), 'B');
  w.remove(2);
  w.remove(16);
  assert.equal(w.rangeString(0, 24), 'EFP', 'window 2 keeps only pindex 17: inside, touching neither end');
  assert.equal(w.letter(5), '-');
  w.check();
  assert.match(code(() => w.add(3)), /pindex 3 is backed twice/);
  assert.match(code(() => w.remove(40)), /pindex 40 freed but not backed/);
});

test('stacks are mapped in the kernel pmap page by page, their guard pages are holes, dispose unmaps them', () => {
  const { vm, ks } = machine({ 'vm.kstack_cache_size': 0 });
  const src = ks.src as VmKstackPages;
  const pm = src.kernelPmap;
  assert.equal(pm.stats.ptpages, 1, 'only the PML4 page before any stack');
  const tds = threads(6);
  for (const td of tds) assert.ok(ks.vm_thread_new(td, 0));
  ks.check();
  pm.check();
  for (const td of tds) {
    for (let i = 0; i < td.td_kstack_pages; i++) {
      const m = pm.extract(td.td_kstack + i * PAGE_SIZE);
      assert.ok(m >= 0, `stack page ${i} of ${td.td_kstack.toString(16)} is not mapped`);
      assert.equal(vm.phys.pages.object[m], ks.kstackObject);
    }
    for (let g = 1; g <= ks.G; g++) assert.equal(pm.extract(td.td_kstack - g * PAGE_SIZE), -1, 'a guard page is mapped');
  }
  assert.equal(pm.stats.ptes, 6 * ks.K, 'one PTE per stack page, none for guards');
  assert.ok(pm.stats.ptpages >= 4, 'PDP, PD and PT pages were allocated for the stacks');
  // The checker notices a guard page that is mapped and a stack page that is not.
  const ks0 = tds[0].td_kstack;
  pm.enter(ks0 - PAGE_SIZE, pm.extract(ks0), 3, 0);
  assert.match(code(() => ks.check()), /guard page .* is mapped/);
  pm.remove(ks0 - PAGE_SIZE, ks0 + PAGE_SIZE);
  assert.match(code(() => ks.check()), /page 0 maps page -1/);
  pm.enter(ks0, vm.page.lookup(ks.kstackObject, ks.pindexOf(ks0, ks.K)), 3, 0);
  ks.check();
  for (const td of tds) ks.vm_thread_dispose(td);
  assert.equal(pm.stats.ptes, 0);
  assert.equal(pm.stats.ptpages, 1, 'the page-table pages went back with the last stack under them');
  pm.check();
  vm.check();
});

test('kernel address space beyond what a 4-level pmap maps is refused, naming the tunables', () => {
  const vm = new Vm(numaMap(), { 'vm.lazy_page_init': 0, 'vm.kva_base': 0xff0000000000, 'vm.kva_size': 2 ** 41 });
  assert.match(code(() => kstacksForVm(vm)), /^EINVAL: vm.kva_base 0xff0000000000 \+ vm.kva_size 0x20000000000 ends beyond the 48-bit address space/);
});
