/**
 * Benchmark harness: seeded, side-by-side, medians.
 *
 * Each case is a function that performs `ops` operations and returns a number
 * that is folded into `sink`, so the optimiser cannot remove the work. Cases
 * compared in one table are run interleaved (A B A B ...) so that drift in the
 * machine's state affects them alike.
 */
import os from 'node:os';

let sinkValue = 0;
/** Fold a result into the global sink (defeats dead-code elimination). */
export function sink(x: number): void {
  sinkValue = (sinkValue + (x | 0)) | 0;
}
export function sinkResult(): number {
  return sinkValue;
}

export interface BenchCase {
  name: string;
  /** Runs once; returns the number of operations it performed. */
  run: () => number;
  /** Optional set-up before each run, not timed. */
  setup?: () => void;
}

export interface BenchResult {
  name: string;
  runs: number;
  opsPerRun: number;
  medianNs: number; // median wall time of one run
  nsPerOp: number; // median ns per operation
  opsPerSec: number;
  samplesNs: number[];
}

/** Deterministic PRNG (mulberry32) for benchmarks. */
export { seededRng as rng } from '../src/util/rng.js';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Runs the cases interleaved, `runs` times each after `warmup` untimed rounds. */
export function compare(cases: BenchCase[], runs = 7, warmup = 2): BenchResult[] {
  const samples: number[][] = cases.map(() => []);
  const ops: number[] = cases.map(() => 0);
  for (let r = 0; r < warmup + runs; r++) {
    for (let c = 0; c < cases.length; c++) {
      cases[c].setup?.();
      const t0 = process.hrtime.bigint();
      const n = cases[c].run();
      const dt = Number(process.hrtime.bigint() - t0);
      if (r >= warmup) {
        samples[c].push(dt);
        ops[c] = n;
      }
    }
  }
  return cases.map((c, i) => {
    const med = median(samples[i]);
    return {
      name: c.name,
      runs,
      opsPerRun: ops[i],
      medianNs: med,
      nsPerOp: med / Math.max(1, ops[i]),
      opsPerSec: (ops[i] * 1e9) / med,
      samplesNs: samples[i],
    };
  });
}

export function machineDescription(): string {
  const cpus = os.cpus();
  const model = cpus.length > 0 ? cpus[0].model.trim() : 'unknown CPU';
  return `${model}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
}

/** Formats results as a Markdown table. */
export function markdownTable(headers: string[], rows: (string | number)[][]): string {
  const lines = [`| ${headers.join(' | ')} |`, `| ${headers.map(() => '---').join(' | ')} |`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

export function fmtRate(perSec: number): string {
  if (perSec >= 1e9) return `${(perSec / 1e9).toFixed(2)} G/s`;
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)} M/s`;
  if (perSec >= 1e3) return `${(perSec / 1e3).toFixed(2)} k/s`;
  return `${perSec.toFixed(1)} /s`;
}
