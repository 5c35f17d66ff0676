/**
 * The page's one seam onto the replay (src/lab/replay.ts): parse a trace,
 * step it op by op, seek, and read the state between steps. Seeking back
 * replays from the start: booting and replaying are fast enough that a
 * snapshot store would cost more memory than it saves time on the traces a
 * person steps through.
 */
import { parseTrace, Replayer, type ReplayEvent, type Trace } from '../lab/replay.js';
import { PagelabError } from '../errors.js';
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
  private session: Replayer;
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

  private boot(): Replayer {
    // -o name=value strings, as the CLI hands them over, to the record replay takes.
    const tunables: Record<string, string> = Object.create(null);
    for (const o of this.overrides) {
      const eq = o.indexOf('=');
      if (eq <= 0) throw new PagelabError('ETUNABLE', `tunable assignment "${o}" is not name=value`);
      tunables[o.slice(0, eq).trim()] = o.slice(eq + 1);
    }
    return new Replayer(this.trace, { machine: this.machine, tunables });
  }

  get vm(): Vm {
    return this.session.vm;
  }

  get length(): number {
    return this.trace.length;
  }

  /** Operations run so far. */
  get position(): number {
    return this.session.next;
  }

  /** Line of the last operation run, or 0 before the first. */
  get currentLine(): number {
    const p = this.session.next;
    return p === 0 ? 0 : this.trace.opLine[p - 1];
  }

  /* Runs the next operation; null at the end. */
  step(): ReplayEvent | null {
    if (this.session.done) return null;
    this.session.step();
    const e = this.session.event();
    this.outcomes[this.session.next - 1] = { line: e.line, ok: e.ok, note: e.note };
    if (!e.ok) this.failedLines.set(e.line, e.note ?? 'failed');
    return e;
  }

  /* Brings the replay to `pos` operations run: forward by stepping, back by replaying from a fresh boot. */
  seek(pos: number): void {
    const target = Math.max(0, Math.min(this.length, Math.floor(pos)));
    if (target < this.session.next) {
      void this.session.vm.shutdown();
      this.session = this.boot();
      this.outcomes.length = 0;
      this.failedLines.clear();
    }
    while (this.session.next < target) this.step();
  }

  /* Runs up to and including the first operation on `line` or after it. */
  seekLine(line: number): void {
    let i = 0;
    while (i < this.length && this.trace.opLine[i] < line) i++;
    this.seek(i + 1);
  }

  /** Live allocations as owner runs (tag → head page and pages). */
  *owners(): Iterable<[string, OwnedRun]> {
    for (const tag of this.session.liveTags()) yield [this.trace.tagName(tag), { m: this.session.page(tag), pages: this.session.npages(tag) }];
  }

  /** The buddy info rows, as `pagelab replay --json` prints them at this point. */
  buddyinfo(): ReturnType<typeof freeQueueTable> {
    return freeQueueTable(this.session.vm.phys);
  }

  /** The JSON result so far, as `pagelab replay --json` would print after these operations. */
  result(): ReturnType<Replayer['result']> {
    return this.session.result();
  }
}
