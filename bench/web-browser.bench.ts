/**
 * A frame of the memory map in Debian's chromium (playwright-core): the
 * whole machine in view, as `pagelab web` serves it, for a 1 TiB machine
 * booted lazily and a 64 GiB machine booted eagerly. The page times each
 * frame itself (compute, pixels, putImageData, boundaries); the two pages
 * are timed in alternation, 5 frames at a time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { markdownTable, median } from './harness.js';

const CHROMIUM = process.env.PAGELAB_CHROMIUM ?? '/usr/bin/chromium';
const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');

function serve(args: string[]): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [MAIN, 'web', '--no-open', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolve({ url: m[1], proc });
    });
    proc.on('exit', (c) => reject(new Error(`pagelab web exited with ${c}`)));
  });
}

export default async function run(): Promise<string> {
  if (!existsSync(CHROMIUM)) return `## web-browser: a frame in chromium\n\nNot run: no browser at ${CHROMIUM}.`;
  const machines = [
    { label: '1 TiB, lazy', args: ['--mem', '1T', '-o', 'vm.lazy_page_init=1'] },
    { label: '64 GiB, eager', args: ['--mem', '64G', '-o', 'vm.lazy_page_init=0'] },
  ];
  const profile = mkdtempSync(path.join(os.tmpdir(), 'pagelab-bench-chromium-'));
  const servers: ChildProcess[] = [];
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1500, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const pages: Page[] = [];
    for (const m of machines) {
      const s = await serve(m.args);
      servers.push(s.proc);
      const page = await ctx.newPage();
      await page.goto(s.url);
      await page.waitForFunction(() => (document.getElementById('machine-name')?.textContent ?? '').includes('pages'));
      pages.push(page);
    }
    const samples: number[][] = machines.map(() => []);
    const time = (p: Page): Promise<number[]> => p.evaluate(() => (window.pagelab as unknown as { fit(): void; timeFrames(n: number): number[] }).timeFrames(5));
    for (const p of pages) await time(p); // warm-up
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < pages.length; i++) samples[i].push(...(await time(pages[i])));
    }
    const rows = machines.map((m, i) => {
      const med = median(samples[i]);
      return [m.label, String(samples[i].length), med.toFixed(2), Math.max(...samples[i]).toFixed(2), med <= 16 ? 'yes' : '**no**'];
    });
    return [
      '## web-browser: a frame in chromium',
      '',
      'The whole machine in view (1024x512 cells), timed by the page itself: colours from the free-queue runs, pixels,',
      '`putImageData`, boundaries. Debian chromium, headless, no GPU; 8 alternating rounds of 5 frames per machine.',
      '',
      markdownTable(['machine', 'frames', 'median ms', 'max ms', '<= 16 ms'], rows),
      '',
      `Load average while it ran: ${os.loadavg().map((x) => x.toFixed(1)).join(', ')} (on ${os.cpus().length} cores).`,
    ].join('\n');
  } finally {
    await ctx.close();
    for (const s of servers) s.kill('SIGTERM');
    rmSync(profile, { recursive: true, force: true });
  }
}
