/**
 * Experiment kstack-pindex (seed 004, D38852): how much physical memory do
 * kernel stacks pin in superpage reservations under each kstack_object
 * pindex scheme, and what do their reservations look like.
 *
 * The same seeded workload of thread creation and exit, interleaved with
 * the kernel's other KVA allocations, runs on a two-domain machine under
 * four settings: linear (holes at guard pages), nonlinear (D38852),
 * aligned (nonlinear, imports reservation-aligned: FFFF) and ilp32 (the
 * 32-bit layout: KVA from kernel_arena, linear pindex). Snapshots after
 * the ramp-up and after the churn give the metrics; then memory pressure on
 * one domain shows reservations broken and reclaimed and the cache drained;
 * then every thread exits and the machine must be back where it started.
 * The seed's two figures are set beside the model's (both predictions:
 * nothing here is fitted).
 */
import { PagelabError } from '../errors.js';
import { buildMemoryMap } from '../machine/memmap.js';
import type { MemoryMap } from '../machine/types.js';
import { VMEM_ALLOC } from '../kern/vmem.js';
import { BT_TYPE_BUSY } from '../kern/vmem_param.js';
import { PAGE_SIZE, VM_ALLOC_SYSTEM } from '../vm/param.js';
import { PAGE_STAT_NAMES } from '../vm/page-alloc.js';
import { Vm } from '../vm/vm.js';
import { newKThread, type KThread, type Kstacks } from '../vm/kstack.js';
import { kstacksForVm, VmKstackPages } from '../vm/kstack_pages.js';
import type { KernelArenas } from '../vm/vm_kern.js';
import { priceKstackEvents, type KstackEvents } from '../sim/kstack.js';
import { freebsdKstackAmd64 } from '../sim/profiles/freebsd-kstack-amd64.js';
import { compareSamples, renderMinistat, summarize, type Comparison, type Summary } from '../stats/ministat.js';
import { seededRng } from '../util/rng.js';

export const SETTINGS = ['linear', 'nonlinear', 'aligned', 'ilp32'] as const;
export type Setting = (typeof SETTINGS)[number];

/** Two NUMA domains of 512 MiB: room for the stacks, small enough that squeezing a domain is quick. */
export const DEFAULT_MACHINE = 'numa-2x512m';
export const DEFAULT_THREADS = 3000;
export const DEFAULT_CHURN = 12000;
export const DEFAULT_SEED = 38852;
export const DEFAULT_RUNS = 3;
export const DEFAULT_SWEEP: ReadonlyArray<[number, number]> = [
  [4, 1],
  [2, 1],
  [3, 1],
  [4, 2],
  [4, 0],
  [8, 1],
  [6, 2],
];
/** CPUs per domain of the simulated machine (the cache limit is max(128, 4 x ncpu)). */
const CPUS_PER_DOMAIN = 8;
const TWO_MIB = 2 * 2 ** 20;

export interface KstackPindexOptions {
  /** Threads alive at the end of the ramp-up (the churn keeps about as many). */
  threads?: number;
  /** Thread creations and exits after the ramp-up. */
  churn?: number;
  seed?: number;
  /** kern.kstack_pages and kern.kstack_guard_pages of the main runs. */
  K?: number;
  G?: number;
  /** (K, G) pairs of the sweep; [] skips it. */
  sweep?: ReadonlyArray<[number, number]>;
  /** Wall-time runs per setting (interleaved); 0 skips. */
  runs?: number;
  onProgress?: (done: number, total: number, what: string) => void;
}

export interface Snapshot {
  liveStacks: number;
  cachedStacks: number;
  /** Resident kstack_object pages (live and cached stacks). */
  stackPages: number;
  /** Reservations of kstack_object and the pages they pin. */
  reservations: number;
  reservPages: number;
  /** Physical pages held for the stacks: reservation pages plus stack pages outside any reservation. */
  heldPages: number;
  /** heldPages / stackPages - 1: the seed's "25% more". */
  overhead: number;
  /** The same over fully used import chunks only (the windows each one's pindex range touches); null without any. */
  fullChunkOverhead: number | null;
  /** Whole reservations by letter, and all of them in pindex order. */
  reservLetters: Record<string, number>;
  reservString: string;
  /** Each import chunk's reservation string (the chunk's view), in address order; [] under ilp32. */
  chunkStrings: string[];
  /** Import chunks and their reservation strings (the chunk's view), tallied; null under ilp32. */
  chunks: number;
  chunkPatterns: Record<string, number> | null;
  /** The same for chunks whose every slot holds a stack. */
  fullChunkPatterns: Record<string, number> | null;
  /** Letters of every chunk string together: F, E, B, P, -. */
  chunkLetters: Record<string, number> | null;
  /** 2 MiB KVA pages wholly inside the kernel's other allocations (mappable by one superpage), and 2 MiB pages holding kernel stacks. */
  otherSuperpages: number;
  stackKvaSuperpages: number;
  /*
   * The stacks in the kernel pmap: 4 KiB PTEs and page-table pages; guard
   * pages of live and cached stacks left unmapped (holes); 2 MiB KVA pages
   * of stacks a single 2 MiB mapping could cover (every page mapped, the
   * pages physically one aligned 2 MiB run): only possible without guards.
   */
  kernelPtes: number;
  kernelPtPages: number;
  guardHoles: number;
  stackKvaPromotable: number;
}

export interface SettingResult {
  setting: Setting;
  K: number;
  G: number;
  afterRampUp: Snapshot;
  afterChurn: Snapshot;
  pressure: { domain: number; pagesTaken: number; reservBroken: number; reservReclaimed: number; cacheDrained: number; after: Snapshot };
  /** What the ramp-up (every create a cache miss) and the churn (mostly cache hits) did, priced by the cost profile (simulated ns). */
  simulatedRampUp: Priced;
  simulated: Priced;
  stats: Kstacks['stats'];
  /** After every thread exited and the cache drained: pages and arenas as at the start. */
  returnedToStart: boolean;
}

export interface Priced {
  events: KstackEvents;
  /** vm_thread_new and vm_thread_dispose calls. */
  operations: number;
  nsPerOperation: number;
  breakdown: Record<string, number>;
}

export interface SweepRow {
  K: number;
  G: number;
  /** The analytic linear overhead G/K of fully used chunks. */
  analyticLinear: number;
  settings: Array<{ setting: Setting; overhead: number; fullChunkPattern: string | null; fullChunkShare: number }>;
}

export interface SeedComparison {
  figure: string;
  source: string;
  published: string;
  model: string;
  /** Numeric figures: (model - published) / published; patterns: whether the model's most common pattern is the published one. */
  relativeError: number | null;
  match: boolean | null;
  role: 'prediction';
  note: string;
}

export interface KstackPindexResult {
  experiment: 'kstack-pindex';
  schema: 1;
  machine: { name: string; ndomains: number; cpus: number; kvaBase: number; kvaSize: number; reservationPages: number };
  workload: { threads: number; churn: number; seed: number; description: string };
  profile: { name: string; description: string; constants: Array<{ name: string; value: number; unit: string; basis: string; source: string }> };
  settings: SettingResult[];
  sweep: SweepRow[];
  seed: SeedComparison[];
  /** When the aligned setting reaches FFFF, from the data. */
  ffff: string;
  wallTime: null | { unit: 'ms'; what: string; host: string; samples: Array<{ setting: Setting; ms: number[]; summary: Summary }>; comparisons: Array<{ baseline: Setting; candidate: Setting; comparison: Comparison; ministat: string | null }> };
}

/* ------------------------------------------------------------------ workload */

/* The machine: RAM from 1 MiB to 1 GiB, the lower half domain 0, the kernel at 2 MiB. */
export function kstackMachine(): MemoryMap {
  const MiB = 2 ** 20;
  return buildMemoryMap({
    name: DEFAULT_MACHINE,
    source: 'kstack-pindex',
    ndomains: 2,
    ram: [
      { start: MiB, end: 512 * MiB, domain: 0 },
      { start: 512 * MiB, end: 1024 * MiB, domain: 1 },
    ],
    reserved: [{ start: 2 * MiB, end: 24 * MiB, what: 'kernel' }],
  });
}

interface Other {
  addr: number;
  size: number;
  domain: number;
  /** kernel_arena (kva_alloc) rather than a domain arena (kmem). */
  kernel: boolean;
}

/* A size for one of the kernel's other KVA allocations: mostly small, some large. */
function otherSize(rnd: () => number): number {
  const r = rnd();
  const pages = r < 0.7 ? 1 + Math.floor(rnd() * 4) : r < 0.95 ? 16 + Math.floor(rnd() * 49) : 512 + Math.floor(rnd() * 513);
  return pages * PAGE_SIZE;
}

class Run {
  readonly vm: Vm;
  readonly arenas: KernelArenas;
  readonly ks: Kstacks;
  readonly src: VmKstackPages;
  readonly live: Array<{ td: KThread }> = [];
  readonly others: Other[] = [];
  private readonly rnd: () => number;
  readonly ndomains: number;

  constructor(setting: Setting, K: number, G: number, seed: number) {
    const t: Record<string, string | number> = { 'kern.kstack_pages': K, 'kern.kstack_guard_pages': G };
    if (setting === 'ilp32') t['vm.kstack.ilp32'] = 1;
    else t['vm.kstack.pindex'] = setting;
    this.vm = new Vm(kstackMachine(), t);
    this.ndomains = this.vm.phys.ndomains;
    this.src = new VmKstackPages(this.vm);
    const { arenas, kstacks } = kstacksForVm(this.vm, { ncpu: CPUS_PER_DOMAIN * this.ndomains, source: this.src });
    this.arenas = arenas;
    this.ks = kstacks;
    this.rnd = seededRng(seed);
  }

  private cpuDomain(): number {
    return Math.floor(this.rnd() * this.ndomains * CPUS_PER_DOMAIN) % this.ndomains;
  }

  create(): void {
    const td = newKThread();
    if (!this.ks.vm_thread_new(td, this.cpuDomain())) throw new PagelabError('ENOSPC', `kstack-pindex: vm_thread_new failed with ${this.live.length} threads alive`);
    this.live.push({ td });
  }

  exit(): void {
    const i = Math.floor(this.rnd() * this.live.length);
    this.ks.vm_thread_dispose(this.live[i].td);
    this.live[i] = this.live[this.live.length - 1];
    this.live.pop();
  }

  /* One of the kernel's other KVA users: kmem (domain arena) or kva_alloc (kernel_arena), or a free. */
  other(): void {
    if (this.others.length > 0 && this.rnd() < 0.4) {
      const i = Math.floor(this.rnd() * this.others.length);
      const o = this.others[i];
      if (o.kernel) this.arenas.kvaFree(o.addr, o.size);
      else this.arenas.kmemFreeKva(o.domain, o.addr, o.size);
      this.others[i] = this.others[this.others.length - 1];
      this.others.pop();
      return;
    }
    const size = otherSize(this.rnd);
    const kernel = this.rnd() < 0.5;
    const domain = this.cpuDomain();
    const addr = kernel ? this.arenas.kvaAlloc(size) : this.arenas.kmemAllocKva(domain, size);
    if (addr === 0) throw new PagelabError('ENOSPC', 'kstack-pindex: the kernel address space is exhausted');
    this.others.push({ addr, size, domain, kernel });
  }

  step(pOther: number, create: boolean): void {
    if (create) this.create();
    else this.exit();
    if (this.rnd() < pOther) this.other();
  }

  rampUp(threads: number): void {
    while (this.live.length < threads) this.step(0.25, true);
  }

  churn(ops: number, target: number): void {
    for (let i = 0; i < ops; i++) {
      const n = this.live.length;
      const create = n < target * 0.9 ? true : n > target * 1.1 ? false : this.rnd() < 0.5;
      this.step(0.25, create);
    }
  }

  /* Every thread exits, the cache drains, the other KVA goes back. */
  teardown(): void {
    for (const { td } of this.live) this.ks.vm_thread_dispose(td);
    this.live.length = 0;
    this.ks.lowmem();
    for (const o of this.others) {
      if (o.kernel) this.arenas.kvaFree(o.addr, o.size);
      else this.arenas.kmemFreeKva(o.domain, o.addr, o.size);
    }
    this.others.length = 0;
  }
}

/* ------------------------------------------------------------------ metrics */

function tally(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list) out[s] = (out[s] ?? 0) + 1;
  return out;
}

/* Busy bytes of the kstack arena inside [start, start + size). */
function busyIn(run: Run, domain: number, start: number, size: number): number {
  const a = run.ks.kstackArena[domain];
  if (a === null) return 0;
  let busy = 0;
  a.walk((s, sz, type) => {
    if (type === BT_TYPE_BUSY && s >= start && s + sz <= start + size) busy += sz;
  });
  return busy;
}

/* 2 MiB-aligned KVA pages wholly inside the union of `ivs` ([start, end) pairs). */
function wholeSuperpages(ivs: Array<[number, number]>): number {
  ivs.sort((a, b) => a[0] - b[0]);
  let n = 0;
  let cs = -1;
  let ce = -1;
  const flush = () => {
    if (cs < 0) return;
    const first = Math.ceil(cs / TWO_MIB);
    const last = Math.floor(ce / TWO_MIB);
    if (last > first) n += last - first;
  };
  for (const [s, e] of ivs) {
    if (s <= ce) ce = Math.max(ce, e);
    else {
      flush();
      cs = s;
      ce = e;
    }
  }
  flush();
  return n;
}

function snapshot(run: Run): Snapshot {
  const ks = run.ks;
  const stackPages = ks.stackPages();
  const reservPages = run.src.reservPages(ks.kstackObject);
  const heldPages = reservPages + stackPages - run.src.reservPopulated(ks.kstackObject);
  let fullWindows = 0;
  let fullPages = 0;
  const chunks = ks.chunks();
  let chunkPatterns: Record<string, number> | null = null;
  let fullChunkPatterns: Record<string, number> | null = null;
  let chunkLetters: Record<string, number> | null = null;
  const stackRegions = new Set<number>();
  if (!ks.ilp32) {
    const all: string[] = [];
    const full: string[] = [];
    for (const c of chunks) {
      const p = ks.chunkPattern(c);
      all.push(p);
      if (busyIn(run, c.domain, c.start, c.size) === c.size) {
        full.push(p);
        fullWindows += Math.ceil(c.pindexEnd / ks.reservPages) - Math.floor(c.pindexStart / ks.reservPages);
        fullPages += c.slots * ks.K;
      }
      for (let r = Math.floor(c.start / TWO_MIB); r * TWO_MIB < c.start + c.size; r++) stackRegions.add(r);
    }
    chunkPatterns = tally(all);
    fullChunkPatterns = tally(full);
    chunkLetters = tally(all.join('').split(''));
  } else {
    const kva = (ks.K + ks.G) * PAGE_SIZE;
    const mark = (ks0: number) => {
      const start = ks0 - ks.G * PAGE_SIZE;
      for (let r = Math.floor(start / TWO_MIB); r * TWO_MIB < start + kva; r++) stackRegions.add(r);
    };
    for (const { td } of run.live) mark(td.td_kstack);
    ks.forEachCached(mark);
  }
  return {
    liveStacks: ks.liveStacks(),
    cachedStacks: ks.cachedStacks(),
    stackPages,
    reservations: reservPages / ks.reservPages,
    reservPages,
    heldPages,
    overhead: stackPages > 0 ? heldPages / stackPages - 1 : 0,
    fullChunkOverhead: fullPages > 0 ? (fullWindows * ks.reservPages) / fullPages - 1 : null,
    reservLetters: run.src.reservLetters(ks.kstackObject),
    reservString: run.src.reservString(ks.kstackObject),
    chunkStrings: chunks.map((c) => ks.chunkPattern(c)),
    chunks: chunks.length,
    chunkPatterns,
    fullChunkPatterns,
    chunkLetters,
    otherSuperpages: wholeSuperpages(run.others.map((o) => [o.addr, o.addr + o.size] as [number, number])),
    stackKvaSuperpages: stackRegions.size,
    kernelPtes: run.src.kernelPmap.stats.ptes,
    kernelPtPages: run.src.kernelPmap.stats.ptpages,
    guardHoles: guardHoles(run),
    stackKvaPromotable: [...stackRegions].filter((r) => promotable(run, r * TWO_MIB)).length,
  };
}

/* Guard pages of live and cached stacks that the kernel pmap leaves unmapped. */
function guardHoles(run: Run): number {
  const ks = run.ks;
  const pm = run.src.kernelPmap;
  let n = 0;
  const count = (ks0: number): void => {
    for (let g = 1; g <= ks.G; g++) if (pm.extract(ks0 - g * PAGE_SIZE) < 0) n++;
  };
  for (const { td } of run.live) count(td.td_kstack);
  ks.forEachCached(count);
  return n;
}

/* Whether one 2 MiB kernel mapping could replace the 4 KiB ones of [va, va + 2 MiB): all mapped, in order, to one aligned 2 MiB run. */
function promotable(run: Run, va: number): boolean {
  const pm = run.src.kernelPmap;
  const m0 = pm.extract(va);
  if (m0 < 0 || run.vm.phys.pageToPa(m0) % TWO_MIB !== 0) return false;
  for (let i = 1; i < TWO_MIB / PAGE_SIZE; i++) if (pm.extract(va + i * PAGE_SIZE) !== m0 + i) return false;
  return true;
}

function pageStats(vm: Vm): Record<string, number> {
  const out: Record<string, number> = {};
  PAGE_STAT_NAMES.forEach((n, i) => (out[n] = vm.page.stats[i]));
  return out;
}

function reservCreated(vm: Vm): number {
  const c = vm.reserv?.counters();
  if (c === undefined) return 0;
  return c.active.reduce((a, b) => a + b, 0) + c.freed + c.broken;
}

/* Runs `phase` and prices what the kernel-stack code did meanwhile. */
function measure(run: Run, K: number, phase: () => void): Priced {
  const vm = run.vm;
  const s0 = { ...run.ks.stats };
  const p0 = pageStats(vm);
  const r0 = reservCreated(vm);
  phase();
  const s1 = run.ks.stats;
  const p1 = pageStats(vm);
  const events: KstackEvents = {
    cacheOps: s1.cacheHits - s0.cacheHits + (s1.cacheFrees - s0.cacheFrees),
    vmemAllocs: s1.created - s0.created,
    vmemFrees: s1.disposed - s0.disposed,
    imports: s1.imports - s0.imports,
    releases: s1.releases - s0.releases,
    pagesFromReserv: p1.from_reserv - p0.from_reserv,
    reservsNew: reservCreated(vm) - r0,
    pagesFromPhys: p1.from_phys - p0.from_phys + (p1.from_pgcache - p0.from_pgcache),
    pagesFreed: p1.free - p0.free,
    pagesMapped: (s1.created - s0.created) * K,
    unmaps: s1.disposed - s0.disposed,
  };
  const operations = s1.cacheHits - s0.cacheHits + (s1.cacheMisses - s0.cacheMisses) + (s1.cacheFrees - s0.cacheFrees) + (s1.disposed - s0.disposed);
  const priced = priceKstackEvents(freebsdKstackAmd64, events);
  return { events, operations, nsPerOperation: operations > 0 ? priced.ns / operations : 0, breakdown: priced.breakdown };
}

/*
 * One setting at (K, G): ramp-up, churn (priced), pressure, teardown.
 * Guarantees: deterministic for the same arguments.
 */
export function runSetting(setting: Setting, K: number, G: number, threads: number, churn: number, seed: number): SettingResult {
  const run = new Run(setting, K, G, seed);
  const vm = run.vm;
  vm.page.drainCaches();
  const free0 = vm.phys.totalFree();
  const simulatedRampUp = measure(run, K, () => run.rampUp(threads));
  const afterRampUp = snapshot(run);
  const simulated = measure(run, K, () => run.churn(churn, threads));
  const afterChurn = snapshot(run);


  // Pressure on domain 0: take its pages until the allocator refuses, which breaks partially populated reservations.
  const rc0 = vm.reserv?.counters();
  const taken: number[] = [];
  for (;;) {
    const m = vm.page.allocNoobjDomain(0, VM_ALLOC_SYSTEM);
    if (m < 0) break;
    taken.push(m);
  }
  const rc1 = vm.reserv?.counters();
  const cacheDrained = run.ks.lowmem();
  const afterPressure = snapshot(run);
  for (const m of taken) vm.page.free(m);

  run.teardown();
  run.ks.check();
  vm.page.drainCaches();
  vm.check();
  const kstackKva = run.ks.kstackArena.reduce((a, ar) => a + (ar === null ? 0 : ar.size(VMEM_ALLOC | 2)), 0);
  const returnedToStart =
    vm.phys.totalFree() === free0 &&
    run.ks.stackPages() === 0 &&
    kstackKva === 0 &&
    run.arenas.domainArena.every((a) => a.size(VMEM_ALLOC) === 0) &&
    run.arenas.kernelArena.size(VMEM_ALLOC) === run.arenas.domainArena.reduce((a, d) => a + d.size(VMEM_ALLOC | 2), 0);
  return {
    setting,
    K,
    G,
    afterRampUp,
    afterChurn,
    pressure: {
      domain: 0,
      pagesTaken: taken.length,
      reservBroken: rc0 && rc1 ? rc1.broken - rc0.broken : 0,
      reservReclaimed: rc0 && rc1 ? rc1.reclaimed - rc0.reclaimed : 0,
      cacheDrained,
      after: afterPressure,
    },
    simulatedRampUp,
    simulated,
    stats: { ...run.ks.stats },
    returnedToStart,
  };
}

/* The most common key of a tally, with its share; null when empty. */
export function modal(t: Record<string, number> | null): { key: string; share: number } | null {
  if (t === null) return null;
  let best: string | null = null;
  let total = 0;
  for (const [k, v] of Object.entries(t)) {
    total += v;
    if (best === null || v > t[best] || (v === t[best] && k < best)) best = k;
  }
  return best === null ? null : { key: best, share: t[best] / total };
}

const SEED_SRC = 'FreeBSD review D38852 (alc, 2023-2024)';

const pc = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);

function seedComparisons(results: SettingResult[], K: number, G: number): SeedComparison[] {
  const lin = results.find((r) => r.setting === 'linear') as SettingResult;
  const non = results.find((r) => r.setting === 'nonlinear') as SettingResult;
  const mode = modal(non.afterRampUp.fullChunkPatterns);
  const fullCount = Object.values(non.afterRampUp.fullChunkPatterns ?? {}).reduce((a, b) => a + b, 0);
  const out: SeedComparison[] = [];
  const at = `K=${K}, G=${G}`;
  out.push({
    figure: `linear scheme: physical memory in reservations beyond the stack pages (16 KiB stack, 4 KiB guard; model ${at})`,
    source: `${SEED_SRC}: "we are allocating 25% more contiguous physical memory than really necessary, assuming a 16KB stack and 4KB guard"`,
    published: '25%',
    model: `${pc(lin.afterRampUp.fullChunkOverhead)} over fully used chunks; ${pc(lin.afterRampUp.overhead)} of all stacks after ramp-up, ${pc(lin.afterChurn.overhead)} after churn`,
    relativeError: lin.afterRampUp.fullChunkOverhead === null ? null : (lin.afterRampUp.fullChunkOverhead - 0.25) / 0.25,
    match: null,
    role: 'prediction',
    note: 'model: reservation pages / stack pages - 1 over the fully used import chunks after the ramp-up (the seed assumes full use); all stacks include partly used chunks; nothing fitted',
  });
  out.push({
    figure: `non-linear scheme: reservation string of one fully used chunk of stacks (model ${at})`,
    source: `${SEED_SRC}: "Typically, the physical memory allocation for one chunk of stacks on amd64 looks like 'EFFFB'"`,
    published: 'EFFFB',
    model: mode === null ? 'no full chunk' : `${mode.key} (${(mode.share * 100).toFixed(0)}% of ${fullCount} full chunks; ${Object.entries(non.afterRampUp.fullChunkPatterns ?? {}).map(([k, v]) => `${k} ${v}`).join(', ')})`,
    relativeError: null,
    match: mode === null ? null : mode.key === 'EFFFB',
    role: 'prediction',
    note: 'model: the most common chunk string among chunks with every slot in use, after the ramp-up',
  });
  return out;
}

function ffffAnswer(r: SettingResult, K: number, R: number): string {
  const want = 'F'.repeat(K);
  const full = r.afterRampUp.fullChunkPatterns ?? {};
  const all = r.afterRampUp.chunkPatterns ?? {};
  const fullN = Object.values(full).reduce((a, b) => a + b, 0);
  const fullF = full[want] ?? 0;
  const partN = Object.values(all).reduce((a, b) => a + b, 0) - fullN;
  const partF = (all[want] ?? 0) - fullF;
  const churnFull = r.afterChurn.fullChunkPatterns ?? {};
  const cf = Object.values(churnFull).reduce((a, b) => a + b, 0);
  return (
    `aligned: ${fullF} of ${fullN} fully used chunks are ${want} after the ramp-up, and ${partF} of ${partN} partly used ones. ` +
    `An aligned chunk holds one stack per page of a reservation (${R} stacks, ${K} reservations of stack pages) and starts at a reservation boundary, so it reads ${want} exactly when every slot holds a live or cached stack; ` +
    `a chunk with a free slot has a hole (P, or B/-, at the end). After the churn ${cf} chunks are full; the rest show the holes that exits leave.`
  );
}

/* ------------------------------------------------------------------ the run */

function validate(name: string, v: number, lo: number, hi: number): number {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new PagelabError('EUSAGE', `kstack-pindex: ${name} ${v} is not an integer from ${lo} to ${hi}`);
  return v;
}

/*
 * The options with their defaults, each checked: EUSAGE naming the bad one.
 * The CLI calls this before any experiment runs.
 */
export function checkKstackPindexOptions(opts: KstackPindexOptions): Required<Omit<KstackPindexOptions, 'onProgress'>> {
  const sweep = opts.sweep ?? DEFAULT_SWEEP;
  for (const [k, g] of sweep) {
    validate('sweep K', k, 1, 64);
    validate('sweep G', g, 0, 16);
  }
  return {
    threads: validate('--threads', opts.threads ?? DEFAULT_THREADS, 1, 50000),
    churn: validate('--churn', opts.churn ?? DEFAULT_CHURN, 0, 1000000),
    seed: validate('--seed', opts.seed ?? DEFAULT_SEED, 0, 2 ** 32 - 1),
    K: validate('K', opts.K ?? 4, 1, 64),
    G: validate('G', opts.G ?? 1, 0, 16),
    runs: validate('--runs', opts.runs ?? DEFAULT_RUNS, 0, 1000),
    sweep,
  };
}

/*
 * Runs the experiment.
 * Requires: valid options (EUSAGE naming the bad one).
 * Guarantees: a plain JSON-able result; everything but wallTime is
 * deterministic for the same options.
 */
export function runKstackPindex(opts: KstackPindexOptions = {}): KstackPindexResult {
  const { threads, churn, seed, K, G, runs, sweep } = checkKstackPindexOptions(opts);
  const total = SETTINGS.length + sweep.length + (runs > 0 ? runs * SETTINGS.length : 0);
  let done = 0;
  const progress = (what: string) => opts.onProgress?.(done++, total, what);

  const results: SettingResult[] = [];
  for (const s of SETTINGS) {
    progress(`${s} K=${K} G=${G}`);
    results.push(runSetting(s, K, G, threads, churn, seed));
  }
  const sweepThreads = Math.min(threads, 2000);
  const sweepRows: SweepRow[] = [];
  for (const [k, g] of sweep) {
    progress(`sweep K=${k} G=${g}`);
    const row: SweepRow = { K: k, G: g, analyticLinear: g / k, settings: [] };
    for (const s of ['linear', 'nonlinear', 'aligned'] as const) {
      const r = runSetting(s, k, g, sweepThreads, 0, seed);
      const mode = modal(r.afterRampUp.fullChunkPatterns);
      row.settings.push({ setting: s, overhead: r.afterRampUp.overhead, fullChunkPattern: mode?.key ?? null, fullChunkShare: mode?.share ?? 0 });
    }
    sweepRows.push(row);
  }

  let wallTime: KstackPindexResult['wallTime'] = null;
  if (runs > 0) {
    const samples = SETTINGS.map((s) => ({ setting: s, ms: [] as number[] }));
    for (const s of SETTINGS) wallRun(s, K, G, threads, churn, seed); // warm-up, untimed
    for (let i = 0; i < runs; i++) {
      for (const x of samples) {
        progress(`wall time ${x.setting} (run ${i + 1})`);
        x.ms.push(wallRun(x.setting, K, G, threads, churn, seed));
      }
    }
    const by = (s: Setting) => samples.find((x) => x.setting === s)!.ms;
    const pairs: Array<[Setting, Setting]> = [
      ['linear', 'nonlinear'],
      ['nonlinear', 'aligned'],
      ['ilp32', 'nonlinear'],
    ];
    wallTime = {
      unit: 'ms',
      what: `host wall time of the ramp-up and churn (${threads} + ${churn} thread operations with the other KVA traffic) on a booted machine, this Node process; not simulated time`,
      host: `${process.platform} ${process.arch}, Node ${process.version}`,
      samples: samples.map((x) => ({ ...x, summary: summarize(x.ms) })),
      comparisons:
        runs >= 2
          ? pairs.map(([a, b]) => ({
              baseline: a,
              candidate: b,
              comparison: compareSamples(by(a), by(b)),
              ministat: runs >= 3 ? renderMinistat([{ name: `${a} (ms)`, values: by(a) }, { name: `${b} (ms)`, values: by(b) }], { width: 60 }) : null,
            }))
          : [],
    };
  }
  opts.onProgress?.(total, total, 'done');

  const vm = new Vm(kstackMachine());
  const { arenas } = kstacksForVm(vm);
  return {
    experiment: 'kstack-pindex',
    schema: 1,
    machine: { name: DEFAULT_MACHINE, ndomains: vm.phys.ndomains, cpus: CPUS_PER_DOMAIN * vm.phys.ndomains, kvaBase: arenas.base, kvaSize: arenas.size, reservationPages: 2 ** (vm.reserv?.order ?? 9) },
    workload: {
      threads,
      churn,
      seed,
      description:
        `ramp-up to ${threads} threads, then ${churn} creations and exits keeping about ${threads} alive (exit picks a uniformly random thread); ` +
        `each thread is created on a uniformly random CPU (${CPUS_PER_DOMAIN} per domain); after each operation, with probability 0.25, one of the kernel's other KVA users allocates ` +
        `(kmem from a domain arena or kva_alloc from kernel_arena, 1-4 pages 70%, 16-64 pages 25%, 2-4 MiB 5%) or frees (40%); seeded mulberry32`,
    },
    profile: {
      name: freebsdKstackAmd64.name,
      description: freebsdKstackAmd64.description,
      constants: Object.entries(freebsdKstackAmd64.params).map(([name, c]) => ({ name, value: c.value, unit: c.unit, basis: c.basis, source: c.source })),
    },
    settings: results,
    sweep: sweepRows,
    seed: seedComparisons(results, K, G),
    ffff: ffffAnswer(results.find((r) => r.setting === 'aligned') as SettingResult, K, 2 ** (vm.reserv?.order ?? 9)),
    wallTime,
  };
}

/* pagelab's own wall time for the ramp-up and churn of one setting, ms (boot excluded). */
function wallRun(setting: Setting, K: number, G: number, threads: number, churn: number, seed: number): number {
  const run = new Run(setting, K, G, seed);
  const t0 = process.hrtime.bigint();
  run.rampUp(threads);
  run.churn(churn, threads);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
