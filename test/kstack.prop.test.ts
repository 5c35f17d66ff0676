/**
 * Property tests of kernel stacks: the non-linear pindex is a bijection
 * from stack pages onto consecutive pindexes for any K >= 1, G >= 0, with
 * its inverse; random thread creation and exit on a two-domain machine,
 * against a model of live threads, with the checker after every step; and
 * a return to the starting state once every thread has exited and the
 * cache is drained.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VMEM_ALLOC } from '../src/kern/vmem.js';
import { Vm } from '../src/vm/vm.js';
import { VM_ALLOC_SYSTEM } from '../src/vm/param.js';
import { KSTACK_PINDEX_SCHEMES, kstackLinearOfPindex, kstackPindexNonlinear, newKThread, type KThread } from '../src/vm/kstack.js';
import { kstacksForVm } from '../src/vm/kstack_pages.js';
import { numaMap } from './helpers/maps.js';
import { runs } from './helpers/runs.js';

test('non-linear pindex: stack pages map one to one onto 0, 1, 2, ... in address order; the inverse agrees', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1, max: 60 }), (K, G, slots) => {
      let next = 0;
      for (let L = 0; L < slots * (K + G); L++) {
        if (L % (K + G) < G) {
          assert.throws(() => kstackPindexNonlinear(L, K, G), /is a guard page/);
          continue;
        }
        const p = kstackPindexNonlinear(L, K, G);
        assert.equal(p, next++, `K=${K} G=${G} L=${L}`);
        assert.equal(kstackLinearOfPindex(p, K, G), L);
      }
      assert.equal(next, slots * K);
    }),
    { numRuns: runs(200) },
  );
});

type Op =
  | { kind: 'new'; cpu: number; pages: number }
  | { kind: 'exit'; pick: number }
  | { kind: 'lowmem' }
  | { kind: 'squeeze'; domain: number; pages: number }
  | { kind: 'relax' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('new' as const), cpu: fc.integer({ min: 0, max: 1 }), pages: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 9 }) }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('exit' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('lowmem' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('squeeze' as const), domain: fc.integer({ min: 0, max: 1 }), pages: fc.integer({ min: 1, max: 4000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('relax' as const) }) },
);

test('random thread churn: disjoint stacks in their domains, KVA in the right arena, and back to the start after exit and drain', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 0, max: 3 }),
      fc.constantFrom(...KSTACK_PINDEX_SCHEMES),
      fc.boolean(),
      fc.integer({ min: 0, max: 6 }),
      fc.array(opArb, { minLength: 1, maxLength: 120, size: 'max' }),
      (K, G, scheme, ilp32, cache, ops) => {
        const vm = new Vm(numaMap(), { 'vm.lazy_page_init': 0, 'kern.kstack_pages': K, 'kern.kstack_guard_pages': G, 'vm.kstack.pindex': scheme, 'vm.kstack.ilp32': ilp32 ? 1 : 0, 'vm.kstack_cache_size': cache });
        const { arenas, kstacks: ks } = kstacksForVm(vm);
        vm.page.drainCaches();
        const free0 = vm.phys.totalFree();
        const live: Array<{ td: KThread; cpu: number }> = [];
        const squeezed: number[] = [];
        let fallbacks = 0;
        for (const op of ops) {
          switch (op.kind) {
            case 'new': {
              const td = newKThread();
              const fb = ks.stats.fallbacks;
              if (ks.vm_thread_new(td, op.cpu, op.pages)) {
                live.push({ td, cpu: op.cpu });
                if (td.td_kstack_domain !== op.cpu) {
                  // The CPU domain's cache holds only that domain's stacks: this one was just created, by a fallback.
                  assert.equal(ks.stats.fallbacks, fb + 1, 'a stack outside the CPU domain comes from a fallback');
                  fallbacks++;
                }
              }
              break;
            }
            case 'exit': {
              if (live.length === 0) break;
              const i = op.pick % live.length;
              ks.vm_thread_dispose(live[i].td);
              live[i] = live[live.length - 1];
              live.pop();
              break;
            }
            case 'lowmem':
              ks.lowmem();
              break;
            case 'squeeze':
              for (let n = 0; n < op.pages; n++) {
                const m = vm.page.allocNoobjDomain(op.domain, VM_ALLOC_SYSTEM);
                if (m < 0) break;
                squeezed.push(m);
              }
              break;
            case 'relax':
              for (const m of squeezed) vm.page.free(m);
              squeezed.length = 0;
              break;
          }
          ks.check();
          const seen = new Set<number>();
          for (const { td } of live) {
            for (const m of ks.pagesOf(td)) {
              assert.ok(m >= 0 && !seen.has(m), `page ${m} of stack ${td.td_kstack} shared or missing`);
              seen.add(m);
              // ilp32: a stack straddling two reservation windows may take pages of two domains (rv->domain wins).
              if (!ilp32) assert.equal(vm.phys.domainOf(m), td.td_kstack_domain, 'every page in the stack\'s domain');
            }
          }
          vm.check();
        }
        assert.ok(fallbacks <= ks.stats.fallbacks);
        for (const { td } of live) ks.vm_thread_dispose(td);
        ks.lowmem();
        for (const m of squeezed) vm.page.free(m);
        vm.page.drainCaches();
        ks.check();
        assert.equal(vm.phys.totalFree(), free0, 'every page back in vm_phys');
        assert.equal(ks.stackPages(), 0);
        assert.equal(ks.chunks().length, 0, 'every import released');
        for (const a of ks.kstackArena) if (a !== null) assert.equal(a.size(VMEM_ALLOC) + a.size(2), 0);
        for (const a of arenas.domainArena) assert.equal(a.size(VMEM_ALLOC), 0);
        assert.equal(arenas.kernelArena.size(VMEM_ALLOC), arenas.domainArena.reduce((s, a) => s + a.size(VMEM_ALLOC | 2), 0), 'kernel_arena holds only the domain arenas\' imports');
      },
    ),
    { numRuns: runs(40) },
  );
});
