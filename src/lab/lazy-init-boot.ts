/**
 * Experiment lazy-init-boot: how much of a kernel's boot does page-structure
 * initialisation cost, and what does lazy initialisation (D40403) give back,
 * at every memory size.
 *
 * For each size the same Firecracker-shaped guest is booted in simulation
 * with vm.lazy_page_init 0 and 1 (the FreeBSD boot scenario of
 * freebsd-boot.ts); the published figures are set beside the model's, each
 * marked calibration or prediction (lazy-init-published.ts); pagelab's own
 * wall time for booting the machines is measured separately (wall.ts, never
 * mixed with simulated time); and the reviewers' questions are answered as
 * variants (lazy-init-variants.ts).
 */
import { PagelabError } from '../errors.js';
import { firecrackerMapForSize, presetMemoryMap } from '../machine/index.js';
import type { MemoryMap } from '../machine/types.js';
import { WORK_NAMES, Work, newWorkCounters, type WorkCounters } from '../vm/counters.js';
import { Vm } from '../vm/vm.js';
import { constantRows, type CostProfile } from '../sim/cost.js';
import { DEFAULT_FREEBSD_PROFILE, getProfile, linuxPadata2020 } from '../sim/profiles/index.js';
import { formatSize, parseSize } from '../util/units.js';
import { simulateBoot, deriveEager, EARLY_ALLOCATIONS, type BootSimResult, type DerivedEager, type SyntheticDrain } from './freebsd-boot.js';
import { freebsdComparisons, type PublishedComparison } from './lazy-init-published.js';
import { pageInitVariant, parallelDrainVariant, queueHeadVariant, type PageInitVariant, type ParallelDrainVariant, type QueueHeadsVariant } from './lazy-init-variants.js';
import type { Comparison, Summary } from '../stats/ministat.js';
import { DEFAULT_WALL_RUNS, measureWall } from './wall.js';

export type { PublishedComparison, Role } from './lazy-init-published.js';
export type { PageInitVariant, ParallelDrainVariant, QueueHeadsVariant, QueueHeadCase, LinuxMachineResult } from './lazy-init-variants.js';

const GiB = 2 ** 30;

export const DEFAULT_SIZES = ['128M', '1G', '64G', '1T'] as const;
/** At the default scale, sizes above this are not booted eagerly nor drained for real. */
export const DEFAULT_SCALE_ABOVE = 64 * GiB;
/** At the default scale, eager boots above this size are not timed (a 64 GiB eager boot takes over a second of host time). */
export const DEFAULT_WALL_EAGER_MAX = 1 * GiB;
export const DEFAULT_RUNS = DEFAULT_WALL_RUNS;

export interface LazyInitBootOptions {
  /** Memory sizes ("128M", "1T", or bytes); default DEFAULT_SIZES. */
  sizes?: ReadonlyArray<string | number>;
  /** Wall-time runs per size and mode; default 10. 0 skips the wall-time measurement. */
  runs?: number;
  /** FreeBSD calibration profile; default firecracker-amd64-2023. */
  profile?: string;
  /**
   * Sizes strictly above this many bytes are not booted eagerly nor drained
   * on a real Vm: their eager work is derived and their drain work scaled
   * (marked in the result). Default: 64 GiB when `sizes` is defaulted,
   * Infinity (everything real) when sizes are given.
   */
  scaleAbove?: number;
  /**
   * Eager boots of sizes strictly above this many bytes are not timed on the
   * host (lazy ones always are). Default: 1 GiB when `sizes` is defaulted,
   * `scaleAbove` when sizes are given.
   */
  wallEagerMax?: number;
  /** Run the reviewers' variants; default true. */
  variants?: boolean;
  /** Called as work progresses: steps done, steps in all, what is running. */
  onProgress?: (done: number, total: number, what: string) => void;
}

/** One boot in the results: the simulated figures, all times in simulated ns. */
/** One boot in the results: the simulated figures, all times in simulated ns. */
const SUMMARY_FIELDS = [
  'lazy',
  'bootNs',
  'vmPageStartupNs',
  'vmPageStartupShare',
  'earlyAllocNs',
  'smpAtNs',
  'allInitialisedAtNs',
  'pagesInitBootPath',
  'pagesInitDrain',
  'freePagesEnd',
  'bootThreadMaxWaitNs',
  'workBootPath',
  'workDrain',
  'workSource',
  'phases',
  'intervals',
  'threadNames',
] as const;
export type BootSummary = Pick<BootSimResult, (typeof SUMMARY_FIELDS)[number]>;

export interface SizeResult {
  size: string;
  bytes: number;
  machine: string;
  npages: number;
  /** True when eager work was derived and the drain scaled, rather than run on a Vm. */
  scaled: boolean;
  eager: BootSummary;
  lazy: BootSummary;
  /** eager.bootNs - lazy.bootNs */
  bootSavedNs: number;
}


export interface WallSample {
  size: string;
  machine: string;
  /** Milliseconds of host wall time per boot (new Vm: vm_phys_init + vm_page_startup), in the order taken; null when eager was not timed. */
  eagerMs: number[] | null;
  lazyMs: number[];
  eager: Summary | null;
  lazy: Summary | null;
  /** Samples outside Tukey's fences, shown, not dropped. */
  eagerOutliers: number[];
  lazyOutliers: number[];
  /** Student's t comparison, lazy against eager (ministat), when both have >= 2 runs. */
  comparison: Comparison | null;
  /** ministat's report, when each has >= 3 runs. */
  ministat: string | null;
  /** How the samples were taken (wall.ts). */
  method: string;
  note?: string;
}

export interface LazyInitBootResult {
  experiment: 'lazy-init-boot';
  schema: 2;
  /** The FreeBSD profile, and (with variants) the Linux one: every constant with its basis and source. */
  profile: { name: string; description: string; machine: string; constants: ReturnType<typeof constantRows> };
  linuxProfile: { name: string; description: string; machine: string; constants: ReturnType<typeof constantRows> } | null;
  options: { sizes: string[]; runs: number; scaleAbove: number | null; wallEagerMax: number | null; variants: boolean };
  earlyAllocations: typeof EARLY_ALLOCATIONS;
  sizes: SizeResult[];
  /** D40403's figures, and with variants every Gorman 2015 and Jordan 2020 point. */
  published: PublishedComparison[];
  wallTime: { unit: 'ms'; what: string; method: string; host: string; samples: WallSample[] };
  variants: null | { queueHeads: QueueHeadsVariant; pageInit: PageInitVariant; parallelDrain: ParallelDrainVariant };
}

/*
 * The guest for a size: a Firecracker-shaped map at every size (the
 * firecracker-128m and firecracker-1g presets, the D40403 machines, at
 * theirs), so that a sweep changes only the amount of RAM.
 */
export function machineForSize(bytes: number): MemoryMap {
  return firecrackerMapForSize(bytes, '--sizes');
}

/* Parse the sizes, naming the bad one and --sizes. Requires: at least one. */
export function parseSizes(sizes: ReadonlyArray<string | number>): number[] {
  if (sizes.length === 0) throw new PagelabError('EUSAGE', '--sizes: give at least one size, e.g. --sizes 128M,1G');
  return sizes.map((s) => {
    const b = parseSize(typeof s === 'string' ? s.trim() : s, '--sizes');
    machineForSize(b); // validates: ESIZE naming --sizes and the size when no machine can have it
    return b;
  });
}

function summary(r: BootSimResult): BootSummary {
  return Object.fromEntries(SUMMARY_FIELDS.map((k) => [k, r[k]])) as BootSummary;
}

/* Drain work per page drained, from a simulated lazy boot that drained a real Vm. */
function drainPerPage(r: BootSimResult): WorkCounters {
  const w = newWorkCounters();
  const pages = r.pagesInitDrain;
  for (let i = 0; i < Work.COUNT; i++) w[i] = pages > 0 ? r.workDrain[WORK_NAMES[i]] / pages : 0;
  return w;
}

/*
 * Runs the experiment.
 * Requires: valid options (bad sizes: ESIZE/EUSAGE naming --sizes; unknown profile: EUSAGE).
 * Guarantees: a plain JSON-able result. Everything but `wallTime` (and the
 * wall-time part of variants.pageInit) is deterministic: the same options
 * give the same numbers, bit for bit.
 */
export function runLazyInitBoot(opts: LazyInitBootOptions = {}): LazyInitBootResult {
  const profile: CostProfile = getProfile(opts.profile ?? DEFAULT_FREEBSD_PROFILE, 'freebsd');
  const sizesGiven = opts.sizes !== undefined;
  const sizeTexts = (opts.sizes ?? DEFAULT_SIZES).map((s) => (typeof s === 'number' ? formatSize(s) : s.trim()));
  const bytesList = parseSizes(opts.sizes ?? DEFAULT_SIZES);
  const runs = opts.runs ?? DEFAULT_RUNS;
  if (!Number.isInteger(runs) || runs < 0 || runs > 1000) throw new PagelabError('EUSAGE', `--runs: ${runs} is not an integer from 0 to 1000`);
  const scaleAbove = opts.scaleAbove ?? (sizesGiven ? Infinity : DEFAULT_SCALE_ABOVE);
  const wallEagerMax = opts.wallEagerMax ?? (sizesGiven ? scaleAbove : DEFAULT_WALL_EAGER_MAX);
  const doVariants = opts.variants ?? true;

  const order = bytesList.map((b, i) => ({ b, text: sizeTexts[i] })).sort((x, y) => x.b - y.b);
  const real = order.filter((s) => s.b <= scaleAbove);
  const scaled = order.filter((s) => s.b > scaleAbove);
  const totalSteps = order.length * 2 + 2 + order.length * (runs > 0 ? 1 : 0) + (doVariants ? 3 : 0);
  let done = 0;
  const progress = (what: string) => opts.onProgress?.(done++, totalSteps, what);

  const sim = (map: MemoryMap, lazy: boolean, extra: Partial<Parameters<typeof simulateBoot>[0]> = {}) =>
    simulateBoot({ profile, map, tunables: { 'vm.lazy_page_init': lazy ? 1 : 0 }, ...extra });

  // Calibration and prediction machines first: the published figures need them whatever the sizes.
  progress('calibration: firecracker-128m');
  const cal128 = sim(presetMemoryMap('firecracker-128m'), false);
  progress('prediction: firecracker-1g');
  const pred1g = sim(presetMemoryMap('firecracker-1g'), false);

  const results: SizeResult[] = [];
  let reference: { text: string; drain: SyntheticDrain; eagerEarly: WorkCounters } | undefined;
  for (const s of real) {
    const map = machineForSize(s.b);
    progress(`simulate ${s.text} eager`);
    const eager = sim(map, false);
    progress(`simulate ${s.text} lazy`);
    const lazy = sim(map, true);
    results.push(sizeResult(s.text, s.b, map, eager, lazy, false));
    reference = {
      text: s.text,
      drain: { workPerPage: drainPerPage(lazy), from: `scaled per page from the real drain of ${s.text} (${map.name})` },
      eagerEarly: Float64Array.from(WORK_NAMES, (n) => eager.workEarlyAlloc[n]),
    };
  }
  if (scaled.length > 0 && reference === undefined) {
    const lazy = sim(presetMemoryMap('firecracker-1g'), true);
    reference = {
      text: '1G',
      drain: { workPerPage: drainPerPage(lazy), from: 'scaled per page from the real drain of 1G (firecracker-1g)' },
      eagerEarly: Float64Array.from(WORK_NAMES, (n) => pred1g.workEarlyAlloc[n]),
    };
  }
  for (const s of scaled) {
    const ref = reference as NonNullable<typeof reference>;
    const map = machineForSize(s.b);
    progress(`simulate ${s.text} lazy (drain scaled)`);
    const lazy = sim(map, true, { syntheticDrain: ref.drain });
    progress(`simulate ${s.text} eager (derived)`);
    const lazyVm = new Vm(map, { 'vm.lazy_page_init': 1 });
    const derived: DerivedEager = deriveEager(lazyVm, 'fields', ref.eagerEarly, `derived: vm_page_startup from the lazy boot of ${map.name} (every page initialised), early allocations from the eager boot of ${ref.text}`);
    const eager = sim(map, false, { derivedEager: derived });
    results.push(sizeResult(s.text, s.b, map, eager, lazy, true));
  }

  const published = freebsdComparisons(cal128, pred1g);

  const wall: WallSample[] = [];
  if (runs > 0) {
    for (const s of order) {
      progress(`wall time ${s.text} (${runs} runs)`);
      wall.push(wallSample(s.text, s.b, runs, wallEagerMax, s.b > scaleAbove));
    }
  }

  let variants: LazyInitBootResult['variants'] = null;
  if (doVariants) {
    progress('variant: queue heads per allocation');
    const queueHeads = queueHeadVariant(profile);
    progress('variant: page init, fields vs bzero');
    const pageInit = pageInitVariant(profile, runs);
    progress('variant: parallel drain');
    const ref = reference ?? { drain: undefined as SyntheticDrain | undefined };
    const parallelDrain = parallelDrainVariant(profile, ref.drain);
    variants = { queueHeads, pageInit, parallelDrain };
    published.push(...parallelDrain.published);
  }
  opts.onProgress?.(totalSteps, totalSteps, 'done');

  return {
    experiment: 'lazy-init-boot',
    schema: 2,
    profile: profileDoc(profile),
    linuxProfile: doVariants ? profileDoc(linuxPadata2020) : null,
    options: {
      sizes: order.map((s) => s.text),
      runs,
      scaleAbove: Number.isFinite(scaleAbove) ? scaleAbove : null,
      wallEagerMax: Number.isFinite(wallEagerMax) ? wallEagerMax : null,
      variants: doVariants,
    },
    earlyAllocations: EARLY_ALLOCATIONS,
    sizes: results,
    published,
    wallTime: {
      unit: 'ms',
      what: 'host wall time of one `new Vm(map, tunables)` (vm_phys_init + vm_page_startup) in this Node process; not simulated time',
      method: wall[0]?.method ?? 'not measured (runs = 0)',
      host: `${process.platform} ${process.arch}, Node ${process.version}`,
      samples: wall,
    },
    variants,
  };
}
const profileDoc = (p: CostProfile) => ({ name: p.name, description: p.description, machine: p.machine, constants: constantRows(p) });

function sizeResult(text: string, bytes: number, map: MemoryMap, eager: BootSimResult, lazy: BootSimResult, scaled: boolean): SizeResult {
  return {
    size: text,
    bytes,
    machine: map.name,
    npages: lazy.npages,
    scaled,
    eager: summary(eager),
    lazy: summary(lazy),
    bootSavedNs: eager.bootNs - lazy.bootNs,
  };
}
/*
 * pagelab's own wall time for booting the machine of each size, eager and
 * lazy, interleaved in shuffled rounds (wall.ts). Eager boots above
 * `eagerMax` are not timed (scaled sizes need the host memory the scaling
 * exists to avoid; big real ones take seconds each).
 */
function wallSample(text: string, bytes: number, runs: number, eagerMax: number, scaled: boolean): WallSample {
  const map = machineForSize(bytes);
  const timeEager = bytes <= eagerMax && !scaled;
  const cases = [
    ...(timeEager ? [{ name: `${text} eager (ms)`, run: () => new Vm(map, { 'vm.lazy_page_init': 0 }) }] : []),
    { name: `${text} lazy (ms)`, run: () => new Vm(map, { 'vm.lazy_page_init': 1 }) },
  ];
  const m = measureWall(cases, runs, { seed: 40403 + bytes / 2 ** 20 });
  const eager = timeEager ? m.series[0] : null;
  const lazy = m.series[m.series.length - 1];
  const note = timeEager ? undefined : scaled ? 'eager boot not run at this size (scaled); --scale-above none runs it' : `eager boot not timed above ${formatSize(eagerMax)}; --wall-eager-max none times it`;
  return {
    size: text,
    machine: map.name,
    eagerMs: eager?.ms ?? null,
    lazyMs: lazy.ms,
    eager: eager?.summary ?? null,
    lazy: lazy.summary,
    eagerOutliers: eager?.outliers ?? [],
    lazyOutliers: lazy.outliers,
    comparison: timeEager ? m.comparison : null,
    ministat: m.ministat,
    method: m.method,
    ...(note === undefined ? {} : { note }),
  };
}
