import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Clock } from '../src/sim/clock.js';
import { PRI_BOOT, PRI_MIN_IDLE, PRI_MIN_KERN, Scheduler, type Step, type ThreadContext } from '../src/sim/sched.js';
import { Timeline, chromeTrace, phaseRows } from '../src/sim/timeline.js';
import { checkProfile, priceWork, workTraffic, type CostProfile } from '../src/sim/cost.js';
import { getProfile, firecrackerAmd64_2023, linuxPadata2020 } from '../src/sim/profiles/index.js';
import { Work, WORK_NAMES, newWorkCounters } from '../src/vm/counters.js';
import { PagelabError } from '../src/errors.js';
import { runs } from './helpers/runs.js';

describe('Clock', () => {
  test('fires in time order, ties in scheduling order', () => {
    const c = new Clock();
    const seen: string[] = [];
    c.at(20, () => seen.push('b'));
    c.at(10, () => seen.push('a'));
    c.at(20, () => seen.push('c'));
    c.at(10, () => c.after(0, () => seen.push('a2')));
    c.run();
    assert.deepEqual(seen, ['a', 'a2', 'b', 'c']);
    assert.equal(c.now, 20);
  });

  test('cancel, and scheduling in the past is refused', () => {
    const c = new Clock();
    const seen: number[] = [];
    const id = c.at(5, () => seen.push(5));
    c.at(6, () => seen.push(6));
    c.cancel(id);
    c.run();
    assert.deepEqual(seen, [6]);
    assert.throws(() => c.at(1, () => {}), RangeError);
  });

  test('property: any schedule fires sorted by (time, order scheduled), and twice the same', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 60 }), (times) => {
        const fire = () => {
          const c = new Clock();
          const out: number[] = [];
          times.forEach((t, i) => c.at(t, () => out.push(i)));
          c.run();
          return out;
        };
        const a = fire();
        const expected = times.map((t, i) => [t, i]).sort((x, y) => x[0] - y[0] || x[1] - y[1]).map((x) => x[1]);
        assert.deepEqual(a, expected);
        assert.deepEqual(fire(), a);
      }),
    );
  });
});

/* A thread that runs `ns` in slices of `slice` and exits. */
function worker(ns: number, slice: number) {
  return function* (): Generator<Step, void, void> {
    for (let left = ns; left > 0; left -= slice) yield { run: Math.min(slice, left) };
  };
}

describe('Scheduler', () => {
  test('the idle-priority thread runs only while the boot thread sleeps, and is preempted at once', () => {
    const s = new Scheduler();
    s.addCpu(0, true);
    const boot = s.spawn('boot', PRI_BOOT, function* (): Generator<Step, void, void> {
      yield { run: 100 };
      yield { sleep: 55 };
      yield { run: 100 };
    });
    const idle = s.spawn('idle', PRI_MIN_IDLE, worker(1000, 10));
    s.run();
    const idleIv = s.intervals.filter((r) => r.tid === idle.tid);
    const bootIv = s.intervals.filter((r) => r.tid === boot.tid);
    assert.deepEqual(bootIv.map((r) => [r.start, r.end]), [
      [0, 100],
      [155, 255],
    ]);
    // Idle work in the sleep gap (cut at 155 mid-slice) and after the boot thread exits.
    assert.deepEqual(idleIv.map((r) => [r.start, r.end]), [
      [100, 155],
      [255, 1200],
    ]);
    assert.equal(idle.cpuNs, 1000);
    assert.equal(boot.exitedAt, 255);
  });

  test('APs: an idle thread spawned before they start waits; then runs on them, not on the busy BSP', () => {
    const s = new Scheduler();
    s.addCpu(0, true);
    s.addCpu(0, false);
    s.spawn('boot', PRI_BOOT, function* (ctx: ThreadContext): Generator<Step, void, void> {
      ctx.sched.spawn('idle', PRI_MIN_IDLE, worker(50, 10));
      yield { run: 100 };
      ctx.sched.startCpu(1);
      yield { run: 100 };
    });
    s.run();
    const idle = s.intervals.filter((r) => r.tid === 1);
    assert.deepEqual(idle.map((r) => [r.cpu, r.start, r.end]), [[1, 100, 150]]);
  });

  test('property: an idle-class thread never runs while a better thread waits for a CPU', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.record({ at: fc.integer({ min: 0, max: 200 }), ns: fc.integer({ min: 1, max: 100 }) }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 3 }),
        (ncpus, kern, idles) => {
          const s = new Scheduler();
          for (let i = 0; i < ncpus; i++) s.addCpu(0, true);
          const idleTids = new Set<number>();
          for (const ns of idles) idleTids.add(s.spawn('idle', PRI_MIN_IDLE, worker(ns, 7)).tid);
          const kernSpans: Array<{ tid: number; from: number }> = [];
          for (const k of kern) {
            s.clock.at(k.at, () => {
              const t = s.spawn('k', PRI_MIN_KERN, worker(k.ns, 5));
              kernSpans.push({ tid: t.tid, from: k.at });
            });
          }
          s.run();
          // Each kernel thread wants a CPU from its spawn to its exit.
          const want = kernSpans.map((k) => ({ from: k.from, to: s.threads[k.tid].exitedAt }));
          const points = new Set<number>();
          for (const r of s.intervals) points.add((r.start + r.end) / 2);
          for (const t of points) {
            const idleRunning = s.intervals.filter((r) => idleTids.has(r.tid) && r.start < t && t < r.end).length;
            const kernWanting = want.filter((w) => w.from < t && t < w.to).length;
            assert.ok(idleRunning === 0 || kernWanting + idleRunning <= ncpus, `t=${t}: ${idleRunning} idle running while ${kernWanting} kernel threads want ${ncpus} CPUs`);
          }
          // Work is conserved.
          for (const th of s.threads) assert.ok(th.state === 'done');
        },
      ),
      { numRuns: runs(150) },
    );
  });

  test('memory bandwidth is shared by the threads streaming to a domain', () => {
    const s = new Scheduler(new Clock(), { memBandwidth: [10] });
    s.addCpu(0, true);
    s.addCpu(0, true);
    const body = (bytes: number) =>
      function* (): Generator<Step, void, void> {
        yield { run: 100, bytes, domain: 0 };
      };
    // Together, 1000 + 500 bytes at 10 bytes/ns: 5 bytes/ns each until the
    // smaller is done at 100 ns (it also needed 100 ns of CPU), then the
    // other has 500 bytes left alone: 50 ns more.
    const a = s.spawn('a', PRI_MIN_KERN, body(1000));
    const b = s.spawn('b', PRI_MIN_KERN, body(500));
    s.run();
    assert.equal(b.exitedAt, 100);
    assert.equal(a.exitedAt, 150);
    // Alone and CPU-bound: the CPU time.
    const s2 = new Scheduler(new Clock(), { memBandwidth: [10] });
    s2.addCpu(0, true);
    const c = s2.spawn('c', PRI_MIN_KERN, body(500));
    s2.run();
    assert.equal(c.exitedAt, 100);
  });

  test('join waits for every thread listed', () => {
    const s = new Scheduler();
    for (let i = 0; i < 3; i++) s.addCpu(0, true);
    const main = s.spawn('main', PRI_BOOT, function* (ctx: ThreadContext): Generator<Step, void, void> {
      const kids = [ctx.sched.spawn('k1', PRI_MIN_KERN, worker(30, 30)), ctx.sched.spawn('k2', PRI_MIN_KERN, worker(70, 70))];
      yield { join: kids };
      yield { run: 5 };
    });
    s.run();
    assert.equal(main.exitedAt, 75);
  });
});

describe('Timeline', () => {
  test('phases nest, unbalanced exits are refused, and the Chrome trace is in microseconds', () => {
    const tl = new Timeline();
    tl.enter('boot', 0, 't0', 0, 0);
    tl.enter('vm_page_startup', 0, 't0', 0, 1000);
    assert.throws(() => tl.exit('boot', 0, 2000), /does not match/);
    tl.exit('vm_page_startup', 0, 3000);
    tl.exit('boot', 0, 5000);
    const rows = phaseRows(tl);
    assert.deepEqual(rows.map((r) => [r.phase, r.depth, r.durationNs]), [
      ['boot', 0, 5000],
      ['vm_page_startup', 1, 2000],
    ]);
    const trace = chromeTrace([{ label: 'run', phases: rows }]);
    const x = trace.traceEvents.filter((e) => e.ph === 'X');
    assert.equal(x.length, 2);
    assert.equal(x[1].ts, 1);
    assert.equal(x[1].dur, 2);
    assert.doesNotThrow(() => JSON.parse(JSON.stringify(trace)));
  });
});

describe('cost model', () => {
  test('priceWork is the sum of count x price, in Work order', () => {
    const w = newWorkCounters();
    w[Work.PageInit] = 1000;
    w[Work.QueueInsert] = 10;
    w[Work.Lock] = 3;
    const p = firecrackerAmd64_2023;
    assert.equal(priceWork(p, w), 1000 * p.work.page_init.value + 10 * p.work.queue_insert.value + 3 * p.work.lock.value);
    assert.equal(workTraffic(p, w), 1000 * p.params.pageTrafficBytes.value);
    assert.equal(priceWork(p, newWorkCounters()), 0);
  });

  test('every profile prices every work kind and documents every constant', () => {
    for (const p of [firecrackerAmd64_2023, linuxPadata2020]) {
      checkProfile(p);
      for (const w of WORK_NAMES) assert.ok(p.work[w] !== undefined, `${p.name}: ${w}`);
    }
    const broken: CostProfile = { ...firecrackerAmd64_2023, work: { ...firecrackerAmd64_2023.work } };
    delete broken.work.merge;
    assert.throws(() => checkProfile(broken), /no price for work "merge"/);
    const undocumented: CostProfile = { ...firecrackerAmd64_2023, params: { ...firecrackerAmd64_2023.params, x: { value: 1, unit: 'ns', basis: 'calibration', source: 's' } } };
    assert.throws(() => checkProfile(undocumented), /does not say on what/);
  });

  test('unknown or wrong-OS profiles are usage errors', () => {
    assert.throws(() => getProfile('nope'), (e: unknown) => e instanceof PagelabError && e.code === 'EUSAGE');
    assert.throws(() => getProfile('linux-padata-2020', 'freebsd'), (e: unknown) => e instanceof PagelabError && e.code === 'EUSAGE');
  });

});
