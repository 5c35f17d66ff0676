/**
 * The page's one seam onto the replay (src/lab/replay.ts): parse a trace,
 * step it op by op, seek, and read the state between steps. Seeking back
 * replays from the start: booting and replaying are fast enough that a
 * snapshot store would cost more memory than it saves time on the traces a
 * person steps through.
 */
import { parseTrace, ReplaySession, type ReplayEvent, type Trace } from '../lab/replay.js';
import type { MemoryMap } from '../machine/types.js';
import { freeQueueTable } from '../vm/buddyinfo.js';
import type { Vm } from '../vm/vm.js';
import type { OwnedRun } from './mapview.js';

export interface SteppedOp {
  /** 1-based line of the trace text. */
  line: number;
  ok: boolean;
  note?: string;
}

export class TraceStepper {
  readonly trace: Trace;
  readonly text: string;
  private readonly machine: MemoryMap | undefined;
  private readonly overrides: string[];
  private session: ReplaySession;
  /** Outcome of each operation run so far, by operation index. */
  readonly outcomes: SteppedOp[] = [];
  /** The trace's lines, split once. */
  readonly lines: readonly string[];
  /** Lines whose operation failed or was skipped so far, with why. */
  readonly failedLines = new Map<number, string>();

  /*
   * Parses `text` and boots its machine (`machine` replaces the trace's, and
   * `overrides` apply after its `set` lines, as the CLI's options do).
   * Throws the replay's PagelabError (ETRACE naming the line) on a bad trace.
   */
  constructor(text: string, file: string, machine?: MemoryMap, overrides: string[] = []) {
    this.text = text;
    this.trace = parseTrace(text, file);
    this.lines = text.split(/\r?\n/);
    this.machine = machine;
    this.overrides = overrides;
    this.session = this.boot();
  }

  private boot(): ReplaySession {
    return new ReplaySession(this.trace, { machine: this.machine, overrides: this.overrides });
  }

  get vm(): Vm {
    return this.session.vm;
  }

  get length(): number {
    return this.trace.ops.length;
  }

  /** Operations run so far. */
  get position(): number {
    return this.session.position;
  }

  /** Line of the last operation run, or 0 before the first. */
  get currentLine(): number {
    const p = this.session.position;
    return p === 0 ? 0 : this.trace.ops[p - 1].line;
  }

  /* Runs the next operation; null at the end. */
  step(): ReplayEvent | null {
    if (this.session.done) return null;
    const e = this.session.step();
    this.outcomes[this.session.position - 1] = { line: e.line, ok: e.ok, note: e.note };
    if (!e.ok) this.failedLines.set(e.line, e.note ?? 'failed');
    return e;
  }

  /* Brings the replay to `pos` operations run: forward by stepping, back by replaying from a fresh boot. */
  seek(pos: number): void {
    const target = Math.max(0, Math.min(this.length, Math.floor(pos)));
    if (target < this.session.position) {
      void this.session.vm.shutdown();
      this.session = this.boot();
      this.outcomes.length = 0;
      this.failedLines.clear();
    }
    while (this.session.position < target) this.step();
  }

  /* Runs up to and including the first operation on `line` or after it. */
  seekLine(line: number): void {
    const i = this.trace.ops.findIndex((o) => o.line >= line);
    this.seek(i < 0 ? this.length : i + 1);
  }

  /** Live allocations as owner runs (tag → head page and pages). */
  owners(): Iterable<[string, OwnedRun]> {
    return this.session.live.entries();
  }

  /** The buddy info rows, as `pagelab replay --json` prints them at this point. */
  buddyinfo(): ReturnType<typeof freeQueueTable> {
    return freeQueueTable(this.session.vm.phys);
  }

  /** The JSON result so far, as `pagelab replay --json` would print after these operations. */
  result(): ReturnType<ReplaySession['result']> {
    return this.session.result();
  }
}
