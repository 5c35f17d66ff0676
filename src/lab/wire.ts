/**
 * The wire experiment (seed 001, "vm_map_wire: speed up wiring for large
 * virtual address ranges"): wiring guest memory on a bhyve host on each
 * vm.wire.fast path.
 *
 *   1. Simulated kernel time. The real VM wires guest memory on the host-16g
 *      preset (eager boot: a running host has initialised every page
 *      record) on each path, its work counted and priced by the
 *      bhyve-host-wire-2024 profile. map.fault is calibrated on the seed's
 *      "before" (path 0); the "after" is a prediction for `proposed`, the
 *      version it was measured on. Path 1 is shown with and without
 *      pre-zeroed free pages (PG_ZERO, PreZeroer). The counts are taken on
 *      `simBytes` (default 1 GiB) and scaled to the guest size: every path's
 *      work is per 2 MiB region, so it scales linearly, except the few
 *      upper-level page-table pages (the report says which it did).
 *   2. Measured time: pagelab's own wall time wiring `wallBytes` of backed
 *      memory on each path, interleaved (wall.ts), with ministat in the
 *      seed's format, and a memory.fill of the same size through the
 *      backing store (the zeroing engine's rate) as the yardstick.
 *   3. The review's objections, run: proposed exposes a previous owner's
 *      bytes; revised with a collapse between insertion and fault frees a
 *      wired page (EWIRED, the kernel's panic); 1 with the same collapse is
 *      fine and keeps the data.
 */
import { PagelabError } from '../errors.js';
import { presetMemoryMap, memoryMapForSize } from '../machine/presets.js';
import { priceWiring, wireConstantRows, type WireCategory, type WireProfile } from '../sim/wire-cost.js';
import { WIRE_PROFILES } from '../sim/profiles/index.js';
import { workDelta, workToObject } from '../vm/counters.js';
import { mapWorkToObject } from '../vm/map-counters.js';
import { VmMaps, VMFS_SUPER_SPACE, type VmMap } from '../vm/map.js';
import { PAGE_SIZE } from '../vm/param.js';
import { KERN_NAMES, KERN_SUCCESS, VM_PROT_WRITE } from '../vm/pmap.js';
import { Vm } from '../vm/vm.js';
import type { WirePath } from '../vm/wire.js';
import { formatSize } from '../util/units.js';
import { measureWall, DEFAULT_WALL_RUNS, type WallSeries } from './wall.js';
import { renderMinistat } from '../stats/ministat.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

/** The seed's ministat: 10 timings each, milliseconds. */
export const SEED_FIGURES = {
  before: { n: 10, min: 761.68435, max: 992.11996, median: 883.77091, mean: 875.02305, stddev: 80.788188, file: 'clean_stat.txt' },
  after: { n: 10, min: 76.762507, max: 115.02396, median: 79.975776, mean: 92.488651, stddev: 18.554921, file: 'prefault_stat.txt' },
  guestBytes: 10 * GiB,
  /** ministat's "Difference at 95.0% confidence": 782.534 +/- 55.0727 (846.087% +/- 138.817% of the after mean). */
  difference: { ms: 782.534, halfWidth: 55.0727 },
};

/** Defaults sized so that `npm start` stays quick; --wire-size / --wire-sim-size raise them (1g, 10g). */
export const DEFAULT_WIRE_WALL_BYTES = 128 * MiB;
export const DEFAULT_WIRE_SIM_BYTES = 256 * MiB;

export interface WireOptions {
  /** Wall-time runs per path (default 10; 0 skips the measurement). */
  runs?: number;
  /** Backed bytes wired per measured run (default 256 MiB). */
  wallBytes?: number;
  /** Bytes wired to count the simulated work (default 1 GiB), scaled to the guest. */
  simBytes?: number;
  /** Wiring profile name (default bhyve-host-wire-2024). */
  profile?: string;
  onProgress?: (done: number, total: number, what: string) => void;
}

export interface SimPath {
  path: WirePath;
  label: string;
  prezeroed: boolean;
  /** Simulated ms for the guest size. */
  ms: number;
  byCategoryMs: Record<WireCategory, number>;
  /** Work counts for the guest size (scaled from simBytes when it differs). */
  map: Record<string, number>;
  work: Record<string, number>;
  pmap: { pdes: number; ptes: number; ptpages: number; promotions: number };
}

export interface PublishedPoint {
  figure: string;
  publishedMs: number;
  modelMs: number;
  path: string;
  role: 'calibration' | 'prediction';
  relErr: number;
}

export interface WallPath {
  path: string;
  series: WallSeries;
  /** Faults per second of host time for the paths that fault per page (median run). */
  faultsPerSecond: number | null;
  /** Median against the memory.fill of the same size. */
  vsFill: number | null;
}

export interface WireResult {
  experiment: 'wire';
  host: string;
  guestBytes: number;
  simBytes: number;
  scaled: boolean;
  profile: { name: string; description: string; constants: ReturnType<typeof wireConstantRows> };
  sim: SimPath[];
  published: PublishedPoint[];
  /** The seed's "after" as a bandwidth: guest bytes / mean after, GB/s, against the profile's zeroing bandwidth. */
  afterImpliedGBs: number;
  zeroGBs: number;
  /** Zeroing the guest alone at the profile's bandwidth, ms: a floor for any path that zeroes. */
  zeroFloorMs: number;
  wall: {
    bytes: number;
    runs: number;
    method: string;
    paths: WallPath[];
    fill: WallSeries | null;
    /** The seed's format: each fast path (x) against path 0 (+). */
    ministat: Array<{ path: string; text: string }>;
  } | null;
  review: ReviewOutcome;
}

export interface ReviewOutcome {
  bytes: number;
  /** Non-zero bytes read back from a freshly wired range after a previous owner's 0xa5 pattern, per path. */
  exposedBytes: Record<string, number>;
  /** revised + collapse between insertion and fault: the typed error (the kernel's panic). */
  revisedCollapse: string;
  /** 1 + the same collapse: what happened, and whether the data survived. */
  oneCollapse: string;
}

const PATHS: Array<{ path: WirePath; label: string; prezeroed: boolean }> = [
  { path: '0', label: '0: vm_fault per 4 KiB page (FreeBSD today)', prezeroed: false },
  { path: 'proposed', label: 'proposed: preallocated, valid, NOT zeroed', prezeroed: false },
  { path: 'revised', label: 'revised: wired, invalid, unbusied, then faulted', prezeroed: false },
  { path: '1', label: '1: busied, zeroed, 2 MiB PDEs', prezeroed: false },
  { path: '1', label: '1 with pre-zeroed free pages (PG_ZERO)', prezeroed: true },
];

function profileByName(name: string): WireProfile {
  const p = WIRE_PROFILES.find((q) => q.name === name);
  if (p === undefined) throw new PagelabError('EUSAGE', `unknown wiring profile "${name}" (known: ${WIRE_PROFILES.map((q) => q.name).join(', ')})`);
  return p;
}

function checkBytes(bytes: number, what: string, max: number): void {
  if (!(Number.isSafeInteger(bytes) && bytes >= 2 * MiB && bytes % (2 * MiB) === 0 && bytes <= max)) {
    throw new PagelabError('ESIZE', `lab wire: ${what} ${Number.isFinite(bytes) ? formatSize(bytes) : String(bytes)} must be a multiple of 2 MiB from 2 MiB to ${formatSize(max)}`);
  }
}

/* Wire `bytes` of a fresh mapping of `map`; returns its start. Throws EINVAL naming the KERN code on failure. */
function wireRange(map: VmMap, bytes: number, what: string): number {
  const va = map.find(bytes, { findSpace: VMFS_SUPER_SPACE, name: 'guest' });
  if (va < 0) throw new PagelabError('EINVAL', `lab wire: no address space for ${formatSize(bytes)} (${what})`);
  const rv = map.wire(va, va + bytes);
  if (rv !== KERN_SUCCESS) throw new PagelabError('EINVAL', `lab wire: vm_map_wire of ${formatSize(bytes)} on ${what} failed: ${KERN_NAMES[rv]}`);
  return va;
}

/*
 * The simulated part: each path wires simBytes on one eagerly booted
 * host-16g (unmapped in between, so each starts from the same free memory),
 * counted, scaled to the guest and priced.
 */
function simulate(profile: WireProfile, simBytes: number, progress: (what: string) => void): SimPath[] {
  const vm = new Vm(presetMemoryMap('host-16g'), { 'vm.lazy_page_init': 0 });
  // bhyve -S wires all guest memory: the host's vm.max_user_wired must allow it.
  const maps = new VmMaps(vm, { maxUserWired: Number.MAX_SAFE_INTEGER });
  const scale = SEED_FIGURES.guestBytes / simBytes;
  const out: SimPath[] = [];
  for (const p of PATHS) {
    progress(`simulated ${p.label}`);
    if (p.prezeroed) vm.prezero.runToCompletion(0);
    maps.wirePath = p.path;
    const map = maps.create();
    const w0 = vm.phys.work.slice();
    const m0 = maps.work.slice();
    const va = wireRange(map, simBytes, `path ${p.path}`);
    const work = workDelta(vm.phys.work, w0);
    const mw = maps.work.map((x, i) => x - m0[i]);
    const st = map.pmap.stats;
    const pmap = { pdes: st.pdes * scale, ptes: st.ptes * scale, ptpages: st.ptpages * scale, promotions: st.promotions * scale };
    for (let i = 0; i < work.length; i++) work[i] *= scale;
    for (let i = 0; i < mw.length; i++) mw[i] *= scale;
    const priced = priceWiring(profile, work, mw);
    const byCategoryMs = Object.fromEntries(Object.entries(priced.byCategory).map(([k, v]) => [k, v / 1e6])) as Record<WireCategory, number>;
    out.push({ path: p.path, label: p.label, prezeroed: p.prezeroed, ms: priced.totalNs / 1e6, byCategoryMs, map: mapWorkToObject(mw), work: workToObject(work), pmap });
    map.remove(va, va + simBytes);
    map.destroy();
  }
  return out;
}

/* The review's objections on a small backed machine: real bytes, real collapse. */
export function reviewScenarios(): ReviewOutcome {
  const bytes = 4 * MiB;
  const exposed: Record<string, number> = {};
  const boot = (path: WirePath): { vm: Vm; maps: VmMaps } => {
    const vm = new Vm(memoryMapForSize(32 * MiB), { 'vm.backed': 1, 'vm.pgcache.enable': 0 });
    const maps = new VmMaps(vm, { wirePath: path });
    return { vm, maps };
  };
  for (const path of ['0', 'proposed', 'revised', '1'] as WirePath[]) {
    const { vm, maps } = boot(path);
    // A previous owner fills most of memory with 0xa5 and exits.
    const owner = maps.create();
    const n = 24 * MiB;
    const a = owner.find(n, { findSpace: VMFS_SUPER_SPACE });
    if (owner.touch(a, a + n, VM_PROT_WRITE) !== KERN_SUCCESS) throw new PagelabError('EINVAL', 'lab wire: the previous owner could not fault its memory in');
    for (let va = a; va < a + n; va += PAGE_SIZE) vm.backing!.fill(vm.phys.pageToPa(owner.pmap.extract(va)), PAGE_SIZE, 0xa5);
    owner.destroy();
    const map = maps.create();
    const va = wireRange(map, bytes, `path ${path}`);
    let nz = 0;
    for (const b of maps.fault.copyin(map, va, bytes)) if (b !== 0) nz++;
    exposed[path] = nz;
  }
  const shadowed = (path: WirePath): { vm: Vm; map: VmMap; maps: VmMaps; va: number } => {
    const { vm, maps } = boot(path);
    const map = maps.create();
    const va = map.find(2 * MiB, { findSpace: VMFS_SUPER_SPACE });
    maps.fault.copyout(map, va, new Uint8Array(2 * MiB).fill(7));
    map.markCopyOnWrite(va, va + 2 * MiB);
    return { vm, map, maps, va };
  };
  let revisedCollapse: string;
  {
    const { map, va } = shadowed('revised');
    try {
      map.wire(va, va + 2 * MiB, (m, s) => void m.collapse(m.start[s]));
      revisedCollapse = 'no error (unexpected)';
    } catch (e) {
      if (!(e instanceof PagelabError)) throw e;
      revisedCollapse = `${e.code}: ${e.message}`;
    }
  }
  let oneCollapse: string;
  {
    const { map, maps, va } = shadowed('1');
    let what = '';
    const rv = map.wire(va, va + 2 * MiB, (m, s) => {
      const r = m.collapse(m.start[s]);
      what = r.collapsed ? `collapse ran: ${r.moved} pages moved up, ${r.freed} freed` : `collapse declined: ${r.reason}`;
    });
    const kept = maps.fault.copyin(map, va, 2 * MiB).every((b) => b === 7);
    oneCollapse = `${what}; vm_map_wire ${KERN_NAMES[rv]}; data ${kept ? 'intact' : 'LOST'}`;
  }
  return { bytes, exposedBytes: exposed, revisedCollapse, oneCollapse };
}

/* The measured part: one backed machine, each path's wiring timed, set-up and tear-down untimed. */
function measure(wallBytes: number, runs: number): NonNullable<WireResult['wall']> {
  const vm = new Vm(memoryMapForSize(wallBytes + 128 * MiB), { 'vm.backed': 1, 'vm.lazy_page_init': 0 });
  const maps = new VmMaps(vm, { maxUserWired: Number.MAX_SAFE_INTEGER });
  const map = maps.create();
  let va = -1;
  const cases = PATHS.map((p) => ({
    name: `${p.path}${p.prezeroed ? '+PG_ZERO' : ''}`,
    setup: () => {
      if (p.prezeroed) vm.prezero.runToCompletion(0);
      maps.wirePath = p.path;
      va = map.find(wallBytes, { findSpace: VMFS_SUPER_SPACE });
    },
    run: () => {
      const rv = map.wire(va, va + wallBytes);
      if (rv !== KERN_SUCCESS) throw new PagelabError('EINVAL', `lab wire: measured wiring on path ${p.path} failed: ${KERN_NAMES[rv]}`);
    },
    after: () => void map.remove(va, va + wallBytes),
  }));
  // The yardstick: memory.fill of the same bytes in the backing store (what the zeroing costs pagelab).
  let fillHead = -1;
  const npages = wallBytes / PAGE_SIZE;
  cases.push({
    name: 'memory.fill',
    setup: () => {
      fillHead = vm.page.allocNoobjContig(0, npages);
      if (fillHead < 0) throw new PagelabError('EINVAL', `lab wire: no ${formatSize(wallBytes)} contiguous run for the memory.fill yardstick`);
      // Written first, so that the timed fill zeroes touched memory as the wiring paths do.
      vm.backing!.fill(vm.phys.pageToPa(fillHead), wallBytes, 0xa5);
    },
    run: () => vm.backing!.zero(vm.phys.pageToPa(fillHead), wallBytes),
    after: () => {
      for (let i = 0; i < npages; i++) vm.page.free(fillHead + i);
    },
  });
  const m = measureWall(cases, runs);
  const fill = m.series[m.series.length - 1];
  const paths: WallPath[] = PATHS.map((p, i) => {
    const s = m.series[i];
    const faults = p.path === '0' || p.path === 'proposed' || p.path === 'revised' ? wallBytes / PAGE_SIZE : 0;
    return {
      path: s.name,
      series: s,
      faultsPerSecond: faults > 0 && s.summary !== null ? faults / (s.summary.median / 1e3) : null,
      vsFill: s.summary !== null && fill.summary !== null ? s.summary.median / fill.summary.median : null,
    };
  });
  const base = m.series[0];
  const ministat = runs >= 3 ? m.series.slice(1, PATHS.length).map((s) => ({ path: s.name, text: renderMinistat([{ name: `${s.name} (ms)`, values: s.ms }, { name: `${base.name} (ms)`, values: base.ms }], { width: 60 }) })) : [];
  map.destroy();
  return { bytes: wallBytes, runs, method: m.method, paths, fill, ministat };
}

/*
 * Runs the experiment. Requires: sizes multiples of 2 MiB (simBytes up to
 * the guest's 10 GiB, wallBytes up to 4 GiB of backed memory).
 */
export function runWire(opts: WireOptions = {}): WireResult {
  const profile = profileByName(opts.profile ?? 'bhyve-host-wire-2024');
  const simBytes = opts.simBytes ?? DEFAULT_WIRE_SIM_BYTES;
  const wallBytes = opts.wallBytes ?? DEFAULT_WIRE_WALL_BYTES;
  const runs = opts.runs ?? DEFAULT_WALL_RUNS;
  checkBytes(simBytes, 'simulated size', SEED_FIGURES.guestBytes);
  checkBytes(wallBytes, 'measured size', 4 * GiB);
  if (!(Number.isInteger(runs) && runs >= 0 && runs <= 1000)) throw new PagelabError('EUSAGE', `lab wire: runs ${runs} is not an integer from 0 to 1000`);
  const total = PATHS.length + 2;
  let done = 0;
  const progress = (what: string) => opts.onProgress?.(done++, total, what);
  const sim = simulate(profile, simBytes, progress);
  const before = sim[0];
  const proposed = sim[1];
  const rel = (model: number, pub: number) => (model - pub) / pub;
  // Every figure of the seed's ministat table. The model is deterministic: one value per path stands
  // beside each statistic of the ten runs, and the spread (stddev) is not modelled.
  const published: PublishedPoint[] = [];
  for (const [side, sim, path] of [['before', before, '0'], ['after', proposed, 'proposed']] as const) {
    const f = SEED_FIGURES[side];
    for (const stat of ['mean', 'median', 'min', 'max'] as const) {
      const role = side === 'before' && stat === 'mean' ? 'calibration' : 'prediction';
      published.push({ figure: `${side} (${f.file}): ${stat} of ${f.n}`, publishedMs: f[stat], modelMs: sim.ms, path, role, relErr: rel(sim.ms, f[stat]) });
    }
  }
  const diff = before.ms - proposed.ms;
  published.push({ figure: `difference before - after (95%: +/- ${SEED_FIGURES.difference.halfWidth} ms)`, publishedMs: SEED_FIGURES.difference.ms, modelMs: diff, path: '0 - proposed', role: 'prediction', relErr: rel(diff, SEED_FIGURES.difference.ms) });
  const zeroNsPerByte = profile.work.zero_bytes_sync.value;
  progress('the review\'s objections on backed memory');
  const review = reviewScenarios();
  progress(`measured: ${formatSize(wallBytes)} backed, ${runs} runs per path`);
  const wall = runs > 0 ? measure(wallBytes, runs) : null;
  opts.onProgress?.(total, total, 'done');
  return {
    experiment: 'wire',
    host: 'host-16g',
    guestBytes: SEED_FIGURES.guestBytes,
    simBytes,
    scaled: simBytes !== SEED_FIGURES.guestBytes,
    profile: { name: profile.name, description: profile.description, constants: wireConstantRows(profile) },
    sim,
    published,
    afterImpliedGBs: SEED_FIGURES.guestBytes / (SEED_FIGURES.after.mean * 1e6),
    zeroGBs: 1 / zeroNsPerByte,
    zeroFloorMs: (SEED_FIGURES.guestBytes * zeroNsPerByte) / 1e6,
    wall,
    review,
  };
}

