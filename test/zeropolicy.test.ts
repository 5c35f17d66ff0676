import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Vm } from '../src/vm/vm.js';
import { resolveMachine } from '../src/machine/index.js';
import { PAGE_SIZE, PG_REPORTED, PG_ZERO, VM_ALLOC_NOBUSY, VM_ALLOC_ZERO, VM_FREEPOOL_DEFAULT } from '../src/vm/param.js';
import { ZERO_POLICIES, type ZeroPolicyName } from '../src/vm/zeropolicy.js';
import { PagelabError } from '../src/errors.js';
import { runs } from './helpers/runs.js';

const MB = 2 ** 20;

function machine(policy: ZeroPolicyName, extra: Record<string, string | number> = {}, mem = '64M'): Vm {
  return new Vm(resolveMachine({ mem }), { 'vm.backed': 1, 'vm.lazy_page_init': 0, 'vm.nfreeorder': 11, 'debug.invariants': 1, 'vm.zero.policy': policy, ...extra });
}

/* The previous tenant: every free page allocated as 2 MiB blocks, written, freed. Returns the blocks. */
function dirtyAll(vm: Vm): number[] {
  const zp = vm.zeroPolicy;
  const held: number[] = [];
  for (;;) {
    const m = zp.alloc(0, 9, false);
    if (m < 0) break;
    vm.backing!.fillPattern(vm.phys.pageToPa(m), 2 * MB, 0xdeadbeef);
    held.push(m);
  }
  // The small blocks left beside the 2 MiB ones too.
  const small: number[] = [];
  for (;;) {
    const m = zp.alloc(0, 0, false);
    if (m < 0) break;
    vm.backing!.fillPattern(vm.phys.pageToPa(m), PAGE_SIZE, 0xdeadbeef);
    small.push(m);
  }
  for (const m of held) zp.free(m, 9);
  for (const m of small) zp.free(m, 0);
  return held;
}

test('alloc: zeroing happens on the allocation path only, and the page reads zero', () => {
  const vm = machine('alloc');
  dirtyAll(vm);
  const s0 = vm.zeroPolicy.stats();
  assert.equal(vm.zeroPolicy.idle(10e9, 1e9), 0, 'alloc does no background work');
  const m = vm.zeroPolicy.alloc(0, 0, true);
  assert.ok(vm.backing!.isZero(vm.phys.pageToPa(m), PAGE_SIZE));
  const s1 = vm.zeroPolicy.stats();
  assert.equal(s1.allocPathBytes - s0.allocPathBytes, PAGE_SIZE);
  assert.equal(s1.backgroundBytes, 0);
  vm.check();
});

test('free (init_on_free): freeing zeroes, the next zeroed allocation skips, a plain one wastes it', () => {
  const vm = machine('free');
  dirtyAll(vm);
  const zp = vm.zeroPolicy;
  const s0 = zp.stats();
  assert.ok(s0.freePathBytes >= 16 * MB, `zeroed at free: ${s0.freePathBytes}`);
  assert.equal(vm.phys.zeroFreePages(), vm.phys.totalFree(), 'every free page is PG_ZERO');
  const m = zp.alloc(0, 0, true);
  assert.equal(zp.stats().allocPathBytes, 0);
  assert.ok(vm.backing!.isZero(vm.phys.pageToPa(m), PAGE_SIZE));
  zp.alloc(0, 2, false);
  assert.equal(zp.stats().wastedBytes - s0.wastedBytes, 4 * PAGE_SIZE);
  vm.check();
});

test('free (init_on_free) reaches the page layer: vm_page_free zeroes the page, a zeroed noobj allocation then skips it', () => {
  const vm = machine('free', { 'vm.reserv.enable': 0 });
  const obj = vm.object.allocate('anon');
  const m = vm.page.alloc(obj, 0, VM_ALLOC_NOBUSY);
  vm.backing!.fillPattern(vm.phys.pageToPa(m), PAGE_SIZE, 0xdeadbeef);
  const s0 = vm.zeroPolicy.stats();
  vm.page.free(m);
  assert.equal(vm.zeroPolicy.stats().freePathBytes - s0.freePathBytes, PAGE_SIZE, 'zeroed on the freeing thread');
  assert.ok(vm.backing!.isZero(vm.phys.pageToPa(m), PAGE_SIZE));
  assert.equal(vm.phys.pages.flags[m] & PG_ZERO, PG_ZERO);
  const again = vm.page.alloc(obj, 1, VM_ALLOC_NOBUSY | VM_ALLOC_ZERO);
  assert.equal(again, m, 'the same page, from the page cache');
  assert.equal(vm.phys.pages.flags[again] & PG_ZERO, PG_ZERO, 'VM_ALLOC_ZERO finds it PG_ZERO: nothing to zero');
  vm.check();
  // Any other policy leaves vm_page_free as FreeBSD has it: PG_ZERO cleared, nothing zeroed.
  vm.setZeroTunable('vm.zero.policy', 'alloc');
  vm.backing!.fillPattern(vm.phys.pageToPa(again), PAGE_SIZE, 0xdeadbeef);
  vm.page.free(again);
  assert.equal(vm.phys.pages.flags[again] & PG_ZERO, 0);
  assert.equal(vm.backing!.isZero(vm.phys.pageToPa(again), PAGE_SIZE), false);
  vm.check();
});

test('idle reads vm_phys\'s count of zeroed free pages, so the page layer\'s allocations and frees move its hysteresis', () => {
  const vm = machine('idle', { 'vm.reserv.enable': 1 });
  dirtyAll(vm);
  vm.prezero.runToCompletion(0);
  const free = vm.phys.totalFree();
  assert.equal(vm.phys.zeroFreePages(), free, 'all free memory zeroed');
  assert.equal(vm.zeroPolicy.idle(10e9, 1e9), 0, 'above 4/5: idle rests');
  // Object pages taken as 12 whole reservations from vm_phys, then freed by vm_page_free (not known zero).
  const obj = vm.object.allocate('anon');
  for (let i = 0; i < 6144; i++) assert.ok(vm.page.alloc(obj, i, VM_ALLOC_NOBUSY) >= 0);
  assert.equal(vm.phys.zeroFreePages(), free - 6144, 'the reservations\' blocks left the count');
  vm.check();
  vm.object.terminate(obj);
  vm.page.drainCaches();
  vm.check();
  assert.equal(vm.phys.totalFree(), free);
  assert.equal(vm.phys.zeroFreePages(), free - 6144, 'they came back not known zero');
  // Now below 2/3 zeroed: idle, which never saw these allocations, starts again.
  assert.ok(vm.phys.zeroFreePages() < (2 / 3) * free);
  assert.ok(vm.zeroPolicy.idle(10e9, 1e9) > 0, 'idle zeroes again');
  vm.check();
});

test('idle: zeroes up to 4/5 of free memory, stops, and starts again only below 2/3', () => {
  const vm = machine('idle');
  dirtyAll(vm);
  const zp = vm.zeroPolicy;
  zp.idle(60e9, Infinity);
  const free = vm.phys.totalFree();
  const z = vm.phys.zeroFreePages();
  assert.ok(z >= 0.8 * free && z < 0.8 * free + 1024, `zeroed ${z} of ${free} free pages`);
  // Above 2/3: another idle stretch does nothing.
  assert.equal(zp.idle(60e9, Infinity), 0);
  // Dirty free memory (allocate and free it dirty) until fewer than 2/3 of free pages are zero: idle zeroes again.
  for (let round = 0; round < 50 && vm.phys.zeroFreePages() > (2 / 3) * vm.phys.totalFree(); round++) {
    const got: number[] = [];
    for (let i = 0; i < 512; i++) {
      const m = zp.alloc(0, 0, false);
      if (m >= 0) got.push(m);
    }
    for (const m of got) zp.free(m, 0);
  }
  assert.ok(vm.phys.zeroFreePages() <= (2 / 3) * vm.phys.totalFree());
  assert.ok(zp.idle(60e9, Infinity) > 0);
  assert.ok(vm.phys.zeroFreePages() >= 0.8 * vm.phys.totalFree());
  // The budget bounds a stretch.
  const vm2 = machine('idle');
  dirtyAll(vm2);
  assert.ok(vm2.zeroPolicy.idle(1e9, 700) <= 700 + 512);
  vm.check();
});

test('report: nothing before the 2 s delay; then reported blocks are zero, of order >= 9, and lose the mark when split', () => {
  const vm = machine('report');
  dirtyAll(vm);
  const zp = vm.zeroPolicy;
  assert.equal(zp.idle(1.9e9, Infinity), 0, 'the delay has not passed');
  for (let i = 0; i < 40 && zp.stats().reportPasses < 20; i++) zp.idle(2e9, Infinity);
  const st = zp.stats();
  assert.ok(st.reportedBlocks > 0 && st.backgroundBytes > 0);
  const f = vm.phys.pages.flags;
  let reported = 0;
  vm.phys.forEachFreeBlock((m, o) => {
    if ((f[m] & PG_REPORTED) === 0) return;
    reported++;
    assert.ok(o >= 9, `reported block at ${m} of order ${o}`);
    for (let i = m; i < m + (1 << o); i++) assert.ok((f[i] & PG_ZERO) !== 0);
    assert.ok(vm.backing!.isZero(vm.phys.pageToPa(m), (1 << o) * PAGE_SIZE));
  });
  assert.equal(reported, zp.reportedNow());
  const lost0 = zp.stats().reportedLost;
  // Small unreported blocks go first; allocate until one comes from a reported block.
  let m = -1;
  let bytes0 = 0;
  for (let i = 0; i < vm.phys.npages && zp.stats().reportedLost === lost0; i++) {
    bytes0 = zp.stats().allocPathBytes;
    m = zp.alloc(0, 0, true);
    assert.ok(m >= 0);
  }
  assert.equal(zp.stats().allocPathBytes, bytes0, 'a page of a reported block skips zeroing');
  assert.equal(zp.stats().reportedLost, lost0 + 1, 'splitting the block lost its mark');
  assert.equal(zp.reportedNow(), reported - 1);
  // Freeing it back merges: the merged block is reported again later, without zeroing (its pages are PG_ZERO but this one).
  zp.free(m, 0);
  vm.check();
});

test('report: a pass makes at most ceil(n / 512) + 1 calls of 32 blocks per list', () => {
  const vm = new Vm(resolveMachine({ mem: '8G' }), { 'vm.lazy_page_init': 0, 'vm.nfreeorder': 11, 'vm.zero.policy': 'report' });
  const zp = vm.zeroPolicy;
  const held: number[] = [];
  for (;;) {
    const m = zp.alloc(0, 9, false);
    if (m < 0) break;
    held.push(m);
  }
  for (const m of held) zp.free(m, 9);
  const n = vm.phys.queueCount(0, 0, VM_FREEPOOL_DEFAULT, 10);
  zp.idle(2e9, Infinity);
  assert.equal(zp.stats().reportPasses, 1);
  assert.ok(zp.reportedNow() <= (Math.ceil(n / 512) + 1) * 32 + 32, `one pass reported ${zp.reportedNow()} of ${n}`);
  assert.ok(zp.reportedNow() < n);
  zp.idle(60e9, Infinity);
  assert.ok(zp.stats().reportPasses > 5, 'further passes every 2 s');
  assert.equal(zp.stats().backgroundBytes, vm.phys.totalFree() * PAGE_SIZE - (vm.phys.totalFree() - vm.phys.zeroFreePages()) * PAGE_SIZE);
});

test('hugepool: zeroed allocations of order 9 and 0 come from the pre-zeroed pool', () => {
  const vm = machine('alloc', { 'vm.zero.hugepool': '8M' });
  const zp = vm.zeroPolicy;
  assert.equal(zp.stats().hugepoolBlocks, 4);
  dirtyAll(vm);
  const s0 = zp.stats();
  const big = zp.alloc(0, 9, true);
  const small = zp.alloc(0, 0, true);
  assert.ok(vm.backing!.isZero(vm.phys.pageToPa(big), 2 * MB) && vm.backing!.isZero(vm.phys.pageToPa(small), PAGE_SIZE));
  const s1 = zp.stats();
  assert.equal(s1.allocPathBytes - s0.allocPathBytes, 0);
  assert.equal(s1.hugepoolPagesServed, 513);
  // Idle refills the pool.
  zp.idle(1e9, Infinity);
  assert.equal(zp.stats().hugepoolBlocks, 4);
  assert.throws(() => machine('alloc', { 'vm.zero.hugepool': '3M' }), (e: unknown) => e instanceof PagelabError && /multiple of 2 MiB/.test(e.message));
  assert.throws(() => machine('alloc', { 'vm.zero.hugepool': '1G' }), (e: unknown) => e instanceof PagelabError && e.code === 'ENOSPC');
  vm.check();
});

test('setZeroTunable switches policies at run time and refuses what cannot change', () => {
  const vm = machine('report');
  dirtyAll(vm);
  vm.zeroPolicy.idle(30e9, Infinity);
  assert.ok(vm.zeroPolicy.reportedNow() > 0);
  const p = vm.setZeroTunable('vm.zero.policy', 'alloc');
  assert.equal(p.policy, 'alloc');
  let marks = 0;
  vm.phys.forEachFreeBlock((m) => {
    if ((vm.phys.pages.flags[m] & PG_REPORTED) !== 0) marks++;
  });
  assert.equal(marks, 0, 'leaving report clears the marks');
  assert.throws(() => vm.setZeroTunable('vm.backed', 0), (e: unknown) => e instanceof PagelabError && e.code === 'ETUNABLE');
  assert.throws(() => vm.setZeroTunable('vm.zero.policy', 'never'), (e: unknown) => e instanceof PagelabError && e.code === 'ETUNABLE');
  assert.throws(() => vm.setZeroTunable('vm.zero.hugepool', '1G'), (e: unknown) => e instanceof PagelabError && e.code === 'ENOSPC');
  assert.equal(vm.tunables.num('vm.zero.hugepool'), 0, 'a refused change leaves the tunable as it was');
  vm.check();
});

test('the dirty list: a second background pass with nothing dirty looks at nothing', () => {
  const vm = new Vm(resolveMachine({ mem: '1G' }), { 'vm.lazy_page_init': 0 });
  vm.prezero.runToCompletion(0);
  assert.equal(vm.phys.dirtyListLength(), 0);
  assert.equal(vm.phys.zeroFreePages(), vm.phys.totalFree());
  const m = vm.phys.allocPages(0, VM_FREEPOOL_DEFAULT, 0);
  vm.phys.freePages(m, 0);
  assert.equal(vm.phys.dirtyListLength(), 1, 'one dirty page, one entry');
  const lock0 = vm.phys.work[7];
  assert.equal(vm.prezero.submit(0, Infinity), 1);
  assert.equal(vm.phys.work[7] - lock0, 2, 'one block taken and returned');
  vm.check();
});

type Op = { k: 'alloc'; order: number; zero: boolean } | { k: 'write'; pick: number } | { k: 'free'; pick: number } | { k: 'idle'; ms: number };

for (const policy of ZERO_POLICIES) {
  test(`property (${policy}): zeroed allocations read zero, writes survive until freed, PG_ZERO pages are zero, reported blocks match a model`, { timeout: 60_000 }, () => {
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ k: fc.constant('alloc' as const), order: fc.constantFrom(0, 0, 1, 3, 9), zero: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ k: fc.constant('write' as const), pick: fc.nat() }) },
      { weight: 3, arbitrary: fc.record({ k: fc.constant('free' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ k: fc.constant('idle' as const), ms: fc.constantFrom(100, 1000, 2500) }) },
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 40, size: 'max' }), fc.boolean(), (ops, hugepool) => {
        const vm = machine(policy, { 'vm.zero.hugepool': hugepool ? '2M' : 0, 'vm.zero.report_order': 4 }, '16M');
        const zp = vm.zeroPolicy;
        const b = vm.backing!;
        const phys = vm.phys;
        const live: Array<{ m: number; order: number; pattern: number | null }> = [];
        // The model of reported blocks: head -> order.
        const reported = new Map<number, number>();
        let pattern = 1;
        for (const op of ops) {
          if (op.k === 'alloc') {
            const m = zp.alloc(0, op.order, op.zero);
            if (m < 0) continue;
            if (op.zero) assert.ok(b.isZero(phys.pageToPa(m), (PAGE_SIZE << op.order)), `zeroed allocation at ${m} is not zero`);
            live.push({ m, order: op.order, pattern: null });
          } else if (op.k === 'write' && live.length > 0) {
            const a = live[op.pick % live.length];
            a.pattern = pattern++;
            b.fillPattern(phys.pageToPa(a.m), PAGE_SIZE << a.order, a.pattern);
          } else if (op.k === 'free' && live.length > 0) {
            const i = op.pick % live.length;
            const a = live[i];
            if (a.pattern !== null) assert.equal(b.checkPattern(phys.pageToPa(a.m), PAGE_SIZE << a.order, a.pattern), -1, 'a write was lost before its free');
            live.splice(i, 1);
            zp.free(a.m, a.order);
          } else if (op.k === 'idle') {
            zp.idle(op.ms * 1e6, 2000);
            for (const m of zp.lastReported) reported.set(m, phys.pages.order[m]);
            zp.lastReported.length = 0;
          }
          // Every live write still reads back.
          for (const a of live) if (a.pattern !== null) assert.equal(b.checkPattern(phys.pageToPa(a.m), PAGE_SIZE << a.order, a.pattern), -1);
          // The model: a reported block stays reported while it is the same free block.
          for (const [m, o] of reported) if (!(phys.pages.astate[m] === 0 && phys.pages.order[m] === o && phys.containingFreeBlock(m) === m)) reported.delete(m);
          const actual = new Map<number, number>();
          phys.forEachFreeBlock((m, o) => {
            if ((phys.pages.flags[m] & PG_REPORTED) !== 0) actual.set(m, o);
            for (let i = m; i < m + (1 << o); i++) if ((phys.pages.flags[i] & PG_ZERO) !== 0) assert.ok(b.isZero(phys.pageToPa(i), PAGE_SIZE), `PG_ZERO page ${i} is not zero`);
          });
          assert.deepEqual([...actual].sort((x, y) => x[0] - y[0]), [...reported].sort((x, y) => x[0] - y[0]));
          vm.check();
        }
      }),
      { numRuns: runs(12) },
    );
  });
}

test('trace: set vm.zero.policy mid-trace and idle MS drive the policy; bad lines name themselves', async () => {
  const { parseTrace, replayTrace } = await import('../src/lab/replay.js');
  const text = [
    'machine tiny-16m',
    'set vm.backed=1',
    'set vm.lazy_page_init=0',
    'set vm.nfreeorder=11',
    'set vm.zero.report_order=4',
    'alloc a 9',
    'write a',
    'free a',
    'set vm.zero.policy=report',
    'idle 1000',
    'idle 3000',
    'alloc z 0 zero',
  ].join('\n');
  const r = replayTrace(parseTrace(text, 't'), { check: true, events: true });
  assert.equal(r.zero.policy.policy, 'report');
  assert.ok(r.zero.policy.reportedBlocks > 0 && r.zero.policy.reportPasses >= 1);
  const idles = r.events!.filter((e) => e.op === 'idle');
  assert.equal(idles[0].pages, 0, 'nothing before the 2 s delay');
  assert.ok((idles[1].pages ?? 0) > 0);
  assert.deepEqual(r.zero_failures, []);
  const bad = (t: string, re: RegExp) => assert.throws(() => replayTrace(parseTrace(t, 't')), (e: unknown) => e instanceof PagelabError && re.test(e.message));
  bad('machine tiny-16m\nalloc a 0\nset vm.backed=1\n', /t:3: set vm.backed: only vm.zero.\* can be set after the first operation/);
  bad('machine tiny-16m\nalloc a 0\nidle soon\n', /t:3: idle: "soon" is not a number/);
  bad('machine tiny-16m\nalloc a 0\nset vm.zero.policy=never\n', /t:3: .*vm.zero.policy/);
});
