/**
 * A lab scenario: Linux deferred struct page initialisation, for the
 * "several threads at once" variant of lazy-init-boot. page_alloc_init_late
 * starts one pgdatinit thread per node and the boot waits for all of them;
 * with Jordan's padata series each pgdatinit splits its node's range into
 * chunks and runs them on up to `threadsPerNode` threads of that node.
 *
 * No Vm runs here: a 768 GiB machine's page array does not fit this host.
 * The machines are the published ones (src/sim/profiles/linux-padata-2020.ts);
 * the work is synthesised from their sizes, one Work.PageInit per struct
 * page, and handed to the sim to schedule and price; the memory bandwidth of
 * each node is shared by the threads streaming to it.
 */
import { newWorkCounters, Work } from '../vm/counters.js';
import type { LinuxMachine } from '../sim/profiles/linux-padata-2020.js';
import { Clock } from '../sim/clock.js';
import { param, priceWork, workTraffic, type CostProfile } from '../sim/cost.js';
import { PRI_MIN_KERN, Scheduler, type SimThread, type Step, type ThreadContext } from '../sim/sched.js';
import { phaseRows, Timeline, type PhaseRow } from '../sim/timeline.js';
import type { RunInterval } from '../sim/sched.js';

export type { LinuxMachine };

export interface LinuxSimResult {
  machine: string;
  threadsPerNode: number;
  /** page_alloc_init_late: first pgdatinit start to last exit, ns. */
  deferredInitNs: number;
  perNodeNs: number[];
  bootNs: number;
  phases: PhaseRow[];
  intervals: RunInterval[];
  threadNames: Record<number, string>;
}

/*
 * Simulate a Linux boot's deferred page init on `machine`.
 * Requires: a Linux profile; 1 <= threadsPerNode <= machine.cpusPerNode.
 * Guarantees: deterministic; every deferred page is initialised exactly once.
 */
export function simulateLinuxDeferredInit(profile: CostProfile, machine: LinuxMachine, threadsPerNode: number): LinuxSimResult {
  if (!Number.isInteger(threadsPerNode) || threadsPerNode < 1 || threadsPerNode > machine.cpusPerNode) {
    throw new RangeError(`simulateLinuxDeferredInit: ${threadsPerNode} threads per node on ${machine.cpusPerNode}-CPU nodes`);
  }
  const bw = machine.bandwidthParam === null ? undefined : param(profile, machine.bandwidthParam);
  const clock = new Clock();
  const sched = new Scheduler(clock, bw === undefined ? {} : { memBandwidth: Array.from({ length: machine.nodes }, () => bw) });
  for (let n = 0; n < machine.nodes; n++) for (let c = 0; c < machine.cpusPerNode; c++) sched.addCpu(n, true);
  const nodeCpus = (n: number) => Array.from({ length: machine.cpusPerNode }, (_, c) => n * machine.cpusPerNode + c);
  const tl = new Timeline();
  const rest = machine.restOfBootParam === null ? 0 : param(profile, machine.restOfBootParam);
  const before = param(profile, 'fracBeforeDeferred');
  const section = param(profile, 'padataChunkPages');
  const lbf = param(profile, 'padataLoadBalanceFactor');
  const N = machine.deferredPagesPerNode;
  // padata_do_multithreaded: chunk = roundup(size / (nworks * load_balance_factor), align), at least min_chunk.
  const chunk = Math.max(section, Math.ceil(N / (threadsPerNode * lbf) / section) * section);
  const perNode: number[] = [];
  let initStart = NaN;

  const enter = (ctx: ThreadContext, name: string) => tl.enter(name, ctx.thread.tid, ctx.thread.name, ctx.cpu, ctx.now);
  const exit = (ctx: ThreadContext, name: string) => tl.exit(name, ctx.thread.tid, ctx.now);

  const worker = (node: number, next: { left: number }) =>
    function* (ctx: ThreadContext): Generator<Step, void, void> {
      enter(ctx, 'deferred_init_memmap_chunk');
      while (next.left > 0) {
        const n = Math.min(chunk, next.left);
        next.left -= n;
        const w = newWorkCounters();
        w[Work.PageInit] = n;
        yield { run: priceWork(profile, w), bytes: workTraffic(profile, w), domain: node };
      }
      exit(ctx, 'deferred_init_memmap_chunk');
    };

  const pgdatinit = (node: number) =>
    function* (ctx: ThreadContext): Generator<Step, void, void> {
      const t0 = ctx.now;
      enter(ctx, 'deferred_init_memmap');
      const next = { left: N };
      const helpers: SimThread[] = [];
      for (let i = 1; i < threadsPerNode; i++) {
        helpers.push(ctx.sched.spawn(`padata${node}/${i}`, PRI_MIN_KERN, worker(node, next), nodeCpus(node)));
      }
      yield* worker(node, next)(ctx);
      yield { join: helpers };
      exit(ctx, 'deferred_init_memmap');
      perNode[node] = ctx.now - t0;
    };

  let deferred = NaN;
  const boot = sched.spawn(
    'swapper/0 (kernel_init)',
    PRI_MIN_KERN,
    function* (ctx: ThreadContext): Generator<Step, void, void> {
      enter(ctx, 'kernel boot');
      enter(ctx, 'before page_alloc_init_late');
      yield { run: rest * before };
      exit(ctx, 'before page_alloc_init_late');
      enter(ctx, 'page_alloc_init_late');
      initStart = ctx.now;
      const threads: SimThread[] = [];
      for (let n = 0; n < machine.nodes; n++) threads.push(ctx.sched.spawn(`pgdatinit${n}`, PRI_MIN_KERN, pgdatinit(n), nodeCpus(n)));
      yield { join: threads };
      exit(ctx, 'page_alloc_init_late');
      const initEnd = ctx.now;
      enter(ctx, 'after page_alloc_init_late');
      yield { run: rest * (1 - before) };
      exit(ctx, 'after page_alloc_init_late');
      exit(ctx, 'kernel boot');
      deferred = initEnd - initStart;
    },
    [0],
  );
  sched.run();
  return {
    machine: machine.name,
    threadsPerNode,
    deferredInitNs: deferred,
    perNodeNs: perNode,
    bootNs: boot.exitedAt,
    phases: phaseRows(tl),
    intervals: sched.intervals,
    threadNames: Object.fromEntries(sched.threads.map((t) => [t.tid, t.name])),
  };
}
