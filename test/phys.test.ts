import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Vm } from '../src/vm/vm.js';
import { Phys, buildSegments, addrOk } from '../src/vm/phys.js';
import { checkPhys } from '../src/vm/checker.js';
import { vmPageStartup } from '../src/vm/startup.js';
import { BYTES_PER_PAGE, PageArray, SHARED_ABOVE_BYTES } from '../src/vm/page.js';
import { Work } from '../src/vm/counters.js';
import { resolveMachine } from '../src/machine/index.js';
import { PagelabError } from '../src/errors.js';
import {
  PAGE_SIZE,
  VM_FREELIST_DEFAULT,
  VM_FREELIST_DMA32,
  VM_FREELIST_LOWMEM,
  VM_FREEPOOL_DEFAULT,
  VM_FREEPOOL_DIRECT,
  VM_FREEPOOL_LAZYINIT,
  ASTATE_ALLOCATED,
  ASTATE_FREE,
  ASTATE_RESERVED,
} from '../src/vm/param.js';
import { smallMap, numaMap } from './helpers/maps.js';

const G = 2 ** 30;
const M = 2 ** 20;

function freeBlocks(phys: Phys): string[] {
  const out: string[] = [];
  phys.forEachFreeBlock((m, o) => out.push(`${phys.pageToPa(m).toString(16)}:${o}`));
  return out.sort();
}

describe('segments and free lists (vm_phys_add_seg, vm_phys_init)', () => {
  test('a 1 GiB machine has LOWMEM and DEFAULT lists, no DMA32', () => {
    const { segs, freelistToFlind, nfreelists } = buildSegments(resolveMachine({ preset: 'firecracker-1g' }), false);
    assert.equal(nfreelists, 2);
    assert.equal(freelistToFlind[VM_FREELIST_DMA32], -1);
    assert.ok(freelistToFlind[VM_FREELIST_LOWMEM] >= 0);
    assert.ok(segs.some((s) => s.end === 16 * M && s.freelist === VM_FREELIST_LOWMEM));
    assert.ok(segs.every((s) => s.end <= 16 * M || s.freelist === VM_FREELIST_DEFAULT));
  });

  test('DMA32 exists only when more than 64 GiB lies above 4 GiB', () => {
    const small = buildSegments(resolveMachine({ mem: '64G' }), false);
    assert.equal(small.freelistToFlind[VM_FREELIST_DMA32], -1);
    const big = buildSegments(resolveMachine({ mem: '80G' }), false);
    assert.ok(big.freelistToFlind[VM_FREELIST_DMA32] >= 0);
    const dma = big.segs.filter((s) => s.freelist === VM_FREELIST_DMA32);
    assert.ok(dma.length > 0 && dma.every((s) => s.end <= 4 * G));
  });

  test('segments split at 16 MiB and 4 GiB and keep their domains', () => {
    const { segs } = buildSegments(resolveMachine({ preset: 'numa-2x32g' }), false);
    for (const s of segs) assert.ok(!(s.start < 16 * M && s.end > 16 * M) && !(s.start < 4 * G && s.end > 4 * G));
    assert.deepEqual([...new Set(segs.map((s) => s.domain))].sort(), [0, 1]);
    const numaOff = buildSegments(resolveMachine({ preset: 'numa-2x32g' }), true);
    assert.equal(numaOff.ndomains, 1);
  });
});

describe('boot (vm_page_startup)', () => {
  for (const lazy of [0, 1]) {
    test(`lazy=${lazy}: phys_avail is free, the rest allocated, checker holds`, () => {
      const vm = new Vm(smallMap(), { 'vm.lazy_page_init': lazy });
      vm.check();
      const avail = smallMap().physAvail.reduce((s, r) => s + (r.end - r.start) / PAGE_SIZE, 0);
      assert.equal(vm.phys.totalFree(), avail);
      assert.equal(vm.boot.pagesFree, avail);
      assert.equal(vm.boot.pagesReserved, vm.phys.npages - avail);
      if (lazy) {
        assert.equal(vm.boot.pagesInitialised, vm.boot.pagesReserved);
        assert.equal(vm.phys.lazyPending(), avail);
        assert.equal(vm.phys.defaultFreepool, VM_FREEPOOL_LAZYINIT);
      } else {
        assert.equal(vm.boot.pagesInitialised, vm.phys.npages);
        assert.equal(vm.phys.defaultFreepool, VM_FREEPOOL_DEFAULT);
      }
    });
  }

  test('eager and lazy boot enqueue the same blocks, and bzero-then-set equals field-by-field', () => {
    const a = new Vm(smallMap(), { 'vm.lazy_page_init': 0 });
    const b = new Vm(smallMap(), { 'vm.lazy_page_init': 1 });
    const c = new Vm(smallMap(), { 'vm.lazy_page_init': 0, 'vm.page_init': 'bzero' });
    assert.deepEqual(freeBlocks(a.phys), freeBlocks(b.phys));
    a.phys.pages.buffers.forEach((buf, i) => assert.deepEqual(new Uint8Array(buf), new Uint8Array(c.phys.pages.buffers[i]), `field ${i}`));
  });

  test('boot blocks are maximal aligned power-of-two blocks', () => {
    const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 0 });
    // [4K, 640K) is pfn 1..159: blocks of 1, 2, 4, 8, 16, 32, 64 pages, then 32 from pfn 128.
    const low = freeBlocks(vm.phys).filter((s) => parseInt(s.split(':')[0], 16) < 640 * 1024);
    assert.deepEqual(low.sort(), ['1000:0', '2000:1', '4000:2', '8000:3', '10000:4', '20000:5', '40000:6', '80000:5'].sort());
  });

  test('lazy boot touches no page record inside phys_avail', () => {
    const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 1 });
    const p = vm.phys.pages;
    for (const r of smallMap().physAvail) {
      for (let pa = r.start; pa < r.end; pa += PAGE_SIZE) {
        const m = vm.phys.paToPage(pa);
        assert.equal(p.pool[m] | p.order[m] | p.segind[m] | p.next[m] | p.queue[m], 0, `page ${pa.toString(16)} was written`);
      }
    }
  });
});

describe('allocation and free', () => {
  test('alloc takes the smallest sufficient block and splits it; free merges back', () => {
    const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 0 });
    const before = freeBlocks(vm.phys);
    const m = vm.phys.allocPages(0, VM_FREEPOOL_DEFAULT, 0);
    assert.ok(m >= 0);
    // The smallest block on the first free list (DEFAULT, above 16 MiB) is taken first.
    assert.ok(vm.phys.pageToPa(m) >= 16 * M);
    vm.check();
    vm.phys.freePages(m, 0);
    vm.check();
    assert.deepEqual(freeBlocks(vm.phys), before);
  });

  test('lazy allocation takes the largest lazy block and initialises exactly it', () => {
    const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 1 });
    const w0 = vm.phys.work[Work.PageInit];
    const m = vm.phys.allocPages(0, VM_FREEPOOL_DEFAULT, 0);
    assert.ok(m >= 0);
    // The first free list is DEFAULT, [16 MiB, 24 MiB): its largest block is 2048 pages.
    assert.equal(vm.phys.work[Work.PageInit] - w0, 2048);
    assert.equal(vm.phys.pageToPa(m), 16 * M);
    assert.equal(vm.phys.work[Work.LazyBlockTaken], 1);
    vm.check();
    vm.phys.freePages(m, 0);
    vm.check();
  });

  test('DIRECT allocations split into the DIRECT pool and merge across pools on free', () => {
    const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 0 });
    const before = freeBlocks(vm.phys);
    const a = vm.phys.allocPages(0, VM_FREEPOOL_DIRECT, 2);
    const b = vm.phys.allocPages(0, VM_FREEPOOL_DEFAULT, 2);
    assert.ok(a >= 0 && b >= 0);
    vm.check();
    vm.phys.freePages(a, 2, VM_FREEPOOL_DIRECT);
    vm.phys.freePages(b, 2);
    vm.check();
    assert.deepEqual(freeBlocks(vm.phys), before);
  });

  test('allocFreelistPages takes from one free list only, and -1 for a list the machine lacks', () => {
    const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 1 });
    const low = vm.phys.allocFreelistPages(0, VM_FREELIST_LOWMEM, VM_FREEPOOL_DEFAULT, 3);
    assert.ok(low >= 0 && vm.phys.pageToPa(low) + 8 * PAGE_SIZE <= 16 * M);
    const high = vm.phys.allocFreelistPages(0, VM_FREELIST_DEFAULT, VM_FREEPOOL_DEFAULT, 3);
    assert.ok(vm.phys.pageToPa(high) >= 16 * M);
    assert.equal(vm.phys.allocFreelistPages(0, VM_FREELIST_DMA32, VM_FREEPOOL_DEFAULT, 0), -1);
    assert.throws(() => vm.phys.allocFreelistPages(0, 3, VM_FREEPOOL_DEFAULT, 0), /free list 3/);
    // The DEFAULT list exhausted, allocations from it fail while LOWMEM still has pages.
    while (vm.phys.allocFreelistPages(0, VM_FREELIST_DEFAULT, VM_FREEPOOL_DEFAULT, 0) >= 0);
    assert.ok(vm.phys.allocFreelistPages(0, VM_FREELIST_LOWMEM, VM_FREEPOOL_DEFAULT, 0) >= 0);
    vm.check();
  });

  test('allocNpages returns single pages, fewer when the domain runs out', () => {
    const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 1 });
    const total = vm.phys.totalFree();
    const out = new Float64Array(4096);
    let got = 0;
    const held: number[] = [];
    while ((got = vm.phys.allocNpages(0, VM_FREEPOOL_DEFAULT, 4096, out)) === 4096) held.push(...out);
    held.push(...out.subarray(0, got));
    assert.equal(held.length, total);
    assert.equal(new Set(held).size, total);
    assert.equal(vm.phys.totalFree(), 0);
    vm.check();
    for (const m of held) vm.phys.freePages(m, 0);
    vm.check();
    assert.equal(vm.phys.totalFree(), total);
  });

  test('freeing what was never allocated, twice, or a reserved page twice is a typed error that changes nothing', () => {
    const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 0 });
    const m = vm.phys.allocPages(0, VM_FREEPOOL_DEFAULT, 1);
    vm.phys.freePages(m, 1);
    const snap = freeBlocks(vm.phys);
    assert.throws(() => vm.phys.freePages(m, 1), (e: unknown) => e instanceof PagelabError && e.code === 'EDOUBLEFREE' && /0x/.test(e.message));
    const lazy = new Vm(smallMap(), { 'vm.lazy_page_init': 1 });
    const inLazy = lazy.phys.paToPage(10 * M);
    assert.throws(() => lazy.phys.freePages(inLazy, 0), (e: unknown) => e instanceof PagelabError && e.code === 'ENOTALLOC' && e.message.includes('0xa00000'));
    assert.throws(() => vm.phys.freePages(vm.phys.npages + 5, 0), (e: unknown) => e instanceof PagelabError && e.code === 'ENOTALLOC');
    assert.deepEqual(freeBlocks(vm.phys), snap);
    vm.check();
  });

  test('the checked frees refuse pages reserved at boot (page 0, the kernel image); bootstrapFree returns them once', () => {
    for (const lazy of [0, 1]) {
      const vm = new Vm(smallMap(), { 'vm.lazy_page_init': lazy });
      const snap = freeBlocks(vm.phys);
      const free0 = vm.phys.totalFree();
      const reserved = (e: unknown, pa: string) => e instanceof PagelabError && e.code === 'ERESERVED' && e.message.includes(pa) && /phys_avail/.test(e.message);
      assert.throws(() => vm.phys.freePages(0, 0), (e) => reserved(e, '0x0'));
      const k = vm.phys.paToPage(2 * M);
      assert.throws(() => vm.phys.freePages(k, 0), (e) => reserved(e, '0x200000'));
      assert.throws(() => vm.phys.freeContig(k, 2), (e) => reserved(e, '0x200000'));
      assert.deepEqual(freeBlocks(vm.phys), snap, 'a refused free changes nothing');
      // Nothing hands a reserved page out.
      for (let m; (m = vm.phys.allocPages(0, VM_FREEPOOL_DEFAULT, 0)) >= 0; ) assert.notEqual(vm.phys.pages.astate[m], ASTATE_RESERVED);
      assert.equal(vm.phys.pages.astate[k], ASTATE_RESERVED);
      const vm2 = new Vm(smallMap(), { 'vm.lazy_page_init': lazy });
      vm2.phys.bootstrapFree(k, 1);
      vm2.check();
      assert.equal(vm2.phys.totalFree(), free0 + 1);
      assert.throws(() => vm2.phys.bootstrapFree(k, 1), (e: unknown) => e instanceof PagelabError && e.code === 'EINVAL' && e.message.includes('0x200000'));
      assert.throws(() => vm2.phys.freePages(k, 0), (e: unknown) => e instanceof PagelabError && e.code === 'EDOUBLEFREE');
      assert.throws(() => vm2.phys.bootstrapFree(vm2.phys.paToPage(12 * M), 1), (e: unknown) => e instanceof PagelabError && e.code === 'EINVAL' && e.message.includes('0xc00000'));
    }
  });

  test('freeing a reserved page next to a lazy block merges into it and initialises it', () => {
    const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 1 });
    // 0x900000 is the 4 KiB firmware hole; its order-0 buddy 0x901000 is a lazy block of order 0.
    const m = vm.phys.paToPage(9 * M);
    vm.phys.bootstrapFree(m, 1);
    vm.check();
    assert.ok(vm.phys.work[Work.LazyBlockTaken] >= 1);
    assert.equal(vm.phys.pages.pool[vm.phys.paToPage(9 * M + 4096)] !== VM_FREEPOOL_LAZYINIT, true);
  });

  test('argument errors name the bad value', () => {
    const vm = new Vm(smallMap());
    assert.throws(() => vm.phys.allocPages(3, 1, 0), /domain 3/);
    assert.throws(() => vm.phys.allocPages(0, VM_FREEPOOL_LAZYINIT, 0), /pool 0/);
    assert.throws(() => vm.phys.allocPages(0, 1, 13), /order 13/);
    assert.throws(() => vm.phys.allocContig(0, 4, 0, 2 ** 40, 3 * 4096), /alignment/);
  });
});

describe('lazy drain', () => {
  test('slices are resumable, idempotent, and move vm_default_freepool past LAZYINIT', () => {
    const vm = new Vm(numaMap(), { 'vm.lazy_page_init': 1 });
    const pending = vm.phys.lazyPending(0);
    let done = 0;
    let n: number;
    while ((n = vm.phys.lazyInitSlice(0, 100)) > 0) {
      done += n;
      vm.check();
    }
    assert.equal(done, pending);
    assert.equal(vm.phys.defaultFreepool, VM_FREEPOOL_LAZYINIT, 'domain 1 still lazy');
    vm.phys.lazyInitDomain(1);
    assert.equal(vm.phys.defaultFreepool, VM_FREEPOOL_DEFAULT);
    assert.equal(vm.phys.lazyInit(), 0);
    vm.check();
    const eager = new Vm(numaMap(), { 'vm.lazy_page_init': 0 });
    assert.deepEqual(freeBlocks(vm.phys), freeBlocks(eager.phys));
  });

  test('INVARIANTS: reading a never-initialised page record fails with its address', () => {
    const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 1, 'debug.invariants': 1 });
    const m = vm.phys.paToPage(12 * M);
    assert.throws(() => vm.phys.pageOrder(m), (e: unknown) => e instanceof PagelabError && e.code === 'EUNINIT' && e.message.includes('0xc00000'));
    vm.phys.lazyInit();
    assert.equal(typeof vm.phys.pageOrder(m), 'number');
  });
});

describe('contiguous allocation and unfree', () => {
  test('allocContig honours low/high/alignment/boundary and drains its domain', () => {
    const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 1 });
    const m = vm.phys.allocContig(0, 3, 4 * M, 8 * M, 64 * 1024, 0);
    assert.ok(m >= 0);
    const pa = vm.phys.pageToPa(m);
    assert.ok(pa >= 4 * M && pa + 3 * PAGE_SIZE <= 8 * M && pa % (64 * 1024) === 0);
    assert.equal(vm.phys.lazyPending(0), 0);
    vm.check();
    vm.phys.freeContig(m, 3);
    vm.check();
  });

  test('a run larger than the largest block comes from adjacent max-order blocks', () => {
    const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 0, 'vm.nfreeorder': 5 });
    const m = vm.phys.allocContig(0, 100, 0, 2 ** 40, PAGE_SIZE, 0);
    assert.ok(m >= 0);
    vm.check();
    const n = vm.phys.allocContig(0, 64, 0, 2 ** 40, 256 * 1024, 256 * 1024);
    assert.ok(n >= 0);
    assert.ok(addrOk(vm.phys.pageToPa(n), 64 * PAGE_SIZE, 256 * 1024, 256 * 1024));
    vm.check();
    vm.phys.freeContig(m, 100);
    vm.phys.freeContig(n, 64);
    vm.check();
    assert.equal(vm.phys.allocContig(0, 1, 1 * M, 1 * M), -1, 'empty window');
  });

  test('unfreePage takes exactly one free page out and reports non-free pages', () => {
    const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 1 });
    const free0 = vm.phys.totalFree();
    assert.equal(vm.phys.unfreePage(5 * M + 3 * PAGE_SIZE), true);
    assert.equal(vm.phys.totalFree(), free0 - 1);
    assert.equal(vm.phys.unfreePage(5 * M + 3 * PAGE_SIZE), false);
    assert.equal(vm.phys.unfreePage(2 * M), false, 'kernel page is not free');
    vm.check();
    assert.throws(() => vm.phys.unfreePage(700 * 1024), (e: unknown) => e instanceof PagelabError && e.code === 'ERANGE');
  });
});

test('checker catches a corrupted queue count and a lost page', () => {
  const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 0 });
  const m = vm.phys.allocPages(0, 1, 0);
  vm.phys.pages.astate[m] = ASTATE_FREE; // lost: neither free nor allocated
  assert.throws(() => checkPhys(vm.phys), /lost/);
  vm.phys.pages.astate[m] = ASTATE_ALLOCATED;
  vm.phys.queues.count[vm.phys.queueIndex(0, 0, VM_FREEPOOL_DEFAULT, 0)]++;
  assert.throws(() => checkPhys(vm.phys), /counts/);
});

describe('host limits', () => {
  test('an eager boot or a drain the host cannot hold is refused up front with EHOST, and nothing is drained', () => {
    const ehost = (e: unknown) => e instanceof PagelabError && e.code === 'EHOST' && /page array: .* page records initialised/.test(e.message);
    assert.throws(() => new Vm(resolveMachine({ mem: '3T' }), { 'vm.lazy_page_init': 0 }), ehost);
    const big = new Vm(resolveMachine({ mem: '3T' }), { 'vm.lazy_page_init': 1 });
    const pending = big.phys.lazyPending();
    assert.throws(() => big.phys.lazyInit(), ehost);
    assert.throws(() => big.phys.lazyInitDomain(0), ehost);
    assert.equal(big.phys.lazyPending(), pending);
    // A small slice still fits; the limit counts records already initialised.
    assert.ok(big.phys.lazyInitSlice(0, 4096) >= 4096);
    // The same rule on a small machine with a small limit.
    const map = smallMap();
    const limit = new Phys(map).npages * BYTES_PER_PAGE;
    vmPageStartup(new Phys(map, { hostLimitBytes: limit }), map, { lazy: false, pageInit: 'fields' });
    assert.throws(() => vmPageStartup(new Phys(map, { hostLimitBytes: limit - 1 }), map, { lazy: false, pageInit: 'fields' }), ehost);
    const lazy = new Phys(map, { hostLimitBytes: limit - 1 });
    vmPageStartup(lazy, map, { lazy: true, pageInit: 'fields' });
    assert.throws(() => lazy.lazyInit(), ehost);
    assert.ok(lazy.lazyInitSlice(0, 512) > 0, 'a slice that fits runs');
  });
});

test('a page array above SHARED_ABOVE_BYTES is shared memory, and bzero-then-set still equals field-by-field on it', () => {
  const n = Math.ceil(SHARED_ABOVE_BYTES / BYTES_PER_PAGE) + 4096;
  const a = new PageArray(n, 13);
  const b = new PageArray(n, 13);
  assert.ok(a.buffers.length === 12 && a.buffers.every((buf) => buf instanceof SharedArrayBuffer));
  assert.ok(new PageArray(1024, 13).buffers.every((buf) => buf instanceof ArrayBuffer));
  const [first, end] = [n - 70001, n - 3];
  a.initRange(first, end - first, 7);
  b.initRangeBulk(first, end - first, 7);
  for (const f of ['next', 'prev', 'wire', 'object', 'pindex', 'segind', 'pool', 'order', 'astate', 'flags', 'queue', 'busy'] as const) {
    assert.deepEqual(b[f].subarray(first - 8, end + 8), a[f].subarray(first - 8, end + 8), `field ${f}`);
  }
  assert.equal(b.pool[first - 1], 0, 'nothing written before the range');
  assert.equal(b.pool[end], 0, 'nothing written after it');
});
