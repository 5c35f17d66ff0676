/**
 * Experiment lazy-init-boot: how much of a kernel's boot does page-structure
 * initialisation cost, and what does lazy initialisation (D40403) give back,
 * at every memory size.
 *
 * For each size the same machine is booted in simulation with
 * vm.lazy_page_init 0 and 1; the seed's published figures are set beside the
 * model's, each marked calibration or prediction; pagelab's own wall time for
 * booting the machines is measured separately (never mixed with simulated
 * time); and the reviewers' questions are answered as variants.
 */
import { PagelabError } from '../errors.js';
import { memoryMapForSize, presetMemoryMap } from '../machine/index.js';
import type { MemoryMap } from '../machine/types.js';
import { WORK_NAMES, Work, newWorkCounters, workDelta, type WorkCounters } from '../vm/counters.js';
import { VM_FREEPOOL_DEFAULT, VM_FREEPOOL_DIRECT } from '../vm/param.js';
import { Vm } from '../vm/vm.js';
import { simulateBoot, deriveEager, EARLY_ALLOCATIONS, type BootSimResult, type DerivedEager, type SyntheticDrain } from '../sim/boot.js';
import { constantRows, priceWork, type CostProfile } from '../sim/cost.js';
import { GORMAN_2015, JORDAN_2020, simulateLinuxDeferredInit } from '../sim/linux.js';
import { DEFAULT_FREEBSD_PROFILE, getProfile, linuxPadata2020 } from '../sim/profiles/index.js';
import { seededRng } from '../util/rng.js';
import { formatSize, parseSize } from '../util/units.js';
import { compareSamples, renderMinistat, summarize, type Comparison, type Summary } from '../stats/ministat.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

export const DEFAULT_SIZES = ['128M', '1G', '64G', '1T'] as const;
/** At the default scale, sizes above this are not booted eagerly nor drained for real. */
export const DEFAULT_SCALE_ABOVE = 64 * GiB;
export const DEFAULT_RUNS = 5;

export interface LazyInitBootOptions {
  /** Memory sizes ("128M", "1T", or bytes); default DEFAULT_SIZES. */
  sizes?: ReadonlyArray<string | number>;
  /** Wall-time runs per size and mode; default 5. 0 skips the wall-time measurement. */
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
  /** Run the reviewers' variants; default true. */
  variants?: boolean;
  /** Called as work progresses: steps done, steps in all, what is running. */
  onProgress?: (done: number, total: number, what: string) => void;
}

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

export type Role = 'calibration' | 'prediction';

export interface PublishedComparison {
  figure: string;
  source: string;
  unit: 'ms' | '%' | 'threads/node-CPUs';
  published: number;
  model: number;
  /** (model - published) / published */
  relativeError: number;
  role: Role;
  note?: string;
}

export interface WallSample {
  size: string;
  machine: string;
  /** Milliseconds of host wall time per boot (new Vm: vm_phys_init + vm_page_startup). */
  eagerMs: number[] | null;
  lazyMs: number[];
  eager: Summary | null;
  lazy: Summary | null;
  /** Student's t comparison, lazy against eager (ministat), when both have >= 2 runs. */
  comparison: Comparison | null;
  /** ministat's report, when both have >= 3 runs. */
  ministat: string | null;
  note?: string;
}

export interface QueueHeadCase {
  name: string;
  defaultFreepool: number;
  allocations: number;
  headsVisited: number;
  headsPerAllocation: number;
  /** Allocations whose own pool was empty, so that the search went on to other pools. */
  fallbacks: number;
  headsPerFallback: number;
  /** Superpage-sized contiguous searches (allocContig, 512 pages, 2 MiB aligned) after the workload; null before the drain (allocContig drains first). */
  contigAttempts: number | null;
  headsPerContig: number | null;
  /** Priced queue-head visits per allocation under the profile, simulated ns. */
  headNsPerAllocation: number;
  /** All priced allocation and free work per operation, simulated ns. */
  workNsPerOp: number;
}

export interface QueueHeadsVariant {
  machine: string;
  operations: number;
  seed: number;
  cases: QueueHeadCase[];
  /** Extra heads per allocation of a drained kernel whose index stayed at LAZYINIT. */
  standingCostHeadsPerAllocation: number;
  answer: string;
}

export interface PageInitVariant {
  machine: string;
  /** Simulated vm_page_startup of an eager boot, ns, and (bzero - fields) / fields. */
  simulated: { fieldsNs: number; bzeroNs: number; relative: number };
  /** Host wall time of eager boots, ms (not simulated time). */
  wall: { fieldsMs: number[]; bzeroMs: number[]; comparison: Comparison | null; ministat: string | null } | null;
  answer: string;
}

export interface ParallelDrainVariant {
  freebsd: {
    machine: string;
    cpus: number;
    drainWorkFrom: string;
    cases: Array<{ threads: number; bootNs: number; allInitialisedAtNs: number; drainNs: number; bootThreadMaxWaitNs: number }>;
  };
  linux: {
    profile: string;
    calibration: { machine: string; perNodeNs: number[] };
    prediction: {
      machine: string;
      cases: Array<{ threadsPerNode: number; deferredInitNs: number; bootNs: number }>;
      flattensAtThreads: number;
      flattensAtFraction: number;
    };
  };
  answer: string;
}

export interface LazyInitBootResult {
  experiment: 'lazy-init-boot';
  schema: 1;
  profile: { name: string; description: string; machine: string; constants: ReturnType<typeof constantRows> };
  options: { sizes: string[]; runs: number; scaleAbove: number | null; variants: boolean };
  earlyAllocations: typeof EARLY_ALLOCATIONS;
  sizes: SizeResult[];
  published: PublishedComparison[];
  wallTime: { unit: 'ms'; what: string; host: string; samples: WallSample[] };
  variants: null | { queueHeads: QueueHeadsVariant; pageInit: PageInitVariant; parallelDrain: ParallelDrainVariant };
}

/*
 * The memory map for a size: the D40403 Firecracker presets for 128 MiB and
 * 1 GiB (the machines the published figures come from), a generic amd64 map
 * (memoryMapForSize) otherwise.
 */
export function machineForSize(bytes: number): MemoryMap {
  if (bytes === 128 * MiB) return presetMemoryMap('firecracker-128m');
  if (bytes === GiB) return presetMemoryMap('firecracker-1g');
  return memoryMapForSize(bytes);
}

/* Parse the sizes, naming the bad one. Requires: at least one. */
export function parseSizes(sizes: ReadonlyArray<string | number>): number[] {
  if (sizes.length === 0) throw new PagelabError('EUSAGE', '--sizes: give at least one size, e.g. --sizes 128M,1G');
  return sizes.map((s) => {
    const b = parseSize(typeof s === 'string' ? s.trim() : s, '--sizes');
    memoryMapForSize(b); // validates: ESIZE naming the size when no machine can have it
    return b;
  });
}

function summary(r: BootSimResult): BootSummary {
  return Object.fromEntries(SUMMARY_FIELDS.map((k) => [k, r[k]])) as BootSummary;
}

function wallMs(fn: () => unknown): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
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
 * Requires: valid options (bad sizes: ESIZE/EUSAGE; unknown profile: EUSAGE).
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

  const published = publishedComparisons(cal128, pred1g);

  const wall: WallSample[] = [];
  if (runs > 0) {
    for (const s of order) {
      progress(`wall time ${s.text} (${runs} runs)`);
      wall.push(measureWall(s.text, s.b, runs, s.b > scaleAbove));
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
  }
  opts.onProgress?.(totalSteps, totalSteps, 'done');

  return {
    experiment: 'lazy-init-boot',
    schema: 1,
    profile: { name: profile.name, description: profile.description, machine: profile.machine, constants: constantRows(profile) },
    options: { sizes: order.map((s) => s.text), runs, scaleAbove: Number.isFinite(scaleAbove) ? scaleAbove : null, variants: doVariants },
    earlyAllocations: EARLY_ALLOCATIONS,
    sizes: results,
    published,
    wallTime: {
      unit: 'ms',
      what: 'host wall time of one `new Vm(map, tunables)` (vm_phys_init + vm_page_startup) in this Node process; not simulated time',
      host: `${process.platform} ${process.arch}, Node ${process.version}`,
      samples: wall,
    },
    variants,
  };
}

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

const D40403_SRC = 'FreeBSD review D40403, summary (Firecracker, 2023)';

function cmp(figure: string, source: string, unit: PublishedComparison['unit'], published: number, model: number, role: Role, note?: string): PublishedComparison {
  return { figure, source, unit, published, model, relativeError: (model - published) / published, role, ...(note === undefined ? {} : { note }) };
}

/* The seed's figures beside the model's, each marked calibration or prediction. */
function publishedComparisons(cal128: BootSimResult, pred1g: BootSimResult): PublishedComparison[] {
  return [
    cmp('vm_page array setup, 128 MiB', D40403_SRC, 'ms', 3, cal128.vmPageStartupNs / 1e6, 'calibration', 'work.page_init fitted to it'),
    cmp('share of kernel boot, 128 MiB', D40403_SRC, '%', 9, cal128.vmPageStartupShare * 100, 'calibration', 'restOfBootNs fitted to it'),
    cmp('kernel boot, 128 MiB (3 ms / 9%)', D40403_SRC, 'ms', 3 / 0.09, cal128.bootNs / 1e6, 'calibration', 'implied by the two figures above'),
    cmp('vm_page array setup, 1 GiB', D40403_SRC, 'ms', 21.5, pred1g.vmPageStartupNs / 1e6, 'prediction'),
    cmp('share of kernel boot, 1 GiB', D40403_SRC, '%', 37, pred1g.vmPageStartupShare * 100, 'prediction'),
    cmp('kernel boot, 1 GiB (21.5 ms / 37%)', D40403_SRC, 'ms', 21.5 / 0.37, pred1g.bootNs / 1e6, 'prediction', 'implied by the two figures above'),
  ];
}

/*
 * pagelab's own wall time for booting the machine, eager and lazy,
 * interleaved. Eager boots of scaled sizes are skipped (they need the host
 * memory the scaling exists to avoid).
 */
function measureWall(text: string, bytes: number, runs: number, skipEager: boolean): WallSample {
  const map = machineForSize(bytes);
  const eagerMs: number[] = [];
  const lazyMs: number[] = [];
  // One untimed boot of each first: the first touches of fresh code and memory are not the boot's cost.
  if (!skipEager) wallMs(() => new Vm(map, { 'vm.lazy_page_init': 0 }));
  wallMs(() => new Vm(map, { 'vm.lazy_page_init': 1 }));
  for (let i = 0; i < runs; i++) {
    if (!skipEager) eagerMs.push(wallMs(() => new Vm(map, { 'vm.lazy_page_init': 0 })));
    lazyMs.push(wallMs(() => new Vm(map, { 'vm.lazy_page_init': 1 })));
  }
  const e = skipEager ? null : eagerMs;
  return {
    size: text,
    machine: map.name,
    eagerMs: e,
    lazyMs,
    eager: e !== null && e.length > 0 ? summarize(e) : null,
    lazy: lazyMs.length > 0 ? summarize(lazyMs) : null,
    comparison: e !== null && e.length >= 2 ? compareSamples(e, lazyMs) : null,
    ministat:
      e !== null && e.length >= 3
        ? renderMinistat(
            [
              { name: `${text} eager (ms)`, values: e },
              { name: `${text} lazy (ms)`, values: lazyMs },
            ],
            { width: 60 },
          )
        : null,
    ...(skipEager ? { note: 'eager boot not run at this size (scaled); pass --scale-above none to measure it' } : {}),
  };
}

/*
 * The reviewers' "perpetual run-time cost": the same seeded allocation
 * workload on four kernels, counting free-queue heads examined per allocation.
 */
export function queueHeadVariant(profile: CostProfile, preset = 'firecracker-1g', operations = 20000, seed = 40403): QueueHeadsVariant {
  const map = presetMemoryMap(preset);
  const cases: QueueHeadCase[] = [];
  const setups: Array<{ name: string; lazy: boolean; drain: boolean; indexMoves: boolean }> = [
    { name: 'lazy kernel, before the drain (index at LAZYINIT)', lazy: true, drain: false, indexMoves: true },
    { name: 'lazy kernel, drained, index left at LAZYINIT (D40403 first revision)', lazy: true, drain: true, indexMoves: false },
    { name: 'lazy kernel, drained, index moved past LAZYINIT (D40403 as revised)', lazy: true, drain: true, indexMoves: true },
    { name: 'eager kernel (no LAZYINIT pool)', lazy: false, drain: false, indexMoves: true },
  ];
  for (const s of setups) {
    const vm = new Vm(map, { 'vm.lazy_page_init': s.lazy ? 1 : 0, 'vm.lazy_index_moves': s.indexMoves ? 1 : 0 });
    const phys = vm.phys;
    if (s.drain) phys.lazyInit();
    const rnd = seededRng(seed);
    const live: Array<{ m: number; order: number; pool: number }> = [];
    const before = Float64Array.from(phys.work);
    let allocs = 0;
    let fallbacks = 0;
    let fallbackHeads = 0;
    for (let op = 0; op < operations; op++) {
      if (live.length === 0 || rnd() < 0.55) {
        const pool = rnd() < 0.5 ? VM_FREEPOOL_DIRECT : VM_FREEPOOL_DEFAULT;
        const r = rnd();
        const order = r < 0.6 ? 0 : r < 0.9 ? 1 + Math.floor(rnd() * 3) : 4 + Math.floor(rnd() * 6);
        const h0 = phys.work[Work.QueueHeadVisit];
        const m = phys.allocPages(0, pool, order);
        const heads = phys.work[Work.QueueHeadVisit] - h0;
        allocs++;
        // The own-pool search of the first free list looks at one head per
        // order from `order` up; more means it went on to other pools (or lists).
        if (heads > phys.nfreeorder - order) {
          fallbacks++;
          fallbackHeads += heads;
        }
        if (m >= 0) live.push({ m, order, pool });
      } else {
        const i = Math.floor(rnd() * live.length);
        const b = live[i];
        live[i] = live[live.length - 1];
        live.pop();
        phys.freePages(b.m, b.order, b.pool);
      }
    }
    const w = workDelta(phys.work, before);
    const heads = w[Work.QueueHeadVisit];
    const indexDuringWorkload = phys.defaultFreepool;
    let contig: number | null = null;
    let contigHeads: number | null = null;
    // allocContig drains the lazy pool first, so before the drain its cost
    // would be the drain's: that case reports null.
    if (!s.lazy || s.drain) {
      const c0 = phys.work[Work.QueueHeadVisit];
      contig = 200;
      for (let i = 0; i < contig; i++) {
        // A superpage reservation: 2 MiB, 2 MiB-aligned, below a limit that makes some attempts fail.
        const m = phys.allocContig(0, 512, 0, (64 + 4 * i) * MiB, 2 * MiB);
        if (m >= 0) phys.freeContig(m, 512);
      }
      contigHeads = (phys.work[Work.QueueHeadVisit] - c0) / contig;
    }
    cases.push({
      name: s.name,
      defaultFreepool: indexDuringWorkload,
      allocations: allocs,
      headsVisited: heads,
      headsPerAllocation: heads / allocs,
      fallbacks,
      headsPerFallback: fallbacks > 0 ? fallbackHeads / fallbacks : 0,
      contigAttempts: contig,
      headsPerContig: contigHeads,
      headNsPerAllocation: (heads * profile.work.queue_head_visit.value) / allocs,
      workNsPerOp: priceWork(profile, w) / operations,
    });
  }
  const standing = cases[1].headsPerAllocation - cases[2].headsPerAllocation;
  const hv = profile.work.queue_head_visit.value;
  const f = (x: number | null) => (x === null ? '-' : x.toFixed(2));
  const answer =
    `Drained, with the search index left at LAZYINIT, an allocation that falls back to another pool visits ${f(cases[1].headsPerFallback)} queue heads against ${f(cases[2].headsPerFallback)} once the index moves past LAZYINIT, ` +
    `and a superpage-sized contiguous search visits ${f(cases[1].headsPerContig)} heads with the index left at LAZYINIT against ${f(cases[2].headsPerContig)} on the revised kernel (eager: ${f(cases[3].headsPerContig)}); ` +
    `averaged over all ${cases[1].allocations} allocations of the workload (${cases[1].fallbacks} fell back) that is ${standing.toFixed(4)} heads (${(standing * hv).toFixed(3)} ns at ${hv} ns/head) per allocation. ` +
    `With the index moved, a drained lazy kernel visits ${cases[2].headsPerAllocation === cases[3].headsPerAllocation ? 'exactly as many heads as' : `${cases[2].headsPerAllocation.toFixed(3)} heads per allocation against ${cases[3].headsPerAllocation.toFixed(3)} for`} an eager kernel.`;
  return { machine: map.name, operations, seed, cases, standingCostHeadsPerAllocation: standing, answer };
}

/* Field-by-field initialisation against zero-fill-then-set: model and host wall time. */
export function pageInitVariant(profile: CostProfile, runs: number, preset = 'firecracker-1g'): PageInitVariant {
  const map = presetMemoryMap(preset);
  const fields = simulateBoot({ profile, map, tunables: { 'vm.lazy_page_init': 0, 'vm.page_init': 'fields' } });
  const bzero = simulateBoot({ profile, map, tunables: { 'vm.lazy_page_init': 0, 'vm.page_init': 'bzero' } });
  let wall: PageInitVariant['wall'] = null;
  if (runs > 0) {
    const f: number[] = [];
    const b: number[] = [];
    wallMs(() => new Vm(map, { 'vm.lazy_page_init': 0, 'vm.page_init': 'fields' }));
    wallMs(() => new Vm(map, { 'vm.lazy_page_init': 0, 'vm.page_init': 'bzero' }));
    for (let i = 0; i < runs; i++) {
      f.push(wallMs(() => new Vm(map, { 'vm.lazy_page_init': 0, 'vm.page_init': 'fields' })));
      b.push(wallMs(() => new Vm(map, { 'vm.lazy_page_init': 0, 'vm.page_init': 'bzero' })));
    }
    wall = {
      fieldsMs: f,
      bzeroMs: b,
      comparison: runs >= 2 ? compareSamples(f, b) : null,
      ministat:
        runs >= 3
          ? renderMinistat(
              [
                { name: 'eager boot, page_init=fields (ms)', values: f },
                { name: 'eager boot, page_init=bzero (ms)', values: b },
              ],
              { width: 60 },
            )
          : null,
    };
  }
  const rel = (bzero.vmPageStartupNs - fields.vmPageStartupNs) / fields.vmPageStartupNs;
  const wallText =
    wall === null || wall.comparison === null
      ? 'not measured'
      : wall.comparison.significant
        ? `pagelab's own SoA page array: bzero-then-set boots ${wall.comparison.percent.toFixed(1)}% ± ${wall.comparison.percentHalfWidth.toFixed(1)}% ${wall.comparison.difference < 0 ? 'faster' : 'slower'} than field-by-field (ministat, 95%)`
        : `pagelab's own SoA page array: no difference proven at 95% between bzero-then-set and field-by-field`;
  const answer =
    `Model: bzero-then-set changes vm_page_startup at ${map.name} by ${(rel * 100).toFixed(1)}% ` +
    `(assumed store costs ${profile.params.pageFieldStoresNs.value} → ${profile.params.pageBzeroSetNs.value} ns/page; the first touch of the page array, which dominates, is unchanged). Measured: ${wallText}.`;
  return { machine: map.name, simulated: { fieldsNs: fields.vmPageStartupNs, bzeroNs: bzero.vmPageStartupNs, relative: rel }, wall, answer };
}

/* Several drain threads against one: FreeBSD model, and Linux padata (calibrated on Gorman, predicting Jordan). */
export function parallelDrainVariant(profile: CostProfile, drain: SyntheticDrain | undefined, bytes = 64 * GiB, cpus = 8): ParallelDrainVariant {
  const map = machineForSize(bytes);
  const fb = [];
  for (const threads of [1, 2, 4, 8].filter((t) => t <= cpus)) {
    const r = simulateBoot({ profile, map, cpus, drainThreads: threads, tunables: { 'vm.lazy_page_init': 1 }, ...(drain === undefined ? {} : { syntheticDrain: drain }) });
    fb.push({ threads, bootNs: r.bootNs, allInitialisedAtNs: r.allInitialisedAtNs, drainNs: r.allInitialisedAtNs - r.smpAtNs, bootThreadMaxWaitNs: r.bootThreadMaxWaitNs });
  }
  const lp = linuxPadata2020;
  const gorman = simulateLinuxDeferredInit(lp, GORMAN_2015, 1);
  const cases = [1, 2, 4, 6, 8, 13, 19, 26, 39, 52].map((t) => {
    const r = simulateLinuxDeferredInit(lp, JORDAN_2020, t);
    return { threadsPerNode: t, deferredInitNs: r.deferredInitNs, bootNs: r.bootNs };
  });
  const best = Math.min(...cases.map((c) => c.deferredInitNs));
  const one = cases[0].deferredInitNs;
  // Flattening: the fewest threads that get 90% of the best speed-up.
  const knee = cases.find((c) => one / c.deferredInitNs >= 0.9 * (one / best)) ?? cases[cases.length - 1];
  const answer =
    `FreeBSD model (${map.name}, ${cpus} vCPUs): the drain takes ${(fb[0].drainNs / 1e6).toFixed(1)} ms with one idle thread and ` +
    `${(fb[fb.length - 1].drainNs / 1e6).toFixed(1)} ms with ${fb[fb.length - 1].threads}; kernel boot time does not change (${(fb[0].bootNs / 1e6).toFixed(2)} ms), because the drain is off the boot path. ` +
    `Linux (on the boot path): ${(one / 1e6).toFixed(0)} ms with one thread per node, ${(cases[cases.length - 1].deferredInitNs / 1e6).toFixed(0)} ms with 52; gains flatten at ${knee.threadsPerNode} threads per node (${((knee.threadsPerNode / JORDAN_2020.cpusPerNode) * 100).toFixed(0)}% of a node's CPUs), where the node's memory bandwidth saturates.`;
  return {
    freebsd: { machine: map.name, cpus, drainWorkFrom: drain?.from ?? 'vm', cases: fb },
    linux: {
      profile: lp.name,
      calibration: { machine: GORMAN_2015.name, perNodeNs: gorman.perNodeNs },
      prediction: { machine: JORDAN_2020.name, cases, flattensAtThreads: knee.threadsPerNode, flattensAtFraction: knee.threadsPerNode / JORDAN_2020.cpusPerNode },
    },
    answer,
  };
}

/* The Linux figures beside the model's, for the report. */
export function linuxComparisons(v: ParallelDrainVariant): PublishedComparison[] {
  const g = v.linux.calibration.perNodeNs;
  const gMean = g.reduce((a, b) => a + b, 0) / g.length;
  const c1 = v.linux.prediction.cases[0];
  const c52 = v.linux.prediction.cases[v.linux.prediction.cases.length - 1];
  const J = 'Jordan 2020, padata deferred init series (2 nodes x 52 CPUs, 768 GiB)';
  return [
    cmp('deferred init per node, 1 TB / 4 nodes, 1 thread/node', 'Gorman 2015, parallel struct page init v4 (mean of 1116/1140/1148/1148 ms)', 'ms', 1138, gMean / 1e6, 'calibration', 'linux page_init fitted to it'),
    cmp('deferred init, 1 thread/node', J, 'ms', 1786, c1.deferredInitNs / 1e6, 'prediction'),
    cmp('deferred init, 52 threads/node', J, 'ms', 138, c52.deferredInitNs / 1e6, 'prediction', 'bandwidth limit from the DDR4 spec, not fitted'),
    cmp('kernel boot, 1 thread/node', J, 'ms', 4090, c1.bootNs / 1e6, 'calibration', 'rest of boot fitted to this figure; only its deferred-init part is predicted'),
    cmp('kernel boot, 52 threads/node', J, 'ms', 2444, c52.bootNs / 1e6, 'prediction', 'rest of boot calibrated on the 1-thread boot'),
    cmp('gains flatten at (fraction of a node\'s CPUs)', J, 'threads/node-CPUs', 0.25, v.linux.prediction.flattensAtFraction, 'prediction', '"about a quarter"; model: fewest threads reaching 90% of the best speed-up'),
  ];
}
