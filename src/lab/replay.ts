/**
 * Trace replay: run a parsed trace (trace-parse.ts) on a booted machine and
 * report what happened. The format is documented in docs/trace-format.md;
 * the JSON result's shape is stable.
 *
 * Replay keeps no object per operation or per tag: what each tag holds lives
 * in typed slot arrays indexed by its interned id, and an operation's event
 * record is built only when asked for (`events`, or `event()` after a step).
 * A `Replayer` runs one operation per `step()`, so a viewer can parse once
 * and walk the trace, reading the machine's state between steps.
 */
import { PagelabError } from '../errors.js';
import { Tunables } from '../kern/tunables.js';
import { resolveMachine } from '../machine/index.js';
import type { MemoryMap } from '../machine/types.js';
import { hex } from '../util/units.js';
import { freeQueueTable, type FreeQueueRow } from '../vm/buddyinfo.js';
import { Work } from '../vm/counters.js';
import { PAGE_SIZE } from '../vm/param.js';
import type { Phys } from '../vm/phys.js';
import { Vm } from '../vm/vm.js';
import type { ZeroPolicyStats } from '../vm/zeropolicy.js';
import { MapReplay, type MapReport, type MapTraceOp } from './replay-map.js';
import { ObjectReplay, type ObjectTraceOp, type PageLayerReport } from './replay-objects.js';
import { ALLOC_CODE, FREE_CODE, OPS, runAlloc, runFree } from './trace-ops.js';
import { parseTrace, Trace, TRACE_MAX_BYTES, TRACE_MAX_LINE, type TraceOp } from './trace-parse.js';

export { parseTrace, Trace, TRACE_MAX_BYTES, TRACE_MAX_LINE, type TraceOp };
export { tagPattern } from './trace-ops.js';

export interface ReplayEvent {
  line: number;
  op: string;
  tag?: string;
  pa?: string;
  pages?: number;
  ok: boolean;
  note?: string;
}

export interface ZeroReport {
  /** Bytes zeroed on the allocation path (VM_ALLOC_ZERO on pages not PG_ZERO). */
  bytes_zeroed_sync: number;
  /** Bytes zeroed off the allocation path (zeroidle). */
  bytes_zeroed_background: number;
  /** Pages whose zeroing was skipped because they were PG_ZERO. */
  pages_zero_skipped: number;
  /** Free pages known to be zero at the end. */
  free_pages_pg_zero: number;
  /** The zeroing policy at the end and its counters (since it was last set). */
  policy: ZeroPolicyStats;
}

/** A failed data check: its line, tag and the first address that was wrong. */
export interface DataCheckFailure {
  line: number;
  tag: string;
  pa: string;
}

export interface ReplayResult extends PageLayerReport, MapReport {
  machine: string;
  tunables: Record<string, number | string>;
  allocations: Record<string, { pa: string; pages: number }>;
  failed: number[];
  skipped_frees: number[];
  free_pages: number;
  lazy_pending_pages: number;
  /** Whether RAM had real bytes (vm.backed=1); write/verify need it. */
  backed: boolean;
  zero: ZeroReport;
  /** Zeroed allocations that did not read all zero (backed only): line and first non-zero address. */
  zero_failures: DataCheckFailure[];
  /** verify lines whose contents differed: line and first differing address. */
  verify_failures: DataCheckFailure[];
  buddyinfo: FreeQueueRow[];
  events?: ReplayEvent[];
}

export interface ReplayOptions {
  /** Run the consistency checker after every operation. */
  check?: boolean;
  /** Record every operation's outcome in the result's `events`. */
  events?: boolean;
  /** Tunables applied after the trace's own `set` lines (the CLI's -o). */
  tunables?: Record<string, string | number | boolean>;
  /** A machine to use instead of the trace's (the CLI's machine options). */
  machine?: MemoryMap;
}

/** What a tag holds: the low two bits of its state word. */
const TAG_NEVER = 0;
const TAG_LIVE = 1;
const TAG_FAILED = 2;
const TAG_FREED = 3;
const TAG_STATE = 3;
/** The rest of the word: the allocation's pool, whether it came from contig, and its order (alloc). */
const TAG_POOL_SHIFT = 2;
const TAG_CONTIG = 0x10;
const TAG_ORDER_SHIFT = 5;
/** Words per tag in Replayer.tags: state, head page, allocating operation. */
const TAG_WORDS = 3;

export class Replayer {
  readonly trace: Trace;
  readonly vm: Vm;
  readonly phys: Phys;
  readonly map: MemoryMap;
  /** Index of the next operation to run. */
  next = 0;
  /**
   * The outcome of the last operation run, for its event: absent values are
   * -1 / undefined. `headPage` is a page index, turned into `pa` only when an
   * event is built; `pa` is for operations that name an address.
   */
  line = 0;
  ok = true;
  headPage = -1;
  pa = -1;
  pages = -1;
  note: string | undefined = undefined;
  /*
   * Per tag id, TAG_WORDS words side by side, so that an operation on a
   * random tag misses the cache once: the state word (TAG_*: state, pool,
   * contig, order), the head page it holds (or held, once freed), and the
   * operation that last allocated it (written by every allocation, read
   * only for the result's order).
   */
  private readonly tags: Uint32Array;
  /** Per tag id, read rarely: a contig allocation's pages. */
  private readonly contigPages: Uint32Array;
  readonly failed: number[] = [];
  readonly skipped: number[] = [];
  readonly zeroFailures: DataCheckFailure[] = [];
  readonly verifyFailures: DataCheckFailure[] = [];
  readonly events: ReplayEvent[] | null;
  /** The page layer's operations (object, page, unwire, terminate, reclaim, free of a page tag). */
  readonly objects: ObjectReplay;
  /** The address-space operations (mmap, touch, wire, unwire of a mapping, munmap, shadow, collapse). */
  readonly maps: MapReplay;
  private readonly check: boolean;

  /*
   * Boots the trace's machine (or opts.machine) with the trace's `set` lines,
   * then opts.tunables. A bad `set` is an ETRACE error naming its line.
   */
  constructor(trace: Trace, opts: ReplayOptions = {}) {
    this.trace = trace;
    const tunables = new Tunables();
    for (const s of trace.sets) {
      try {
        tunables.setFromString(s.assignment);
      } catch (e) {
        if (!(e instanceof PagelabError)) throw e;
        throw new PagelabError('ETRACE', `${trace.file}:${s.line}: ${e.message}`);
      }
    }
    for (const [k, v] of Object.entries(opts.tunables ?? {})) tunables.set(k, v);
    this.map = opts.machine ?? resolveMachine(trace.machine ?? {});
    this.vm = new Vm(this.map, tunables);
    this.phys = this.vm.phys;
    this.tags = new Uint32Array(TAG_WORDS * trace.tagCount);
    this.contigPages = new Uint32Array(trace.tagCount);
    this.events = opts.events ? [] : null;
    this.objects = new ObjectReplay(this.vm, trace.file, this.failed, this.skipped);
    this.maps = new MapReplay(this.vm, trace.file);
    this.check = opts.check === true;
  }

  get done(): boolean {
    return this.next >= this.trace.length;
  }

  /*
   * Runs the next operation. Returns false when there is none. An error
   * (ETRACE, EDOUBLEFREE, EINVARIANT) names the line; the operation is then
   * not counted as run.
   */
  step(): boolean {
    const i = this.next;
    const t = this.trace;
    if (i >= t.length) return false;
    const tuple = t.opTuple[i];
    this.line = t.opLine[i];
    this.ok = true;
    this.headPage = -1;
    this.pa = -1;
    this.pages = -1;
    this.note = undefined;
    const code = t.tupleCode[tuple];
    if (code === ALLOC_CODE) runAlloc(this, t.opTag[i], t.vals, t.tupleStart[tuple]);
    else if (code === FREE_CODE) runFree(this, t.opTag[i], t.vals, t.tupleStart[tuple]);
    else OPS[code].run(this, t.opTag[i], t.vals, t.tupleStart[tuple]);
    this.next = i + 1;
    if (this.check) {
      try {
        this.vm.check();
        this.maps.check();
      } catch (e) {
        throw new PagelabError('EINVARIANT', `${t.file}:${this.line}: after ${t.def(i).verb}: ${(e as Error).message}`);
      }
    }
    if (this.events !== null) this.events.push(this.event());
    return true;
  }

  /** Runs every remaining operation. */
  run(): this {
    while (this.step());
    return this;
  }

  /** Runs operations until the next one is on a line after `line` (or none is left). */
  runThroughLine(line: number): this {
    while (this.next < this.trace.length && this.trace.opLine[this.next] <= line) this.step();
    return this;
  }

  /** The event record of the last operation run. */
  event(): ReplayEvent {
    const i = this.next - 1;
    if (i < 0) throw new PagelabError('EINVAL', 'event(): no operation has run yet');
    const def = this.trace.def(i);
    // Keys in the documented order: line, op, tag, pa, pages, ok, note.
    const e = { line: this.line, op: def.verb } as ReplayEvent;
    if (def.tag) e.tag = this.trace.tagName(this.trace.opTag[i]);
    if (this.headPage >= 0) e.pa = hex(this.phys.pageToPa(this.headPage));
    else if (this.pa >= 0) e.pa = hex(this.pa);
    if (this.pages >= 0) e.pages = this.pages;
    e.ok = this.ok;
    if (this.note !== undefined) e.note = this.note;
    return e;
  }

  // ---------------------------------------------------- for the operations

  /** ETRACE at the current line. */
  fail(msg: string): never {
    throw new PagelabError('ETRACE', `${this.trace.file}:${this.line}: ${msg}`);
  }

  domainOk(d: number): void {
    if (d >= this.phys.ndomains) this.fail(`domain ${d} is out of range (machine has ${this.phys.ndomains})`);
  }

  /** The head page `tag` holds (or held). */
  page(tag: number): number {
    return this.tags[TAG_WORDS * tag + 1];
  }

  /** How many pages `tag` holds (or held). */
  npages(tag: number): number {
    const w = this.tags[TAG_WORDS * tag];
    return (w & TAG_CONTIG) !== 0 ? this.contigPages[tag] : 1 << (w >>> TAG_ORDER_SHIFT);
  }

  /* An allocation may take `tag` unless it is live (an allocation, a page group of an object, a mapping). */
  claim(tag: number, verb: string): void {
    if (
      (this.tags[TAG_WORDS * tag] & TAG_STATE) === TAG_LIVE ||
      (this.objects.liveGroups !== 0 && this.objects.isLive(this.trace.tagName(tag))) ||
      (this.maps.mapped !== 0 && this.maps.owns(this.trace.tagName(tag)))
    ) {
      this.fail(`${verb}: tag "${this.trace.tagName(tag)}" is still allocated`);
    }
  }

  /** Whether `tag` holds a live alloc or contig allocation. */
  isLive(tag: number): boolean {
    return (this.tags[TAG_WORDS * tag] & TAG_STATE) === TAG_LIVE;
  }

  /*
   * Runs a page-layer operation (replay-objects.ts) at the current line and
   * takes its outcome for the event. Its own errors name the line; an
   * error of the VM under it (EWIRED, ...) is turned into one that does.
   */
  pageLayer(op: ObjectTraceOp, tag = -1): void {
    let ev;
    try {
      // The page layer asks whether the tag it would take is a live allocation.
      ev = this.objects.run(op, (t) => (tag >= 0 && this.isLive(tag)) || this.maps.owns(t));
    } catch (e) {
      if (e instanceof PagelabError && e.code !== 'ETRACE' && e.code !== 'EINVARIANT') this.fail(`${op.op}: ${e.message}`);
      throw e;
    }
    this.objectEvent(ev);
  }

  /*
   * Runs an address-space operation (replay-map.ts) at the current line. A
   * failure the kernel reports (KERN_*, or the collapse panic) is a failed
   * line; misuse is ETRACE naming it.
   */
  mapLayer(op: MapTraceOp | { op: 'unwire'; line: number; tag: string }, tag = -1): void {
    let ev;
    try {
      ev = this.maps.run(op, (t) => (tag >= 0 && this.isLive(tag)) || this.objects.isLive(t), (n) => this.vm.object.byName(n));
    } catch (e) {
      if (e instanceof PagelabError && e.code !== 'ETRACE' && e.code !== 'EINVARIANT') this.fail(`${op.op}: ${e.message}`);
      throw e;
    }
    if (ev.failed === true) this.failed.push(this.line);
    this.objectEvent(ev);
  }

  /*
   * `free TAG` when TAG is not a live allocation: if it names a page group
   * (live, failed or gone with its object), frees its pages (vm_page_free)
   * and returns true; else false, for `live` to judge.
   */
  freePageGroup(tag: number, zero: boolean): boolean {
    const name = this.trace.tagName(tag);
    if (!this.objects.owns(name)) return false;
    this.objectEvent(this.objects.free(this.line, name, zero));
    return true;
  }

  private objectEvent(ev: { pa?: string; pages?: number; ok: boolean; note?: string }): void {
    if (ev.pa !== undefined) this.pa = Number(ev.pa);
    if (ev.pages !== undefined) this.pages = ev.pages;
    this.ok = ev.ok;
    this.note = ev.note;
  }

  /*
   * Records the outcome of an allocation for `tag`: head page `m` (or -1:
   * cannot be satisfied, an outcome listed in `failed`). With backing
   * memory, a zeroed allocation is checked to read zero.
   */
  allocated(tag: number, m: number, pages: number, pool: number, contig: boolean, zero: boolean): void {
    this.pages = pages;
    const at = TAG_WORDS * tag;
    if (m < 0) {
      this.tags[at] = TAG_FAILED;
      this.failed.push(this.line);
      this.ok = false;
      this.note = 'cannot be satisfied';
      return;
    }
    if (contig) {
      this.tags[at] = TAG_LIVE | (pool << TAG_POOL_SHIFT) | TAG_CONTIG;
      this.contigPages[tag] = pages;
    } else this.tags[at] = TAG_LIVE | (pool << TAG_POOL_SHIFT) | ((31 - Math.clz32(pages)) << TAG_ORDER_SHIFT);
    this.tags[at + 1] = m;
    this.tags[at + 2] = this.next;
    this.headPage = m;
    const backing = this.vm.backing;
    if (zero && backing !== null) {
      const pa = this.phys.pageToPa(m);
      const off = backing.firstNonZero(pa, pages * PAGE_SIZE);
      if (off >= 0) this.dataCheckFailed(this.zeroFailures, tag, pa + off, `not zero at ${hex(pa + off)}`);
    }
  }

  /*
   * Whether `tag` is live. A tag whose allocation failed is skipped (listed
   * in `skipped_frees`, false). A tag never allocated is an ETRACE error; a
   * tag already freed is EDOUBLEFREE for `free` and ETRACE otherwise, naming
   * the line that freed it and the address it held.
   */
  live(tag: number, verb: string): boolean {
    const state = this.tags[TAG_WORDS * tag] & TAG_STATE;
    if (state === TAG_LIVE) return true;
    const name = this.trace.tagName(tag);
    if (this.objects.isLive(name)) this.fail(`${verb}: tag "${name}" names pages of an object; ${verb} acts on alloc and contig tags`);
    if (this.maps.owns(name)) this.fail(`${verb}: tag "${name}" names a mapping; ${verb} acts on alloc and contig tags (munmap unmaps it)`);
    if (state === TAG_FAILED) {
      this.skipped.push(this.line);
      this.ok = false;
      this.note = 'skipped: its allocation failed';
      return false;
    }
    if (state === TAG_NEVER) this.fail(`${verb}: tag "${name}" ${verb === 'free' ? 'was never allocated' : 'is not allocated'}`);
    let freedAt = this.next - 1;
    while (freedAt > 0 && !(this.trace.opTag[freedAt] === tag && this.trace.def(freedAt).verb === 'free')) freedAt--;
    const where = `freed at line ${this.trace.opLine[freedAt]}, where it held ${hex(this.phys.pageToPa(this.page(tag)))}`;
    if (verb === 'free') throw new PagelabError('EDOUBLEFREE', `${this.trace.file}:${this.line}: free: tag "${name}" is already free (${where})`);
    return this.fail(`${verb}: tag "${name}" is not allocated (${where})`);
  }

  /* `tag`'s allocation was freed: the event shows what it held. */
  released(tag: number): void {
    this.pages = this.npages(tag);
    this.headPage = this.tags[TAG_WORDS * tag + 1];
    this.tags[TAG_WORDS * tag] = (this.tags[TAG_WORDS * tag] & ~TAG_STATE) | TAG_FREED;
  }

  isContig(tag: number): boolean {
    return (this.tags[TAG_WORDS * tag] & TAG_CONTIG) !== 0;
  }

  tagPool(tag: number): number {
    return (this.tags[TAG_WORDS * tag] >> TAG_POOL_SHIFT) & 3;
  }

  /* A failed data check (zero or verify): an outcome, listed and reported. */
  dataCheckFailed(list: DataCheckFailure[], tag: number, pa: number, note: string): void {
    list.push({ line: this.line, tag: this.trace.tagName(tag), pa: hex(pa) });
    this.ok = false;
    this.note = note;
  }

  // ---------------------------------------------------------------- result

  /** Tags still allocated, in the order they were allocated. */
  liveTags(): Uint32Array {
    const tags = this.tags;
    const order = new Uint32Array(this.liveCount());
    let n = 0;
    for (let at = 0; at < tags.length; at += TAG_WORDS) if ((tags[at] & TAG_STATE) === TAG_LIVE) order[n++] = tags[at + 2];
    order.sort();
    for (let k = 0; k < order.length; k++) order[k] = this.trace.opTag[order[k]];
    return order;
  }

  /** How many tags are allocated now. */
  liveCount(): number {
    const tags = this.tags;
    let n = 0;
    for (let at = 0; at < tags.length; at += TAG_WORDS) if ((tags[at] & TAG_STATE) === TAG_LIVE) n++;
    return n;
  }

  /** The result so far (all of it once `done`). */
  result(): ReplayResult {
    const phys = this.phys;
    const allocations: ReplayResult['allocations'] = {};
    for (const tag of this.liveTags()) allocations[this.trace.tagName(tag)] = { pa: hex(phys.pageToPa(this.page(tag))), pages: this.npages(tag) };
    const result: ReplayResult = {
      machine: this.map.name,
      tunables: this.vm.tunables.snapshot(),
      allocations,
      failed: this.failed,
      skipped_frees: this.skipped,
      free_pages: phys.totalFree(),
      lazy_pending_pages: phys.lazyPending(),
      backed: this.vm.backing !== null,
      zero: {
        bytes_zeroed_sync: phys.work[Work.ZeroBytesSync],
        bytes_zeroed_background: phys.work[Work.ZeroBytesBackground],
        pages_zero_skipped: phys.work[Work.ZeroSkipped],
        free_pages_pg_zero: phys.zeroFreePages(),
        policy: this.vm.zeroPolicy.stats(),
      },
      zero_failures: this.zeroFailures,
      verify_failures: this.verifyFailures,
      buddyinfo: freeQueueTable(phys),
      ...this.objects.report(),
      ...this.maps.report(),
    };
    if (this.events !== null) result.events = this.events;
    return result;
  }
}

/*
 * Boots the trace's machine, runs every operation and returns the result.
 * An allocation that cannot be satisfied is an outcome (listed in `failed`);
 * a later free of its tag is skipped and listed. A failed data check is an
 * outcome too (zero_failures, verify_failures). A free of a tag never
 * allocated, an alloc of a tag still live, or any malformed use is an ETRACE
 * error naming the line; a second free of a tag, EDOUBLEFREE.
 */
export function replayTrace(trace: Trace, opts: ReplayOptions = {}): ReplayResult {
  const r = new Replayer(trace, opts);
  try {
    return r.run().result();
  } finally {
    void r.vm.shutdown();
  }
}
