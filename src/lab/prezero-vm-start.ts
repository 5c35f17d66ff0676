/**
 * Experiment prezero-vm-start: the pre-zeroing policies of vm.zero.policy on
 * one workload, the guest memory pin of seed 003 (the PG_zero RFC): a host
 * whose free memory a previous guest left dirty sits idle for a while, then
 * a 64 GiB guest starts and all its memory is allocated, zeroed where it is
 * not PG_ZERO, and pinned.
 *
 * Three parts, never mixed:
 *   - model: the workload runs on a Vm (unbacked, 1/scale of the size; its
 *     work counts are scaled back up) under each policy, and src/sim prices
 *     it with the linux-pgzero-2020 profile; the seed's twelve figures sit
 *     beside the model, each marked calibration or prediction;
 *   - measured: the same workload, scaled to fit this host, run for real
 *     (backed memory, zeroing through the engine), pagelab's wall time per
 *     policy, runs interleaved, compared with ministat;
 *   - cache warmth: the time to first write a page zeroed just now on the
 *     allocation path against one zeroed long ago.
 */
import { PagelabError } from '../errors.js';
import { BackingStore } from '../machine/backing.js';
import { memoryMapForSize } from '../machine/index.js';
import type { MemoryMap } from '../machine/types.js';
import { constantRows, param, type CostProfile } from '../sim/cost.js';
import { PGZERO_ALLOC_WORK_NS, PGZERO_PUBLISHED } from '../sim/profiles/linux-pgzero-2020.js';
import { getProfile } from '../sim/profiles/index.js';
import { simulateVmStart, zeroingRate, type VmStartSim } from '../sim/vmstart.js';
import { compareSamples, renderMinistat, summarize, type Comparison, type Summary } from '../stats/ministat.js';
import { measureWall, type WallCase } from './wall.js';
import { formatSize, parseSize } from '../util/units.js';
import { Work, newWorkCounters, workDelta, type WorkCounters } from '../vm/counters.js';
import { PAGE_SIZE } from '../vm/param.js';
import { Vm } from '../vm/vm.js';
import type { ZeroPolicy, ZeroPolicyName, ZeroPolicyStats } from '../vm/zeropolicy.js';

const MiB = 2 ** 20;
const THP_ORDER = 9;
/** Linux x86's MAX_ORDER of 2020: orders 0..10. */
const LINUX_NFREEORDER = 11;
/** The idle window advances in slices of this much simulated time (the background line's resolution). */
const SLICE_NS = 250e6;

export const DEFAULT_SCALE = 32;
export const DEFAULT_MEASURED_GUEST = '16M';
export const DEFAULT_MEASURED_HOST = '32M';
export const DEFAULT_PREZERO_RUNS = 10;

export interface PolicyCase {
  name: string;
  policy: ZeroPolicyName;
  threads: number;
  /** A hugepool as large as the guest. */
  hugepool: boolean;
}

/** The configurations compared. */
export const POLICY_CASES: readonly PolicyCase[] = [
  { name: 'alloc', policy: 'alloc', threads: 1, hugepool: false },
  { name: 'idle', policy: 'idle', threads: 1, hugepool: false },
  { name: 'free', policy: 'free', threads: 1, hugepool: false },
  { name: 'report', policy: 'report', threads: 1, hugepool: false },
  { name: 'report, 4 threads', policy: 'report', threads: 4, hugepool: false },
  { name: 'alloc + hugepool', policy: 'alloc', threads: 1, hugepool: true },
];

export type PageSize = '4k' | 'thp';
export const PAGE_SIZES: readonly PageSize[] = ['4k', 'thp'];

export interface PrezeroOptions {
  /** The model's Vm runs at 1/scale of the guest and host (default 16; 1 runs them full size). */
  scale?: number;
  /** Simulated idle time before the start, ms (default: the profile's idleBeforeStartNs). */
  idleMs?: number;
  /** Measured runs per policy and page size (default 10; 0 skips the measured part). */
  runs?: number;
  /** The measured guest and host (backed memory on this machine). */
  guest?: string;
  host?: string;
  onProgress?: (done: number, total: number, what: string) => void;
}

export interface PolicyCounters {
  /** Bytes zeroed on the start's allocation path. */
  allocPathBytes: number;
  /** Bytes zeroed off it: by the previous guest's frees (free) and in the background (idle window, hugepool fill). */
  freePathBytes: number;
  backgroundBytes: number;
  /** Pages of the start that skipped zeroing. */
  skippedPages: number;
  /** Bytes of pre-zeroed pages handed to allocations that did not want them (the page cache after the start). */
  wastedBytes: number;
  reportPasses: number;
  reportedBlocks: number;
  reReportedBlocks: number;
  reportedLost: number;
}

export interface ModelCase {
  policy: string;
  pageSize: PageSize;
  /** Simulated guest start, ns, and where it went. */
  startNs: number;
  breakdown: VmStartSim['breakdown'];
  /** CPU time of the background threads in the idle window, simulated ns. */
  backgroundCpuNs: number;
  /** The previous guest's frees, zeroing included (free policy), simulated ns. */
  freePathNs: number;
  /** First writes of the pre-zeroed pages by a workload that writes at once: pages x coldPageWriteNs. */
  coldWriteNs: number;
  counters: PolicyCounters;
  /** Cumulative background bytes (full scale) against simulated time in the idle window, ms. */
  backgroundSeries: Array<{ ms: number; bytes: number }>;
  phases: VmStartSim['phases'];
  intervals: VmStartSim['intervals'];
  threadNames: VmStartSim['threadNames'];
}

export interface PublishedPoint {
  figure: string;
  published: number;
  model: number;
  relativeError: number;
  role: 'calibration' | 'prediction';
  /** A prediction off by more than 25%. */
  miss: boolean;
}

export interface MeasuredCase {
  policy: string;
  pageSize: PageSize;
  /** Host wall ms of the start (allocate, zero, pin) per run. */
  startMs: number[];
  /** Host wall ms of the background zeroing in the idle window, and of the previous guest's frees. */
  backgroundMs: number[];
  freePathMs: number[];
  start: Summary;
  /** Against `alloc` of the same page size (ministat, 95%); null for alloc itself. */
  vsAlloc: Comparison | null;
  counters: PolicyCounters;
}

export interface CacheWarmth {
  regionBytes: number;
  /** Per run, ns per 4 KiB page: zeroed on the allocation path then written at once; zeroing alone; written long after zeroing. */
  zeroThenWriteNs: number[];
  zeroOnlyNs: number[];
  coldWriteNs: number[];
  /** The first write of a page just zeroed (timed apart from its zeroing). */
  hotWriteNs: number[];
  comparison: Comparison | null;
  ministat: string | null;
}

export interface PrezeroResult {
  experiment: 'prezero-vm-start';
  schema: 1;
  profile: { name: string; description: string; machine: string; constants: ReturnType<typeof constantRows> };
  options: { scale: number; idleMs: number; runs: number; guest: string; host: string };
  model: {
    guestBytes: number;
    hostBytes: number;
    cases: ModelCase[];
    /** The priced allocation work of the alloc policy's start, beside the value the profile's calibration used. */
    allocWorkNs: { page4k: number; thp: number; profile4k: number; profileThp: number };
  };
  published: PublishedPoint[];
  measured: null | { host: string; method: string; guestBytes: number; hostBytes: number; cases: MeasuredCase[]; ministat: Record<string, string> };
  cacheWarmth: CacheWarmth | null;
  answer: string;
}

// ---------------------------------------------------------------- the workload

interface WorkloadRun {
  vm: Vm;
  s0: ZeroPolicyStats;
  s1: ZeroPolicyStats;
  s2: ZeroPolicyStats;
  s3: ZeroPolicyStats;
  startWork: WorkCounters;
  series: Array<{ ns: number; bytes: number }>;
  /** Wall ms of the timed phases (meaningful on a backed Vm). */
  startMs: number;
  backgroundMs: number;
  freePathMs: number;
}

const now = () => performance.now();

/* A workload up to the guest's start: the Vm, its history and idle window done. */
interface Prepared {
  vm: Vm;
  s0: ZeroPolicyStats;
  s1: ZeroPolicyStats;
  series: Array<{ ns: number; bytes: number }>;
  backgroundMs: number;
  freePathMs: number;
  order: number;
  n: number;
  name: string;
}

/*
 * The workload up to the start, on a fresh Vm of the map: the previous
 * guest's memory (all free memory, in 2 MiB blocks) is allocated, dirtied
 * when backed, and freed; the background policy gets `idleNs` in slices,
 * each with the page budget `slicePages`.
 */
function prepareWorkload(c: PolicyCase, pageSize: PageSize, map: MemoryMap, guestBytes: number, idleNs: number, slicePages: number, backing: BackingStore | null, sliceNs = SLICE_NS): Prepared {
  const backed = backing !== null;
  const vm = new Vm(
    map,
    {
      'vm.backed': backed ? 1 : 0,
      'vm.lazy_page_init': 0,
      'vm.nfreeorder': LINUX_NFREEORDER,
      'vm.zero.policy': c.policy,
      'vm.zero.threads': c.threads,
      'vm.zero.hugepool': c.hugepool ? guestBytes : 0,
      // The engine zeroes inline, on this thread: engine workers would be started anew for every
      // run, and their start-up (tens of ms each on a busy host) would be most of the background
      // time. vm.zero.threads still sets the model's budget; measured, it changes nothing.
      'vm.zero.workers': 0,
    },
    backing === null ? {} : { backing },
  );
  const zp: ZeroPolicy = vm.zeroPolicy;
  const phys = vm.phys;
  const blockBytes = PAGE_SIZE << THP_ORDER;
  const held: number[] = [];
  for (;;) {
    const m = zp.alloc(0, THP_ORDER, false);
    if (m < 0) break;
    if (backed) vm.backing!.fillPattern(phys.pageToPa(m), blockBytes, 0x9e3779b1 ^ m);
    held.push(m);
  }
  let t = now();
  for (const m of held) zp.free(m, THP_ORDER);
  const freePathMs = now() - t;
  const s0 = zp.stats();
  const series: Array<{ ns: number; bytes: number }> = [{ ns: 0, bytes: 0 }];
  t = now();
  for (let ns = 0; ns < idleNs; ns += sliceNs) {
    const dt = Math.min(sliceNs, idleNs - ns);
    zp.idle(dt, Math.floor((slicePages * dt) / sliceNs));
    series.push({ ns: ns + dt, bytes: zp.stats().backgroundBytes - s0.backgroundBytes });
  }
  const backgroundMs = now() - t;
  const order = pageSize === '4k' ? 0 : THP_ORDER;
  return { vm, s0, s1: zp.stats(), series, backgroundMs, freePathMs, order, n: guestBytes / (PAGE_SIZE << order), name: c.name };
}

/* The guest's start: allocate zeroed and pin (wire) every page or block of the guest. The part that is timed. */
function startGuest(p: Prepared): void {
  const zp = p.vm.zeroPolicy;
  const wire = p.vm.phys.pages.wire;
  for (let i = 0; i < p.n; i++) {
    const m = zp.alloc(0, p.order, true);
    if (m < 0) throw new PagelabError('ENOSPC', `prezero-vm-start: the host ran out of memory after ${i} of ${p.n} guest allocations (${p.name})`);
    wire[m]++;
  }
}

/* After the start: a page cache fills a quarter of what is left, not asking for zero (the wasted pre-zeroing). */
function finishWorkload(p: Prepared, w1: Float64Array, startMs: number): WorkloadRun {
  const zp = p.vm.zeroPolicy;
  const phys = p.vm.phys;
  const startWork = workDelta(phys.work, w1);
  const s2 = zp.stats();
  const cachePages = Math.floor(phys.totalFree() / 4);
  for (let i = 0; i < cachePages; i++) if (zp.alloc(0, 0, false) < 0) break;
  return { vm: p.vm, s0: p.s0, s1: p.s1, s2, s3: zp.stats(), startWork, series: p.series, startMs, backgroundMs: p.backgroundMs, freePathMs: p.freePathMs };
}

/* The whole workload on an unbacked Vm, for the model. */
function runWorkload(c: PolicyCase, pageSize: PageSize, map: MemoryMap, guestBytes: number, idleNs: number, slicePages: number): WorkloadRun {
  const p = prepareWorkload(c, pageSize, map, guestBytes, idleNs, slicePages, null);
  const w1 = Float64Array.from(p.vm.phys.work);
  const t = now();
  startGuest(p);
  return finishWorkload(p, w1, now() - t);
}

function counters(r: WorkloadRun, scale: number): PolicyCounters {
  const { s0, s1, s2, s3 } = r;
  return {
    allocPathBytes: (s2.allocPathBytes - s1.allocPathBytes) * scale,
    freePathBytes: s0.freePathBytes * scale,
    backgroundBytes: (s1.backgroundBytes - s0.backgroundBytes + s0.hugepoolFillBytes) * scale,
    skippedPages: (s2.skippedPages - s1.skippedPages) * scale,
    wastedBytes: (s3.wastedBytes - s2.wastedBytes) * scale,
    reportPasses: s1.reportPasses,
    reportedBlocks: s1.reportedBlocks * scale,
    reReportedBlocks: s1.reReportedBlocks * scale,
    reportedLost: (s3.reportedLost - s0.reportedLost) * scale,
  };
}

// ---------------------------------------------------------------- the model

function modelCase(profile: CostProfile, c: PolicyCase, pageSize: PageSize, scale: number, idleNs: number): { mc: ModelCase; allocWorkNs: number } {
  const guestBytes = param(profile, 'guestBytes') / scale;
  const hostBytes = param(profile, 'hostBytes') / scale;
  const map = memoryMapForSize(hostBytes);
  // The budget of one slice: the policy's threads at their share of the bandwidth, scaled down with the machine.
  const slicePages = Math.floor((zeroingRate(profile, c.threads) * c.threads * SLICE_NS) / PAGE_SIZE / scale);
  const r = runWorkload(c, pageSize, map, guestBytes, idleNs, slicePages);
  const cnt = counters(r, scale);
  const startWork = newWorkCounters();
  for (let i = 0; i < Work.COUNT; i++) startWork[i] = r.startWork[i] * scale;
  const pins = param(profile, 'guestBytes') / (pageSize === '4k' ? PAGE_SIZE : PAGE_SIZE << THP_ORDER);
  const sim = simulateVmStart(profile, { startWork, pins, pageSize, backgroundBytes: cnt.backgroundBytes - (r.s0.hugepoolFillBytes * scale), threads: c.threads }, idleNs);
  const zeroNsPerByte = 1 / param(profile, 'zeroBytesPerNs');
  return {
    mc: {
      policy: c.name,
      pageSize,
      startNs: sim.startNs,
      breakdown: sim.breakdown,
      backgroundCpuNs: sim.backgroundCpuNs + r.s0.hugepoolFillBytes * scale * zeroNsPerByte,
      freePathNs: cnt.freePathBytes * zeroNsPerByte,
      coldWriteNs: cnt.skippedPages * param(profile, 'coldPageWriteNs'),
      counters: cnt,
      backgroundSeries: r.series.map((p) => ({ ms: p.ns / 1e6, bytes: p.bytes * scale })),
      phases: sim.phases,
      intervals: sim.intervals,
      threadNames: sim.threadNames,
    },
    allocWorkNs: sim.breakdown.allocNs,
  };
}


function publishedPoints(cases: ModelCase[]): PublishedPoint[] {
  const pick = (policy: string, ps: PageSize) => cases.find((c) => c.policy === policy && c.pageSize === ps)!.startNs / 1e9;
  const out: PublishedPoint[] = [];
  const add = (label: string, values: readonly number[], model: number, role: PublishedPoint['role']) =>
    values.forEach((v, i) => {
      const e = (model - v) / v;
      out.push({ figure: `${label}, round ${i + 1}`, published: v, model, relativeError: e, role, miss: role === 'prediction' && Math.abs(e) > 0.25 });
    });
  add('4 KiB pages, w/o patch (policy alloc)', PGZERO_PUBLISHED.before4k, pick('alloc', '4k'), 'prediction');
  add('4 KiB pages, w/ patch (policy report)', PGZERO_PUBLISHED.after4k, pick('report', '4k'), 'calibration');
  add('THP, w/o patch (policy alloc)', PGZERO_PUBLISHED.beforeThp, pick('alloc', 'thp'), 'prediction');
  add('THP, w/ patch (policy report)', PGZERO_PUBLISHED.afterThp, pick('report', 'thp'), 'calibration');
  return out;
}

// ---------------------------------------------------------------- measured

async function measure(guestBytes: number, hostBytes: number, idleNs: number, runs: number, tick: (what: string) => void): Promise<NonNullable<PrezeroResult['measured']>> {
  const map = memoryMapForSize(hostBytes);
  // One backing for every run: its memory is resident after the first, so no run pays first touches.
  const backing = new BackingStore(map);
  const cases: MeasuredCase[] = [];
  const ministat: Record<string, string> = {};
  const stopping: Array<Promise<void>> = [];
  let method = '';
  for (const ps of PAGE_SIZES) {
    tick(`measured: ${ps === '4k' ? '4 KiB pages' : 'THP'}, ${runs} runs per policy`);
    const bg = POLICY_CASES.map(() => [] as number[]);
    const free = POLICY_CASES.map(() => [] as number[]);
    const seen = POLICY_CASES.map(() => 0);
    const firstRun: Array<WorkloadRun | null> = POLICY_CASES.map(() => null);
    const prepared: Array<Prepared | null> = POLICY_CASES.map(() => null);
    const w1s: Float64Array[] = POLICY_CASES.map(() => new Float64Array(0));
    // The counters of the first timed run, taken after it (untimed): the page cache fill included.
    const retire = (i: number) => {
      const p = prepared[i];
      if (p === null) return;
      if (firstRun[i] === null && seen[i] >= 2) firstRun[i] = finishWorkload(p, w1s[i], 0);
      stopping.push(p.vm.shutdown());
      prepared[i] = null;
    };
    const wallCases: WallCase[] = POLICY_CASES.map((c, i) => ({
      name: `${c.name}, ${ps} (ms)`,
      // Untimed: the previous guest's history and the idle window, on a fresh Vm.
      setup: () => {
        retire(i);
        // No page budget (the host zeroes as fast as it can), so the idle window needs no slices.
        const p = prepareWorkload(c, ps, map, guestBytes, idleNs, Infinity, backing, Math.max(idleNs, 1));
        prepared[i] = p;
        w1s[i] = Float64Array.from(p.vm.phys.work);
        // The first call is measureWall's warm-up, whose numbers are not kept.
        if (seen[i]++ > 0) {
          bg[i].push(p.backgroundMs);
          free[i].push(p.freePathMs);
        }
      },
      run: () => startGuest(prepared[i]!),
    }));
    const w = measureWall(wallCases, runs);
    method = w.method;
    POLICY_CASES.forEach((_, i) => retire(i));
    const base = w.series[0].ms;
    POLICY_CASES.forEach((c, i) => {
      const s = w.series[i];
      cases.push({
        policy: c.name,
        pageSize: ps,
        startMs: s.ms,
        backgroundMs: bg[i],
        freePathMs: free[i],
        start: summarize(s.ms),
        vsAlloc: i === 0 || runs < 2 ? null : compareSamples(base, s.ms),
        counters: firstRun[i] !== null ? counters(firstRun[i]!, 1) : emptyCounters(),
      });
    });
    if (w.ministat !== null) ministat[ps] = w.ministat;
  }
  await Promise.all(stopping);
  return { host: `${process.platform} ${process.arch}, Node ${process.version}`, method, guestBytes, hostBytes, cases, ministat };
}

function emptyCounters(): PolicyCounters {
  return { allocPathBytes: 0, freePathBytes: 0, backgroundBytes: 0, skippedPages: 0, wastedBytes: 0, reportPasses: 0, reportedBlocks: 0, reReportedBlocks: 0, reportedLost: 0 };
}

/*
 * The cache-warmth question on this host: per 4 KiB page, zero then write at
 * once (the allocation path) against write long after a background zeroing
 * (with a cache-sized sweep in between). Regions of `regionBytes`, `runs` runs.
 */
export function measureCacheWarmth(runs: number, regionBytes = 64 * MiB): CacheWarmth {
  const map: MemoryMap = { name: 'cache-warmth', source: 'lab', ndomains: 1, ram: [{ start: 0, end: 3 * regionBytes, domain: 0 }], physAvail: [{ start: 0, end: 3 * regionBytes }], reserved: [] };
  const b = new BackingStore(map);
  const pages = regionBytes / PAGE_SIZE;
  // Chunks of 32 pages (128 KiB): small enough to stay in L2 between the zeroing and the write, large enough to time.
  const CHUNK = 32;
  const A = 0;
  const B = regionBytes;
  const sweep = 2 * regionBytes;
  const dirty = (base: number) => b.fillPattern(base, regionBytes, 0x5a5a5a5a);
  const evict = () => b.fillPattern(sweep, regionBytes, 0x11111111);
  const hot: number[] = [];
  const zo: number[] = [];
  const cold: number[] = [];
  const zw: number[] = [];
  dirty(A);
  dirty(B);
  evict();
  const write = (base: number, p: number) => {
    for (let k = 0; k < CHUNK; k++) b.fillPatternUnsafe(base + (p + k) * PAGE_SIZE, PAGE_SIZE, 0x01020304);
  };
  for (let r = -1; r < runs; r++) {
    // The allocation path: zero a chunk of pages, then write them at once; the two timed apart.
    dirty(A);
    evict();
    let zeroNs = 0;
    let hotNs = 0;
    for (let p = 0; p < pages; p += CHUNK) {
      const t0 = process.hrtime.bigint();
      b.zeroUnsafe(A + p * PAGE_SIZE, CHUNK * PAGE_SIZE);
      const t1 = process.hrtime.bigint();
      write(A, p);
      const t2 = process.hrtime.bigint();
      zeroNs += Number(t1 - t0);
      hotNs += Number(t2 - t1);
    }
    // Zeroed long ago: zero the region, sweep the cache, then the first writes, timed the same way.
    dirty(B);
    b.zero(B, regionBytes);
    evict();
    let coldNs = 0;
    for (let p = 0; p < pages; p += CHUNK) {
      const t1 = process.hrtime.bigint();
      write(B, p);
      coldNs += Number(process.hrtime.bigint() - t1);
    }
    if (r < 0) continue;
    zo.push(zeroNs / pages);
    hot.push(hotNs / pages);
    zw.push((zeroNs + hotNs) / pages);
    cold.push(coldNs / pages);
  }
  return {
    regionBytes,
    zeroThenWriteNs: zw,
    zeroOnlyNs: zo,
    coldWriteNs: cold,
    hotWriteNs: hot,
    comparison: runs >= 2 ? compareSamples(hot, cold) : null,
    ministat:
      runs >= 3
        ? renderMinistat(
            [
              { name: 'first write of a page zeroed just now (ns/page)', values: hot },
              { name: 'first write of a page zeroed long ago (ns/page)', values: cold },
            ],
            { width: 60 },
          )
        : null,
  };
}

// ---------------------------------------------------------------- the run

/*
 * Runs the experiment. Bad options are EUSAGE/ESIZE naming the option; a
 * measured host larger than this machine can back is EHOST.
 * Guarantees: everything but `measured` and `cacheWarmth` is deterministic.
 */
export async function runPrezeroVmStart(opts: PrezeroOptions = {}): Promise<PrezeroResult> {
  const profile = getProfile('linux-pgzero-2020', 'linux');
  const scale = opts.scale ?? DEFAULT_SCALE;
  if (!Number.isInteger(scale) || scale < 1 || scale > 1024 || (scale & (scale - 1)) !== 0) throw new PagelabError('EUSAGE', `--scale: ${scale} is not a power of two from 1 to 1024`);
  const idleMs = opts.idleMs ?? param(profile, 'idleBeforeStartNs') / 1e6;
  if (!Number.isFinite(idleMs) || idleMs < 0 || idleMs > 3.6e6) throw new PagelabError('EUSAGE', `--idle: ${idleMs} ms is not between 0 and one hour`);
  const runs = opts.runs ?? DEFAULT_PREZERO_RUNS;
  if (!Number.isInteger(runs) || runs < 0 || runs > 1000) throw new PagelabError('EUSAGE', `--runs: ${runs} is not an integer from 0 to 1000`);
  const guestText = opts.guest ?? DEFAULT_MEASURED_GUEST;
  const hostText = opts.host ?? DEFAULT_MEASURED_HOST;
  const guestBytes = parseSize(guestText, '--guest');
  const hostBytes = parseSize(hostText, '--host');
  if (guestBytes % (2 * MiB) !== 0 || guestBytes <= 0) throw new PagelabError('EUSAGE', `--guest ${guestText}: not a positive multiple of 2 MiB`);
  if (hostBytes < guestBytes * 1.25) throw new PagelabError('EUSAGE', `--host ${hostText}: needs room for the guest (${guestText}) and a quarter more`);
  const idleNs = idleMs * 1e6;
  const totalSteps = POLICY_CASES.length * PAGE_SIZES.length + (runs > 0 ? PAGE_SIZES.length + 1 : 0);
  let done = 0;
  const tick = (what: string) => opts.onProgress?.(done++, totalSteps, what);

  const cases: ModelCase[] = [];
  const allocWork = { page4k: NaN, thp: NaN };
  for (const c of POLICY_CASES) {
    for (const ps of PAGE_SIZES) {
      tick(`model: ${c.name}, ${ps}`);
      const { mc, allocWorkNs } = modelCase(profile, c, ps, scale, idleNs);
      cases.push(mc);
      if (c.name === 'alloc') allocWork[ps === '4k' ? 'page4k' : 'thp'] = allocWorkNs;
    }
  }
  const published = publishedPoints(cases);

  let measured: PrezeroResult['measured'] = null;
  let warmth: CacheWarmth | null = null;
  if (runs > 0) {
    measured = await measure(guestBytes, hostBytes, idleNs, runs, tick);
    tick('cache warmth');
    // Cache warmth: at most 5 runs (64 MiB regions and a cache sweep each); ministat needs 3.
    warmth = measureCacheWarmth(Math.min(runs, 5));
  }
  opts.onProgress?.(totalSteps, totalSteps, 'done');
  return {
    experiment: 'prezero-vm-start',
    schema: 1,
    profile: { name: profile.name, description: profile.description, machine: profile.machine, constants: constantRows(profile) },
    options: { scale, idleMs, runs, guest: formatSize(guestBytes), host: formatSize(hostBytes) },
    model: {
      guestBytes: param(profile, 'guestBytes'),
      hostBytes: param(profile, 'hostBytes'),
      cases,
      allocWorkNs: { page4k: allocWork.page4k, thp: allocWork.thp, profile4k: PGZERO_ALLOC_WORK_NS.page4k, profileThp: PGZERO_ALLOC_WORK_NS.thp },
    },
    published,
    measured,
    cacheWarmth: warmth,
    answer: answerText(profile, cases, published, measured, warmth),
  };
}

function answerText(profile: CostProfile, cases: ModelCase[], pub: PublishedPoint[], measured: PrezeroResult['measured'], warmth: CacheWarmth | null): string {
  const s = (ns: number) => `${(ns / 1e9).toFixed(1)} s`;
  const get = (p: string, ps: PageSize) => cases.find((c) => c.policy === p && c.pageSize === ps)!;
  const best = (ps: PageSize) => [...cases.filter((c) => c.pageSize === ps)].sort((a, b) => a.startNs - b.startNs)[0];
  const misses = pub.filter((p) => p.miss).length;
  const predErr = pub.filter((p) => p.role === 'prediction').map((p) => Math.abs(p.relativeError));
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  const parts: string[] = [];
  parts.push(
    `Model (${profile.name}): starting the 64 GiB guest takes ${s(get('alloc', '4k').startNs)} with zeroing on allocation and 4 KiB pages, ${s(get('alloc', 'thp').startNs)} with THP; ` +
      `the six "w/o patch" rounds are predicted within ${(Math.max(...predErr) * 100).toFixed(0)}% (${misses === 0 ? 'no misses' : `${misses} misses`}), from a zeroing rate measured elsewhere in the thread.`,
  );
  for (const ps of PAGE_SIZES) {
    const b = best(ps);
    parts.push(`Fastest start with ${ps === '4k' ? '4 KiB pages' : 'THP'}: ${b.policy} (${s(b.startNs)}).`);
  }
  const rep = get('report', '4k');
  const idle = get('idle', '4k');
  const free = get('free', '4k');
  parts.push(
    `What it costs elsewhere: report zeroed ${gib(rep.counters.backgroundBytes)} in the background (${s(rep.backgroundCpuNs)} of CPU in the idle window, ${rep.counters.reportPasses} passes, ${rep.counters.reReportedBlocks.toLocaleString('en-US')} blocks re-reported) and handed ${gib(rep.counters.wastedBytes)} of it to a page cache that did not need it; ` +
      `idle stops at 4/5 of free memory zeroed, so ${gib(idle.counters.allocPathBytes)} of the guest was still zeroed on the start path; ` +
      `free (init_on_free) moved ${gib(free.counters.freePathBytes)} of zeroing (${s(free.freePathNs)}) onto the previous guest's exit; ` +
      `the hugepool keeps ${gib(profile.params.guestBytes.value)} aside whether or not a guest comes. ` +
      `Pre-zeroed pages are cache-cold: a workload that writes its pages right away pays about ${profile.params.coldPageWriteNs.value} ns per page more (profile assumption)`,
  );
  if (warmth !== null && warmth.comparison !== null) {
    const h = summarize(warmth.hotWriteNs).median;
    const c = summarize(warmth.coldWriteNs).median;
    parts[parts.length - 1] += `; measured on this host: first write ${h.toFixed(0)} ns/page just after zeroing against ${c.toFixed(0)} ns/page long after (${warmth.comparison.significant ? `difference ${warmth.comparison.percent.toFixed(0)}% ± ${warmth.comparison.percentHalfWidth.toFixed(0)}%` : 'no difference proven at 95%'}).`;
  } else parts[parts.length - 1] += '.';
  if (measured !== null) {
    const m = measured.cases.filter((c) => c.pageSize === '4k');
    const a = m.find((c) => c.policy === 'alloc')!;
    const r = m.find((c) => c.policy === 'report')!;
    parts.push(
      `Measured here (${formatSize(measured.guestBytes)} guest on a ${formatSize(measured.hostBytes)} host, real zeroing): alloc ${a.start.median.toFixed(1)} ms, report ${r.start.median.toFixed(1)} ms median` +
        (r.vsAlloc !== null ? (r.vsAlloc.significant ? ` (${r.vsAlloc.percent.toFixed(0)}% ± ${r.vsAlloc.percentHalfWidth.toFixed(0)}%, ministat 95%).` : ' (no difference proven at 95%).') : '.'),
    );
  }
  return parts.join(' ');
}

export { formatSize };
