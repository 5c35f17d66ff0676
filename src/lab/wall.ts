/**
 * pagelab's own wall time: the one way the lab measures the host, so that
 * every experiment's measured numbers are taken and shown alike.
 *
 * Cases are run in rounds; each round runs every case once, in an order
 * shuffled by a seeded PRNG (so no case always runs first, or always after
 * the same neighbour); every case is run untimed first (warm-up: the first
 * calls compile code and touch fresh memory); a full garbage collection runs
 * before every timed call, so one case's garbage (page arrays of hundreds of
 * MiB) is not collected inside another's timing. The samples are kept whole
 * and in the order taken, and the outliers (outside Tukey's fences) are
 * listed, never dropped. Wall time is never mixed with simulated time.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { seededRng } from '../util/rng.js';
import { compareSamples, renderMinistat, summarize, type Comparison, type Summary } from '../stats/ministat.js';

export interface WallCase {
  /** Names the sample in tables and ministat's legend, e.g. "1G eager (ms)". */
  name: string;
  run: () => unknown;
  /** Untimed, before every run of the case (warm-up included), before its GC: a fresh state for run(). */
  setup?: () => void;
  /** Untimed tear-down after every run of this case (warm-up included). */
  after?: () => void;
}

export interface WallSeries {
  name: string;
  /** Milliseconds of host wall time, one per timed run, in the order taken. */
  ms: number[];
  summary: Summary | null;
  /** Samples outside Tukey's fences (quartiles ∓ 1.5 × IQR), in the order taken. */
  outliers: number[];
}

export interface WallMeasurement {
  /** How the samples were taken (rounds, order, warm-up, GC), for the report. */
  method: string;
  series: WallSeries[];
  /** ministat's Student's t: the second series against the first (>= 2 runs each), else null. */
  comparison: Comparison | null;
  /** ministat's report of all series (>= 3 runs each), else null. */
  ministat: string | null;
}

/** At least this many timed runs per case by default (issue 8: >= 10). */
export const DEFAULT_WALL_RUNS = 10;

let collect: (() => void) | null | undefined;

/*
 * A full garbage collection, or null when this Node cannot give one.
 * `node --expose-gc` provides global gc(); otherwise the flag is set at run
 * time and gc() is taken from a fresh context (the flag only affects
 * contexts created after it is set).
 */
function gcFunction(): (() => void) | null {
  if (collect !== undefined) return collect;
  const g = (globalThis as { gc?: () => void }).gc;
  if (typeof g === 'function') return (collect = g);
  try {
    v8.setFlagsFromString('--expose-gc');
    const f = vm.runInNewContext('gc') as unknown;
    collect = typeof f === 'function' ? (f as () => void) : null;
  } catch {
    collect = null;
  }
  return collect;
}

/* Samples of `values` outside Tukey's fences, in their original order. Requires >= 4 values, else none. */
export function tukeyOutliers(values: readonly number[]): number[] {
  if (values.length < 4) return [];
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number) => {
    const i = (s.length - 1) * p;
    const lo = Math.floor(i);
    return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo);
  };
  const q1 = q(0.25);
  const q3 = q(0.75);
  const k = 1.5 * (q3 - q1);
  return values.filter((v) => v < q1 - k || v > q3 + k);
}

function wallMs(fn: () => unknown): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

export interface WallOptions {
  /** Seed of the round order; default 8. */
  seed?: number;
  /** Force a full GC before every run; default true. */
  gc?: boolean;
}

/*
 * Time every case `runs` times, interleaved in shuffled rounds.
 * Requires: runs an integer >= 0; at least one case.
 * Guarantees: series[i].ms.length === runs for every case; the comparison
 * and ministat when the sample sizes allow them (see WallMeasurement).
 */
export function measureWall(cases: readonly WallCase[], runs: number, options: WallOptions = {}): WallMeasurement {
  const seed = options.seed ?? 8;
  const gc = options.gc === false ? null : gcFunction();
  const ms: number[][] = cases.map(() => []);
  const rnd = seededRng(seed);
  const order = cases.map((_, i) => i);
  if (runs > 0) {
    for (const c of cases) {
      c.setup?.();
      gc?.();
      wallMs(c.run);
      c.after?.();
    }
  }
  for (let r = 0; r < runs; r++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const i of order) {
      cases[i].setup?.();
      gc?.();
      ms[i].push(wallMs(cases[i].run));
      cases[i].after?.();
    }
  }
  gc?.();
  const series = cases.map((c, i) => ({ name: c.name, ms: ms[i], summary: ms[i].length > 0 ? summarize(ms[i]) : null, outliers: tukeyOutliers(ms[i]) }));
  return {
    method: `${runs} timed runs per case after one untimed warm-up run each; cases in a shuffled order every round (seed ${seed}); ${gc !== null ? 'a full GC before every run' : options.gc === false ? 'no forced GC' : 'no forced GC (unavailable)'}`,
    series,
    comparison: cases.length >= 2 && runs >= 2 ? compareSamples(ms[0], ms[1]) : null,
    ministat: runs >= 3 ? renderMinistat(series.map((s) => ({ name: s.name, values: s.ms })), { width: 60 }) : null,
  };
}
