/**
 * Trace replay: run a recorded sequence of physical-allocator operations on a
 * booted machine and report what happened. The format is documented in
 * docs/trace-format.md; the JSON result's shape is stable.
 */
import { PagelabError } from '../errors.js';
import { Tunables } from '../kern/tunables.js';
import { resolveMachine } from '../machine/index.js';
import type { MemoryMap } from '../machine/types.js';
import { hex, parseSize } from '../util/units.js';
import { freeQueueTable, type FreeQueueRow } from '../vm/buddyinfo.js';
import { Work } from '../vm/counters.js';
import { PAGE_SIZE, VM_ALLOC_ZERO, VM_FREEPOOL_DEFAULT, VM_FREEPOOL_DIRECT } from '../vm/param.js';
import { Vm } from '../vm/vm.js';
import { ObjectReplay, parseObjectOp, type ObjectTraceOp, type PageLayerReport } from './replay-objects.js';
import type { ZeroPolicyStats } from '../vm/zeropolicy.js';
import { linuxPgzero2020 } from '../sim/profiles/index.js';
import { zeroingRate } from '../sim/vmstart.js';
import { MAP_VERBS, MapReplay, parseMapOp, type MapReport, type MapTraceOp } from './replay-map.js';

export type TraceOp =
  | { op: 'alloc'; line: number; tag: string; order: number; pool: number; domain: number; zero: boolean }
  | { op: 'free'; line: number; tag: string; zero: boolean }
  | { op: 'contig'; line: number; tag: string; npages: number; low: number; high: number; align: number; boundary: number; domain: number; zero: boolean }
  | { op: 'write'; line: number; tag: string; pattern: number | null }
  | { op: 'verify'; line: number; tag: string; pattern: number | null }
  | { op: 'zeroidle'; line: number; domain: number | null; pages: number }
  | { op: 'unfree'; line: number; pa: number }
  | { op: 'drain'; line: number; domain: number | null }
  | ObjectTraceOp
  | { op: 'set'; line: number; assignment: string }
  | { op: 'idle'; line: number; ms: number }
  | MapTraceOp;

export interface Trace {
  /** The file name used in error messages. */
  file: string;
  /** `machine PRESET` or `machine mem=SIZE`; null when the trace names none. */
  machine: { preset?: string; mem?: string } | null;
  /** `set NAME=VALUE` lines, in order. */
  sets: Array<{ line: number; assignment: string }>;
  ops: TraceOp[];
}

export interface ReplayEvent {
  line: number;
  op: TraceOp['op'];
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
  zero_failures: Array<{ line: number; tag: string; pa: string }>;
  /** verify lines whose contents differed: line and first differing address. */
  verify_failures: Array<{ line: number; tag: string; pa: string }>;
  buddyinfo: FreeQueueRow[];
  events?: ReplayEvent[];
}

/* Removes a bare keyword (such as `zero`) from the positional words; true if it was there. */
function takeKeyword(positional: string[], word: string): boolean {
  const i = positional.indexOf(word);
  if (i < 0) return false;
  positional.splice(i, 1);
  return true;
}

/* The pattern `write TAG` uses when none is given: FNV-1a of the tag, so `verify TAG` can find it. */
export function tagPattern(tag: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < tag.length; i++) h = Math.imul(h ^ tag.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

function traceError(file: string, line: number, msg: string): never {
  throw new PagelabError('ETRACE', `${file}:${line}: ${msg}`);
}

/*
 * Parses trace text. Requires nothing of the text; guarantees every returned
 * op is well-formed, or throws ETRACE naming the file and line.
 */
export function parseTrace(text: string, file = 'trace'): Trace {
  const trace: Trace = { file, machine: null, sets: [], ops: [] };
  const lines = text.split(/\r?\n/);
  let sawOp = false;
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const hash = lines[i].indexOf('#');
    const body = (hash >= 0 ? lines[i].slice(0, hash) : lines[i]).trim();
    if (body === '') continue;
    const words = body.split(/\s+/);
    const verb = words[0];
    const positional: string[] = [];
    const kv = new Map<string, string>();
    for (const w of words.slice(1)) {
      const eq = w.indexOf('=');
      if (eq > 0 && verb !== 'set') {
        const k = w.slice(0, eq);
        if (kv.has(k)) traceError(file, lineNo, `option ${k} given twice`);
        kv.set(k, w.slice(eq + 1));
      } else positional.push(w);
    }
    const allow = (...names: string[]): void => {
      for (const k of kv.keys()) if (!names.includes(k)) traceError(file, lineNo, `${verb}: unknown option "${k}" (allowed: ${names.join(', ') || 'none'})`);
    };
    const nPos = (n: number, usage: string): void => {
      if (positional.length !== n) traceError(file, lineNo, `${verb}: expected "${usage}"`);
    };
    const size = (s: string, what: string): number => {
      try {
        return parseSize(s, what);
      } catch (e) {
        return traceError(file, lineNo, (e as Error).message);
      }
    };
    const int = (s: string | undefined, what: string, dflt: number): number => {
      if (s === undefined) return dflt;
      if (!/^[0-9]+$/.test(s)) traceError(file, lineNo, `${what} "${s}" is not a non-negative integer`);
      return Number(s);
    };
    const tag = (s: string): string => {
      if (!/^[A-Za-z0-9_.:@/-]+$/.test(s)) traceError(file, lineNo, `tag "${s}" has characters outside [A-Za-z0-9_.:@/-]`);
      return s;
    };
    switch (verb) {
      case 'machine': {
        if (sawOp) traceError(file, lineNo, 'machine must come before the first operation');
        if (trace.machine !== null) traceError(file, lineNo, 'machine given twice');
        if (positional.length === 1 && kv.size === 0) trace.machine = { preset: positional[0] };
        else if (positional.length === 0 && kv.size === 1 && kv.has('mem')) trace.machine = { mem: kv.get('mem') };
        else traceError(file, lineNo, 'expected "machine PRESET" or "machine mem=SIZE"');
        break;
      }
      case 'set': {
        nPos(1, 'set NAME=VALUE');
        if (!positional[0].includes('=')) traceError(file, lineNo, 'expected "set NAME=VALUE"');
        // Before the first operation: a boot tunable. After it: a sysctl, of which only vm.zero.* can change.
        if (!sawOp) trace.sets.push({ line: lineNo, assignment: positional[0] });
        else if (!positional[0].startsWith('vm.zero.')) traceError(file, lineNo, `set ${positional[0].split('=')[0]}: only vm.zero.* can be set after the first operation`);
        else trace.ops.push({ op: 'set', line: lineNo, assignment: positional[0] });
        break;
      }
      case 'idle': {
        sawOp = true;
        nPos(1, 'idle MS');
        allow();
        if (!/^[0-9]+(\.[0-9]+)?$/.test(positional[0]) || Number(positional[0]) > 3.6e6) traceError(file, lineNo, `idle: "${positional[0]}" is not a number of milliseconds up to one hour`);
        trace.ops.push({ op: 'idle', line: lineNo, ms: Number(positional[0]) });
        break;
      }
      case 'alloc': {
        sawOp = true;
        const zero = takeKeyword(positional, 'zero');
        nPos(2, 'alloc TAG ORDER [zero] [pool=default|direct] [domain=N]');
        allow('pool', 'domain');
        const poolName = (kv.get('pool') ?? 'default').toLowerCase();
        if (poolName !== 'default' && poolName !== 'direct') traceError(file, lineNo, `alloc: pool "${poolName}" is not default or direct`);
        trace.ops.push({
          op: 'alloc',
          line: lineNo,
          tag: tag(positional[0]),
          order: int(positional[1], 'order', 0),
          pool: poolName === 'direct' ? VM_FREEPOOL_DIRECT : VM_FREEPOOL_DEFAULT,
          domain: int(kv.get('domain'), 'domain', 0),
          zero,
        });
        break;
      }
      case 'free': {
        sawOp = true;
        const zero = takeKeyword(positional, 'zero');
        nPos(1, 'free TAG [zero]');
        allow();
        trace.ops.push({ op: 'free', line: lineNo, tag: tag(positional[0]), zero });
        break;
      }
      case 'write':
      case 'verify': {
        sawOp = true;
        if (positional.length < 1 || positional.length > 2) traceError(file, lineNo, `${verb}: expected "${verb} TAG [PATTERN]"`);
        allow();
        let pattern: number | null = null;
        if (positional.length === 2) {
          const v = size(positional[1], 'pattern');
          if (v > 0xffffffff) traceError(file, lineNo, `${verb}: pattern ${positional[1]} is wider than 32 bits`);
          pattern = v;
        }
        trace.ops.push({ op: verb, line: lineNo, tag: tag(positional[0]), pattern });
        break;
      }
      case 'zeroidle':
        sawOp = true;
        nPos(0, 'zeroidle [domain=N] [pages=N]');
        allow('domain', 'pages');
        trace.ops.push({ op: 'zeroidle', line: lineNo, domain: kv.has('domain') ? int(kv.get('domain'), 'domain', 0) : null, pages: kv.has('pages') ? int(kv.get('pages'), 'pages', 0) : Infinity });
        break;
      case 'contig': {
        sawOp = true;
        const zero = takeKeyword(positional, 'zero');
        nPos(2, 'contig TAG NPAGES [zero] [low=…] [high=…] [align=…] [boundary=…] [domain=…]');
        allow('low', 'high', 'align', 'boundary', 'domain');
        const npages = int(positional[1], 'npages', 0);
        if (npages === 0) traceError(file, lineNo, 'contig: npages must be at least 1');
        trace.ops.push({
          op: 'contig',
          line: lineNo,
          tag: tag(positional[0]),
          npages,
          low: kv.has('low') ? size(kv.get('low') as string, 'low') : 0,
          high: kv.has('high') ? size(kv.get('high') as string, 'high') : Number.MAX_SAFE_INTEGER,
          align: kv.has('align') ? size(kv.get('align') as string, 'align') : PAGE_SIZE,
          boundary: kv.has('boundary') ? size(kv.get('boundary') as string, 'boundary') : 0,
          domain: int(kv.get('domain'), 'domain', 0),
          zero,
        });
        break;
      }
      case 'unfree':
        sawOp = true;
        nPos(1, 'unfree PADDR');
        allow();
        trace.ops.push({ op: 'unfree', line: lineNo, pa: size(positional[0], 'physical address') });
        break;
      case 'drain':
        sawOp = true;
        nPos(0, 'drain [domain=N]');
        allow('domain');
        trace.ops.push({ op: 'drain', line: lineNo, domain: kv.has('domain') ? int(kv.get('domain'), 'domain', 0) : null });
        break;
      default: {
        const words = { verb, line: lineNo, positional, kv, fail: (msg: string): never => traceError(file, lineNo, msg), tag };
        const o = parseMapOp(words) ?? parseObjectOp(words);
        if (o === null) traceError(file, lineNo, `unknown operation "${verb}" (machine, set, alloc, free, contig, unfree, drain, write, verify, zeroidle, idle, object, page, unwire, terminate, reclaim, ${MAP_VERBS.join(', ')})`);
        sawOp = true;
        trace.ops.push(o);
      }
    }
  }
  return trace;
}

export interface ReplayOptions {
  /** Run the consistency checker after every operation. */
  check?: boolean;
  /** Record every operation's outcome. */
  events?: boolean;
  /** Tunables applied after the trace's own `set` lines (the CLI's -o). */
  overrides?: string[];
  /** A machine to use instead of the trace's (the CLI's machine options). */
  machine?: MemoryMap;
}

/** A live allocation of a replay: its head page, size, and how to free it. */
export interface LiveAllocation {
  m: number;
  pages: number;
  order: number;
  pool: number;
  contig: boolean;
}

/*
 * A replay in progress: the machine booted for a trace, and the trace run one
 * operation at a time. This is the seam the web page steps through
 * (replayTrace is the whole run); `vm` and `live` are the state to read
 * between steps, and must not be changed from outside.
 *
 * An allocation that cannot be satisfied is an outcome (listed in `failed`);
 * a later free of its tag is skipped and listed. A free of a tag never
 * allocated, or an alloc of a tag still live, is an ETRACE error naming the
 * line.
 */
export class ReplaySession {
  readonly trace: Trace;
  readonly map: MemoryMap;
  readonly tunables: Tunables;
  readonly vm: Vm;
  /** Tag → what it holds, in allocation order. */
  readonly live = new Map<string, LiveAllocation>();
  private readonly opts: ReplayOptions;
  private readonly failedTags = new Set<string>();
  private readonly failed: number[] = [];
  private readonly skipped: number[] = [];
  private readonly zeroFailures: ReplayResult['zero_failures'] = [];
  private readonly verifyFailures: ReplayResult['verify_failures'] = [];
  private readonly events: ReplayEvent[] = [];
  /** The page layer's operations (object, page, unwire, terminate, reclaim): replay-objects.ts. */
  private readonly pageLayer: ObjectReplay;
  /** The address-space operations (mmap, touch, wire, unwire, munmap, shadow, collapse): replay-map.ts. */
  private readonly mapLayer: MapReplay;
  private readonly mapFailed: number[] = [];
  private last: ReplayEvent | null = null;
  private next = 0;

  /* Boots the trace's machine (with its `set` lines, then opts.overrides); runs nothing. */
  constructor(trace: Trace, opts: ReplayOptions = {}) {
    this.trace = trace;
    this.opts = opts;
    this.tunables = new Tunables();
    for (const s of trace.sets) {
      try {
        this.tunables.setFromString(s.assignment);
      } catch (e) {
        traceError(trace.file, s.line, (e as Error).message);
      }
    }
    for (const o of opts.overrides ?? []) this.tunables.setFromString(o);
    this.map = opts.machine ?? resolveMachine(trace.machine ?? {});
    this.vm = new Vm(this.map, this.tunables);
    this.pageLayer = new ObjectReplay(this.vm, trace.file);
    this.mapLayer = new MapReplay(this.vm, trace.file);
  }

  /** Operations run so far; the next step runs trace.ops[position]. */
  get position(): number {
    return this.next;
  }

  get done(): boolean {
    return this.next >= this.trace.ops.length;
  }

  /*
   * Runs the next operation. Requires: !done. Guarantees: its outcome, or an
   * ETRACE / EINVARIANT error naming the line (the session is then unusable).
   */
  step(): ReplayEvent {
    if (this.done) throw new PagelabError('EINVAL', `${this.trace.file}: replay has run all ${this.trace.ops.length} operations`);
    this.last = null;
    const op = this.trace.ops[this.next++];
    this.run(op);
    if (this.opts.check) {
      try {
        this.vm.check();
        this.mapLayer.check();
      } catch (e) {
        throw new PagelabError('EINVARIANT', `${this.trace.file}:${op.line}: after ${op.op}: ${(e as Error).message}`);
      }
    }
    return this.last as unknown as ReplayEvent;
  }

  private record(e: ReplayEvent): void {
    this.last = e;
    if (this.opts.events) this.events.push(e);
  }

  /*
   * The live allocation `op` names; undefined (recorded as skipped) when its
   * allocation failed; an ETRACE error when the tag was never allocated.
   */
  private liveOrSkip(op: { op: TraceOp['op']; line: number; tag: string }, never: string): LiveAllocation | undefined {
    const a = this.live.get(op.tag);
    if (a !== undefined) return a;
    if (this.pageLayer.isLive(op.tag)) traceError(this.trace.file, op.line, `${op.op}: tag "${op.tag}" names pages of an object; ${op.op} acts on alloc and contig tags`);
    if (this.mapLayer.owns(op.tag)) traceError(this.trace.file, op.line, `${op.op}: tag "${op.tag}" names a mapping; ${op.op} acts on alloc and contig tags (munmap unmaps it)`);
    if (!this.failedTags.has(op.tag)) traceError(this.trace.file, op.line, `${op.op}: tag "${op.tag}" ${never}`);
    this.skipped.push(op.line);
    this.record({ line: op.line, op: op.op, tag: op.tag, ok: false, note: 'skipped: its allocation failed' });
    return undefined;
  }

  private domainOk(d: number, line: number): void {
    if (d >= this.vm.phys.ndomains) traceError(this.trace.file, line, `domain ${d} is out of range (machine has ${this.vm.phys.ndomains})`);
  }

  private run(op: TraceOp): void {
    const { vm, live, trace } = this;
    const file = trace.file;
    const phys = vm.phys;
    switch (op.op) {
      case 'alloc':
      case 'contig': {
        if (live.has(op.tag) || this.pageLayer.isLive(op.tag) || this.mapLayer.owns(op.tag)) traceError(file, op.line, `${op.op}: tag "${op.tag}" is still allocated`);
        this.domainOk(op.domain, op.line);
        let m: number;
        let pages: number;
        const req = op.zero ? VM_ALLOC_ZERO : 0;
        if (op.op === 'alloc') {
          if (op.order > phys.maxOrder) traceError(file, op.line, `alloc: order ${op.order} is out of range (0..${phys.maxOrder})`);
          // Through the zeroing policy (vm.zero.policy): its hugepool and counters see every allocation.
          m = vm.zeroPolicy.alloc(op.domain, op.order, op.zero, op.pool);
          pages = 2 ** op.order;
        } else {
          try {
            m = phys.allocContig(op.domain, op.npages, op.low, op.high, op.align, op.boundary, req);
          } catch (e) {
            return traceError(file, op.line, (e as Error).message);
          }
          pages = op.npages;
        }
        if (m < 0) {
          this.failed.push(op.line);
          this.failedTags.add(op.tag);
          this.record({ line: op.line, op: op.op, tag: op.tag, pages, ok: false, note: 'cannot be satisfied' });
        } else {
          this.failedTags.delete(op.tag);
          live.set(op.tag, { m, pages, order: op.op === 'alloc' ? op.order : -1, pool: op.op === 'alloc' ? op.pool : VM_FREEPOOL_DEFAULT, contig: op.op === 'contig' });
          const pa = phys.pageToPa(m);
          if (op.zero && vm.backing !== null) {
            const off = vm.backing.firstNonZero(pa, pages * PAGE_SIZE);
            if (off >= 0) {
              this.zeroFailures.push({ line: op.line, tag: op.tag, pa: hex(pa + off) });
              this.record({ line: op.line, op: op.op, tag: op.tag, pa: hex(pa), pages, ok: false, note: `not zero at ${hex(pa + off)}` });
              break;
            }
          }
          this.record({ line: op.line, op: op.op, tag: op.tag, pa: hex(pa), pages, ok: true });
        }
        break;
      }
      case 'free': {
        if (!live.has(op.tag) && this.pageLayer.owns(op.tag)) {
          this.record({ line: op.line, op: 'free', ...this.pageLayer.free(op.line, op.tag, op.zero) });
          break;
        }
        const a = this.liveOrSkip(op, 'was never allocated');
        if (a === undefined) break;
        if (op.zero && vm.backing !== null && !vm.backing.isZero(phys.pageToPa(a.m), a.pages * PAGE_SIZE)) {
          traceError(file, op.line, `free ${op.tag} zero: the memory at ${hex(phys.pageToPa(a.m))} is not zero`);
        }
        // A contiguous run goes back through vm_phys_free_contig, which keeps no PG_ZERO claim.
        if (a.contig) phys.freeContig(a.m, a.pages);
        else if (op.zero) phys.freePages(a.m, a.order, a.pool, true);
        else vm.zeroPolicy.free(a.m, a.order, a.pool);
        live.delete(op.tag);
        this.record({ line: op.line, op: 'free', tag: op.tag, pa: hex(phys.pageToPa(a.m)), pages: a.pages, ok: true });
        break;
      }
      case 'unfree': {
        let ok: boolean;
        try {
          ok = phys.unfreePage(op.pa);
        } catch (e) {
          return traceError(file, op.line, (e as Error).message);
        }
        this.record({ line: op.line, op: 'unfree', pa: hex(op.pa), pages: 1, ok, note: ok ? undefined : 'page was not free' });
        break;
      }
      case 'write':
      case 'verify': {
        const a = this.liveOrSkip(op, 'is not allocated');
        if (a === undefined) break;
        if (vm.backing === null) traceError(file, op.line, `${op.op} needs backing memory (set vm.backed=1)`);
        const pa = phys.pageToPa(a.m);
        const bytes = a.pages * PAGE_SIZE;
        const pattern = op.pattern ?? tagPattern(op.tag);
        if (op.op === 'write') {
          vm.backing.fillPattern(pa, bytes, pattern);
          this.record({ line: op.line, op: 'write', tag: op.tag, pa: hex(pa), pages: a.pages, ok: true });
        } else {
          const off = vm.backing.checkPattern(pa, bytes, pattern);
          if (off >= 0) this.verifyFailures.push({ line: op.line, tag: op.tag, pa: hex(pa + off) });
          this.record({ line: op.line, op: 'verify', tag: op.tag, pa: hex(pa), pages: a.pages, ok: off < 0, note: off < 0 ? undefined : `differs at ${hex(pa + off)}` });
        }
        break;
      }
      case 'zeroidle': {
        let pages = 0;
        const domains = op.domain === null ? [...Array(phys.ndomains).keys()] : [op.domain];
        for (const d of domains) {
          this.domainOk(d, op.line);
          pages += op.pages === Infinity ? vm.prezero.runToCompletion(d) : vm.prezero.submit(d, op.pages);
        }
        if (vm.zeroEngine !== null) {
          vm.zeroEngine.waitAll();
          vm.prezero.reap();
        }
        this.record({ line: op.line, op: 'zeroidle', pages, ok: true });
        break;
      }
      case 'set': {
        const eq = op.assignment.indexOf('=');
        try {
          vm.setZeroTunable(op.assignment.slice(0, eq), op.assignment.slice(eq + 1));
        } catch (e) {
          return traceError(file, op.line, (e as Error).message);
        }
        this.record({ line: op.line, op: 'set', ok: true, note: op.assignment });
        break;
      }
      case 'idle': {
        // Simulated time for the background policy: its threads zero at the
        // linux-pgzero-2020 profile's rate (shared memory bandwidth) for `ms`.
        const zp = vm.zeroPolicy;
        const budget = Math.floor((zeroingRate(linuxPgzero2020, zp.threads) * zp.threads * op.ms * 1e6) / PAGE_SIZE);
        const pages = zp.idle(op.ms * 1e6, budget);
        this.record({ line: op.line, op: 'idle', pages, ok: true });
        break;
      }
      case 'drain': {
        let pages = 0;
        if (op.domain === null) pages = phys.lazyInit();
        else {
          this.domainOk(op.domain, op.line);
          pages = phys.lazyInitDomain(op.domain);
        }
        this.record({ line: op.line, op: 'drain', pages, ok: true });
        break;
      }
      default:
        try {
          const mapLayer = this.mapLayer;
          if ((MAP_VERBS as readonly string[]).includes(op.op) || (op.op === 'unwire' && mapLayer.owns(op.tag))) {
            const { failed: mf, ...ev } = mapLayer.run(op as MapTraceOp, (t) => live.has(t) || this.pageLayer.isLive(t), (n) => vm.object.byName(n));
            if (mf === true) this.mapFailed.push(op.line);
            this.record({ line: op.line, op: op.op, ...ev });
          } else {
            this.record({ line: op.line, op: op.op, ...this.pageLayer.run(op as ObjectTraceOp, (t) => live.has(t) || mapLayer.owns(t)) });
          }
        } catch (e) {
          if (e instanceof PagelabError && e.code !== 'ETRACE' && e.code !== 'EINVARIANT') traceError(file, op.line, `${op.op}: ${e.message}`);
          throw e;
        }
    }
  }

  /* The result as `pagelab replay --json` prints it, for the operations run so far. */
  result(): ReplayResult {
    const phys = this.vm.phys;
    const allocations: Record<string, { pa: string; pages: number }> = {};
    for (const [tag, a] of this.live) allocations[tag] = { pa: hex(phys.pageToPa(a.m)), pages: a.pages };
    const result: ReplayResult = {
      machine: this.map.name,
      tunables: this.tunables.snapshot(),
      allocations,
      failed: [...this.failed, ...this.pageLayer.failed, ...this.mapFailed].sort((x, y) => x - y),
      skipped_frees: [...this.skipped, ...this.pageLayer.skipped].sort((x, y) => x - y),
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
      zero_failures: [...this.zeroFailures],
      verify_failures: [...this.verifyFailures],
      buddyinfo: freeQueueTable(phys),
      ...this.pageLayer.report(),
      ...this.mapLayer.report(),
    };
    if (this.opts.events) result.events = [...this.events];
    return result;
  }
}

/* Boots the trace's machine and runs every operation (see ReplaySession). */
export function replayTrace(trace: Trace, opts: ReplayOptions = {}): ReplayResult {
  const session = new ReplaySession(trace, opts);
  while (!session.done) session.step();
  const result = session.result();
  void session.vm.shutdown();
  return result;
}
