/**
 * A lab scenario: a simulated FreeBSD kernel boot on the sim's clock. The boot
 * thread walks the phases of mi_startup on the boot CPU, the VM does its real
 * work (vm_page_startup, early allocations, the lazy drain) on a real Vm, and
 * the profile prices the work it counted. Phases are recorded as TSLOG would.
 *
 *   BSP  | hammer_time | vm_page_startup | early allocs | pre-SMP SYSINITs | SI_SUB_SMP | post-SMP SYSINITs |
 *   APs                                                                   up -> vm_phys_lazy_init (idle prio) ...
 *
 * The lazy-init thread has idle priority: it only runs on CPUs that nothing
 * else wants, and is preempted the moment anything else needs one.
 */
import { Tunables } from '../kern/tunables.js';
import { memoryMapTotals } from '../machine/memmap.js';
import type { MemoryMap } from '../machine/types.js';
import { Work, newWorkCounters, workDelta, workToObject, type WorkCounters } from '../vm/counters.js';
import { VM_FREEPOOL_DEFAULT, VM_FREEPOOL_DIRECT } from '../vm/param.js';
import { Vm } from '../vm/vm.js';
import { Clock } from '../sim/clock.js';
import { param, priceWork, workTraffic, type CostProfile } from '../sim/cost.js';
import { PRI_BOOT, PRI_MIN_IDLE, Scheduler, type SimThread, type Step, type ThreadContext } from '../sim/sched.js';
import { phaseRows, Timeline, type PhaseRow } from '../sim/timeline.js';
import type { RunInterval } from '../sim/sched.js';

/** Phase names, as TSLOG would show them. */
export const PHASE = {
  boot: 'kernel boot',
  hammerTime: 'hammer_time',
  vmPageStartup: 'vm_page_startup',
  earlyAllocs: 'early allocations (uma_startup, kmem)',
  preSmp: 'SYSINITs before SI_SUB_SMP',
  smp: 'SI_SUB_SMP',
  postSmp: 'SYSINITs after SI_SUB_SMP',
  drain: 'vm_phys_lazy_init',
} as const;

/*
 * Page allocations made on the boot path before SI_SUB_SMP. An assumption of
 * the model (stated in docs/lab.md): small UMA/kmem allocations come from the
 * DIRECT pool, as on amd64, so the first one falls back to another pool and,
 * on a lazy kernel, initialises a whole 16 MiB lazy block on demand.
 */
export const EARLY_ALLOCATIONS: ReadonlyArray<{ what: string; pool: number; order: number; count: number }> = [
  { what: 'UMA boot pages and small kmem objects (VM_FREEPOOL_DIRECT)', pool: VM_FREEPOOL_DIRECT, order: 0, count: 64 },
  { what: 'kernel page-table pages', pool: VM_FREEPOOL_DIRECT, order: 0, count: 16 },
  { what: 'kmem superpage reservations (2 MiB)', pool: VM_FREEPOOL_DEFAULT, order: 9, count: 2 },
];

/** Drain work stood in for by arithmetic, when the machine is too big to drain for real. */
export interface SyntheticDrain {
  /** Work per page drained (from a real drain of a smaller machine). */
  workPerPage: WorkCounters;
  /** Label for reports: where workPerPage came from. */
  from: string;
}

/** Eager boot-path work given instead of booting eagerly (machines too big to initialise here). */
export interface DerivedEager {
  startupWork: WorkCounters;
  earlyAllocWork: WorkCounters;
  pagesInitialised: number;
  freePages: number;
  from: string;
}

export interface BootSimOptions {
  profile: CostProfile;
  map: MemoryMap;
  /** Tunables for the Vm (vm.lazy_page_init, vm.page_init, ...). */
  tunables?: Record<string, string | number | boolean>;
  /** vCPUs; default the profile's `cpus`. */
  cpus?: number;
  /** Lazy-init threads started at SI_SUB_SMP; default 1 (FreeBSD's vmlazyinit). */
  drainThreads?: number;
  /** Drain by arithmetic rather than on the Vm (lazy kernels only). */
  syntheticDrain?: SyntheticDrain;
  /** Eager kernels only: price this work instead of booting (the Vm is not built). */
  derivedEager?: DerivedEager;
}

export interface BootSimResult {
  profile: string;
  machine: string;
  lazy: boolean;
  pageInit: string;
  cpus: number;
  drainThreads: number;
  /** Kernel boot: power-on to the end of the post-SMP SYSINITs (start of init). */
  bootNs: number;
  vmPageStartupNs: number;
  /** vm_page_startup / boot. */
  vmPageStartupShare: number;
  earlyAllocNs: number;
  smpAtNs: number;
  /** When the lazy pool was empty: drain thread exit (lazy), end of vm_page_startup (eager). */
  allInitialisedAtNs: number;
  /** Page records written on the boot thread (vm_page_startup + early allocations). */
  pagesInitBootPath: number;
  /** Page records written by the drain. */
  pagesInitDrain: number;
  /** Pages free (lazy pool included) when everything is drained, after the early allocations. */
  freePagesEnd: number;
  /** Pages of the machine (vm_page array length). */
  npages: number;
  /** Longest time the boot thread waited for a CPU (lazy thread preemption latency), ns. */
  bootThreadMaxWaitNs: number;
  workBootPath: Record<string, number>;
  /** The part of workBootPath done by the early allocations. */
  workEarlyAlloc: Record<string, number>;
  workDrain: Record<string, number>;
  /** How the work was obtained: "vm" (counted on a real Vm), or a derivation. */
  workSource: { bootPath: string; drain: string };
  phases: PhaseRow[];
  intervals: RunInterval[];
  threadNames: Record<number, string>;
}

/*
 * Boot `opts.map` in simulation.
 * Requires: a FreeBSD profile; derivedEager only with vm.lazy_page_init=0;
 * syntheticDrain only with vm.lazy_page_init=1.
 * Guarantees: a deterministic result (same options, same numbers, bit for
 * bit); the Vm, when built, is left fully drained.
 */
export function simulateBoot(opts: BootSimOptions): BootSimResult {
  const profile = opts.profile;
  const tun = new Tunables(opts.tunables ?? {});
  const lazy = tun.num('vm.lazy_page_init') === 1;
  const ncpus = opts.cpus ?? param(profile, 'cpus');
  const nDrain = opts.drainThreads ?? 1;
  if (!Number.isInteger(ncpus) || ncpus < 1) throw new RangeError(`simulateBoot: ${ncpus} CPUs`);
  if (!Number.isInteger(nDrain) || nDrain < 1) throw new RangeError(`simulateBoot: ${nDrain} drain threads`);
  if (opts.derivedEager !== undefined && lazy) throw new RangeError('simulateBoot: derivedEager needs vm.lazy_page_init=0');

  const ramBytes = memoryMapTotals(opts.map).ramBytes;
  const rest = param(profile, 'restOfBootNs') + (param(profile, 'restOfBootGrowthNsPerGiB') * (ramBytes - 128 * 2 ** 20)) / 2 ** 30;
  const clock = new Clock();
  const sched = new Scheduler(clock, { memBandwidth: [param(profile, 'memBandwidthBytesPerNs')] });
  const tl = new Timeline();
  sched.addCpu(0, true);
  for (let i = 1; i < ncpus; i++) sched.addCpu(0, false);

  let vm: Vm | undefined;
  let startupNs = 0;
  let earlyNs = 0;
  let smpAt = NaN;
  let startupEnd = NaN;
  const bootWork = newWorkCounters();
  const drainWork = newWorkCounters();
  let earlyWork = newWorkCounters();
  let pagesBoot = 0;
  let pagesDrain = 0;
  let npages = 0;
  let freeEnd = NaN;
  const drainThreads: SimThread[] = [];

  const enter = (ctx: ThreadContext, name: string) => tl.enter(name, ctx.thread.tid, ctx.thread.name, ctx.cpu, ctx.now);
  const exit = (ctx: ThreadContext, name: string) => tl.exit(name, ctx.thread.tid, ctx.now);

  // The lazy pool, drained by `nDrain` threads taking one block per slice.
  let syntheticLeft = 0;
  const drainBody = function* (ctx: ThreadContext): Generator<Step, void, void> {
    enter(ctx, PHASE.drain);
    if (opts.syntheticDrain !== undefined) {
      const per = opts.syntheticDrain.workPerPage;
      const block = 4096;
      while (syntheticLeft > 0) {
        const n = Math.min(block, syntheticLeft);
        syntheticLeft -= n;
        const w = newWorkCounters();
        for (let i = 0; i < Work.COUNT; i++) w[i] = per[i] * n;
        for (let i = 0; i < Work.COUNT; i++) drainWork[i] += w[i];
        pagesDrain += w[Work.PageInit];
        yield { run: priceWork(profile, w), bytes: workTraffic(profile, w), domain: 0 };
      }
    } else {
      const phys = (vm as Vm).phys;
      for (let d = 0; d < phys.ndomains; d++) {
        for (;;) {
          const before = Float64Array.from(phys.work);
          const n = phys.lazyInitSlice(d, param(profile, 'drainSlicePages'));
          if (n === 0) break;
          const w = workDelta(phys.work, before);
          for (let i = 0; i < Work.COUNT; i++) drainWork[i] += w[i];
          pagesDrain += w[Work.PageInit];
          yield { run: priceWork(profile, w), bytes: workTraffic(profile, w), domain: d };
        }
      }
    }
    exit(ctx, PHASE.drain);
  };

  const bootBody = function* (ctx: ThreadContext): Generator<Step, void, void> {
    enter(ctx, PHASE.boot);

    enter(ctx, PHASE.hammerTime);
    yield { run: rest * param(profile, 'fracHammerTime') };
    exit(ctx, PHASE.hammerTime);

    enter(ctx, PHASE.vmPageStartup);
    let startupWork: WorkCounters;
    if (opts.derivedEager !== undefined) {
      startupWork = opts.derivedEager.startupWork;
      pagesBoot += opts.derivedEager.pagesInitialised;
      startupNs = priceWork(profile, startupWork);
    } else {
      vm = new Vm(opts.map, tun);
      startupWork = vm.boot.work;
      pagesBoot += vm.boot.pagesInitialised;
      npages = vm.phys.npages;
      // FreeBSD writes the first record of every lazy block (vm_phys_enqueue_contig);
      // pagelab keeps those heads in a side table and does not count them, so
      // they are priced here.
      startupNs = priceWork(profile, startupWork) + vm.boot.lazyBlocks * profile.work.page_init.value;
      pagesBoot += vm.boot.lazyBlocks;
    }
    for (let i = 0; i < Work.COUNT; i++) bootWork[i] += startupWork[i];
    yield { run: startupNs };
    exit(ctx, PHASE.vmPageStartup);
    startupEnd = ctx.now;

    enter(ctx, PHASE.earlyAllocs);
    let early: WorkCounters;
    if (opts.derivedEager !== undefined) {
      early = opts.derivedEager.earlyAllocWork;
    } else {
      const phys = (vm as Vm).phys;
      const before = Float64Array.from(phys.work);
      for (const a of EARLY_ALLOCATIONS) {
        for (let i = 0; i < a.count; i++) {
          if (phys.allocPages(0, a.pool, a.order) < 0) throw new Error(`simulateBoot: early allocation failed (${a.what})`);
        }
      }
      early = workDelta(phys.work, before);
    }
    pagesBoot += early[Work.PageInit] + early[Work.PageInitBulk];
    for (let i = 0; i < Work.COUNT; i++) bootWork[i] += early[i];
    earlyWork = early;
    earlyNs = priceWork(profile, early);
    yield { run: earlyNs };
    exit(ctx, PHASE.earlyAllocs);

    enter(ctx, PHASE.preSmp);
    yield { run: rest * param(profile, 'fracPreSmp') };
    exit(ctx, PHASE.preSmp);

    enter(ctx, PHASE.smp);
    smpAt = ctx.now;
    yield { run: rest * param(profile, 'fracSmp') };
    for (let c = 1; c < ncpus; c++) ctx.sched.startCpu(c);
    // vm_phys_lazy_sysinit (SI_SUB_SMP, SI_ORDER_ANY): kthread_add + sched_prio(PRI_MIN_IDLE).
    if (lazy) {
      if (vm !== undefined && opts.syntheticDrain !== undefined) syntheticLeft = vm.phys.lazyPending();
      for (let i = 0; i < nDrain; i++) drainThreads.push(ctx.sched.spawn(nDrain === 1 ? 'vmlazyinit' : `vmlazyinit${i}`, PRI_MIN_IDLE, drainBody));
    }
    exit(ctx, PHASE.smp);

    enter(ctx, PHASE.postSmp);
    yield { run: rest * param(profile, 'fracPostSmp') };
    exit(ctx, PHASE.postSmp);

    exit(ctx, PHASE.boot);
  };

  const boot = sched.spawn('thread0 (mi_startup)', PRI_BOOT, bootBody, [0]);
  sched.run();

  const bootNs = boot.exitedAt;
  const allInit = lazy ? Math.max(...drainThreads.map((t) => t.exitedAt)) : startupEnd;
  if (opts.derivedEager !== undefined) {
    freeEnd = opts.derivedEager.freePages;
    npages = opts.derivedEager.pagesInitialised;
  } else {
    freeEnd = (vm as Vm).phys.totalFree();
  }
  return {
    profile: profile.name,
    machine: opts.map.name,
    lazy,
    pageInit: tun.str('vm.page_init'),
    cpus: ncpus,
    drainThreads: lazy ? nDrain : 0,
    bootNs,
    vmPageStartupNs: startupNs,
    vmPageStartupShare: startupNs / bootNs,
    earlyAllocNs: earlyNs,
    smpAtNs: smpAt,
    allInitialisedAtNs: allInit,
    pagesInitBootPath: pagesBoot,
    pagesInitDrain: pagesDrain,
    freePagesEnd: freeEnd,
    npages,
    bootThreadMaxWaitNs: maxWait(sched, boot.tid, bootNs),
    workBootPath: workToObject(bootWork),
    workEarlyAlloc: workToObject(earlyWork),
    workDrain: workToObject(drainWork),
    workSource: {
      bootPath: opts.derivedEager !== undefined ? opts.derivedEager.from : 'vm',
      drain: !lazy ? 'none' : opts.syntheticDrain !== undefined ? opts.syntheticDrain.from : 'vm',
    },
    phases: phaseRows(tl),
    intervals: sched.intervals,
    threadNames: Object.fromEntries(sched.threads.map((t) => [t.tid, t.name])),
  };
}

/*
 * The longest gap in the boot thread's CPU occupancy before it exited: it
 * never sleeps, so any gap is time spent waiting for a CPU.
 */
function maxWait(sched: Scheduler, tid: number, end: number): number {
  const mine = sched.intervals.filter((r) => r.tid === tid).sort((a, b) => a.start - b.start);
  let worst = 0;
  let t = 0;
  for (const r of mine) {
    worst = Math.max(worst, r.start - t);
    t = r.end;
  }
  return Math.max(worst, end - t);
}

/*
 * The boot-path work of an eager boot of `lazyVm`'s machine, derived from
 * its lazy boot: an eager vm_page_startup initialises every page of every
 * segment (fields or bulk per `pageInit`) and enqueues the same blocks into
 * DEFAULT that the lazy one enqueued into LAZYINIT (vm_page_startup calls
 * vm_phys_enqueue_contig on the same ranges either way); the early
 * allocations cost what they cost on `eagerReference`, a real eager boot of
 * a smaller machine (they take blocks from DEFAULT queues that every eager
 * machine has). Tested against real eager boots in test/sim.test.ts.
 */
export function deriveEager(lazyVm: Vm, pageInit: 'fields' | 'bzero', eagerEarlyAllocWork: WorkCounters, from: string): DerivedEager {
  const w = Float64Array.from(lazyVm.boot.work);
  w[Work.PageInit] = 0;
  w[Work.PageInitBulk] = 0;
  w[pageInit === 'bzero' ? Work.PageInitBulk : Work.PageInit] = lazyVm.phys.npages;
  let allocated = 0;
  for (const a of EARLY_ALLOCATIONS) allocated += a.count * 2 ** a.order;
  return {
    startupWork: w,
    earlyAllocWork: eagerEarlyAllocWork,
    pagesInitialised: lazyVm.phys.npages,
    freePages: lazyVm.boot.pagesFree - allocated,
    from,
  };
}
