/**
 * Trace parsing (docs/trace-format.md): one pass of a byte scanner over the
 * file, no object per line. Operations are columns of typed arrays: the
 * line, the tag (interned once to an integer id) and the id of the
 * operation's argument tuple (code and field values), itself interned, so a
 * churn trace of a million `alloc tN 0` lines holds one tuple. What each
 * operation accepts is a table entry in trace-ops.ts; this file knows only
 * the kinds of field.
 */
import { PagelabError } from '../errors.js';
import { escapeBytes } from '../util/escape.js';
import { formatSize, parseSize } from '../util/units.js';
import { OPS, OP_NAMES, type TraceOpDef } from './trace-ops.js';

/** The largest trace parsed (about 18 M operations of churn). */
export const TRACE_MAX_BYTES = 256 * 2 ** 20;
/** The longest line, in bytes. */
export const TRACE_MAX_LINE = 4096;
/** The most words on one line (the longest operation has 9). */
const MAX_WORDS = 16;
/** Tags hashed before the table is probed for them all at once. */
const TAG_BATCH = 64;
/** The most fields one operation has. */
export const MAX_FIELDS = 12;
/** The longest text after a tag that op's shortcut compares. */
const REST_MAX = 64;

/**
 * How one field's text becomes a number: an integer, a size, a pool, an
 * index into `words` (enum), an interned tag id (tag: a second tag on the
 * line, such as page's OBJECT), a decimal number, or an index into the
 * trace's `strings` (string: only the mid-trace `set`, built by the scanner).
 */
export type FieldKind = 'int' | 'size' | 'pool' | 'enum' | 'tag' | 'decimal' | 'string';

export interface FieldSpec {
  name: string;
  kind: FieldKind;
  /** The value when the field is absent; null (stored as -1) when absence means "none". */
  dflt?: number | null;
  min?: number;
  max?: number;
  /** What "too large" means, for the message ("wider than 32 bits"); default "larger than MAX". */
  maxWhy?: string;
  /** A positional field that may be left out (only trailing ones). */
  optional?: boolean;
  /** enum: the words accepted, stored as their index. */
  words?: readonly string[];
  /** A word that stands for "none" (stored as -1, decoded as null): color=none. */
  none?: string;
  /** A further condition on the value, and what failing it means ("not a multiple of 4 KiB"). */
  valid?: (v: number) => boolean;
  invalidWhy?: string;
  /** decimal and enum: what the field must be, for the message ("a number of milliseconds up to one hour"). */
  text?: string;
}

/** The syntax of one operation: `VERB [TAG] ARGS... [KEYWORD]... [NAME=VALUE]...`. */
export interface OpSyntax {
  verb: string;
  usage: string;
  /** The first positional word is a TAG. */
  tag: boolean;
  /** Positional fields after the tag, in order. */
  args: readonly FieldSpec[];
  /** Bare words that set a 0/1 field (`zero`). */
  keywords?: readonly string[];
  /** `name=value` fields. */
  options?: readonly FieldSpec[];
  /** A condition across fields, checked when the line is parsed: the message, or null when it holds. */
  check?(v: Float64Array, o: number): string | null;
}

/*
 * An operation decoded to an object: `op`, `line`, `tag` (for tagged
 * operations) and one property per field: keywords as booleans, absent
 * "none" fields as null. For tests and viewers; replay reads the columns.
 */
export type TraceOp = { op: string; line: number; tag?: string } & Record<string, string | number | boolean | null>;

const C_SPACE = 1;
const C_TAG = 2;
const C_DIGIT = 4;
const C_STOP = 8; // ends a word: white space, '#' or a newline
const C_EQ = 16;
const CLASS = new Uint8Array(256);
for (const c of ' \t\r\f\v') CLASS[c.charCodeAt(0)] = C_SPACE | C_STOP;
CLASS[0x23] = C_STOP;
CLASS[0x0a] = C_STOP;
CLASS[0x3d] = C_EQ;
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9_.:@/-]/.test(ch)) CLASS[c] |= C_TAG;
  if (/[0-9]/.test(ch)) CLASS[c] |= C_DIGIT;
}

function grow<T extends Uint8Array | Int32Array | Uint32Array | Float64Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/* MurmurHash3's finaliser: spreads every input bit over the low bits a table mask keeps. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/* The bytes of an ASCII string (no Buffer: this file also runs in the web page). */
function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

function bytesEqual(a: Uint8Array, as: number, b: Uint8Array, bs: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (a[as + k] !== b[bs + k]) return false;
  return true;
}

/** A parsed trace: the header, the operations as columns, the tag table. */
export class Trace {
  /** The file name used in error messages. */
  readonly file: string;
  /** `machine PRESET` or `machine mem=SIZE`; null when the trace names none. */
  machine: { preset?: string; mem?: string } | null = null;
  /** `set NAME=VALUE` lines before the first operation (boot tunables), in order. */
  readonly sets: Array<{ line: number; assignment: string }> = [];
  /** The text of string fields (`set vm.zero.*` after the first operation), indexed by the field's value. */
  readonly strings: string[] = [];
  /** Number of operations. */
  length = 0;
  /** Per operation: its argument tuple, its tag id (-1 for none), its line. */
  opTuple: Uint32Array;
  opTag: Int32Array;
  opLine: Uint32Array;
  /** Per tuple: the operation's index in OPS and where its fields start in `vals`. */
  tupleCode = new Uint8Array(64);
  tupleStart = new Uint32Array(64);
  tupleCount = 0;
  vals = new Float64Array(256);
  /** Tags: id -> bytes [tagOff[id], tagOff[id + 1]) of `tagBytes`. */
  tagCount = 0;
  tagBytes: Uint8Array;
  tagOff: Uint32Array;

  constructor(file: string, maxOps: number, maxTagBytes: number, maxTags = maxOps) {
    this.file = file;
    // Sized for the worst case; a typed array's untouched pages cost no memory.
    this.opTuple = new Uint32Array(maxOps);
    this.opTag = new Int32Array(maxOps);
    this.opLine = new Uint32Array(maxOps);
    this.tagBytes = new Uint8Array(maxTagBytes);
    this.tagOff = new Uint32Array(maxTags + 1);
  }

  /** The definition (syntax and semantics) of operation `i`. */
  def(i: number): TraceOpDef {
    return OPS[this.tupleCode[this.opTuple[i]]];
  }

  tagName(id: number): string {
    // Tags are ASCII and at most a line long.
    return String.fromCharCode.apply(null, this.tagBytes.subarray(this.tagOff[id], this.tagOff[id + 1]) as unknown as number[]);
  }

  /** Operation `i` as an object (see TraceOp). */
  op(i: number): TraceOp {
    const def = this.def(i);
    const o: TraceOp = { op: def.verb, line: this.opLine[i] };
    if (def.tag) o.tag = this.tagName(this.opTag[i]);
    const base = this.tupleStart[this.opTuple[i]];
    let k = 0;
    for (const f of def.args) o[f.name] = this.decodeField(f, this.vals[base + k++]);
    for (const w of def.keywords ?? []) o[w] = this.vals[base + k++] !== 0;
    for (const f of def.options ?? []) o[f.name] = this.decodeField(f, this.vals[base + k++]);
    return o;
  }

  private decodeField(f: FieldSpec, v: number): number | string | null {
    if ((f.dflt === null || f.none !== undefined) && v === -1) return null;
    if (f.kind === 'tag') return this.tagName(v);
    if (f.kind === 'string') return this.strings[v];
    if (f.kind === 'enum') return (f.words as readonly string[])[v];
    return v;
  }

  /** Every operation as an object; for small traces. */
  decodeAll(): TraceOp[] {
    const out: TraceOp[] = [];
    for (let i = 0; i < this.length; i++) out.push(this.op(i));
    return out;
  }
}

/* A field's stored default: -1 stands for "none". */
function fieldDefault(f: FieldSpec): number {
  return f.dflt === null ? -1 : (f.dflt ?? 0);
}

/** Per definition, precomputed: the field count and defaults, the verb's bytes. */
interface Compiled {
  def: TraceOpDef;
  code: number;
  verb: Uint8Array;
  nfields: number;
  defaults: Float64Array;
  required: number;
  keywords: Uint8Array[];
  options: Uint8Array[];
  optionBase: number;
  /** Every field (arguments, keyword placeholders, options) in one object shape, so the scanner's loads stay monomorphic. */
  fields: Required<FieldSpec>[];
  tag: boolean;
  maxPos: number;
  check: ((v: Float64Array, o: number) => string | null) | null;
}

/* A field with every property present, in one order (absent ones undefined). */
function uniform(f: FieldSpec): Required<FieldSpec> {
  return {
    name: f.name,
    kind: f.kind,
    dflt: f.dflt as number | null,
    min: f.min as number,
    max: f.max as number,
    maxWhy: f.maxWhy as string,
    optional: f.optional === true,
    words: f.words as readonly string[],
    none: f.none as string,
    valid: f.valid as (v: number) => boolean,
    invalidWhy: f.invalidWhy as string,
    text: f.text as string,
  };
}

const COMPILED: Compiled[] = OPS.map((def, code) => {
  const keywords = def.keywords ?? [];
  const options = def.options ?? [];
  const fields = [...def.args, ...keywords.map((): FieldSpec => ({ name: '', kind: 'int', dflt: 0 })), ...options];
  if (fields.length > MAX_FIELDS) throw new Error(`trace op ${def.verb}: more than ${MAX_FIELDS} fields`);
  return {
    def,
    code,
    verb: ascii(def.verb),
    nfields: fields.length,
    defaults: Float64Array.from(fields.map(fieldDefault)),
    required: (def.tag ? 1 : 0) + def.args.filter((f) => !f.optional).length,
    keywords: keywords.map(ascii),
    options: options.map((f) => ascii(f.name)),
    optionBase: def.args.length + keywords.length,
    fields: fields.map(uniform),
    tag: def.tag,
    maxPos: (def.tag ? 1 : 0) + def.args.length,
    check: def.check ?? null,
  };
});
if (COMPILED.length > 255) throw new Error('trace ops: more than 255 operations');

/*
 * The tag table's first size, in slots: room for half as many tags as the
 * input has lines (a tag is typically allocated on one line and freed on
 * another), the line count estimated from the first 64 KiB. A good guess
 * saves the table's rehashes, each a pass of cache misses over every tag;
 * a bad one only costs them back (the table grows as needed).
 */
function initialTagSlots(buf: Uint8Array): number {
  const sample = Math.min(buf.length, 1 << 16);
  let lines = 0;
  for (let p = 0; p < sample; p++) if (buf[p] === 0x0a) lines++;
  const tags = sample === 0 ? 0 : (lines / sample) * buf.length * 0.5;
  // Below 60% full, as flushTags keeps it.
  return Math.max(1 << 12, 2 ** Math.ceil(Math.log2((tags * 5) / 3 + 1)));
}

/*
 * The scanner's state while it builds a Trace: the tag and tuple hash
 * tables and the current line's words.
 */
class Scanner {
  readonly t: Trace;
  readonly buf: Uint8Array;
  line = 0;
  /** Start and end of each word of the current line. */
  readonly ws = new Int32Array(MAX_WORDS);
  readonly we = new Int32Array(MAX_WORDS);
  /** Where each word's first `=` after its first byte is, or -1. */
  readonly weq = new Int32Array(MAX_WORDS);
  nw = 0;
  /** Per operation code, the tuple its last line used (-1: none yet). */
  readonly lastTuple = new Int32Array(COMPILED.length).fill(-1);
  sawOp = false;
  tagSlots: Int32Array;
  /** Tags waiting to be interned: hash, first words, operation; and where each is in the input. */
  readonly queue = new Int32Array(4 * TAG_BATCH);
  readonly queueStart = new Int32Array(TAG_BATCH);
  readonly queueEnd = new Int32Array(TAG_BATCH);
  nq = 0;
  /** Keeps the touching loads of flushTags from being optimised away. */
  touched = 0;
  /** The id of a tag interned at once (a tag field: internNow). */
  syncId = -1;
  tupleSlots = new Int32Array(1 << 6); // tuple id + 1
  tupleHash = new Uint32Array(64);
  readonly cur = new Float64Array(MAX_FIELDS);
  /** Per operation code, the text after the tag on its last fully parsed line (-1: none), for op's shortcut. */
  readonly rest = new Uint8Array(COMPILED.length * REST_MAX);
  readonly restLen = new Int32Array(COMPILED.length).fill(-1);
  readonly curWords = new Uint32Array(this.cur.buffer);

  constructor(t: Trace, buf: Uint8Array) {
    this.t = t;
    this.buf = buf;
    this.tagSlots = new Int32Array(4 * initialTagSlots(buf));
  }

  fail(msg: string, code: 'ETRACE' = 'ETRACE'): never {
    throw new PagelabError(code, `${this.t.file}:${this.line}: ${msg}`);
  }

  /** Word `w` of the current line, escaped and truncated for a message. */
  word(w: number, from = this.ws[w]): string {
    return escapeBytes(this.buf, from, this.we[w]);
  }

  /*
   * Queues the tag in word `w` of operation `op` for interning: checks its
   * characters (an error names this line) and hashes it now; the table is
   * probed in batches by flushTags, whose independent loads overlap their
   * cache misses instead of waiting for each in turn.
   */
  tag(w: number, op: number, s = this.ws[w]): void {
    const buf = this.buf;
    const e = this.we[w];
    let h = 0x811c9dc5;
    let w0 = 0;
    let w1 = 0;
    for (let k = s; k < e; k++) {
      const c = buf[k];
      if ((CLASS[c] & C_TAG) === 0) this.fail(`tag "${this.word(w, s)}" has characters outside [A-Za-z0-9_.:@/-]`);
      h = Math.imul(h ^ c, 0x01000193);
      const j = k - s;
      if (j < 4) w0 |= c << (8 * j);
      else if (j < 8) w1 |= c << (8 * (j - 4));
    }
    if (e - s > 8) w0 = w1 = 0;
    const q = this.nq++;
    const at = q << 2;
    const queue = this.queue;
    queue[at] = fmix32(h) | 0;
    queue[at + 1] = w0;
    queue[at + 2] = w1;
    queue[at + 3] = op;
    this.queueStart[q] = s;
    this.queueEnd[q] = e;
    if (this.nq === TAG_BATCH) this.flushTags();
  }

  /*
   * Interns the queued tags, in order, writing each one's id to its
   * operation. A slot is four words: hash, id + 1 (0: empty), and the tag's
   * first eight bytes zero-padded when it has at most eight (tags hold no
   * zero byte, so those two words are the tag), else zeros: a short tag is
   * compared within its slot.
   */
  flushTags(): void {
    const queue = this.queue;
    const nq = this.nq;
    this.nq = 0;
    // Touch every home slot first: loads that do not wait on each other.
    let touch = 0;
    {
      const slots = this.tagSlots;
      const mask = (slots.length >> 2) - 1;
      for (let q = 0; q < nq; q++) touch |= slots[((queue[q << 2] & mask) << 2) + 1];
    }
    this.touched = touch;
    const t = this.t;
    const buf = this.buf;
    for (let q = 0; q < nq; q++) {
      const h = queue[q << 2];
      const w0 = queue[(q << 2) + 1];
      const w1 = queue[(q << 2) + 2];
      const s = this.queueStart[q];
      const n = this.queueEnd[q] - s;
      const slots = this.tagSlots;
      const mask = (slots.length >> 2) - 1;
      let id = -1;
      for (let i = h & mask; ; i = (i + 1) & mask) {
        const at = i << 2;
        const id1 = slots[at + 1];
        if (id1 === 0) {
          id = t.tagCount++;
          const off = t.tagOff[id];
          const bytes = t.tagBytes;
          for (let k = 0; k < n; k++) bytes[off + k] = buf[s + k];
          t.tagOff[id + 1] = off + n;
          slots[at] = h;
          slots[at + 1] = id + 1;
          slots[at + 2] = w0;
          slots[at + 3] = w1;
          // Linear probing stays short below 60% full.
          if (t.tagCount * 5 > (mask + 1) * 3) this.rehashTags();
          break;
        }
        if (slots[at] !== h || slots[at + 2] !== w0 || slots[at + 3] !== w1) continue;
        if (n <= 8) {
          id = id1 - 1;
          break;
        }
        const off = t.tagOff[id1 - 1];
        if (t.tagOff[id1] - off === n && bytesEqual(t.tagBytes, off, buf, s, n)) {
          id = id1 - 1;
          break;
        }
      }
      const op = queue[(q << 2) + 3];
      if (op >= 0) t.opTag[op] = id;
      else this.syncId = id;
    }
  }

  /* Interns the tag in word `w` now (with those queued before it) and returns its id. */
  internNow(w: number, from: number): number {
    this.tag(w, -1, from);
    this.flushTags();
    return this.syncId;
  }

  rehashTags(): void {
    const old = this.tagSlots;
    const slots = new Int32Array(old.length * 2);
    const mask = (slots.length >> 2) - 1;
    for (let at = 0; at < old.length; at += 4) {
      if (old[at + 1] === 0) continue;
      let i = old[at] & mask;
      while (slots[(i << 2) + 1] !== 0) i = (i + 1) & mask;
      const to = i << 2;
      slots[to] = old[at];
      slots[to + 1] = old[at + 1];
      slots[to + 2] = old[at + 2];
      slots[to + 3] = old[at + 3];
    }
    this.tagSlots = slots;
  }

  /* Interns (code, cur[0..n)); returns the tuple id. */
  tuple(code: number, n: number): number {
    const words = this.curWords;
    let h = Math.imul(code + 1, 0x9e3779b1);
    for (let k = 0; k < 2 * n; k++) h = Math.imul(h ^ words[k], 0x85ebca6b) ^ (h >>> 13);
    h = fmix32(h);
    const t = this.t;
    const mask = this.tupleSlots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const slot = this.tupleSlots[i];
      if (slot === 0) break;
      const id = slot - 1;
      if (this.tupleHash[id] === h && t.tupleCode[id] === code && this.sameFields(t.tupleStart[id], n)) return id;
    }
    const id = t.tupleCount++;
    const start = id === 0 ? 0 : t.tupleStart[id - 1] + COMPILED[t.tupleCode[id - 1]].nfields;
    t.tupleCode = grow(t.tupleCode, id + 1);
    t.tupleStart = grow(t.tupleStart, id + 1);
    this.tupleHash = grow(this.tupleHash, id + 1);
    t.vals = grow(t.vals, start + n);
    t.tupleCode[id] = code;
    t.tupleStart[id] = start;
    this.tupleHash[id] = h;
    for (let k = 0; k < n; k++) t.vals[start + k] = this.cur[k];
    if (t.tupleCount * 2 > this.tupleSlots.length) {
      const slots = new Int32Array(this.tupleSlots.length * 2);
      const m2 = slots.length - 1;
      for (let j = 0; j < t.tupleCount; j++) {
        let i = this.tupleHash[j] & m2;
        while (slots[i] !== 0) i = (i + 1) & m2;
        slots[i] = j + 1;
      }
      this.tupleSlots = slots;
    } else {
      let i = h & mask;
      while (this.tupleSlots[i] !== 0) i = (i + 1) & mask;
      this.tupleSlots[i] = id + 1;
    }
    return id;
  }

  sameFields(start: number, n: number): boolean {
    const vals = this.t.vals;
    for (let k = 0; k < n; k++) if (vals[start + k] !== this.cur[k]) return false;
    return true;
  }

  /* Word `w` equals `lit` (from byte `from` of the word). */
  is(w: number, lit: Uint8Array, from = this.ws[w], to = this.we[w]): boolean {
    return to - from === lit.length && bytesEqual(this.buf, from, lit, 0, lit.length);
  }

  notInteger(f: FieldSpec, verb: string, text: string): never {
    const range = f.max !== undefined && f.max < Number.MAX_SAFE_INTEGER ? ` in ${f.min ?? 0}..${f.max}` : ' (0 or more)';
    return this.fail(`${verb}: ${f.name} "${text}" is not an integer${range}`);
  }

  /* Parses [from, we[w]) of word `w` as field `f` of operation `verb` into cur[k]. */
  field(f: FieldSpec, verb: string, w: number, from: number, k: number): void {
    const buf = this.buf;
    const e = this.we[w];
    let v: number;
    if (f.none !== undefined && e - from === f.none.length && String.fromCharCode(...buf.subarray(from, e)) === f.none) {
      this.cur[k] = -1;
      return;
    }
    if (f.kind === 'int') {
      v = 0;
      if (from === e) this.notInteger(f, verb, '');
      for (let p = from; p < e; p++) {
        const c = buf[p];
        if ((CLASS[c] & C_DIGIT) === 0) this.notInteger(f, verb, this.word(w, from));
        v = v * 10 + (c - 48);
      }
      if (e - from > 15) v = Infinity; // beyond exact: refused below
    } else if (f.kind === 'tag') {
      if (from === e) this.fail(`${verb}: ${f.name} is empty`);
      v = this.internNow(w, from);
    } else if (f.kind === 'enum') {
      const words = f.words as readonly string[];
      const text = e - from <= 32 ? String.fromCharCode(...buf.subarray(from, e)) : '';
      v = words.indexOf(text);
      if (v < 0) this.fail(`${verb}: ${f.name} "${this.word(w, from)}" is not ${f.text ?? (words.length === 1 ? words[0] : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`)}`);
    } else if (f.kind === 'decimal') {
      const text = e - from <= 32 ? String.fromCharCode(...buf.subarray(from, e)) : '';
      v = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) : NaN;
      if (!(v <= (f.max ?? Number.MAX_SAFE_INTEGER))) this.fail(`${verb}: "${this.word(w, from)}" is not ${f.text ?? 'a non-negative number'}`);
    } else if (f.kind === 'string') {
      return this.fail(`${verb}: a string field is set only by the scanner`);
    } else if (f.kind === 'pool') {
      const s = String.fromCharCode(...buf.subarray(from, Math.min(e, from + 16))).toLowerCase();
      if (s === 'default') v = 1;
      else if (s === 'direct') v = 2;
      else this.fail(`${verb}: pool "${this.word(w, from)}" is not default or direct`);
    } else {
      // Sizes are rare (contig, unfree, patterns): the string parser, fed the
      // escaped excerpt, which parses exactly when the word is clean.
      try {
        v = parseSize(this.word(w, from), f.name);
      } catch (err) {
        return this.fail((err as Error).message);
      }
    }
    if (f.min !== undefined && v < f.min) this.fail(`${verb}: ${f.name} must be at least ${f.min}`);
    if (f.max !== undefined && v > f.max) this.fail(`${verb}: ${f.name} ${this.word(w, from)} is ${f.maxWhy ?? `larger than ${f.max}`}`);
    if (f.valid !== undefined && !f.valid(v)) this.fail(`${verb}: ${f.name} ${this.word(w, from)} is ${f.invalidWhy ?? 'not valid'}`);
    this.cur[k] = v;
  }

  /*
   * The current line holds an operation: parse it into the columns. A line
   * whose text after its tag repeats, byte for byte, that of the last line
   * of the same operation (`free t1`, `free t2`, `alloc t3 0`, ...) has the
   * same fields: it takes that line's tuple without parsing them again.
   */
  op(c: Compiled): void {
    const restFrom = this.we[1];
    const restLen = this.we[this.nw - 1] - restFrom;
    const cacheable = c.tag && this.nw >= 2 && this.weq[1] < 0 && this.keywordIndex(c, 1) < 0 && restLen <= REST_MAX;
    if (cacheable && this.restLen[c.code] === restLen && bytesEqual(this.buf, restFrom, this.rest, c.code * REST_MAX, restLen)) {
      this.sawOp = true;
      const t = this.t;
      const i = t.length++;
      t.opTuple[i] = this.lastTuple[c.code];
      t.opLine[i] = this.line;
      this.tag(1, i);
      return;
    }
    this.parseOp(c);
    // The shortcut's text must be that of the line whose tuple is lastTuple: this one.
    if (cacheable) {
      this.rest.set(this.buf.subarray(restFrom, restFrom + restLen), c.code * REST_MAX);
      this.restLen[c.code] = restLen;
    } else this.restLen[c.code] = -1;
  }

  /* Which of operation `c`'s keywords word `w` is, or -1. */
  keywordIndex(c: Compiled, w: number): number {
    for (let j = 0; j < c.keywords.length; j++) if (this.is(w, c.keywords[j])) return j;
    return -1;
  }

  /* op's full parse of the current line. */
  parseOp(c: Compiled): void {
    const def = c.def;
    const verb = def.verb;
    this.sawOp = true;
    const cur = this.cur;
    const nf = c.nfields;
    for (let k = 0; k < nf; k++) cur[k] = c.defaults[k];
    let tagged = -1;
    let npos = 0;
    let seen = 0; // bit per keyword, then per option
    const nkw = c.keywords.length;
    const maxPos = c.maxPos;
    const tagFirst = c.tag;
    for (let w = 1; w < this.nw; w++) {
      const s = this.ws[w];
      const eq = this.weq[w];
      if (eq >= 0) {
        let j = 0;
        while (j < c.options.length && !this.is(w, c.options[j], s, eq)) j++;
        if (j === c.options.length) {
          const allowed = (def.options ?? []).map((f) => f.name).join(', ') || 'none';
          this.fail(`${verb}: unknown option "${escapeBytes(this.buf, s, eq)}" (allowed: ${allowed})`);
        }
        const bit = 1 << (nkw + j);
        if ((seen & bit) !== 0) this.fail(`option ${escapeBytes(this.buf, s, eq)} given twice`);
        seen |= bit;
        this.field(c.fields[c.optionBase + j], verb, w, eq + 1, c.optionBase + j);
        continue;
      }
      const j = this.keywordIndex(c, w);
      if (j >= 0) {
        if ((seen & (1 << j)) !== 0) this.fail(`${verb}: ${def.keywords?.[j]} given twice`);
        seen |= 1 << j;
        cur[def.args.length + j] = 1;
        continue;
      }
      if (npos === maxPos) this.fail(`${verb}: expected "${def.usage}"`);
      if (tagFirst && npos === 0) tagged = w;
      else {
        const a = npos - (tagFirst ? 1 : 0);
        this.field(c.fields[a], verb, w, s, a);
      }
      npos++;
    }
    if (npos < c.required) this.fail(`${verb}: expected "${def.usage}"`);
    if (c.check !== null) {
      const msg = c.check(cur, 0);
      if (msg !== null) this.fail(msg);
    }
    this.emit(c, tagged);
  }

  /* Appends the operation whose fields are in `cur`, its tag in word `tagged` (-1: none). */
  emit(c: Compiled, tagged: number): void {
    const nf = c.nfields;
    const t = this.t;
    const i = t.length++;
    // Consecutive lines of one operation often share their fields.
    const last = this.lastTuple[c.code];
    t.opTuple[i] = last >= 0 && this.sameFields(t.tupleStart[last], nf) ? last : (this.lastTuple[c.code] = this.tuple(c.code, nf));
    t.opLine[i] = this.line;
    if (tagged >= 0) this.tag(tagged, i);
    else t.opTag[i] = -1;
  }

  /* `machine …` and `set …`: the header, before the first operation. */
  header(verb: string): void {
    const t = this.t;
    for (let w = 1; w < this.nw; w++) {
      for (let p = this.ws[w]; p < this.we[w]; p++) {
        const c = this.buf[p];
        if (c < 0x21 || c > 0x7e) this.fail(`${verb}: "${this.word(w)}" has bytes outside printable ASCII`);
      }
      if (this.we[w] - this.ws[w] > 256) this.fail(`${verb}: "${this.word(w)}" is longer than 256 bytes`);
    }
    const words: string[] = [];
    for (let w = 1; w < this.nw; w++) words.push(String.fromCharCode(...this.buf.subarray(this.ws[w], this.we[w])));
    if (verb === 'machine') {
      if (this.sawOp) this.fail('machine must come before the first operation');
      if (t.machine !== null) this.fail('machine given twice');
      if (words.length === 1 && words[0].startsWith('mem=')) t.machine = { mem: words[0].slice(4) };
      else if (words.length === 1 && !words[0].includes('=')) t.machine = { preset: words[0] };
      else this.fail('expected "machine PRESET" or "machine mem=SIZE"');
    } else {
      if (words.length !== 1 || !words[0].includes('=')) this.fail('expected "set NAME=VALUE"');
      if (!this.sawOp) {
        t.sets.push({ line: this.line, assignment: words[0] });
        return;
      }
      // After the first operation, a sysctl: only the zeroing policy's can change.
      if (!words[0].startsWith('vm.zero.')) this.fail(`set ${escapeBytes(this.buf, this.ws[1], this.weq[1] >= 0 ? this.weq[1] : this.we[1])}: only vm.zero.* can be set after the first operation`);
      this.cur[0] = t.strings.push(words[0]) - 1;
      this.emit(SET_OP, -1);
    }
  }
}

/* The index of the newline ending the line that holds byte `p`, or the input's length. */
function lineEnd(buf: Uint8Array, p: number): number {
  const e = buf.indexOf(0x0a, p);
  return e < 0 ? buf.length : e;
}

const MACHINE = ascii('machine');
const SET = ascii('set');
/** `set` after the first operation; the header parser builds its one string field. */
const SET_OP = COMPILED.find((c) => c.def.verb === 'set') as Compiled;
/** Definitions by the first byte of their verb (`set` is a header line first). */
const BY_FIRST: Compiled[][] = Array.from({ length: 256 }, () => []);
for (const c of COMPILED) if (c !== SET_OP) BY_FIRST[c.verb[0]].push(c);

/*
 * Parses trace text (a string, or the file's bytes). Requires nothing of
 * the input; guarantees a Trace whose every operation is well-formed, or an
 * ETRACE error `FILE:LINE: …` quoting the offending text truncated and
 * escaped. Input over `maxBytes` (TRACE_MAX_BYTES) is refused.
 */
export function parseTrace(input: string | Uint8Array, file = 'trace', opts: { maxBytes?: number } = {}): Trace {
  const maxBytes = opts.maxBytes ?? TRACE_MAX_BYTES;
  if (typeof input === 'string' && input.length > maxBytes) throw new PagelabError('ETRACE', `${file}: larger than the trace limit of ${formatSize(maxBytes)}`);
  const buf = typeof input === 'string' ? new TextEncoder().encode(input) : input;
  const len = buf.length;
  if (len > maxBytes) throw new PagelabError('ETRACE', `${file}: larger than the trace limit of ${formatSize(maxBytes)}`);
  // The shortest operation line is `drain` and a newline.
  const maxOps = Math.floor(len / 6) + 1;
  // A `page` line names two tags in at least 11 bytes (`page a o 0` and a newline).
  const t = new Trace(file, maxOps, len, Math.floor(len / 5) + 1);
  const sc = new Scanner(t, buf);
  const ws = sc.ws;
  const we = sc.we;
  const weq = sc.weq;
  let pos = 0;
  while (pos < len) {
    sc.line++;
    const start = pos;
    // One pass over the line: words, the first '=' in each, the end.
    let n = 0;
    let p = pos;
    for (;;) {
      while (p < len && (CLASS[buf[p]] & C_SPACE) !== 0) p++;
      if (p >= len || buf[p] === 0x0a || buf[p] === 0x23) break;
      if (n === MAX_WORDS) sc.fail(`more than ${MAX_WORDS} words: "${escapeBytes(buf, start, lineEnd(buf, p))}"`);
      ws[n] = p;
      let eq = -1;
      for (;;) {
        const k = CLASS[buf[p]] & (C_STOP | C_EQ);
        if (k !== 0) {
          if (k !== C_EQ) break;
          if (eq < 0 && p > ws[n]) eq = p;
        }
        if (++p === len) break;
      }
      weq[n] = eq;
      we[n++] = p;
      if (p - start > TRACE_MAX_LINE) break;
    }
    if (p < len && buf[p] !== 0x0a) p = lineEnd(buf, p); // a comment, or an overlong line
    if (p - start > TRACE_MAX_LINE) sc.fail(`line is longer than ${TRACE_MAX_LINE} bytes: "${escapeBytes(buf, start, p)}"`);
    pos = p + 1;
    if (n === 0) continue;
    sc.nw = n;
    const vs = ws[0];
    const vn = we[0] - vs;
    let c: Compiled | undefined;
    for (const d of BY_FIRST[buf[vs]]) {
      if (d.verb.length === vn && bytesEqual(buf, vs, d.verb, 0, vn)) {
        c = d;
        break;
      }
    }
    if (c !== undefined) sc.op(c);
    else if (sc.is(0, MACHINE)) sc.header('machine');
    else if (sc.is(0, SET)) sc.header('set');
    // A verb is short: quote less of it, so the message with the list of operations stays one short line.
    else sc.fail(`unknown operation "${escapeBytes(buf, vs, we[0], 24)}" (machine, set, ${OP_NAMES.join(', ')})`);
  }
  sc.flushTags();
  // Trim the columns to what was used (views: no copy).
  t.opTuple = t.opTuple.subarray(0, t.length);
  t.opTag = t.opTag.subarray(0, t.length);
  t.opLine = t.opLine.subarray(0, t.length);
  return t;
}
