/**
 * The web page's logic in Node: the map's colours and aggregation against a
 * per-page reference, hover text, buddy bars, the trace stepper's seeking,
 * the boot race, and `pagelab web` / `replay --html` from the command line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Vm } from '../src/vm/vm.js';
import type { Phys } from '../src/vm/phys.js';
import { PG_ZERO, VM_ALLOC_NOBUSY, VM_FREEPOOL_DEFAULT, VM_FREEPOOL_DIRECT, VM_FREEPOOL_LAZYINIT } from '../src/vm/param.js';
import { freeQueueTable } from '../src/vm/buddyinfo.js';
import { memoryMapForSize, presetMemoryMap } from '../src/machine/presets.js';
import {
  BACKGROUND,
  boundaries,
  collectFreeRuns,
  describePage,
  describeRange,
  DETAIL_MAX_PAGES,
  FreeRuns,
  freeQueueLayer,
  MapFrame,
  orderShade,
  ownerLayer,
  reservLayer,
  S_ALLOCATED,
  S_RESV_FREE,
  S_FREE_DEFAULT,
  S_FREE_DIRECT,
  S_FREE_ZERO,
  S_LAZY,
  S_OWNED,
  stateColour,
  STATES,
  summariseRange,
  type OwnedRun,
  type Viewport,
} from '../src/web/mapview.js';
import { barHeight, buddyBars } from '../src/web/buddy.js';
import { TraceStepper } from '../src/web/session.js';
import { BootRace } from '../src/web/bootrace.js';
import { parseTrace, replayTrace } from '../src/lab/replay.js';
import { smallMap } from './helpers/maps.js';
import { repoRoot } from './helpers/root.js';
import { runs } from './helpers/runs.js';

const root = repoRoot();
const MAIN = path.join(root, 'dist/src/cli/main.js');
const TRACE = path.join(root, 'test/fixtures/traces/basic.trace');

/* The reference: every page's colour by a plain per-page loop, and a cell's mean over its pages. */
function referenceColours(phys: Phys, owners: Map<string, OwnedRun>, detail: boolean): Int32Array {
  const col = new Int32Array(phys.npages).fill(STATES[S_ALLOCATED].light);
  phys.forEachFreeBlock((m, order, pool) => {
    for (let i = m; i < m + 2 ** order; i++) {
      if (pool === VM_FREEPOOL_LAZYINIT) col[i] = stateColour(S_LAZY, 0);
      else if (detail && (phys.pages.flags[i] & PG_ZERO) !== 0) col[i] = stateColour(S_FREE_ZERO, 0);
      else col[i] = stateColour(pool === VM_FREEPOOL_DIRECT ? S_FREE_DIRECT : S_FREE_DEFAULT, orderShade(order, phys.maxOrder));
    }
  });
  for (const a of owners.values()) col.fill(stateColour(S_OWNED, 0), a.m, a.m + a.pages);
  return col;
}

function referenceCell(col: Int32Array, first: number, ppc: number): number {
  const end = Math.min(col.length, first + ppc);
  if (end <= first) return BACKGROUND;
  let r = 0;
  let g = 0;
  let b = 0;
  for (let i = first; i < end; i++) {
    r += (col[i] >> 16) & 255;
    g += (col[i] >> 8) & 255;
    b += col[i] & 255;
  }
  const n = end - first;
  return (((r / n + 0.5) | 0) << 16) | (((g / n + 0.5) | 0) << 8) | ((b / n + 0.5) | 0);
}

function assertFrameMatches(phys: Phys, owners: Map<string, OwnedRun>, view: Viewport): void {
  const frame = new MapFrame();
  const layers = [freeQueueLayer(phys), ownerLayer(() => owners.entries())];
  frame.compute(phys.npages, view, layers);
  const span = Math.min(phys.npages, view.first + view.cols * view.rows * view.pagesPerCell) - view.first;
  const ref = referenceColours(phys, owners, span <= DETAIL_MAX_PAGES);
  for (let c = 0; c < view.cols * view.rows; c++) {
    const want = referenceCell(ref, view.first + c * view.pagesPerCell, view.pagesPerCell);
    const got = frame.cellColour(c);
    if (got !== want) assert.fail(`cell ${c} (pages from ${view.first + c * view.pagesPerCell}, ${view.pagesPerCell}/cell): got ${got.toString(16)}, want ${want.toString(16)}`);
  }
}

test('state colours: shades run from light (order 0) to deep (max order)', () => {
  assert.equal(stateColour(S_FREE_DEFAULT, 0), STATES[S_FREE_DEFAULT].light);
  assert.equal(stateColour(S_FREE_DEFAULT, 1), STATES[S_FREE_DEFAULT].deep);
  assert.equal(stateColour(S_OWNED, 0.7), STATES[S_OWNED].light);
  assert.equal(orderShade(0, 12), 0);
  assert.equal(orderShade(12, 12), 1);
  const mid = stateColour(S_FREE_DIRECT, 0.5);
  assert.notEqual(mid, STATES[S_FREE_DIRECT].light);
  assert.notEqual(mid, STATES[S_FREE_DIRECT].deep);
});

type Op = { k: 'alloc'; order: number; direct: boolean } | { k: 'free'; pick: number; zero: boolean } | { k: 'drain'; pages: number } | { k: 'contig'; npages: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('alloc' as const), order: fc.integer({ min: 0, max: 6 }), direct: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('free' as const), pick: fc.nat(), zero: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('drain' as const), pages: fc.integer({ min: 1, max: 2000 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('contig' as const), npages: fc.integer({ min: 1, max: 100 }) }) },
);

test('map frame: every cell is the mean colour of its pages, at any zoom and offset (property)', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.array(opArb, { maxLength: 60, size: 'max' }),
      fc.array(fc.record({ zoom: fc.integer({ min: 0, max: 7 }), cols: fc.integer({ min: 1, max: 40 }), rows: fc.integer({ min: 1, max: 12 }), at: fc.double({ min: 0, max: 1, noNaN: true }) }), { minLength: 1, maxLength: 4 }),
      (lazy, ops, views) => {
        const vm = new Vm(smallMap(), { 'vm.lazy_page_init': lazy ? 1 : 0 });
        const phys = vm.phys;
        const owners = new Map<string, OwnedRun>();
        const live: Array<{ tag: string; m: number; order: number; pool: number; contig: number }> = [];
        let n = 0;
        for (const op of ops) {
          if (op.k === 'alloc') {
            const pool = op.direct ? VM_FREEPOOL_DIRECT : VM_FREEPOOL_DEFAULT;
            const m = phys.allocPages(0, pool, op.order);
            if (m >= 0) {
              const tag = `t${n++}`;
              live.push({ tag, m, order: op.order, pool, contig: 0 });
              owners.set(tag, { m, pages: 2 ** op.order });
            }
          } else if (op.k === 'contig') {
            const m = phys.allocContig(0, op.npages);
            if (m >= 0) {
              const tag = `t${n++}`;
              live.push({ tag, m, order: 0, pool: VM_FREEPOOL_DEFAULT, contig: op.npages });
              owners.set(tag, { m, pages: op.npages });
            }
          } else if (op.k === 'free' && live.length > 0) {
            const [a] = live.splice(op.pick % live.length, 1);
            if (a.contig > 0) phys.freeContig(a.m, a.contig);
            else phys.freePages(a.m, a.order, a.pool, op.zero);
            owners.delete(a.tag);
          } else if (op.k === 'drain') phys.lazyInitSlice(0, op.pages);
          vm.check();
        }
        for (const v of views) {
          const ppc = 2 ** v.zoom;
          const first = Math.floor((v.at * phys.npages) / ppc) * ppc;
          assertFrameMatches(phys, owners, { first, pagesPerCell: ppc, cols: v.cols, rows: v.rows });
        }
      },
    ),
    { numRuns: runs(40) },
  );
});

test('map frame: a 4 GiB lazy machine, too big for page detail, aggregated from its runs', () => {
  const vm = new Vm(memoryMapForSize(4 * 2 ** 30), { 'vm.lazy_page_init': 1 });
  const owners = new Map<string, OwnedRun>();
  for (let i = 0; i < 40; i++) {
    const m = vm.phys.allocPages(0, VM_FREEPOOL_DEFAULT, i % 9);
    owners.set(`a${i}`, { m, pages: 2 ** (i % 9) });
  }
  vm.phys.lazyInitSlice(0, 100_000);
  assert.ok(vm.phys.npages > DETAIL_MAX_PAGES);
  assertFrameMatches(vm.phys, owners, { first: 0, pagesPerCell: 4096, cols: 64, rows: 5 });
  assertFrameMatches(vm.phys, owners, { first: 2048, pagesPerCell: 2048, cols: 100, rows: 7 });
});

test('free runs: a 1 TiB lazy boot summarises to a handful of runs, covering every free page', () => {
  const vm = new Vm(memoryMapForSize(2 ** 40), { 'vm.lazy_page_init': 1 });
  const runs = new FreeRuns();
  collectFreeRuns(vm.phys, runs);
  let blocks = 0;
  vm.phys.forEachFreeBlock(() => blocks++);
  let pages = 0;
  for (let k = 0; k < runs.count; k++) pages += runs.len[k];
  assert.equal(pages, vm.phys.totalFree());
  assert.ok(blocks > 65000, `${blocks} blocks`);
  assert.ok(runs.count < 200, `${runs.count} runs for ${blocks} blocks`);
});

test('hover text: address, state, order, pool and owner of a page; a range by state', () => {
  const vm = new Vm(presetMemoryMap('tiny-16m'), { 'vm.lazy_page_init': 1 });
  const phys = vm.phys;
  const owners = new Map<string, OwnedRun>();
  const b = phys.allocPages(0, VM_FREEPOOL_DIRECT, 3);
  owners.set('b', { m: b, pages: 8 });
  const layers = [freeQueueLayer(phys), ownerLayer(() => owners.entries())];
  const lines = describePage(phys, b + 2, layers);
  assert.match(lines[0], new RegExp(`^page ${b + 2}  PA 0x${phys.pageToPa(b + 2).toString(16)}$`));
  assert.ok(lines.includes('state: allocated'), lines.join('\n'));
  assert.ok(lines.includes(`owner: b (8 pages from page ${b})`), lines.join('\n'));
  // A page in a lazy block, and one in an initialised free block.
  let lazyPage = -1;
  let freeHead = -1;
  let freeOrder = -1;
  phys.forEachFreeBlock((m, o, pool) => {
    if (pool === VM_FREEPOOL_LAZYINIT && lazyPage < 0) lazyPage = m + 1;
    if (pool === VM_FREEPOOL_DIRECT && freeHead < 0) [freeHead, freeOrder] = [m, o];
  });
  assert.ok(describePage(phys, lazyPage, layers).includes('state: LAZYINIT (never initialised)'));
  const fl = describePage(phys, freeHead, layers);
  assert.ok(fl.some((l) => l.startsWith(`order ${freeOrder} `) && l.includes('pool DIRECT')), fl.join('\n'));
  const s = summariseRange(phys.npages, b, 16, layers);
  assert.equal(s.pages[S_OWNED], 8);
  assert.equal(s.pages.reduce((x, y) => x + y, 0), 16);
  assert.ok(describeRange(phys, b, 16, layers).includes('owned: 8 pages'));
});

test('reservations: the unpopulated pages of a live reservation are drawn and described as free inside it', () => {
  const vm = new Vm(presetMemoryMap('tiny-16m'), { 'vm.lazy_page_init': 0 });
  const reserv = vm.reserv;
  assert.ok(reserv !== null);
  const obj = vm.object.allocate('anon');
  const pages: number[] = [];
  for (let i = 0; i < 100; i++) pages.push(vm.page.alloc(obj, i, VM_ALLOC_NOBUSY));
  const rv = reserv.fromPage(pages[0]);
  const base = reserv.first[rv];
  assert.equal(pages[0], base, 'pindex 0 of a colour-0 object starts its reservation');
  const layers = [freeQueueLayer(vm.phys), reservLayer(reserv)];
  const view: Viewport = { first: base, pagesPerCell: 1, cols: reserv.npages, rows: 1 };
  const frame = new MapFrame();
  frame.compute(vm.phys.npages, view, layers);
  assert.equal(frame.cellColour(10), STATES[S_ALLOCATED].light, 'a populated page reads allocated');
  assert.equal(frame.cellColour(200), STATES[S_RESV_FREE].light, 'an unpopulated page reads free inside the reservation');
  const s = summariseRange(vm.phys.npages, base, reserv.npages, layers);
  assert.equal(s.pages[S_RESV_FREE], reserv.npages - 100);
  assert.ok(describePage(vm.phys, base + 200, layers).some((l) => /^reservation: 0x[0-9a-f]+ \(B, 100\/512 pages populated, object \d+\); this page free$/.test(l)));
  // Terminated, the reservation is gone and its pages are back on the free queues.
  vm.object.terminate(obj);
  frame.compute(vm.phys.npages, view, layers);
  assert.notEqual(frame.cellColour(200), STATES[S_RESV_FREE].light);
  assert.equal(summariseRange(vm.phys.npages, base, reserv.npages, layers).pages[S_RESV_FREE], 0);
});

test('buddy bars: counts per pool and order are the free-queue table summed over domains and free lists', () => {
  const vm = new Vm(smallMap(), { 'vm.lazy_page_init': 1 });
  for (let i = 0; i < 30; i++) vm.phys.allocPages(0, i % 2 ? VM_FREEPOOL_DIRECT : VM_FREEPOOL_DEFAULT, i % 5);
  const bars = buddyBars(vm.phys);
  for (const row of freeQueueTable(vm.phys)) {
    const p = bars.pools.indexOf(row.pool as (typeof bars.pools)[number]);
    assert.ok(p >= 0);
  }
  bars.pools.forEach((pool, p) => {
    const rows = freeQueueTable(vm.phys).filter((r) => r.pool === pool);
    for (let o = 0; o < vm.phys.nfreeorder; o++) assert.equal(bars.counts[p][o], rows.reduce((s, r) => s + r.counts[o], 0), `${pool} ${o}`);
    assert.equal(bars.pages[p], rows.reduce((s, r) => s + r.pages, 0));
  });
  assert.equal(barHeight(0, 10), 0);
  assert.equal(barHeight(10, 10), 1);
  assert.ok(barHeight(1, 10) > 0 && barHeight(1, 10) < barHeight(5, 10));
});

test('boundaries: one per segment, a free-list change marked', () => {
  const vm = new Vm(memoryMapForSize(8 * 2 ** 30), { 'vm.lazy_page_init': 1 });
  const bs = boundaries(vm.phys);
  assert.equal(bs.length, vm.phys.segs.length);
  assert.equal(bs[0].page, 0);
  assert.ok(bs.every((b, i) => i === 0 || b.page > bs[i - 1].page));
});

test('trace stepper: stepping and seeking back land where a fresh replay of the prefix does', () => {
  const text = readFileSync(TRACE, 'utf8');
  const st = new TraceStepper(text, 'basic.trace');
  const lines = text.split('\n');
  for (const pos of [3, 9, 1, 4, 0, 6]) {
    st.seek(pos);
    assert.equal(st.position, pos);
    const line = pos === 0 ? 0 : st.trace.opLine[pos - 1];
    assert.equal(st.currentLine, line);
    const prefix = replayTrace(parseTrace(lines.slice(0, Math.max(line, 3)).join('\n'), 'p'));
    assert.deepEqual(st.buddyinfo(), prefix.buddyinfo, `at op ${pos}`);
    assert.deepEqual(st.result().allocations, prefix.allocations);
  }
  st.seek(st.length);
  assert.equal(st.step(), null);
  assert.deepEqual(st.outcomes.filter((o) => !o.ok).map((o) => o.line), [7, 9, 11]);
  st.seekLine(8);
  assert.equal(st.currentLine, 8);
  assert.throws(() => new TraceStepper('alloc a 0\nfrob\n', 'bad.trace'), /bad\.trace:2: unknown operation "frob"/);
});

test('boot race: eager is ready when its simulated startup ends; the lazy drain follows the simulated clock to empty', () => {
  const race = new BootRace(presetMemoryMap('firecracker-128m'));
  assert.equal(race.lazy.vm.phys.lazyPending() > 0, true);
  assert.ok(race.lazy.sim.bootNs < race.eager.sim.bootNs, 'lazy boots faster');
  let last = 0;
  let pendingBefore = race.lazy.vm.phys.lazyPending();
  while (!race.finished) {
    race.advance(50);
    const share = race.lazy.drainShare(race.clockNs);
    assert.ok(share >= last);
    last = share;
    const pending = race.lazy.vm.phys.lazyPending();
    assert.ok(pending <= pendingBefore);
    pendingBefore = pending;
  }
  assert.equal(race.lazy.vm.phys.lazyPending(), 0);
  assert.equal(race.eager.initialisedShare(race.clockNs), 1);
  assert.match(race.lazy.describe(race.clockNs), /lazy .*booted.*100\.0% of page records written/);
  race.lazy.vm.check();
});

function pagelab(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('pagelab web: bad input is one clear error, exit 2, nothing served', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pagelab-webcli-'));
  try {
    const bad = path.join(tmp, 'bad.trace');
    writeFileSync(bad, 'alloc a 0\nalloc a 1\nnope\n');
    let r = pagelab('web', bad, '--no-open');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^pagelab: \S*bad\.trace:3: unknown operation "nope"/);
    r = pagelab('web', '--port', '70000', '--no-open');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--port 70000 is not a port number/);
    r = pagelab('web', TRACE, TRACE, '--no-open');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /at most one TRACE/);
    r = pagelab('web', '--reports', path.join(tmp, 'nowhere'), '--no-open');
    assert.equal(r.code, 2);
    r = pagelab('replay', TRACE, '--html', path.join(tmp, 'no', 'such', 'dir.html'));
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot write --html/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('pagelab web: serves the page on 127.0.0.1 with isolation headers, the trace and machine preloaded; stops on SIGTERM', async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pagelab-webcli-'));
  writeFileSync(path.join(tmp, 'report.html'), '<p>report</p>');
  const proc = spawn(process.execPath, [MAIN, 'web', TRACE, '--machine', 'firecracker-128m', '-o', 'vm.nfreeorder=11', '--no-open', '--port', '0', '--reports', tmp], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.on('exit', (c) => reject(new Error(`exited ${c}`)));
  });
  try {
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
    assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
    const html = await page.text();
    const pre = JSON.parse(/<script type="application\/json" id="pagelab-preload">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? 'null');
    assert.equal(pre.trace.name, 'basic.trace');
    assert.equal(pre.trace.text, readFileSync(TRACE, 'utf8'));
    assert.match(pre.machine, /"name": "firecracker-128m"/);
    assert.deepEqual(pre.overrides, ['vm.nfreeorder=11']);
    assert.ok(pre.examples.length >= 3);
    assert.deepEqual(pre.reports, [{ label: 'report.html', href: 'reports/report.html' }]);
    assert.equal((await fetch(url + 'app.js')).headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal(await (await fetch(url + 'reports/report.html')).text(), '<p>report</p>');
    assert.equal((await fetch(url + 'reports/..%2F..%2Fetc%2Fpasswd')).status, 404);
    assert.equal((await fetch(url + 'nothing')).status, 404);
    assert.equal((await fetch(url, { method: 'POST' })).status, 405);
  } finally {
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
    proc.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.match(out, /pagelab web: stopped/);
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('pagelab replay --html: one file with the page, the script inline and the trace embedded', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pagelab-html-'));
  try {
    const trace = path.join(tmp, 'tricky.trace');
    writeFileSync(trace, '# </script><!-- a comment that must stay text\nmachine tiny-16m\nalloc a 0\n');
    const html = path.join(tmp, 'out.html');
    const r = pagelab('replay', trace, '--html', html);
    assert.equal(r.code, 0, r.stderr);
    const doc = readFileSync(html, 'utf8');
    assert.ok(!doc.includes('src="app.js"') && !doc.includes('href="style.css"'), 'nothing fetched beside the file');
    const pre = /<script type="application\/json" id="pagelab-preload">([\s\S]*?)<\/script>/.exec(doc)?.[1] ?? '';
    assert.ok(!pre.includes('</script') && !pre.includes('<!--'));
    assert.equal(JSON.parse(pre).trace.text, readFileSync(trace, 'utf8'));
    assert.match(doc, /<script type="module">/);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
