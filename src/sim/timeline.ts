/**
 * The boot timeline: named phases with enter and exit times, as FreeBSD's
 * TSLOG records them (TSENTER/TSEXIT, dumped by sysctl debug.tslog and drawn
 * as flame charts by Colin Percival's tslog tools). Phases nest per thread.
 *
 * Output as a table, and as Chrome trace-event JSON ("X" complete events,
 * microsecond timestamps) that chrome://tracing and ui.perfetto.dev load.
 */
import type { RunInterval, Scheduler } from './sched.js';

export interface Phase {
  name: string;
  tid: number;
  thread: string;
  /** CPU the thread was on when it entered the phase. */
  cpu: number;
  /** Nesting depth within its thread (0 = outermost). */
  depth: number;
  enterNs: number;
  /** NaN while the phase is open. */
  exitNs: number;
}

export class Timeline {
  readonly phases: Phase[] = [];
  private open = new Map<number, Phase[]>();

  /* TSENTER: open phase `name` on thread `tid` at `t`. */
  enter(name: string, tid: number, thread: string, cpu: number, t: number): void {
    const stack = this.open.get(tid) ?? [];
    const p: Phase = { name, tid, thread, cpu, depth: stack.length, enterNs: t, exitNs: NaN };
    stack.push(p);
    this.open.set(tid, stack);
    this.phases.push(p);
  }

  /*
   * TSEXIT: close the innermost open phase of `tid`, which must be `name`
   * (a mismatch is a bug in the model, as an unbalanced TSEXIT is in a kernel).
   */
  exit(name: string, tid: number, t: number): void {
    const stack = this.open.get(tid);
    const p = stack?.[stack.length - 1];
    if (p === undefined || p.name !== name) {
      throw new Error(`Timeline.exit: "${name}" on thread ${tid} does not match the open phase ${p === undefined ? '(none)' : `"${p.name}"`}`);
    }
    stack?.pop();
    p.exitNs = t;
  }

  /** The first phase called `name`, or undefined. */
  find(name: string): Phase | undefined {
    return this.phases.find((p) => p.name === name);
  }

  /** Duration of the first phase called `name`, ns (NaN when absent or open). */
  duration(name: string): number {
    const p = this.find(name);
    return p === undefined ? NaN : p.exitNs - p.enterNs;
  }
}

/** A phase as it appears in results.json and the table (times in ns). */
export interface PhaseRow {
  phase: string;
  thread: string;
  cpu: number;
  depth: number;
  enterNs: number;
  exitNs: number;
  durationNs: number;
}

export function phaseRows(tl: Timeline): PhaseRow[] {
  return tl.phases.map((p) => ({
    phase: p.name,
    thread: p.thread,
    cpu: p.cpu,
    depth: p.depth,
    enterNs: p.enterNs,
    exitNs: p.exitNs,
    durationNs: p.exitNs - p.enterNs,
  }));
}

/** One traced run: a process in the trace viewer. */
export interface TraceRun {
  /** Shown as the process name, e.g. "1G lazy_page_init=1". */
  label: string;
  phases: readonly PhaseRow[];
  /** CPU occupancy; drawn as one track per CPU. */
  intervals?: readonly RunInterval[];
  threadNames?: ReadonlyMap<number, string>;
  ncpus?: number;
}

/** Trace-event format: https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU */
export interface TraceEvent {
  name: string;
  ph: 'X' | 'M';
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  args?: Record<string, unknown>;
}

const CPU_TID_BASE = 1000;

/*
 * Chrome trace-event JSON for `runs`: one process per run, one track per
 * simulated thread carrying its phases, and one track per CPU showing which
 * thread ran when. Timestamps are microseconds (the format's unit), with
 * nanosecond fractions kept.
 */
export function chromeTrace(runs: readonly TraceRun[]): { traceEvents: TraceEvent[]; displayTimeUnit: 'ns'; otherData: Record<string, string> } {
  const ev: TraceEvent[] = [];
  const us = (ns: number) => ns / 1000;
  runs.forEach((run, i) => {
    const pid = i + 1;
    ev.push({ name: 'process_name', ph: 'M', pid, tid: 0, args: { name: run.label } });
    ev.push({ name: 'process_sort_index', ph: 'M', pid, tid: 0, args: { sort_index: pid } });
    const seen = new Map<number, string>();
    for (const p of run.phases) seen.set(threadId(p.thread, run.threadNames), p.thread);
    for (const [tid, name] of seen) ev.push({ name: 'thread_name', ph: 'M', pid, tid, args: { name } });
    for (const p of run.phases) {
      if (!Number.isFinite(p.exitNs)) continue;
      ev.push({
        name: p.phase,
        cat: 'tslog',
        ph: 'X',
        pid,
        tid: threadId(p.thread, run.threadNames),
        ts: us(p.enterNs),
        dur: us(p.exitNs - p.enterNs),
        args: { cpu: p.cpu, durationNs: p.durationNs },
      });
    }
    if (run.intervals !== undefined) {
      const ncpus = run.ncpus ?? 1 + Math.max(-1, ...run.intervals.map((r) => r.cpu));
      for (let c = 0; c < ncpus; c++) ev.push({ name: 'thread_name', ph: 'M', pid, tid: CPU_TID_BASE + c, args: { name: `CPU ${c}` } });
      for (const r of run.intervals) {
        ev.push({
          name: run.threadNames?.get(r.tid) ?? `tid ${r.tid}`,
          cat: 'sched',
          ph: 'X',
          pid,
          tid: CPU_TID_BASE + r.cpu,
          ts: us(r.start),
          dur: us(r.end - r.start),
        });
      }
    }
  });
  return { traceEvents: ev, displayTimeUnit: 'ns', otherData: { generator: 'pagelab lab', clock: 'simulated' } };
}

/* Stable small track ids from thread names: tid in the simulation when known. */
function threadId(name: string, names: ReadonlyMap<number, string> | undefined): number {
  if (names !== undefined) for (const [tid, n] of names) if (n === name) return tid + 1;
  let h = 7;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % 997;
  return 100 + h;
}

/** Thread names of a scheduler, for chromeTrace. */
export function threadNames(s: Scheduler): Map<number, string> {
  return new Map(s.threads.map((t) => [t.tid, t.name]));
}
