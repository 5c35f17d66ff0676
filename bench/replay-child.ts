/**
 * One timed replay in a fresh process, so that its peak RSS is its own:
 * `node replay-child.js MODE FILE` with MODE `bare` (bench/bare-buddy.ts),
 * `pagelab` (`pagelab replay FILE` in the process, its report discarded) or `idle` (load
 * the modules and stop: the floor both pay). Prints one JSON line: wall and CPU
 * ms from reading the file to the result, GC ms inside it, and peak RSS.
 */
import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { replayCommand } from '../src/cli/replay.js';
import { bareReplay } from './bare-buddy.js';

const [mode, file] = process.argv.slice(2);
let gcMs = 0;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
});
obs.observe({ entryTypes: ['gc'] });
let result = 0;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
if (mode === 'bare') {
  result = bareReplay(readFileSync(file, 'utf8'));
} else if (mode === 'pagelab') {
  // The command itself, its report discarded: `pagelab replay FILE`.
  let report = '';
  replayCommand([file], (s) => {
    report += s;
  });
  result = Number(/still allocated: (\d+) tags/.exec(report)?.[1] ?? -1);
} else if (mode !== 'idle') {
  throw new Error(`replay-child: unknown mode ${mode}`);
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000;
/*
 * This process's own peak RSS. getrusage's ru_maxrss survives execve on
 * Linux, so a child of a large parent (npm run bench after other suites)
 * would report the parent's peak; VmHWM belongs to the process's fresh
 * address space. Elsewhere, ru_maxrss.
 */
function peakRssMiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m !== null) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

// Let the observer deliver the last GC entries.
setTimeout(() => {
  obs.disconnect();
  process.stdout.write(JSON.stringify({ mode, ms, cpuMs, gcMs, maxRssMiB: peakRssMiB(), result }) + '\n');
}, 0);
