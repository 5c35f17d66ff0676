import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { BackingStore } from '../src/machine/backing.js';
import { Ctl, ZeroEngine, type ZeroWorkerData } from '../src/vm/zeroidle.js';
import { serveZeroRing } from '../src/vm/zeroidle-serve.js';
import { newWorkCounters, Work } from '../src/vm/counters.js';
import type { MemoryMap } from '../src/machine/types.js';
import { code } from './helpers/errors.js';
import { runs } from './helpers/runs.js';

function mapOf(ram: Array<[number, number]>): MemoryMap {
  return {
    name: 'test',
    source: 'test',
    ndomains: 1,
    ram: ram.map(([start, end]) => ({ start, end, domain: 0 })),
    physAvail: ram.map(([start, end]) => ({ start, end })),
    reserved: [],
  };
}

// Two RAM ranges in 128 KiB memories: requests cross memory boundaries.
const RAM: Array<[number, number]> = [
  [0x1000, 0x81000],
  [0x100000, 0x200000],
];
const PER_MEMORY = 128 * 1024;
const PATTERN = 0x5ca1ab1e;
const PAGE = 4096;

/** Page-granular RAM: page i of the concatenation -> its address and the end of its range. */
const PAGES: Array<[number, number]> = [];
for (const [s, e] of RAM) for (let a = s; a < e; a += PAGE) PAGES.push([a, e]);


const engines: ZeroEngine[] = [];
after(async () => {
  await Promise.all(engines.map((e) => e.shutdown()));
});

/**
 * Splits RAM into requests at the given cut points (page numbers), keeping
 * every other piece: disjoint requests, some crossing memory boundaries,
 * with untouched gaps between them; or every piece, so that requests
 * continue each other (workers merge those).
 */
function requests(cuts: number[], adjacent = false): Array<{ pa: number; bytes: number }> {
  const points = [...new Set(cuts.map((c) => c % PAGES.length))].sort((a, b) => a - b);
  const out: Array<{ pa: number; bytes: number }> = [];
  for (let i = 0; i + 1 < points.length; i += adjacent ? 1 : 2) {
    const [pa, rangeEnd] = PAGES[points[i]];
    const end = Math.min(rangeEnd, PAGES[points[i + 1]][0]);
    if (end > pa) out.push({ pa, bytes: end - pa });
  }
  return out;
}

/**
 * Submits every request (polling when the ring is full), waits, polls, and
 * checks: each tag exactly once, requests read zero, the rest still holds
 * the pattern.
 */
function runAndCheck(engine: ZeroEngine, backing: BackingStore, reqs: Array<{ pa: number; bytes: number }>): void {
  for (const [s, e] of RAM) backing.fillPattern(s, e - s, PATTERN);
  const seen = new Uint8Array(reqs.length);
  const out = new Float64Array(5);
  const drain = (): void => {
    const n = engine.poll(out);
    for (let i = 0; i < n; i++) {
      const tag = out[i];
      assert.ok(Number.isInteger(tag) && tag >= 1000 && tag < 1000 + reqs.length, `bad tag ${tag}`);
      assert.equal(seen[tag - 1000], 0, `tag ${tag} completed twice`);
      seen[tag - 1000] = 1;
      // a completion is observable only once its bytes read zero
      const r = reqs[tag - 1000];
      assert.equal(backing.firstNonZero(r.pa, r.bytes), -1, `request ${tag} not zero when polled`);
    }
  };
  for (let i = 0; i < reqs.length; i++) {
    while (!engine.submit(reqs[i].pa, reqs[i].bytes, 1000 + i)) drain();
  }
  assert.equal(engine.waitAll(10_000), true);
  assert.equal(engine.inFlight(), 0);
  while (engine.pending() > 0) drain();
  assert.equal(engine.poll(out), 0);
  assert.equal(seen.every((x) => x === 1), true, 'every request completed');
  // outside the requests, nothing was written
  let cursor = RAM[0][0];
  const gapCheck = (from: number, to: number): void => {
    for (const [s, e] of RAM) {
      const a = Math.max(from, s);
      const b = Math.min(to, e);
      if (b > a) assert.equal(backing.checkPattern(a, b - a, PATTERN), -1, `bytes written outside requests in [${a.toString(16)}, ${b.toString(16)})`);
    }
  };
  for (const r of [...reqs].sort((x, y) => x.pa - y.pa)) {
    gapCheck(cursor, r.pa);
    cursor = r.pa + r.bytes;
  }
  gapCheck(cursor, RAM[RAM.length - 1][1]);
}

test('no workers: submit zeroes inline, completions come back once, counters move', () => {
  const backing = new BackingStore(mapOf(RAM), { memoryBytesMax: PER_MEMORY });
  const work = newWorkCounters();
  const engine = new ZeroEngine(backing, { workers: 0, ringSlots: 4, work });
  backing.fill(0x1000, 0x10000, 0xff);
  engine.zeroSync(0x1000, 0x1000);
  assert.equal(backing.firstNonZero(0x1000, 0x10000), 0x1000);
  assert.equal(engine.submit(0x2000, 0x1000, 7), true);
  assert.equal(backing.firstNonZero(0x1000, 0x10000), 0x2000, 'zeroed before submit returned');
  for (let i = 0; i < 3; i++) assert.equal(engine.submit(0x3000 + i * 0x1000, 0x1000, 8 + i), true);
  assert.equal(engine.submit(0x8000, 0x1000, 99), false, 'ring full');
  assert.equal(engine.pending(), 4);
  const out = new Int32Array(3);
  assert.equal(engine.poll(out), 3);
  assert.deepEqual([...out], [7, 8, 9]);
  assert.equal(engine.submit(0x8000, 0x1000, 11), true);
  assert.equal(engine.poll(out), 2);
  assert.deepEqual([...out.subarray(0, 2)], [10, 11]);
  assert.equal(engine.pending(), 0);
  assert.equal(engine.waitAll(0), true);
  assert.equal(work[Work.ZeroBytesSync], 6 * 0x1000);
  const st = engine.stats();
  assert.equal(st.syncBytes, 0x1000);
  assert.equal(st.inlineBytes, 5 * 0x1000);
  assert.match(code(() => engine.submit(0x81000, 0x1000, 1)), /^ERANGE: .*0x81000 is outside/);
  assert.match(code(() => engine.submit(0x1000, 0x1000, NaN)), /^EINVAL/);
  runAndCheck(engine, backing, requests([0, 3, 10, 40, 41, 100, 200, 300]));
});

test('workers: random disjoint requests complete exactly once, zero exactly what was submitted', async () => {
  const backing = new BackingStore(mapOf(RAM), { memoryBytesMax: PER_MEMORY });
  const engine = new ZeroEngine(backing, { workers: 2, ringSlots: 8 });
  engines.push(engine);
  fc.assert(
    fc.property(fc.array(fc.nat({ max: PAGES.length - 1 }), { minLength: 2, maxLength: 60, size: 'max' }), fc.boolean(), (cuts, adjacent) => {
      const reqs = requests(cuts, adjacent);
      // shuffle a little: submission order is not address order
      if (reqs.length > 3 && cuts[0] % 2 === 1) [reqs[1], reqs[2]] = [reqs[2], reqs[1]];
      runAndCheck(engine, backing, reqs);
    }),
    { numRuns: runs(40) },
  );
  const st = engine.stats();
  assert.ok(st.backgroundBytes > 0);
  assert.equal(st.perWorkerRequests.length, 2);
  await engine.shutdown();
});

test('workers: the ring bounds runs, not requests: many more page requests than ringSlots are outstanding, each tag returned once', async () => {
  const backing = new BackingStore(mapOf(RAM), { memoryBytesMax: PER_MEMORY });
  const engine = new ZeroEngine(backing, { workers: 2, ringSlots: 2 });
  engines.push(engine);
  await engine.ready();
  // Every page of RAM in address order, no polling: the pages of each RAM
  // range continue each other (across its 128 KiB memories), so they make
  // two runs, within ringSlots 2, however many pages there are.
  for (const [s, e] of RAM) backing.fillPattern(s, e - s, PATTERN);
  for (let i = 0; i < PAGES.length; i++) assert.equal(engine.submit(PAGES[i][0], PAGE, i), true, `page ${i} refused`);
  assert.equal(engine.pending(), PAGES.length);
  assert.ok(PAGES.length > 100 * engine.ringSlots);
  // A third run would overrun: refused, nothing queued.
  assert.equal(engine.submit(0x1000, PAGE, -1), false);
  assert.equal(engine.pending(), PAGES.length);
  assert.equal(engine.waitAll(10_000), true);
  const out = new Int32Array(7); // smaller than a run: poll hands a run's tags out over several calls
  const seen = new Uint8Array(PAGES.length);
  while (engine.pending() > 0) {
    const n = engine.poll(out);
    for (let j = 0; j < n; j++) {
      assert.equal(seen[out[j]], 0, `tag ${out[j]} returned twice`);
      seen[out[j]] = 1;
    }
  }
  assert.equal(seen.every((x) => x === 1), true, 'every tag returned');
  for (const [s, e] of RAM) assert.equal(backing.firstNonZero(s, e - s), -1);
  // Random page-sized requests, runs broken by gaps and by reordering, through a ring of 2 runs.
  fc.assert(
    fc.property(fc.array(fc.nat({ max: PAGES.length - 1 }), { minLength: 2, maxLength: 40, size: 'max' }), fc.boolean(), (cuts, adjacent) => {
      const reqs = requests(cuts, adjacent).flatMap((r) => Array.from({ length: r.bytes / PAGE }, (_, k) => ({ pa: r.pa + k * PAGE, bytes: PAGE })));
      if (reqs.length > 3 && cuts[0] % 2 === 1) [reqs[1], reqs[2]] = [reqs[2], reqs[1]];
      runAndCheck(engine, backing, reqs);
    }),
    { numRuns: runs(25) },
  );
  await engine.shutdown();
});

test('workers: a request polled while the workers are busy already reads zero', async () => {
  // Large requests and a busy poller: a completion published before its
  // zeroing finished would be caught here.
  const big: Array<[number, number]> = [[0, 32 * 2 ** 20]];
  const backing = new BackingStore(mapOf(big), { memoryBytesMax: 8 * 2 ** 20 });
  const engine = new ZeroEngine(backing, { workers: 2, ringSlots: 64 });
  engines.push(engine);
  await engine.ready();
  const chunk = 512 * 1024;
  const out = new Int32Array(64);
  for (let round = 0; round < 8; round++) {
    backing.fill(0, 32 * 2 ** 20, 0xee);
    for (let i = 0; i < 64; i++) assert.equal(engine.submit(i * chunk, chunk, i), true);
    let got = 0;
    const deadline = Date.now() + 10_000;
    while (got < 64) {
      assert.ok(Date.now() < deadline, 'completions did not arrive');
      const n = engine.poll(out);
      for (let j = 0; j < n; j++) {
        // the last bytes first: a worker zeroes front to back
        const end = (out[j] + 1) * chunk;
        assert.equal(backing.firstNonZero(end - 64, 64), -1, `request ${out[j]} polled before it was zero`);
        assert.equal(backing.firstNonZero(out[j] * chunk, chunk), -1, `request ${out[j]} polled before it was zero`);
      }
      got += n;
    }
  }
  await engine.shutdown();
});

test('workers: a sleeping worker is woken by submit, not by its safety timeout', async () => {
  const backing = new BackingStore(mapOf(RAM), { memoryBytesMax: PER_MEMORY });
  backing.fill(0x1000, 0x80000, 3);
  const engine = new ZeroEngine(backing, { workers: 2 });
  engines.push(engine);
  await engine.ready();
  const out = new Int32Array(4);
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 30)); // long enough for both to fall asleep
    const t0 = performance.now();
    assert.equal(engine.submit(0x1000 + i * PAGE, PAGE, i), true);
    // workers re-check the ring once a second on their own; a lost wake-up would show as ~1000 ms
    assert.equal(engine.waitAll(500), true, `request ${i} not done after ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(engine.poll(out), 1);
  }
  await engine.shutdown();
});

test('workers: memories created after the engine started reach the workers', async () => {
  const backing = new BackingStore(mapOf(RAM), { memoryBytesMax: PER_MEMORY });
  const work = newWorkCounters();
  const engine = new ZeroEngine(backing, { workers: 1, work });
  engines.push(engine);
  // nothing written yet: completes at once, nothing to do
  assert.equal(engine.submit(0x100000, 0x100000, 1), true);
  assert.equal(engine.inFlight(), 0);
  assert.equal(engine.stats().untouchedBytes, 0x100000);
  const out = new Float64Array(4);
  assert.equal(engine.poll(out), 1);
  // now write memory after memory and have each zeroed by the worker
  for (let pa = 0x100000; pa < 0x200000; pa += PER_MEMORY) {
    backing.fill(pa, PER_MEMORY, 0x77);
    assert.equal(engine.submit(pa + 0x1000, PER_MEMORY - 0x2000, pa), true);
  }
  assert.equal(engine.waitAll(10_000), true);
  assert.equal(engine.poll(out), 4);
  assert.equal(engine.poll(out), 4);
  for (let pa = 0x100000; pa < 0x200000; pa += PER_MEMORY) {
    assert.equal(backing.checkPattern(pa, 0x1000, 0x77777777), -1);
    assert.equal(backing.isZero(pa + 0x1000, PER_MEMORY - 0x2000), true);
    assert.equal(backing.checkPattern(pa + PER_MEMORY - 0x1000, 0x1000, 0x77777777), -1);
  }
  assert.equal(work[Work.ZeroBytesBackground], 8 * (PER_MEMORY - 0x2000));
  await engine.shutdown();
});

test('waitAll times out while work is queued, settle() waits without blocking, shutdown drains the queue', async () => {
  const backing = new BackingStore(mapOf(RAM), { memoryBytesMax: PER_MEMORY });
  backing.fill(0x1000, 0x80000, 1);
  const engine = new ZeroEngine(backing, { workers: 1 });
  engines.push(engine);
  // the worker is still starting: nothing can be done yet
  for (let i = 0; i < 128; i++) assert.equal(engine.submit(0x1000 + i * PAGE, PAGE, i), true);
  assert.equal(engine.waitAll(0), false);
  assert.equal(await engine.settle(10_000), true);
  assert.equal(backing.isZero(0x1000, 0x80000), true);
  assert.equal(engine.poll(new Int32Array(200)), 128);
  // queued at shutdown: still done, still pollable
  backing.fill(0x1000, 0x80000, 2);
  for (let i = 0; i < 128; i++) assert.equal(engine.submit(0x1000 + i * PAGE, PAGE, i), true);
  await engine.shutdown();
  assert.equal(engine.inFlight(), 0);
  assert.equal(engine.poll(new Int32Array(200)), 128);
  assert.equal(backing.isZero(0x1000, 0x80000), true);
  assert.match(code(() => engine.submit(0x1000, PAGE, 1)), /^EINVAL: zero engine: submit after shutdown/);
  await engine.shutdown(); // idempotent
});

test('a process that used workers exits by itself, with or without shutdown()', () => {
  const backingUrl = new URL('../src/machine/backing.js', import.meta.url).href;
  const engineUrl = new URL('../src/vm/zeroidle.js', import.meta.url).href;
  const prelude = `
    import { BackingStore } from '${backingUrl}';
    import { ZeroEngine } from '${engineUrl}';
    const map = { name: 't', source: 't', ndomains: 1, ram: [{ start: 0, end: 0x400000, domain: 0 }], physAvail: [], reserved: [] };
    const b = new BackingStore(map);
    b.fill(0, 0x400000, 9);
    const e = new ZeroEngine(b, { workers: 2 });
    for (let i = 0; i < 64; i++) e.submit(i * 0x10000, 0x10000, i);
  `;
  const scripts: Record<string, string> = {
    'waits, no shutdown': `${prelude} if (!e.waitAll(5000) || !b.isZero(0, 0x400000)) process.exit(3); console.log('done');`,
    'leaves work queued': `${prelude} console.log('done');`,
    'awaits ready and shutdown': `${prelude} await e.ready(); await e.shutdown(); if (!b.isZero(0, 0x400000)) process.exit(3); console.log('done');`,
  };
  for (const [what, src] of Object.entries(scripts)) {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', src], { timeout: 10_000, encoding: 'utf8' });
    const elapsed = Date.now() - t0;
    assert.equal(r.error, undefined, `${what}: ${String(r.error)}`);
    assert.equal(r.status, 0, `${what}: exit ${r.status} signal ${r.signal} stderr ${r.stderr}`);
    assert.equal(r.stdout.trim(), 'done', what);
    assert.ok(elapsed < 5000, `${what}: took ${elapsed} ms to exit`);
  }
});

test('a worker that dies before shutdown makes every call throw EINVARIANT', async () => {
  const backing = new BackingStore(mapOf(RAM), { memoryBytesMax: PER_MEMORY });
  const engine = new ZeroEngine(backing, { workers: 1 });
  await engine.ready();
  const worker = (engine as unknown as { workers: Array<{ terminate(): Promise<number> }> }).workers[0];
  await worker.terminate();
  await new Promise((resolve) => setImmediate(resolve));
  assert.match(code(() => engine.poll(new Int32Array(1))), /^EINVARIANT: zero engine: a worker failed: worker 0 exited early/);
  assert.match(code(() => engine.submit(0x1000, PAGE, 1)), /^EINVARIANT/);
  assert.match(code(() => engine.waitAll(10)), /^EINVARIANT/);
  await engine.shutdown();
});

test('bad options are refused', () => {
  const backing = new BackingStore(mapOf(RAM), { memoryBytesMax: PER_MEMORY });
  assert.match(code(() => new ZeroEngine(backing, { workers: -1 })), /^EINVAL/);
  assert.match(code(() => new ZeroEngine(backing, { ringSlots: 1000 })), /^EINVAL/);
});

test('worker loop: a request in a memory announced but not yet received is left unclaimed until it arrives', () => {
  // The owner's side, by hand: one request in memory 1, announced (sharedMemories) but not received.
  const owner = new BackingStore(mapOf(RAM), { memoryBytesMax: PER_MEMORY });
  // Described before the memory exists, as when the workers start first.
  const desc = owner.describe();
  const pa = 0x40000;
  owner.fillPattern(pa, 2 * PAGE, PATTERN);
  const slots = 4;
  const sab = (bytes: number): SharedArrayBuffer => new SharedArrayBuffer(bytes);
  const data: ZeroWorkerData = {
    index: 0,
    ctl: new Int32Array(sab(Ctl.Words * 4)),
    sub: new Float64Array(sab(slots * 4 * 8)),
    comp: new Float64Array(sab(slots * 3 * 8)),
    compReady: new Int32Array(sab(slots * 4)),
    sleep: new Int32Array(sab(16 * 4)),
    stats: new Float64Array(sab(2 * 8)),
    backing: desc,
    sharedMemories: new Int32Array(sab(owner.memoryCount * 4)),
    port: undefined as unknown as ZeroWorkerData['port'],
  };
  // One slot: [pa, bytes, tag block 7, one request].
  data.sub.set([pa, 2 * PAGE, 7, 1]);
  for (let i = 0; i < owner.memoryCount; i++) if (owner.isMaterialised(i)) data.sharedMemories[i] = 1;
  Atomics.store(data.ctl, Ctl.SubTail, 1);
  let arrived = false;
  const worker = BackingStore.attach(data.backing, (i) => (arrived ? owner.memory(i) : undefined));
  const has = (i: number): boolean => worker.isMaterialised(i) || (arrived && owner.isMaterialised(i));
  assert.equal(serveZeroRing(data, worker, has), 'needs-memory');
  assert.equal(Atomics.load(data.ctl, Ctl.SubHead), 0, 'nothing claimed');
  assert.equal(owner.isZero(pa, 2 * PAGE), false);
  arrived = true;
  Atomics.store(data.ctl, Ctl.Stop, 1);
  assert.equal(serveZeroRing(data, worker, has), 'stopped');
  assert.equal(Atomics.load(data.ctl, Ctl.SubHead), 1);
  assert.equal(Atomics.load(data.ctl, Ctl.Completed), 1);
  assert.deepEqual([data.comp[0], data.comp[1], data.comp[2]], [7, 1, 2 * PAGE]);
  assert.equal(owner.isZero(pa, 2 * PAGE), true, 'zeroed through the memory that arrived');
});
