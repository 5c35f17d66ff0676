import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Vm } from '../src/vm/vm.js';
import { PageCache } from '../src/vm/pgcache.js';
import { PagelabError } from '../src/errors.js';
import { PG_ZERO, VM_ALLOC_ZERO } from '../src/vm/param.js';
import { PageStat } from '../src/vm/page-alloc.js';
import { smallMap } from './helpers/maps.js';
import { runs } from './helpers/runs.js';

test('the page cache hands out LIFO, refills and releases in batches, and drains back to the boot blocks', () => {
  const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 1 });
  const boot: string[] = [];
  vm.phys.lazyInit();
  vm.phys.forEachFreeBlock((m, o) => boot.push(`${m}:${o}`));
  const free0 = vm.phys.totalFree();
  const c = new PageCache(vm.phys, 0, 1, 64, 16);
  const a = c.alloc();
  assert.ok(a >= 0);
  assert.equal(c.imports, 1);
  assert.equal(c.size, 15);
  assert.equal(vm.phys.totalFree(), free0 - 16);
  c.free(a);
  assert.equal(c.alloc(), a, 'LIFO: the page just freed comes back first');
  c.free(a);
  vm.check();
  c.drain();
  vm.check();
  const after: string[] = [];
  vm.phys.forEachFreeBlock((m, o) => after.push(`${m}:${o}`));
  assert.deepEqual(after.sort(), boot.sort());
});

test('page cache errors: double free and free of an unallocated page name the address', () => {
  const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 0 });
  const c = new PageCache(vm.phys);
  const m = c.alloc();
  c.free(m);
  assert.throws(() => c.free(m), (e: unknown) => e instanceof PagelabError && e.code === 'EDOUBLEFREE' && /0x/.test(e.message));
  assert.throws(() => c.free(vm.phys.paToPage(20 * 2 ** 20)), (e: unknown) => e instanceof PagelabError && e.code === 'ENOTALLOC');
  assert.throws(() => new PageCache(vm.phys, 0, 1, 8, 16), /batch 16/);
});

test('page cache against a model: no page handed out twice, pages conserved, checker holds', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.constant(-1), fc.nat()), { maxLength: 400, size: 'max' }), fc.integer({ min: 1, max: 6 }), (ops, logCap) => {
      const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 1, 'vm.nfreeorder': 6 });
      const cap = 2 ** logCap;
      const c = new PageCache(vm.phys, 0, 1, cap, Math.max(1, cap >> 1));
      const total = vm.phys.totalFree();
      const held: number[] = [];
      const seen = new Set<number>();
      for (const op of ops) {
        if (op === -1 || held.length === 0) {
          const m = c.alloc();
          if (m < 0) {
            assert.equal(vm.phys.totalFree() + c.size, 0);
            continue;
          }
          assert.ok(!seen.has(m), `page ${m} handed out twice`);
          seen.add(m);
          held.push(m);
        } else {
          const m = held.splice(op % held.length, 1)[0];
          seen.delete(m);
          c.free(m);
        }
        assert.equal(vm.phys.totalFree() + c.size + held.length, total);
      }
      vm.check();
      for (const m of held) c.free(m);
      c.drain();
      vm.check();
      assert.equal(vm.phys.totalFree(), total);
    }),
    { numRuns: runs(60) },
  );
});

test('PG_ZERO survives the page cache: vm_page_free_zero keeps it while cached and back in vm_phys, vm_page_free clears it', () => {
  const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 0, 'vm.backed': 1 });
  const c = new PageCache(vm.phys, 0, 1, 64, 16);
  const flags = vm.phys.pages.flags;
  const a = c.alloc();
  const b = c.alloc();
  c.free(a, true);
  c.free(b);
  assert.equal(flags[a] & PG_ZERO, PG_ZERO, 'freed as zero: PG_ZERO kept in the cache');
  assert.equal(flags[b] & PG_ZERO, 0, 'a plain free clears PG_ZERO');
  c.drain();
  assert.equal(flags[a] & PG_ZERO, PG_ZERO, 'and kept when the cache gives the page back to vm_phys');
  vm.check();
  // Through the page layer: a noobj page freed with vm_page_free_zero comes back from the cache needing no zeroing.
  const m = vm.page.allocNoobj(VM_ALLOC_ZERO);
  assert.ok(m >= 0);
  vm.page.freeZero(m);
  const zeroed = vm.page.stats[PageStat.Zeroed];
  const again = vm.page.allocNoobj(VM_ALLOC_ZERO);
  assert.equal(again, m, 'LIFO: the same page from the cache');
  assert.equal(vm.page.stats[PageStat.Zeroed], zeroed, 'its PG_ZERO spared the zeroing');
  vm.page.free(again);
  assert.equal(flags[again] & PG_ZERO, 0);
  vm.check();
});
