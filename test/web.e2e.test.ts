/*
 * The web page in a real browser: Debian's chromium driven by playwright-core.
 * `pagelab web` serves the page; the test loads basic.trace through the file
 * picker, steps to a known line and checks what a person sees against
 * `pagelab replay --json` on the same prefix of the trace. Screenshots go to
 * dist/test-artifacts/web/ (and to docs/web.png with PAGELAB_UPDATE_SCREENSHOT=1).
 * Skipped, saying so, when no chromium is installed (PAGELAB_CHROMIUM names another).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { repoRoot } from './helpers/root.js';
import { STATES, S_OWNED } from '../src/web/mapview.js';

const root = repoRoot();
const MAIN = path.join(root, 'dist/src/cli/main.js');
const TRACE = path.join(root, 'test/fixtures/traces/basic.trace');
const CHROMIUM = process.env.PAGELAB_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(root, 'dist/test-artifacts/web');
/** The line the test steps to: `contig dma 16 ...`, after a failed allocation on line 7. */
const STOP_LINE = 8;
const OPS_TO_STOP = 4;

const skip = existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM}: install Debian's chromium (apt-get install chromium) or set PAGELAB_CHROMIUM`;

function pagelabJson(...args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  // 1 is a replay whose data check failed (a result, in the JSON); 2 would be bad input.
  assert.ok(r.status === 0 || r.status === 1, r.stderr);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/* Starts `pagelab web` and resolves with its URL and process. */
function startServer(args: string[]): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [MAIN, 'web', '--no-open', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolve({ url: m[1], proc });
    });
    proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('exit', (code) => reject(new Error(`pagelab web exited with ${code}: ${err}`)));
  });
}

async function launch(t: TestContext): Promise<BrowserContext> {
  const profile = mkdtempSync(path.join(os.tmpdir(), 'pagelab-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1500, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(async () => {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  });
  return ctx;
}

/* Collects console errors and uncaught exceptions of `page`. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

/* Free blocks per pool and order, summed over domains and free lists, from replay --json's buddyinfo. */
/*
 * The page redraws in its requestAnimationFrame loop after a change; two
 * frames later the change is on the canvas. Reading pixels sooner races the
 * loop, which a loaded host loses.
 */
async function framesDrawn(page: Page): Promise<void> {
  await page.evaluate(() => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))));
}

function countsByPool(json: Record<string, unknown>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of json.buddyinfo as Array<{ pool: string; counts: number[] }>) {
    const acc = out.get(r.pool) ?? r.counts.map(() => 0);
    r.counts.forEach((c, o) => (acc[o] += c));
    out.set(r.pool, acc);
  }
  return out;
}

test('pagelab web: load a trace, step, and see the allocator as replay --json reports it', { skip, timeout: 60_000 }, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pagelab-web-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  // The reference: replay --json of the trace up to the stop line.
  const prefix = path.join(tmp, 'prefix.trace');
  writeFileSync(prefix, readFileSync(TRACE, 'utf8').split('\n').slice(0, STOP_LINE).join('\n') + '\n');
  const ref = pagelabJson('replay', prefix, '--json');
  const b = (ref.allocations as Record<string, { pa: string; pages: number }>).b;
  assert.ok(b !== undefined, 'tag b is live at the stop line');

  const server = await startServer([]);
  t.after(() => server.proc.kill('SIGTERM'));
  const ctx = await launch(t);
  const page = await ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(server.url);
  assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'the server sends the cross-origin isolation headers');

  await page.setInputFiles('#file', TRACE);
  await page.waitForFunction(() => document.getElementById('trace-name')?.textContent === 'basic.trace');
  for (let i = 0; i < OPS_TO_STOP; i++) await page.click('#step');
  await page.waitForFunction((n) => document.getElementById('position')?.textContent?.startsWith(`${n} /`), OPS_TO_STOP);

  // The trace pane: the stop line highlighted, the failed allocation flagged.
  assert.equal(await page.textContent('#trace .trace-line.current .lineno'), String(STOP_LINE));
  const failed = await page.$$eval('#trace .trace-line.failed', (els) => els.map((e) => (e as HTMLElement).dataset.line));
  assert.deepEqual(failed, ['7']);

  // Buddy info: every bar's count is what replay --json says at this line.
  const bars = await page.$$eval('#buddy .bar', (els) => els.map((e) => ({ pool: (e as HTMLElement).dataset.pool, order: Number((e as HTMLElement).dataset.order), count: Number((e as HTMLElement).dataset.count) })));
  const want = countsByPool(ref);
  assert.equal(bars.length, 3 * (want.get('DEFAULT') as number[]).length);
  for (const bar of bars) assert.equal(bar.count, (want.get(bar.pool as string) as number[])[bar.order], `${bar.pool} order ${bar.order}`);
  assert.ok(bars.some((x) => x.count > 0));

  // The map: go to b's first page, check its colour and its tooltip.
  await page.fill('#goto', b.pa);
  await page.press('#goto', 'Enter');
  await framesDrawn(page);
  const pa = Number(b.pa);
  const spot = await page.evaluate((addr) => {
    const app = window.pagelab as unknown as { pagePoint(m: number): { x: number; y: number } | null; physPage(pa: number): number };
    const pt = app.pagePoint(app.physPage(addr));
    if (pt === null) return null;
    const canvas = document.getElementById('map') as HTMLCanvasElement;
    const px = (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(Math.floor(pt.x), Math.floor(pt.y), 1, 1).data;
    const r = canvas.getBoundingClientRect();
    return { rgb: (px[0] << 16) | (px[1] << 8) | px[2], x: r.left + (pt.x * r.width) / canvas.width, y: r.top + (pt.y * r.height) / canvas.height };
  }, pa);
  assert.ok(spot !== null, 'b is on screen after "go to"');
  assert.equal(spot.rgb.toString(16), STATES[S_OWNED].light.toString(16), 'an allocated page of a trace tag is drawn in the owned colour');
  await page.mouse.move(spot.x, spot.y);
  await page.waitForSelector('#tooltip:not([hidden])');
  const tip = (await page.textContent('#tooltip')) ?? '';
  assert.match(tip, new RegExp(`PA ${b.pa}\\b`));
  assert.match(tip, /state: allocated/);
  assert.match(tip, /owner: b \(8 pages/);
  // Boot side by side: the lazy machine's drain under way on the simulated clock.
  await page.click('#boot-start');
  await page.waitForFunction(() => /now [0-9.]+% of page records written/.test(document.getElementById('boot-lazy-text')?.textContent ?? '') && /[1-9]/.test(document.getElementById('boot-clock')?.textContent ?? ''));
  await page.mouse.move(spot.x, spot.y);
  const shot = path.join(ARTIFACTS, 'web-basic-line8.png');
  await page.screenshot({ path: shot, fullPage: true });
  if (process.env.PAGELAB_UPDATE_SCREENSHOT === '1') copyFileSync(shot, path.join(root, 'docs/web.png'));

  // Stepping back replays from the start and lands on the line before.
  await page.click('#back');
  await page.waitForFunction(() => document.getElementById('position')?.textContent?.startsWith('3 /'));
  assert.equal(await page.textContent('#trace .trace-line.current .lineno'), '7');
  // A click on a trace line runs up to it; the right arrow steps.
  await page.click('#trace .trace-line[data-line="5"]');
  await page.waitForFunction(() => document.getElementById('position')?.textContent?.startsWith('1 /'));
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => document.getElementById('position')?.textContent?.startsWith('2 /'));
  assert.equal(await page.textContent('#trace .trace-line.current .lineno'), '6');
  assert.deepEqual(errors, [], 'no console errors');
});

test('pagelab replay --html: the page works alone from a file:// URL', { skip, timeout: 60_000 }, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pagelab-html-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));
  const html = path.join(tmp, 'basic.html');
  const full = pagelabJson('replay', TRACE, '--json', '--html', html);
  const ctx = await launch(t);
  const page = await ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(pathToFileURL(html).href);
  await page.waitForFunction(() => document.getElementById('trace-name')?.textContent === 'basic.trace');
  // Play to the end: the bars then match the whole replay.
  await page.click('#play');
  const ops = (readFileSync(TRACE, 'utf8').match(/^(alloc|free|contig|unfree|drain)\b/gm) ?? []).length;
  await page.waitForFunction((n) => document.getElementById('position')?.textContent?.startsWith(`${n} /`), ops, { timeout: 20_000 });
  const want = countsByPool(full);
  const bars = await page.$$eval('#buddy .bar', (els) => els.map((e) => [(e as HTMLElement).dataset.pool, Number((e as HTMLElement).dataset.order), Number((e as HTMLElement).dataset.count)] as const));
  for (const [pool, order, count] of bars) assert.equal(count, (want.get(pool as string) as number[])[order], `${pool} order ${order}`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-html-file.png'), fullPage: true });
  assert.deepEqual(errors, [], 'no console errors');
});

test('pagelab web: a backed trace zeroes in Web Workers over shared memory, as replay does on worker_threads', { skip, timeout: 60_000 }, async (t) => {
  const trace = path.join(root, 'test/fixtures/traces/zero.trace');
  const ref = pagelabJson('replay', trace, '-o', 'vm.zero.workers=2', '--json');
  const zero = ref.zero as { bytes_zeroed_background: number };
  assert.ok(zero.bytes_zeroed_background > 0, 'the reference zeroed in the background');
  const server = await startServer([trace, '-o', 'vm.zero.workers=2']);
  t.after(() => server.proc.kill('SIGTERM'));
  const ctx = await launch(t);
  const page = await ctx.newPage();
  const errors = watchErrors(page);
  await page.goto(server.url);
  await page.waitForFunction(() => document.getElementById('trace-name')?.textContent === 'zero.trace');
  await page.click('#play');
  const ops = (readFileSync(trace, 'utf8').match(/^(alloc|free|write|verify|zeroidle)\b/gm) ?? []).length;
  await page.waitForFunction((n) => document.getElementById('position')?.textContent?.startsWith(`${n} /`), ops, { timeout: 20_000 });
  // The zeroing engine's worker script was loaded: the zeroing ran in Web Workers.
  assert.ok(await page.evaluate(() => performance.getEntriesByType('resource').some((e) => e.name.endsWith('/zeroidle-worker.js'))));
  // The one verify that must fail, flagged where replay reports it; nothing else failed.
  const failed = await page.$$eval('#trace .trace-line.failed', (els) => els.map((e) => `${(e as HTMLElement).dataset.line} ${(e as HTMLElement).title}`));
  const vf = ref.verify_failures as Array<{ line: number; pa: string }>;
  assert.deepEqual(failed, vf.map((f) => `${f.line} differs at ${f.pa}`));
  const want = countsByPool(ref);
  const bars = await page.$$eval('#buddy .bar', (els) => els.map((e) => [(e as HTMLElement).dataset.pool, Number((e as HTMLElement).dataset.order), Number((e as HTMLElement).dataset.count)] as const));
  for (const [pool, order, count] of bars) assert.equal(count, (want.get(pool as string) as number[])[order], `${pool} order ${order}`);
  assert.deepEqual(errors, [], 'no console errors');
});
