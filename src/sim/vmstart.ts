/**
 * A guest's start on the simulated clock, for the pre-zeroing experiment:
 * background zeroing threads (idle priority) work through the idle window
 * before it, then one thread (QEMU's VFIO pin) allocates, zeroes what is not
 * PG_ZERO, and pins every page or block. The lab ran the VM and hands in its
 * work counts; this file only keeps time and prices them.
 */
import { Work, type WorkCounters } from '../vm/counters.js';
import { Clock } from './clock.js';
import { param, priceWork, type CostProfile } from './cost.js';
import { PRI_MIN_IDLE, PRI_MIN_KERN, Scheduler, type RunInterval, type SimThread, type Step, type ThreadContext } from './sched.js';
import { phaseRows, Timeline, type PhaseRow } from './timeline.js';

export interface VmStartInput {
  /** Work of the start path (allocations, allocation-path zeroing), at full scale. */
  startWork: WorkCounters;
  /** Pin/map operations: 4 KiB pages or 2 MiB blocks. */
  pins: number;
  pageSize: '4k' | 'thp';
  /** Bytes the background threads zeroed before the start (full scale). */
  backgroundBytes: number;
  threads: number;
}

export interface VmStartSim {
  /** From the start thread's first step to its exit, ns. */
  startNs: number;
  /** Where it went: fixed start, allocation, zeroing (with any wait for bandwidth), pinning; ns, summing to startNs. */
  breakdown: { fixedNs: number; allocNs: number; zeroNs: number; pinNs: number };
  /** CPU time of the background threads, ns, and when the last one finished. */
  backgroundCpuNs: number;
  backgroundDoneNs: number;
  phases: PhaseRow[];
  intervals: RunInterval[];
  threadNames: Record<number, string>;
}

/*
 * Bytes per ns each of `threads` background zeroing threads gets: the
 * single-thread clear_page rate, capped by the node's bandwidth shared
 * equally. Also what turns idle time into a page budget for the VM.
 */
export function zeroingRate(profile: CostProfile, threads: number): number {
  return Math.min(param(profile, 'zeroBytesPerNs'), param(profile, 'hostMemBandwidthBytesPerNs') / threads);
}

/*
 * Simulates the start. Requires a profile with the pgzero parameters.
 * Guarantees: deterministic; startNs = the sum of the breakdown.
 */
export function simulateVmStart(profile: CostProfile, input: VmStartInput, idleNs: number): VmStartSim {
  const clock = new Clock();
  const bw = param(profile, 'hostMemBandwidthBytesPerNs');
  const sched = new Scheduler(clock, { memBandwidth: [bw] });
  const cpus = Math.max(2, input.threads + 1);
  for (let c = 0; c < cpus; c++) sched.addCpu(0, true);
  const tl = new Timeline();
  const zeroNsPerByte = 1 / param(profile, 'zeroBytesPerNs');
  const enter = (ctx: ThreadContext, name: string) => tl.enter(name, ctx.thread.tid, ctx.thread.name, ctx.cpu, ctx.now);
  const exit = (ctx: ThreadContext, name: string) => tl.exit(name, ctx.thread.tid, ctx.now);

  const bg: SimThread[] = [];
  const perThread = input.backgroundBytes / input.threads;
  if (perThread > 0) {
    for (let i = 0; i < input.threads; i++) {
      bg.push(
        sched.spawn(`zeroidle/${i}`, PRI_MIN_IDLE, function* (ctx): Generator<Step, void, void> {
          enter(ctx, 'background zeroing');
          yield { run: perThread * zeroNsPerByte, bytes: perThread, domain: 0 };
          exit(ctx, 'background zeroing');
        }),
      );
    }
  }

  const zeroBytes = input.startWork[Work.ZeroBytesSync];
  const zeroNs = zeroBytes * zeroNsPerByte;
  const allocWork = Float64Array.from(input.startWork);
  allocWork[Work.ZeroBytesSync] = 0;
  const allocNs = priceWork(profile, allocWork);
  const pinNs = input.pins * param(profile, input.pageSize === '4k' ? 'pin4kNs' : 'pin2mNs');
  const fixedNs = param(profile, 'vmStartFixedNs');
  let t0 = NaN;
  const start = sched.spawn(
    'qemu (vfio pin)',
    PRI_MIN_KERN,
    function* (ctx): Generator<Step, void, void> {
      yield { sleep: idleNs };
      t0 = ctx.now;
      enter(ctx, 'vm start');
      enter(ctx, 'qemu, kvm, vfio set-up');
      yield { run: fixedNs };
      exit(ctx, 'qemu, kvm, vfio set-up');
      enter(ctx, 'allocate');
      yield { run: allocNs };
      exit(ctx, 'allocate');
      enter(ctx, 'zero (allocation path)');
      yield { run: zeroNs, bytes: zeroBytes, domain: 0 };
      exit(ctx, 'zero (allocation path)');
      enter(ctx, 'pin and map');
      yield { run: pinNs };
      exit(ctx, 'pin and map');
      exit(ctx, 'vm start');
    },
    [0],
  );
  sched.run();
  const startNs = start.exitedAt - t0;
  return {
    startNs,
    breakdown: { fixedNs, allocNs, zeroNs: Math.max(0, startNs - fixedNs - allocNs - pinNs), pinNs },
    backgroundCpuNs: bg.reduce((a, t) => a + t.cpuNs, 0),
    backgroundDoneNs: bg.length === 0 ? 0 : Math.max(...bg.map((t) => t.exitedAt)),
    phases: phaseRows(tl),
    intervals: sched.intervals,
    threadNames: Object.fromEntries(sched.threads.map((t) => [t.tid, t.name])),
  };
}
