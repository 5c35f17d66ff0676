/**
 * Replay at parser speed: `pagelab replay` of a 2.2 M-operation order-0
 * churn trace (4 GiB machine, 200 k pages held) against the bare reference
 * (bench/bare-buddy.ts) reading the same file. Each run is a fresh process,
 * so peak RSS is the run's own; the two cases alternate (A B A B) and an idle
 * process (modules loaded, nothing run) gives the floor both pay.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { markdownTable, median } from './harness.js';
import { churnTrace } from './replay-trace.js';

interface ChildRun {
  ms: number;
  cpuMs: number;
  gcMs: number;
  maxRssMiB: number;
  result: number;
}

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'replay-child.js');

/*
 * REPLAY_BENCH_BEFORE=path/to/dist/bench/replay-child.js adds a third case:
 * an older build's `pagelab replay`, interleaved with the other two.
 */
const BEFORE = process.env.REPLAY_BENCH_BEFORE;

function child(mode: string, file: string): ChildRun {
  const script = mode === 'before' ? (BEFORE as string) : CHILD;
  const r = spawnSync(process.execPath, [script, mode === 'before' ? 'pagelab' : mode, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`replay-child ${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildRun;
}

export default async function run(): Promise<string> {
  const rounds = Number(process.env.REPLAY_BENCH_ROUNDS ?? 7);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pagelab-bench-'));
  const file = path.join(dir, 'churn.trace');
  try {
    writeFileSync(file, churnTrace(42));
    const bytes = statSync(file).size;
    const cases = BEFORE ? ['bare', 'before', 'pagelab'] : ['bare', 'pagelab'];
    const runs: Record<string, ChildRun[]> = { bare: [], before: [], pagelab: [], idle: [] };
    child('bare', file); // warm the file cache
    for (let r = 0; r < rounds; r++) {
      for (const c of r % 2 === 0 ? cases : [...cases].reverse()) runs[c].push(child(c, file));
      process.stderr.write(`bench: replay round ${r + 1}/${rounds}\n`);
      runs.idle.push(child('idle', file));
    }
    if (runs.bare[0].result !== runs.pagelab[0].result) throw new Error(`bare and pagelab disagree: ${runs.bare[0].result} vs ${runs.pagelab[0].result} tags live`);
    const idle = median(runs.idle.map((x) => x.maxRssMiB));
    const stat = (c: string) => ({
      ms: median(runs[c].map((x) => x.ms)),
      cpu: median(runs[c].map((x) => x.cpuMs)),
      gc: median(runs[c].map((x) => x.gcMs)),
      rss: median(runs[c].map((x) => x.maxRssMiB)),
    });
    const bare = stat('bare');
    // Each pagelab run against the bare run beside it (same round).
    const pairRatio = (c: string, k: 'ms' | 'cpuMs') => median(runs[c].map((x, i) => x[k] / runs.bare[i][k]));
    const NAMES: Record<string, string> = {
      bare: 'bare reference (bench/bare-buddy.ts)',
      before: 'before: `pagelab replay FILE`, the build named by REPLAY_BENCH_BEFORE',
      pagelab: '`pagelab replay FILE` (read, parse, replay, report)',
    };
    const rows = cases.map((c) => {
      const s = stat(c);
      return [
        NAMES[c],
        s.ms.toFixed(0),
        s.cpu.toFixed(0),
        `${s.gc.toFixed(0)} (${((100 * s.gc) / s.ms).toFixed(0)}%)`,
        c === 'bare' ? '1' : `${pairRatio(c, 'ms').toFixed(2)} (CPU ${pairRatio(c, 'cpuMs').toFixed(2)})`,
        s.rss.toFixed(0),
        (s.rss - idle).toFixed(0),
        ((s.rss - idle) / (bare.rss - idle)).toFixed(2),
      ];
    });
    return [
      '## replay',
      `### Replay of an order-0 churn trace: 2.2 M operations (200 k allocs, then 1 M free+alloc pairs of random held tags), 4 GiB machine, ${(bytes / 2 ** 20).toFixed(1)} MiB of text`,
      markdownTable(['case', 'median wall ms', 'median CPU ms', 'GC ms', 'time / bare (median of per-round ratios)', 'peak RSS MiB', 'above idle node MiB', 'memory / bare (above idle)'], rows),
      `${rounds} rounds, each a fresh process per case, alternating which goes first; an idle process (modules loaded, nothing run) peaks at ${idle.toFixed(0)} MiB. Time runs from reading the file to the result; CPU time is user + system of the process over the same span, steadier than wall time on a loaded host.`,
    ].join('\n\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
