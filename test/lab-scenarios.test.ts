import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { firecrackerAmd64_2023, linuxPadata2020 } from '../src/sim/profiles/index.js';
import { GORMAN_2015_1TB, LINUX_MACHINES } from '../src/sim/profiles/linux-padata-2020.js';
import { JORDAN_TABLES } from '../src/lab/lazy-init-published.js';
import { simulateBoot, deriveEager, PHASE } from '../src/lab/freebsd-boot.js';
import { simulateLinuxDeferredInit } from '../src/lab/linux-boot.js';
import { WORK_NAMES } from '../src/vm/counters.js';
import { Vm } from '../src/vm/vm.js';
import { firecrackerMapForSize, presetMemoryMap, resolveMachine } from '../src/machine/index.js';
import { memoryMapTotals } from '../src/machine/index.js';

/*
 * The lab's boot scenarios (src/lab/freebsd-boot.ts, linux-boot.ts) on the
 * sim's clock, and the calibrations that tie them to the profiles.
 */
describe('calibration', () => {
  test('calibration: the eager 128 MiB boot prices vm_page_startup at 3 ms and 9% of boot', () => {
    const r = simulateBoot({ profile: firecrackerAmd64_2023, map: resolveMachine({ preset: 'firecracker-128m' }), tunables: { 'vm.lazy_page_init': 0 } });
    assert.ok(Math.abs(r.vmPageStartupNs - 3e6) / 3e6 < 1e-4, `${r.vmPageStartupNs}`);
    assert.ok(Math.abs(r.vmPageStartupShare - 0.09) < 1e-4, `${r.vmPageStartupShare}`);
  });

  test('Linux profile: page_init calibrated on Gorman (1138 ms per node of the 1 TB machine)', () => {
    const g = simulateLinuxDeferredInit(linuxPadata2020, GORMAN_2015_1TB, 1);
    for (const n of g.perNodeNs) assert.ok(Math.abs(n - 1138e6) < 1, `${n}`);
  });

  test("Linux rest of boot: published boot without the series minus the model's own one-thread deferred init", () => {
    for (const t of JORDAN_TABLES) {
      const m = LINUX_MACHINES.find((x) => x.name === t.machine);
      assert.ok(m !== undefined && m.restOfBootParam !== null, t.machine);
      const published = t.rows[0].bootMs * 1e6;
      const one = simulateLinuxDeferredInit(linuxPadata2020, m, 1);
      assert.ok(Math.abs(one.bootNs - published) < 1e-3 * 1e6, `${m.name}: ${one.bootNs}`);
      // ...and so the boot moves only by the deferred init's change.
      const all = simulateLinuxDeferredInit(linuxPadata2020, m, m.cpusPerNode);
      assert.ok(Math.abs(one.bootNs - all.bootNs - (one.deferredInitNs - all.deferredInitNs)) < 1e-3);
    }
  });

  test('Linux: no thread count beats bytes / bandwidth, and more threads never take longer in the model', () => {
    for (const m of LINUX_MACHINES.filter((x) => x.bandwidthParam !== null)) {
      const bw = linuxPadata2020.params[m.bandwidthParam as string].value;
      const floor = (m.deferredPagesPerNode * linuxPadata2020.params.pageTrafficBytes.value) / bw;
      let prev = Infinity;
      for (const t of [1, 2, 3, 4, 6, 8, 13, 16, 19, 26, 32, 39, 52].filter((x) => x <= m.cpusPerNode)) {
        const r = simulateLinuxDeferredInit(linuxPadata2020, m, t);
        assert.ok(r.deferredInitNs >= floor - 1, `${m.name} at ${t}: ${r.deferredInitNs} < floor ${floor}`);
        assert.ok(r.deferredInitNs <= prev * 1.02, `${m.name}: ${t} threads take ${r.deferredInitNs}, more than ${prev}`);
        prev = r.deferredInitNs;
      }
    }
  });
});

describe('simulated boot', () => {
  const tiny = () => resolveMachine({ preset: 'tiny-16m' });

  test('deterministic: the same boot twice gives the same result, bit for bit', () => {
    for (const lazy of [0, 1]) {
      const a = simulateBoot({ profile: firecrackerAmd64_2023, map: tiny(), tunables: { 'vm.lazy_page_init': lazy } });
      const b = simulateBoot({ profile: firecrackerAmd64_2023, map: tiny(), tunables: { 'vm.lazy_page_init': lazy } });
      assert.deepEqual(a, b);
    }
  });

  test('the drain starts at SI_SUB_SMP, on an AP, and never delays the boot thread', () => {
    const r = simulateBoot({ profile: firecrackerAmd64_2023, map: resolveMachine({ preset: 'firecracker-128m' }), tunables: { 'vm.lazy_page_init': 1 } });
    const drain = r.phases.find((p) => p.phase === PHASE.drain);
    const smp = r.phases.find((p) => p.phase === PHASE.smp);
    assert.ok(drain !== undefined && smp !== undefined);
    assert.equal(drain.enterNs, smp.exitNs);
    assert.notEqual(drain.cpu, 0);
    assert.equal(r.bootThreadMaxWaitNs, 0);
    assert.ok(r.allInitialisedAtNs >= drain.exitNs);
  });

  test('one CPU: the drain only runs after the boot thread is done', () => {
    const r = simulateBoot({ profile: firecrackerAmd64_2023, cpus: 1, map: tiny(), tunables: { 'vm.lazy_page_init': 1 } });
    const drain = r.phases.find((p) => p.phase === PHASE.drain);
    assert.ok(drain !== undefined);
    const drainRuns = r.intervals.filter((iv) => r.threadNames[iv.tid] === 'vmlazyinit');
    for (const iv of drainRuns) assert.ok(iv.start >= r.bootNs, `drain ran at ${iv.start} before boot ended at ${r.bootNs}`);
    assert.equal(r.bootThreadMaxWaitNs, 0);
  });

  test('an eager boot derived from a lazy one prices exactly as a real eager boot', () => {
    for (const preset of ['tiny-16m', 'firecracker-128m']) {
      const map = resolveMachine({ preset });
      const real = simulateBoot({ profile: firecrackerAmd64_2023, map, tunables: { 'vm.lazy_page_init': 0 } });
      const early = Float64Array.from(WORK_NAMES, (n) => real.workEarlyAlloc[n]);
      const derived = deriveEager(new Vm(map, { 'vm.lazy_page_init': 1 }), 'fields', early, 'test');
      const sim = simulateBoot({ profile: firecrackerAmd64_2023, map, tunables: { 'vm.lazy_page_init': 0 }, derivedEager: derived });
      assert.equal(sim.bootNs, real.bootNs, preset);
      assert.equal(sim.vmPageStartupNs, real.vmPageStartupNs, preset);
      assert.equal(sim.pagesInitBootPath, real.pagesInitBootPath, preset);
      assert.equal(sim.freePagesEnd, real.freePagesEnd, preset);
    }
  });

  test('a synthetic drain with the per-page work of a real one takes the same simulated time', () => {
    const map = resolveMachine({ preset: 'firecracker-128m' });
    const real = simulateBoot({ profile: firecrackerAmd64_2023, map, tunables: { 'vm.lazy_page_init': 1 } });
    const per = Float64Array.from(WORK_NAMES, (n) => real.workDrain[n] / real.pagesInitDrain);
    const syn = simulateBoot({ profile: firecrackerAmd64_2023, map, tunables: { 'vm.lazy_page_init': 1 }, syntheticDrain: { workPerPage: per, from: 'test' } });
    const d = (r: typeof real) => r.allInitialisedAtNs - r.smpAtNs;
    assert.ok(Math.abs(d(syn) - d(real)) / d(real) < 0.01, `${d(syn)} vs ${d(real)}`);
    assert.equal(syn.bootNs, real.bootNs);
  });
});

describe('Firecracker-shaped guests of any size', () => {
  test('reproduce the D40403 presets exactly at 128 MiB and 1 GiB', () => {
    assert.deepEqual(firecrackerMapForSize(128 * 2 ** 20), presetMemoryMap('firecracker-128m'));
    assert.deepEqual(firecrackerMapForSize(2 ** 30), presetMemoryMap('firecracker-1g'));
  });

  test('a size sweep changes only the RAM: same kernel, so vm_page_startup grows with size, never zig-zags', () => {
    let prev = 0;
    let prevPages = 0;
    for (const mib of [96, 128, 256, 512, 1024, 2048, 3072, 4096, 8192]) {
      const map = firecrackerMapForSize(mib * 2 ** 20);
      assert.equal(map.reserved.find((r) => r.what === 'kernel and preloaded modules')?.end, presetMemoryMap('firecracker-1g').reserved.find((r) => r.what === 'kernel and preloaded modules')?.end, `${mib} MiB`);
      const r = simulateBoot({ profile: firecrackerAmd64_2023, map, tunables: { 'vm.lazy_page_init': 1 } });
      const pages = memoryMapTotals(map).ramBytes;
      assert.ok(pages > prevPages);
      assert.ok(r.vmPageStartupNs >= prev, `${mib} MiB: lazy vm_page_startup ${r.vmPageStartupNs} < ${prev}`);
      prev = r.vmPageStartupNs;
      prevPages = pages;
    }
  });

  test('a bad size names the option it came from', () => {
    assert.throws(() => firecrackerMapForSize(5 * 2 ** 20, '--sizes'), /^PagelabError: --sizes 5M/);
  });
});
