/**
 * CPUs, threads and a priority scheduler on the simulated clock.
 *
 * The model is FreeBSD's where it matters for boot: numerically lower
 * priority is better; kernel threads preempt threads of worse priority at
 * once; a thread of idle priority (>= PRI_MIN_IDLE, the class of the
 * vm_phys lazy-init thread) runs only on a CPU that nothing else wants.
 * CPUs come online when the boot thread starts them (SI_SUB_SMP), not before.
 *
 * A thread is a generator. Between two yields it runs in zero simulated
 * time (that is where it calls the VM and counts work); each yield says what
 * it does next:
 *   { run: ns }                  compute for ns of CPU time (preemptible)
 *   { run: ns, bytes, domain }   ... streaming `bytes` to/from memory of
 *                                `domain`; the threads streaming to a domain
 *                                of limited bandwidth share it equally, and
 *                                their shares are recomputed whenever one
 *                                starts or stops (processor sharing), so no
 *                                schedule can beat bytes / bandwidth
 *   { sleep: ns }                block for ns, releasing the CPU
 *   { join: [threads] }          block until every thread listed has exited
 * Returning ends the thread.
 */
import { Clock, type EventId } from './clock.js';

/** FreeBSD sys/priority.h: the best interrupt-thread and idle-class priorities. */
export const PRI_MIN_KERN = 48;
export const PRI_MIN_IDLE = 224;
/** The boot thread (proc0 / thread0 running mi_startup). */
export const PRI_BOOT = PRI_MIN_KERN;

export type Step =
  | { run: number; bytes?: number; domain?: number }
  | { sleep: number }
  | { join: readonly SimThread[] };

export interface ThreadContext {
  readonly sched: Scheduler;
  readonly thread: SimThread;
  /** Simulated now, in ns. */
  readonly now: number;
  /** The CPU the thread is running on. */
  readonly cpu: number;
}

export type ThreadBody = (ctx: ThreadContext) => Generator<Step, void, void>;

export type ThreadState = 'runnable' | 'running' | 'sleeping' | 'joining' | 'done';

export interface SimThread {
  readonly tid: number;
  readonly name: string;
  readonly pri: number;
  /** CPUs the thread may run on; undefined means any. */
  readonly affinity: ReadonlySet<number> | undefined;
  state: ThreadState;
  /** CPU time consumed, ns. */
  cpuNs: number;
  startedAt: number;
  exitedAt: number;
}

export interface SimCpu {
  readonly id: number;
  readonly domain: number;
  online: boolean;
  onlineAt: number;
  running: ThreadImpl | null;
  busyNs: number;
}

/** One stretch of a thread on a CPU; consecutive slices are merged. */
export interface RunInterval {
  cpu: number;
  tid: number;
  start: number;
  end: number;
}

interface ThreadImpl extends SimThread {
  gen: Generator<Step, void, void>;
  /** What is left of a slice that was preempted (cpuLeft 0 and bytesLeft 0 when none). */
  owed: { cpuLeft: number; bytesLeft: number; domain: number } | null;
  cpu: number;
  /** The current slice: CPU ns and bytes still to do as of sliceUpdatedAt. */
  sliceCpuLeft: number;
  sliceBytesLeft: number;
  sliceDomain: number;
  sliceUpdatedAt: number;
  /** Time the slice needs from sliceUpdatedAt at the current bandwidth share. */
  sliceDur: number;
  /** When this stretch on the CPU began (for accounting). */
  sliceStart: number;
  sliceEvent: EventId;
  /** Runnable since this sequence number (FIFO among equal priorities). */
  queuedSeq: number;
  joiners: ThreadImpl[];
  waitingFor: Set<ThreadImpl>;
}

export interface SchedulerOptions {
  /** Bytes per ns each memory domain sustains; absent = unlimited. */
  memBandwidth?: readonly number[];
}

export class Scheduler {
  readonly clock: Clock;
  readonly cpus: SimCpu[] = [];
  readonly threads: SimThread[] = [];
  readonly intervals: RunInterval[] = [];
  private readonly impls: ThreadImpl[] = [];
  private runq: ThreadImpl[] = [];
  private seq = 0;
  private readonly memBandwidth: readonly number[] | undefined;
  /** Running slices that stream memory, per bandwidth-limited domain. */
  private readonly streaming = new Map<number, Set<ThreadImpl>>();
  private lastInterval = new Map<number, RunInterval>();

  constructor(clock = new Clock(), opts: SchedulerOptions = {}) {
    this.clock = clock;
    this.memBandwidth = opts.memBandwidth;
  }

  /*
   * Add a CPU in `domain`. The boot CPU is the first CPU added with
   * online = true; application processors are added offline and brought up
   * with startCpu().
   */
  addCpu(domain = 0, online = false): number {
    const id = this.cpus.length;
    this.cpus.push({ id, domain, online, onlineAt: online ? this.clock.now : NaN, running: null, busyNs: 0 });
    if (online) this.dispatchAll();
    return id;
  }

  /** Bring CPU `id` online now (an AP leaving its trampoline). */
  startCpu(id: number): void {
    const cpu = this.cpus[id];
    if (cpu.online) return;
    cpu.online = true;
    cpu.onlineAt = this.clock.now;
    this.dispatchAll();
  }

  /*
   * Create a runnable thread. Requires: `affinity` names existing CPUs.
   * Guarantees: the thread gets a CPU at once if one is free or runs a
   * thread of worse priority; otherwise it waits in priority, then FIFO, order.
   */
  spawn(name: string, pri: number, body: ThreadBody, affinity?: Iterable<number>): SimThread {
    const self = this;
    const t = {
      tid: this.impls.length,
      name,
      pri,
      affinity: affinity === undefined ? undefined : new Set(affinity),
      state: 'runnable' as ThreadState,
      cpuNs: 0,
      startedAt: this.clock.now,
      exitedAt: NaN,
      owed: null,
      cpu: -1,
      sliceCpuLeft: 0,
      sliceBytesLeft: 0,
      sliceDomain: 0,
      sliceUpdatedAt: 0,
      sliceDur: 0,
      sliceStart: 0,
      sliceEvent: -1,
      queuedSeq: 0,
      joiners: [],
      waitingFor: new Set(),
    } as unknown as ThreadImpl;
    const ctx: ThreadContext = {
      sched: self,
      thread: t,
      get now() {
        return self.clock.now;
      },
      get cpu() {
        return t.cpu;
      },
    };
    t.gen = body(ctx);
    this.impls.push(t);
    this.threads.push(t);
    this.makeRunnable(t);
    return t;
  }

  /** Run the simulation until no event is left. */
  run(until = Infinity): void {
    this.clock.run(until);
  }

  /** True when thread `t` is allowed on `cpu`. */
  private allowed(t: ThreadImpl, cpu: SimCpu): boolean {
    return cpu.online && (t.affinity === undefined || t.affinity.has(cpu.id));
  }

  private makeRunnable(t: ThreadImpl): void {
    t.state = 'runnable';
    t.queuedSeq = this.seq++;
    this.runq.push(t);
    // A free CPU takes it; failing that, preempt the worst-priority thread
    // it may displace (an idle-class drain, typically).
    const free = this.cpus.find((c) => c.running === null && this.allowed(t, c));
    if (free !== undefined) {
      this.dispatch(free);
      return;
    }
    let victim: SimCpu | undefined;
    for (const c of this.cpus) {
      if (!this.allowed(t, c) || c.running === null) continue;
      if (c.running.pri > t.pri && (victim === undefined || c.running.pri > (victim.running as ThreadImpl).pri)) victim = c;
    }
    if (victim !== undefined) this.preempt(victim);
  }

  /* Stop the thread on `cpu` mid-slice, keep what it still owes, and re-dispatch. */
  private preempt(cpu: SimCpu): void {
    const t = cpu.running as ThreadImpl;
    const now = this.clock.now;
    this.clock.cancel(t.sliceEvent);
    this.progress(t, now);
    t.owed = { cpuLeft: t.sliceCpuLeft, bytesLeft: t.sliceBytesLeft, domain: t.sliceDomain };
    this.account(t, cpu, t.sliceStart, now);
    this.stopStreaming(t);
    this.requeue(t, cpu);
  }

  /* Put the thread running on `cpu` back at the end of the run queue and pick the next one. */
  private requeue(t: ThreadImpl, cpu: SimCpu): void {
    cpu.running = null;
    t.cpu = -1;
    t.state = 'runnable';
    t.queuedSeq = this.seq++;
    this.runq.push(t);
    this.dispatch(cpu);
  }

  private dispatchAll(): void {
    for (const c of this.cpus) if (c.running === null && c.online) this.dispatch(c);
  }

  /* Give `cpu` the best runnable thread allowed on it, if any. */
  private dispatch(cpu: SimCpu): void {
    if (!cpu.online || cpu.running !== null) return;
    let best = -1;
    for (let i = 0; i < this.runq.length; i++) {
      const t = this.runq[i];
      if (!this.allowed(t, cpu)) continue;
      if (best < 0) best = i;
      else {
        const b = this.runq[best];
        if (t.pri < b.pri || (t.pri === b.pri && t.queuedSeq < b.queuedSeq)) best = i;
      }
    }
    if (best < 0) return;
    const t = this.runq[best];
    this.runq.splice(best, 1);
    cpu.running = t;
    t.cpu = cpu.id;
    t.state = 'running';
    if (t.owed !== null) {
      const owed = t.owed;
      t.owed = null;
      this.beginSlice(t, cpu, owed.cpuLeft, owed.bytesLeft, owed.domain);
    } else {
      this.advance(t, cpu);
    }
  }

  /* Resume the generator of `t`, running on `cpu`, and act on its next step. */
  private advance(t: ThreadImpl, cpu: SimCpu): void {
    const r = t.gen.next();
    if (r.done) {
      this.exit(t, cpu);
      return;
    }
    const step = r.value;
    if ('run' in step) {
      if (!(step.run >= 0) || !Number.isFinite(step.run)) throw new RangeError(`thread ${t.name}: run of ${step.run} ns`);
      this.beginSlice(t, cpu, step.run, step.bytes ?? 0, step.domain ?? cpu.domain);
    } else if ('sleep' in step) {
      cpu.running = null;
      t.cpu = -1;
      t.state = 'sleeping';
      this.clock.after(step.sleep, () => this.makeRunnable(t));
      this.dispatch(cpu);
    } else {
      const waiting = step.join.filter((j) => j.state !== 'done') as ThreadImpl[];
      if (waiting.length === 0) {
        this.advance(t, cpu);
        return;
      }
      cpu.running = null;
      t.cpu = -1;
      t.state = 'joining';
      t.waitingFor = new Set(waiting);
      for (const j of waiting) j.joiners.push(t);
      this.dispatch(cpu);
    }
  }

  /*
   * Start a slice of `ns` CPU time moving `bytes` of `domain`'s memory.
   * Requires: `t` runs on `cpu` with no slice in progress.
   */
  private beginSlice(t: ThreadImpl, cpu: SimCpu, ns: number, bytes: number, domain: number): void {
    const now = this.clock.now;
    t.sliceStart = now;
    t.sliceCpuLeft = ns;
    t.sliceBytesLeft = bytes;
    t.sliceDomain = domain;
    t.sliceUpdatedAt = now;
    t.sliceDur = ns;
    const bw = this.memBandwidth?.[domain];
    if (bytes > 0 && bw !== undefined && bw > 0) {
      let set = this.streaming.get(domain);
      if (set === undefined) this.streaming.set(domain, (set = new Set()));
      set.add(t);
      this.reflow(domain);
    } else {
      t.sliceEvent = this.clock.at(now + ns, () => this.sliceDone(t, cpu));
    }
  }

  /*
   * Bring the slice of `t` up to `now` at the share it had: the fraction of
   * its remaining time that has passed is done, of both its CPU time and its
   * bytes (the two proceed together).
   */
  private progress(t: ThreadImpl, now: number): void {
    const elapsed = now - t.sliceUpdatedAt;
    if (elapsed > 0 && t.sliceDur > 0) {
      const left = Math.max(0, 1 - elapsed / t.sliceDur);
      t.sliceCpuLeft *= left;
      t.sliceBytesLeft *= left;
      t.sliceDur -= elapsed;
    }
    t.sliceUpdatedAt = now;
  }

  /*
   * The streaming set of `domain` changed: bring every slice in it up to
   * now, give each an equal share of the bandwidth, and move its end.
   */
  private reflow(domain: number): void {
    const set = this.streaming.get(domain);
    const bw = this.memBandwidth?.[domain];
    if (set === undefined || bw === undefined) return;
    const now = this.clock.now;
    const k = set.size;
    for (const s of set) {
      this.progress(s, now);
      s.sliceDur = Math.max(s.sliceCpuLeft, (s.sliceBytesLeft * k) / bw);
      this.clock.cancel(s.sliceEvent);
      const cpu = this.cpus[s.cpu];
      s.sliceEvent = this.clock.at(now + s.sliceDur, () => this.sliceDone(s, cpu));
    }
  }

  /* `t` stops streaming (slice done or preempted); the others get its share. */
  private stopStreaming(t: ThreadImpl): void {
    const set = this.streaming.get(t.sliceDomain);
    if (set !== undefined && set.delete(t)) this.reflow(t.sliceDomain);
    t.sliceBytesLeft = 0;
    t.sliceCpuLeft = 0;
  }

  private sliceDone(t: ThreadImpl, cpu: SimCpu): void {
    this.account(t, cpu, t.sliceStart, this.clock.now);
    this.stopStreaming(t);
    // A better thread that became runnable while this slice ran (and found
    // nothing to preempt) gets the CPU first.
    const better = this.runq.some((o) => o.pri < t.pri && this.allowed(o, cpu));
    if (better) {
      this.requeue(t, cpu);
      return;
    }
    this.advance(t, cpu);
  }

  private account(t: ThreadImpl, cpu: SimCpu, start: number, end: number): void {
    if (end <= start) return;
    t.cpuNs += end - start;
    cpu.busyNs += end - start;
    const last = this.lastInterval.get(cpu.id);
    if (last !== undefined && last.tid === t.tid && last.end === start) {
      last.end = end;
      return;
    }
    const iv: RunInterval = { cpu: cpu.id, tid: t.tid, start, end };
    this.intervals.push(iv);
    this.lastInterval.set(cpu.id, iv);
  }

  private exit(t: ThreadImpl, cpu: SimCpu): void {
    t.state = 'done';
    t.exitedAt = this.clock.now;
    cpu.running = null;
    t.cpu = -1;
    for (const j of t.joiners) {
      j.waitingFor.delete(t);
      if (j.waitingFor.size === 0 && j.state === 'joining') this.makeRunnable(j);
    }
    t.joiners = [];
    this.dispatch(cpu);
  }
}
