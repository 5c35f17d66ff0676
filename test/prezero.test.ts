import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { Vm } from '../src/vm/vm.js';
import { Work } from '../src/vm/counters.js';
import { PAGE_SIZE, PG_ZERO, VM_ALLOC_ZERO, VM_FREEPOOL_DEFAULT } from '../src/vm/param.js';
import { resolveMachine } from '../src/machine/index.js';
import { parseTrace, replayTrace } from '../src/lab/replay.js';
import { PagelabError } from '../src/errors.js';
import { repoRoot } from './helpers/root.js';
import { runs } from './helpers/runs.js';

const root = repoRoot();

test('the zero trace: skipped zeroing, verify failures reported with addresses', { timeout: 60_000 }, () => {
  const r = replayTrace(parseTrace(readFileSync(path.join(root, 'test/fixtures/traces/zero.trace'), 'utf8'), 'zero.trace'), { check: true, events: true });
  assert.equal(r.backed, true);
  assert.deepEqual(r.zero_failures, []);
  assert.equal(r.verify_failures.length, 1);
  assert.equal(r.verify_failures[0].line, 18);
  assert.ok(r.zero.pages_zero_skipped >= 16, 'alloc z took PG_ZERO pages');
  // Every page of the three zeroed allocations was either zeroed or skipped.
  assert.equal(r.zero.pages_zero_skipped + r.zero.bytes_zeroed_sync / PAGE_SIZE, 48);
  assert.ok(r.zero.bytes_zeroed_background >= 16 * PAGE_SIZE);
  assert.ok(r.events!.filter((e) => e.op === 'verify').every((e) => e.ok || e.line === 18));
});

test('a fresh backing is zero, so its free pages start PG_ZERO, lazy pages included', () => {
  for (const lazy of [0, 1]) {
    const vm = new Vm(resolveMachine({ preset: 'tiny-16m' }), { 'vm.backed': 1, 'vm.lazy_page_init': lazy, 'debug.invariants': 1 });
    const m = vm.phys.allocPages(0, VM_FREEPOOL_DEFAULT, 4, VM_ALLOC_ZERO);
    assert.equal(vm.phys.work[Work.ZeroSkipped], 16, `lazy=${lazy}`);
    assert.equal(vm.phys.work[Work.ZeroBytesSync], 0);
    assert.ok(vm.backing!.isZero(vm.phys.pageToPa(m), 16 * PAGE_SIZE));
    vm.phys.lazyInit();
    assert.equal(vm.phys.zeroFreePages(), vm.phys.totalFree());
    vm.check();
  }
});

test('without backing, write/verify are errors and zeroing is only counted', () => {
  const t = 'machine tiny-16m\nalloc a 0 zero\nwrite a\n';
  assert.throws(() => replayTrace(parseTrace(t, 't')), (e: unknown) => e instanceof PagelabError && /t:3: write needs backing memory/.test(e.message));
  const vm = new Vm(resolveMachine({ preset: 'tiny-16m' }), { 'vm.lazy_page_init': 0 });
  const m = vm.phys.allocPages(0, VM_FREEPOOL_DEFAULT, 2, VM_ALLOC_ZERO);
  assert.equal(vm.phys.work[Work.ZeroBytesSync], 4 * PAGE_SIZE);
  vm.phys.freePages(m, 2);
  vm.prezero.runToCompletion(0);
  assert.equal(vm.phys.zeroFreePages(), vm.phys.totalFree());
  const m2 = vm.phys.allocPages(0, VM_FREEPOOL_DEFAULT, 2, VM_ALLOC_ZERO);
  assert.equal(vm.phys.work[Work.ZeroSkipped], 4);
  assert.ok((vm.phys.pages.flags[m2] & PG_ZERO) !== 0);
  vm.check();
});

test('INVARIANTS catches a PG_ZERO page that is not zero, naming its address', () => {
  const vm = new Vm(resolveMachine({ preset: 'tiny-16m' }), { 'vm.backed': 1, 'vm.lazy_page_init': 0, 'debug.invariants': 1 });
  vm.prezero.runToCompletion(0);
  const m = vm.phys.allocPages(0, VM_FREEPOOL_DEFAULT, 0);
  const pa = vm.phys.pageToPa(m);
  vm.backing!.fill(pa, 16, 0xff);
  // Lie: free it as known-zero. The claim is checked.
  assert.throws(() => vm.phys.freePages(m, 0, VM_FREEPOOL_DEFAULT, true), (e: unknown) => e instanceof PagelabError && e.code === 'ENOTZERO' && e.message.includes(pa.toString(16)));
  // Corrupt a PG_ZERO free page behind the allocator's back: the zeroed allocation catches it.
  vm.phys.freePages(m, 0);
  vm.prezero.runToCompletion(0);
  const victim = vm.phys.allocPages(0, VM_FREEPOOL_DEFAULT, 0);
  vm.phys.freePages(victim, 0, VM_FREEPOOL_DEFAULT, true);
  vm.backing!.fill(vm.phys.pageToPa(victim), 1, 7);
  assert.throws(() => {
    for (;;) if (vm.phys.allocPages(0, VM_FREEPOOL_DEFAULT, 0, VM_ALLOC_ZERO) < 0) break;
  }, (e: unknown) => e instanceof PagelabError && e.code === 'ENOTZERO');
});

type ZOp = { k: 'alloc'; order: number; zero: boolean } | { k: 'write'; pick: number } | { k: 'free'; pick: number; knownZero: boolean } | { k: 'zeroidle'; pages: number } | { k: 'reap' };

for (const workers of [0, 2]) {
  test(`zeroed allocations read zero and writes survive until freed, with ${workers} zeroing workers running`, { timeout: 120_000 }, async () => {
    const opArb: fc.Arbitrary<ZOp> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ k: fc.constant('alloc' as const), order: fc.integer({ min: 0, max: 5 }), zero: fc.boolean() }) },
      { weight: 3, arbitrary: fc.record({ k: fc.constant('write' as const), pick: fc.nat() }) },
      { weight: 3, arbitrary: fc.record({ k: fc.constant('free' as const), pick: fc.nat(), knownZero: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('zeroidle' as const), pages: fc.integer({ min: 1, max: 512 }) }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('reap' as const) }) },
    );
    const vm = new Vm(resolveMachine({ preset: 'tiny-16m' }), { 'vm.backed': 1, 'vm.zero.workers': workers, 'vm.lazy_page_init': 1, 'debug.invariants': 1 });
    const backing = vm.backing!;
    try {
      fc.assert(
        fc.property(fc.array(opArb, { maxLength: 50, size: 'max' }), (ops) => {
          const held: Array<{ m: number; order: number; pattern: number | null }> = [];
          let stamp = 1;
          for (const op of ops) {
            if (op.k === 'alloc') {
              const m = vm.phys.allocPages(0, VM_FREEPOOL_DEFAULT, op.order, op.zero ? VM_ALLOC_ZERO : 0);
              if (m < 0) continue;
              if (op.zero) assert.ok(backing.isZero(vm.phys.pageToPa(m), PAGE_SIZE << op.order), 'zeroed allocation is not zero');
              held.push({ m, order: op.order, pattern: op.zero ? 0 : null });
            } else if (op.k === 'write' && held.length > 0) {
              const h = held[op.pick % held.length];
              h.pattern = (stamp++ * 0x9e3779b1) >>> 0 || 1;
              backing.fillPattern(vm.phys.pageToPa(h.m), PAGE_SIZE << h.order, h.pattern);
            } else if (op.k === 'free' && held.length > 0) {
              const i = op.pick % held.length;
              const h = held[i];
              held.splice(i, 1);
              vm.phys.freePages(h.m, h.order, VM_FREEPOOL_DEFAULT, op.knownZero && h.pattern === 0);
            } else if (op.k === 'zeroidle') {
              vm.prezero.submit(0, op.pages);
            } else if (op.k === 'reap') {
              vm.prezero.reap();
            }
            // Every write survives: nothing zeroes or hands out what is held.
            for (const h of held) {
              if (h.pattern !== null) assert.equal(backing.checkPattern(vm.phys.pageToPa(h.m), PAGE_SIZE << h.order, h.pattern), -1, 'a held page changed');
            }
            vm.check();
          }
          for (const h of held) vm.phys.freePages(h.m, h.order);
          vm.zeroEngine!.waitAll();
          vm.prezero.reap();
          vm.check();
        }),
        { numRuns: runs(30) },
      );
    } finally {
      await vm.shutdown();
    }
  });
}
