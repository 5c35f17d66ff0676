/**
 * vmem: the general resource arena allocator of Bonwick & Adams ("Magazines
 * and Vmem", USENIX 2001), modelled on FreeBSD's sys/kern/subr_vmem.c.
 *
 * An arena manages integer ranges ("resources": kernel virtual addresses,
 * IDs, ...) as boundary tags: span tags record the ranges the arena owns,
 * segment tags (free or busy) tile each span exactly. Free segments sit on
 * power-of-two free lists (exact lists below VMEM_OPTVALUE quanta, as
 * SIZE2ORDER in FreeBSD); busy segments sit in a hash keyed by start
 * address, so a free is O(1). Arenas may import spans from a source
 * (usually a parent arena) and release them when they become wholly free;
 * small sizes are served by per-size quantum caches.
 *
 * Representation: tags are indices into struct-of-arrays typed arrays, not
 * objects. Tag 0 is the sentinel head of the circular segment list and the
 * "null" of every other link. The linkNext/linkPrev pair is shared, as the
 * bt_u union in FreeBSD: a free tag uses it for its free list, a busy tag
 * uses linkNext for its hash chain and linkPrev for the id of the arena
 * that imported it as a span (0 when none), and a recycled tag uses
 * linkNext for the free-tag stack. A free-list head's linkPrev is
 * -1 - order, so unlinking needs no size-to-order computation.
 *
 * Differences from FreeBSD, all deliberate:
 *  - no cursor tag in the segment list: next fit keeps a cursor address and
 *    a hint tag, so the cursor never blocks coalescing (FreeBSD leaves two
 *    free segments split by its cursor tag until a later next-fit call);
 *  - spans are kept in address order (a sorted span index), which lets us
 *    reject overlapping spans and say which span or arena owns an address;
 *  - quantum-cached segments stay busy tags of type BT_TYPE_QCACHE, so a
 *    double free through the cache is caught rather than cached twice;
 *  - a busy segment handed out as a span to an importing arena remembers
 *    the importer, so freeing it to the parent directly (D38852's "KVA freed
 *    to the wrong arena") is an error rather than silent corruption;
 *  - an import that does not satisfy the request is released at once.
 *
 * Addresses and sizes are JS numbers: every address must be below 2^53
 * (a span's end, exclusive, at most 2^53).
 */
import { PagelabError, kassert } from '../errors.js';
import { hex } from '../util/units.js';

/* ---- flags: values from FreeBSD sys/malloc.h */

/** Accepted and ignored: vmem here never sleeps. */
export const M_NOWAIT = 0x0001;
/** Accepted and ignored: vmem here never sleeps. */
export const M_WAITOK = 0x0002;
/** Instant fit: first segment of the first list whose sizes all fit (FreeBSD's name). */
export const M_FIRSTFIT = 0x1000;
/** Instant fit, under the paper's name; the same bit as M_FIRSTFIT. */
export const M_INSTANTFIT = M_FIRSTFIT;
/** Best fit, to free-list granularity (exact below 32 quanta), as FreeBSD. */
export const M_BESTFIT = 0x2000;
/** Next fit: the first fitting address at or after a cursor, wrapping. */
export const M_NEXTFIT = 0x8000;
const VMEM_FITMASK = M_FIRSTFIT | M_BESTFIT | M_NEXTFIT;

/* ---- vmem_size typemask, as sys/vmem.h */
export const VMEM_ALLOC = 0x01;
export const VMEM_FREE = 0x02;
export const VMEM_MAXFREE = 0x10;

export const VMEM_ADDR_MIN = 0;
/** Largest address: 2^53 - 1 (addresses are JS numbers). */
export const VMEM_ADDR_MAX = Number.MAX_SAFE_INTEGER;
/** Returned by the allocating calls when the arena cannot satisfy the request (ENOMEM). */
export const VMEM_FAILED = -1;
/** At most this many quantum caches (sizes 1..16 quanta), as FreeBSD. */
export const VMEM_QCACHE_IDX_MAX = 16;

/* ---- boundary tag types, as FreeBSD (5 is FreeBSD's cursor, unused here) */
export const BT_TYPE_SPAN = 1; // imported from the source; released when wholly free
export const BT_TYPE_SPAN_STATIC = 2; // vmem_add() or create; never released
export const BT_TYPE_FREE = 3;
export const BT_TYPE_BUSY = 4;
export const BT_TYPE_QCACHE = 6; // busy, but held by a quantum cache

const BT_TYPE_NAMES: Record<number, string> = {
  [BT_TYPE_SPAN]: 'span',
  [BT_TYPE_SPAN_STATIC]: 'static span',
  [BT_TYPE_FREE]: 'free',
  [BT_TYPE_BUSY]: 'busy',
  [BT_TYPE_QCACHE]: 'qcache',
};

/* ---- free list indexing */

/** Sizes below this many quanta have one exact list each. */
const VMEM_OPTVALUE = 32;
/**
 * Number of free lists. FreeBSD sizes it for 64-bit sizes (90); sizes here
 * are below 2^53 quanta, so SIZE2ORDER tops out at 79.
 */
export const VMEM_MAXORDER = 80;
const FL_WORDS = 3; // bitmap words over VMEM_MAXORDER lists

const TWO_M32 = 2 ** -32; // multiplying by it is exact and cheaper than dividing by 2^32

/**
 * SIZE2ORDER: free-list index for a segment of `q` quanta.
 * Orders 0..31 hold exactly 1..32 quanta; order n >= 31 holds
 * [2^(n-26), 2^(n-25)) quanta (order 31 holds 32..63).
 * Requires 1 <= q <= 2^53.
 */
export function vmemSizeToOrder(q: number): number {
  if (q <= VMEM_OPTVALUE) return q - 1;
  // flsl(q) + 25, with flsl over 53-bit values
  return q < 4294967296 ? 57 - Math.clz32(q) : 89 - Math.clz32(q * TWO_M32);
}

/** ORDER2SIZE: the smallest size, in quanta, that lands on list `order`. */
const ORDER_SIZE = new Float64Array(VMEM_MAXORDER);
for (let o = 0; o < VMEM_MAXORDER; o++) ORDER_SIZE[o] = o < VMEM_OPTVALUE ? o + 1 : 2 ** (o - 26);

/* ---- quantum caches */
const QC_CAP = 32; // tags held per size class
const QC_BATCH = 16; // tags moved per refill or flush

/* ---- import/release context, for catching frees to the wrong arena */

/** Id of the arena whose import function is running (0: none). */
let importingArena = 0;
/** Id of the arena whose release function is running (0: none). */
let releasingArena = 0;
let nextArenaId = 1;
const arenaRegistry = new Map<number, WeakRef<Vmem>>();

const TWO53 = 2 ** 53;

export type VmemImportFn<T> = (arg: T, size: number, flags: number) => number;
export type VmemReleaseFn<T> = (arg: T, addr: number, size: number) => void;

export interface VmemSegment {
  start: number;
  size: number;
  type: 'span' | 'static span' | 'free' | 'busy' | 'qcache';
}

export interface VmemStats {
  name: string;
  quantum: number;
  /** Bytes in all spans. */
  total: number;
  /** Bytes allocated, including those held by quantum caches (FreeBSD's vm_inuse). */
  inuse: number;
  /** Bytes held by quantum caches (part of inuse). */
  cached: number;
  free: number;
  spans: number;
  busyTags: number;
  /** Tags in use (spans and segments) and tags allocated in the typed arrays. */
  tagsInUse: number;
  tagCapacity: number;
  hashBuckets: number;
}

/** Bytes of typed-array storage per boundary tag (start and size f64, four i32 links, a u8 type). */
export const VMEM_BYTES_PER_TAG = 8 + 8 + 4 + 4 + 4 + 4 + 1;

function isPow2(x: number): boolean {
  return x > 0 && x === 2 ** Math.round(Math.log2(x));
}

function einval(msg: string): never {
  throw new PagelabError('EINVAL', msg);
}

function enospc(msg: string): never {
  throw new PagelabError('ENOSPC', msg);
}

/**
 * vmem_fit over a window: the lowest address a in [lo, hi] with
 * a = phase (mod align), [a, a + size - 1] within [lo, hi] and not crossing
 * a multiple of nocross; -1 when there is none.
 * Requires align a power of two, phase < align, size >= 1, and (when
 * nocross != 0) that the constraints were validated so that an address at
 * `phase` past a nocross boundary does not cross (vmem_xalloc checks).
 */
function fitRange(lo: number, hi: number, size: number, align: number, phase: number, nocross: number): number {
  if (lo > hi) return -1;
  let a = Math.ceil((lo - phase) / align) * align + phase;
  if (nocross !== 0 && Math.floor(a / nocross) !== Math.floor((a + size - 1) / nocross)) {
    // Every aligned start left in this nocross block crosses too; the first
    // candidate of the next block is its boundary plus phase.
    a = Math.ceil((a - phase) / nocross) * nocross + phase;
  }
  return a <= hi && hi - a >= size - 1 ? a : -1;
}

export class Vmem {
  readonly name: string;
  /** Registry id; recorded in busy tags handed out as spans to an importer. */
  readonly id: number;
  readonly quantum: number;
  private readonly invQuantum: number;
  /** Largest size served by the quantum caches (0: none). */
  readonly qcacheMax: number;

  /*
   * Boundary tags, one typed array per field type, fields of a tag side by
   * side so that touching a cold tag costs three cache misses, not seven:
   *   tF[2t] start, tF[2t + 1] size;
   *   tL[4t] segment next, tL[4t + 1] segment prev,
   *   tL[4t + 2] link next, tL[4t + 3] link prev (see the file comment);
   *   tType[t] BT_TYPE_* (0: sentinel or recycled).
   */
  private tF: Float64Array;
  private tL: Int32Array;
  private tType: Uint8Array;
  private tagCap = 0;
  private tagHigh = 1; // tags [1, tagHigh) have been used at least once
  private freeTagHead = 0;
  private nFreeTags = 0;

  /* free lists and their non-empty bitmap */
  private readonly flHead = new Int32Array(VMEM_MAXORDER);
  private readonly flMap = new Int32Array(FL_WORDS);

  /* busy-tag hash: chained through the link-next field */
  private hashBuckets: Int32Array;
  private hashShift: number;
  private nBusy = 0;
  private hashGrowAt = 16; // grow past load 1
  private hashShrinkAt = -1; // shrink below load 1/8 (never at the minimum size)
  private hashFoundPrev = 0; // set by hashLookup for hashRemoveFound
  private hashFoundBucket = 0;

  /* spans in address order */
  private spanStart: Float64Array;
  private spanTag: Int32Array;
  private nSpans = 0;

  /* accounting */
  private inuse = 0;
  private total = 0;
  private cachedBytes = 0;
  private limit = 0;

  /* import source */
  private importFn: VmemImportFn<any> | null = null;
  private releaseFn: VmemReleaseFn<any> | null = null;
  private importArg: unknown = undefined;
  private importQuantum: number;

  /* the request being served, and the fit routines' result (see setRequest) */
  private rqSize = 0;
  private rqAlign = 0;
  private rqInvAlign = 0; // 1 / align: exact, as align is a power of two, and cheaper than dividing
  private rqPhase = 0;
  private rqNocross = 0;
  private rqInvNocross = 0;
  private rqMin = 0;
  private rqMax = VMEM_ADDR_MAX;
  private rqSimple = true;
  private fitLo = 0;
  private fitAddr = 0;

  /* next fit: cursor address and a tag at or before it (a hint) */
  private cursorAddr = 0;
  private cursorTag = 0;

  /* quantum caches: per class a stack of cached busy tags */
  private readonly qcClasses: number;
  private readonly qcStack: Int32Array;
  private readonly qcCount: Int32Array;
  private qcTotal = 0;

  private destroyed = false;

  /**
   * vmem_create. Requires quantum a power of two no larger than 2^52,
   * qcacheMax a multiple of quantum (capped at 16 quanta), and base/size
   * quantum multiples within 2^53 (size 0: no initial span).
   */
  constructor(name: string, base: number, size: number, quantum: number, qcacheMax = 0, flags = 0) {
    if (typeof name !== 'string' || name.length === 0) einval('vmem_create: arena name must be a non-empty string');
    this.name = name;
    if (!Number.isSafeInteger(quantum) || !isPow2(quantum) || quantum > 2 ** 52) {
      einval(`vmem_create '${name}': quantum ${quantum} is not a power of two <= 2^52`);
    }
    if (!Number.isSafeInteger(qcacheMax) || qcacheMax < 0 || qcacheMax % quantum !== 0) {
      einval(`vmem_create '${name}': qcache_max ${qcacheMax} is not a non-negative multiple of quantum ${hex(quantum)}`);
    }
    this.quantum = quantum;
    this.invQuantum = 1 / quantum;
    this.importQuantum = quantum;
    this.qcClasses = Math.min(qcacheMax / quantum, VMEM_QCACHE_IDX_MAX);
    this.qcacheMax = this.qcClasses * quantum;
    this.qcStack = new Int32Array(this.qcClasses * QC_CAP);
    this.qcCount = new Int32Array(this.qcClasses);

    const cap = 64;
    this.tF = new Float64Array(2 * cap);
    this.tL = new Int32Array(4 * cap);
    this.tType = new Uint8Array(cap);
    this.tagCap = cap;

    this.hashBuckets = new Int32Array(16);
    this.hashShift = 28;
    this.spanStart = new Float64Array(8);
    this.spanTag = new Int32Array(8);

    this.id = nextArenaId++;
    arenaRegistry.set(this.id, new WeakRef(this));
    if (size !== 0) this.add(base, size, flags);
  }

  /* ---------------------------------------------------------------- tags */

  /** Guarantees that `n` tags can be taken with newTag() without growing (bt_fill). */
  private ensureTags(n: number): void {
    if (this.nFreeTags + (this.tagCap - this.tagHigh) < n) this.growTags();
  }

  private growTags(): void {
    const cap = this.tagCap * 2;
    const f = new Float64Array(2 * cap);
    f.set(this.tF);
    this.tF = f;
    const l = new Int32Array(4 * cap);
    l.set(this.tL);
    this.tL = l;
    const ty = new Uint8Array(cap);
    ty.set(this.tType);
    this.tType = ty;
    this.tagCap = cap;
  }

  /** Pops a tag (bt_alloc). Requires a prior ensureTags covering it. */
  private newTag(): number {
    const t = this.freeTagHead;
    if (t !== 0) {
      this.freeTagHead = this.tL[(t << 2) | 2];
      this.nFreeTags--;
      return t;
    }
    return this.tagHigh++;
  }

  /** Unlinks `t` from the segment list and recycles it; the next-fit hint moves to `heir`. */
  private retireSeg(t: number, heir: number): void {
    const p = this.tL[(t << 2) | 1];
    const n = this.tL[t << 2];
    this.tL[p << 2] = n;
    this.tL[(n << 2) | 1] = p;
    if (this.cursorTag === t) this.cursorTag = heir;
    this.tType[t] = 0;
    this.tL[(t << 2) | 2] = this.freeTagHead;
    this.freeTagHead = t;
    this.nFreeTags++;
  }

  private segInsertBefore(t: number, before: number): void {
    const p = this.tL[(before << 2) | 1];
    this.tL[p << 2] = t;
    this.tL[(t << 2) | 1] = p;
    this.tL[t << 2] = before;
    this.tL[(before << 2) | 1] = t;
  }

  /* ----------------------------------------------------------- free lists */

  private flInsert(t: number, order: number): void {
    const h = this.flHead[order];
    this.tL[(t << 2) | 2] = h;
    this.tL[(t << 2) | 3] = -1 - order;
    if (h !== 0) this.tL[(h << 2) | 3] = t;
    else this.flMap[order >>> 5] |= 1 << (order & 31);
    this.flHead[order] = t;
  }

  private flRemove(t: number): void {
    const n = this.tL[(t << 2) | 2];
    const p = this.tL[(t << 2) | 3];
    if (p < 0) {
      const order = -1 - p;
      this.flHead[order] = n;
      if (n !== 0) this.tL[(n << 2) | 3] = p;
      else this.flMap[order >>> 5] &= ~(1 << (order & 31));
    } else {
      this.tL[(p << 2) | 2] = n;
      if (n !== 0) this.tL[(n << 2) | 3] = p;
    }
  }

  /** Index of the first non-empty free list at or above `order`, or -1. */
  private flFirst(order: number): number {
    if (order >= VMEM_MAXORDER) return -1;
    let w = order >>> 5;
    let bits = this.flMap[w] & (-1 << (order & 31));
    while (bits === 0) {
      if (++w === FL_WORDS) return -1;
      bits = this.flMap[w];
    }
    return (w << 5) + 31 - Math.clz32(bits & -bits);
  }

  private orderOf(size: number): number {
    return vmemSizeToOrder(size * this.invQuantum);
  }

  /** Moves free tag `t` to [start, start + size), re-filing it if its order changes. */
  private resizeFree(t: number, start: number, size: number): void {
    const before = this.orderOf(this.tF[(t << 1) | 1]);
    this.tF[t << 1] = start;
    this.tF[(t << 1) | 1] = size;
    const after = this.orderOf(size);
    if (after !== before) {
      this.flRemove(t);
      this.flInsert(t, after);
    }
  }

  /* ------------------------------------------------------------ busy hash */

  private hashIndex(addr: number): number {
    const q = addr * this.invQuantum;
    const lo = q >>> 0;
    const hi = (q * TWO_M32) >>> 0;
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca77), 0x9e3779b1) >>> this.hashShift;
  }

  /** Busy tag starting at `addr`, or 0; remembers its chain position for hashRemoveFound. */
  private hashLookup(addr: number): number {
    const b = this.hashIndex(addr);
    const tF = this.tF;
    const tL = this.tL;
    let prev = 0;
    let t = this.hashBuckets[b];
    while (t !== 0 && tF[t << 1] !== addr) {
      prev = t;
      t = tL[(t << 2) | 2];
    }
    this.hashFoundPrev = prev;
    this.hashFoundBucket = b;
    return t;
  }

  /** Unchains the tag just found by hashLookup (bt_rembusy). */
  private hashRemoveFound(t: number): void {
    const n = this.tL[(t << 2) | 2];
    if (this.hashFoundPrev === 0) this.hashBuckets[this.hashFoundBucket] = n;
    else this.tL[(this.hashFoundPrev << 2) | 2] = n;
    if (--this.nBusy < this.hashShrinkAt) this.rehash(this.hashBuckets.length >>> 1);
  }

  private hashInsert(t: number): void {
    const b = this.hashIndex(this.tF[t << 1]);
    this.tL[(t << 2) | 2] = this.hashBuckets[b];
    this.hashBuckets[b] = t;
    if (++this.nBusy > this.hashGrowAt) this.rehash(this.hashBuckets.length * 2);
  }

  /**
   * Resizes the hash to `n` buckets (a power of two). Load stays between
   * 1/8 and 1, so chains are short and a free costs O(1) amortised.
   */
  private rehash(n: number): void {
    const old = this.hashBuckets;
    const tL = this.tL;
    this.hashBuckets = new Int32Array(n);
    this.hashShift = 32 - Math.round(Math.log2(n));
    this.hashGrowAt = n;
    this.hashShrinkAt = n > 16 ? n / 8 : -1;
    for (let b = 0; b < old.length; b++) {
      let t = old[b];
      while (t !== 0) {
        const following = tL[(t << 2) | 2];
        const nb = this.hashIndex(this.tF[t << 1]);
        tL[(t << 2) | 2] = this.hashBuckets[nb];
        this.hashBuckets[nb] = t;
        t = following;
      }
    }
  }

  /* ----------------------------------------------------------- span index */

  /** Number of spans whose start is <= addr. */
  private spanUpper(addr: number): number {
    let lo = 0;
    let hi = this.nSpans;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.spanStart[mid] <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index of the span containing addr, or -1. */
  private spanFind(addr: number): number {
    const i = this.spanUpper(addr) - 1;
    if (i < 0) return -1;
    return addr < this.spanStart[i] + this.tF[((this.spanTag[i]) << 1) | 1] ? i : -1;
  }

  private spanIndexInsert(i: number, addr: number, tag: number): void {
    if (this.nSpans === this.spanStart.length) {
      const s = new Float64Array(this.nSpans * 2);
      s.set(this.spanStart);
      this.spanStart = s;
      const t = new Int32Array(this.nSpans * 2);
      t.set(this.spanTag);
      this.spanTag = t;
    }
    this.spanStart.copyWithin(i + 1, i, this.nSpans);
    this.spanTag.copyWithin(i + 1, i, this.nSpans);
    this.spanStart[i] = addr;
    this.spanTag[i] = tag;
    this.nSpans++;
  }

  private spanIndexRemove(i: number): void {
    this.spanStart.copyWithin(i, i + 1, this.nSpans);
    this.spanTag.copyWithin(i, i + 1, this.nSpans);
    this.nSpans--;
  }

  /* ---------------------------------------------------------------- spans */

  private checkRange(what: string, addr: number, size: number): void {
    if (!Number.isSafeInteger(addr) || addr < 0 || !Number.isSafeInteger(size) || size <= 0 || addr + size > TWO53) {
      einval(`${what} '${this.name}': span ${hex(addr)}+${hex(size)} is not within [0, 2^53)`);
    }
    if (addr % this.quantum !== 0 || size % this.quantum !== 0) {
      einval(`${what} '${this.name}': span ${hex(addr)}+${hex(size)} is not a multiple of quantum ${hex(this.quantum)}`);
    }
  }

  /**
   * vmem_add1: adds [addr, addr + size) as a span of `type` and returns its
   * span tag. A static span that abuts another static span is merged into
   * it when the arena never releases (as FreeBSD), so segments may later
   * coalesce across the join. Requires a validated, quantum-aligned range;
   * throws EINVAL if it overlaps a span already present.
   */
  private addSpan(addr: number, size: number, type: number): number {
    this.ensureTags(4);
    const tF = this.tF;
    const tType = this.tType;
    const i = this.spanUpper(addr);
    if (i > 0 && this.spanStart[i - 1] + tF[((this.spanTag[i - 1]) << 1) | 1] > addr) {
      const p = this.spanTag[i - 1];
      einval(`vmem '${this.name}': span ${hex(addr)}+${hex(size)} overlaps span [${hex(tF[p << 1])}, ${hex(tF[p << 1] + tF[(p << 1) | 1])})`);
    }
    if (i < this.nSpans && this.spanStart[i] < addr + size) {
      const n = this.spanTag[i];
      einval(`vmem '${this.name}': span ${hex(addr)}+${hex(size)} overlaps span [${hex(tF[n << 1])}, ${hex(tF[n << 1] + tF[(n << 1) | 1])})`);
    }
    this.total += size;

    if (type === BT_TYPE_SPAN_STATIC && this.releaseFn === null) {
      const prevAdj =
        i > 0 && tType[this.spanTag[i - 1]] === BT_TYPE_SPAN_STATIC && this.spanStart[i - 1] + tF[((this.spanTag[i - 1]) << 1) | 1] === addr;
      const nextAdj = i < this.nSpans && tType[this.spanTag[i]] === BT_TYPE_SPAN_STATIC && this.spanStart[i] === addr + size;
      if (prevAdj) {
        const s = this.spanTag[i - 1];
        tF[(s << 1) | 1] += size;
        const after = i < this.nSpans ? this.spanTag[i] : 0;
        const last = this.tL[(after << 2) | 1];
        let f: number;
        if (tType[last] === BT_TYPE_FREE) {
          f = last;
          this.resizeFree(f, tF[f << 1], tF[(f << 1) | 1] + size);
        } else {
          f = this.newTag();
          tType[f] = BT_TYPE_FREE;
          tF[f << 1] = addr;
          tF[(f << 1) | 1] = size;
          this.segInsertBefore(f, after);
          this.flInsert(f, this.orderOf(size));
        }
        if (nextAdj) {
          const n = this.spanTag[i];
          tF[(s << 1) | 1] += tF[(n << 1) | 1];
          const first = this.tL[n << 2];
          this.retireSeg(n, f);
          this.spanIndexRemove(i);
          if (tType[first] === BT_TYPE_FREE) {
            this.flRemove(first);
            this.resizeFree(f, tF[f << 1], tF[(f << 1) | 1] + tF[(first << 1) | 1]);
            this.retireSeg(first, f);
          }
        }
        return s;
      }
      if (nextAdj) {
        const n = this.spanTag[i];
        tF[n << 1] = addr;
        tF[(n << 1) | 1] += size;
        this.spanStart[i] = addr;
        const first = this.tL[n << 2];
        if (tType[first] === BT_TYPE_FREE) {
          this.resizeFree(first, addr, tF[(first << 1) | 1] + size);
        } else {
          const f = this.newTag();
          tType[f] = BT_TYPE_FREE;
          tF[f << 1] = addr;
          tF[(f << 1) | 1] = size;
          this.segInsertBefore(f, first);
          this.flInsert(f, this.orderOf(size));
        }
        return n;
      }
    }

    const s = this.newTag();
    const f = this.newTag();
    tType[s] = type;
    tF[s << 1] = addr;
    tF[(s << 1) | 1] = size;
    tType[f] = BT_TYPE_FREE;
    tF[f << 1] = addr;
    tF[(f << 1) | 1] = size;
    const before = i < this.nSpans ? this.spanTag[i] : 0;
    this.segInsertBefore(s, before);
    this.segInsertBefore(f, before);
    this.flInsert(f, this.orderOf(size));
    this.spanIndexInsert(i, addr, s);
    return s;
  }

  /**
   * vmem_add: adds the static span [addr, addr + size). Requires addr and
   * size quantum multiples within 2^53, not overlapping any span (EINVAL).
   */
  add(addr: number, size: number, _flags = 0): void {
    this.checkRange('vmem_add', addr, size);
    this.addSpan(addr, size, BT_TYPE_SPAN_STATIC);
  }

  /**
   * Removes imported span tag `s` and its only segment `f` (wholly free,
   * already off the free lists) and hands the range back to the source.
   * The arena is consistent before the release function runs, so it may
   * re-enter vmem (it normally frees to the parent arena).
   */
  private releaseSpan(s: number, f: number): void {
    const addr = this.tF[s << 1];
    const size = this.tF[(s << 1) | 1];
    const heir = this.tL[(s << 2) | 1];
    this.retireSeg(f, heir);
    this.retireSeg(s, heir);
    this.spanIndexRemove(this.spanUpper(addr) - 1);
    this.total -= size;
    const saved = releasingArena;
    releasingArena = this.id;
    try {
      this.releaseFn!(this.importArg, addr, size);
    } finally {
      releasingArena = saved;
    }
  }

  /**
   * vmem_import: asks the source for a span able to hold `size` at `align`
   * (FreeBSD's estimate: size + 2 * align unless align is the quantum,
   * rounded up to the import quantum) and adds it. Returns the new span
   * tag, or 0 if there is no source, the limit would be passed, or the
   * source has nothing. Throws EINVAL if the source returns a bad span.
   */
  private importSpan(size: number, align: number, flags: number): number {
    if (this.importFn === null) return 0;
    if (align !== this.quantum) size = align * 2 + size;
    size = Math.ceil(size / this.importQuantum) * this.importQuantum;
    if (size > TWO53) return 0;
    if (this.limit !== 0 && this.limit < this.total + size) return 0;
    const saved = importingArena;
    importingArena = this.id;
    let addr: number;
    try {
      addr = this.importFn(this.importArg, size, flags);
    } finally {
      importingArena = saved;
    }
    if (addr === VMEM_FAILED) return 0;
    this.checkRange('vmem_import', addr, size);
    return this.addSpan(addr, size, BT_TYPE_SPAN);
  }

  /* ---------------------------------------------------------- allocation */

  /*
   * Why the request lives in fields: addresses are beyond 2^31, so V8 holds
   * them as doubles, and a double passed to or returned from a call that is
   * not inlined is boxed in a fresh heap number. Keeping addresses in fields
   * (updated in place) and passing only tag indices and small sizes keeps
   * the allocation paths free of garbage.
   */

  /** Sets the request for the fit routines (sizes rounded, constraints validated). */
  private setRequest(size: number, align: number, phase: number, nocross: number, minaddr: number, maxaddr: number): void {
    this.rqSize = size;
    this.rqAlign = align;
    this.rqInvAlign = 1 / align;
    this.rqPhase = phase;
    this.rqNocross = nocross;
    this.rqInvNocross = nocross === 0 ? 0 : 1 / nocross;
    this.rqMin = minaddr;
    this.rqMax = maxaddr;
    this.rqSimple = align === this.quantum && phase === 0 && nocross === 0 && minaddr === 0 && maxaddr === VMEM_ADDR_MAX;
  }

  /**
   * vmem_clip: makes [fitAddr, fitAddr + size) of free tag `t` busy and
   * returns the busy tag. Requires that range within t, quantum-aligned,
   * and ensureTags(2). A free prefix gets a tag of its own; see clipHead.
   */
  private clip(t: number, size: number): number {
    const tF = this.tF;
    const addr = this.fitAddr;
    const segStart = tF[t << 1];
    if (addr !== segStart) {
      const p = this.newTag();
      const ps = addr - segStart;
      const oldOrder = vmemSizeToOrder(tF[(t << 1) | 1] * this.invQuantum);
      this.tType[p] = BT_TYPE_FREE;
      tF[p << 1] = segStart;
      tF[(p << 1) | 1] = ps;
      this.segInsertBefore(p, t);
      this.flInsert(p, vmemSizeToOrder(ps * this.invQuantum));
      tF[t << 1] = addr;
      tF[(t << 1) | 1] -= ps;
      const newOrder = vmemSizeToOrder(tF[(t << 1) | 1] * this.invQuantum);
      if (newOrder !== oldOrder) {
        this.flRemove(t);
        this.flInsert(t, newOrder);
      }
    }
    return this.clipHead(t, size);
  }

  /**
   * vmem_clip at the start of free tag `t`: makes its first `size` bytes
   * busy and returns the busy tag. Requires size <= t's size, a quantum
   * multiple, and ensureTags(1). The free rest keeps t itself, and stays
   * on its list when its order does not change.
   */
  private clipHead(t: number, size: number): number {
    const tF = this.tF;
    const segSize = tF[(t << 1) | 1];
    this.inuse += size;
    if (segSize !== size) {
      const b = this.newTag();
      const addr = tF[t << 1];
      this.tType[b] = BT_TYPE_BUSY;
      tF[b << 1] = addr;
      tF[(b << 1) | 1] = size;
      this.segInsertBefore(b, t);
      tF[t << 1] = addr + size;
      tF[(t << 1) | 1] = segSize - size;
      const oldOrder = vmemSizeToOrder(segSize * this.invQuantum);
      const newOrder = vmemSizeToOrder((segSize - size) * this.invQuantum);
      if (newOrder !== oldOrder) {
        this.flRemove(t);
        this.flInsert(t, newOrder);
      }
      this.hashInsert(b);
      this.tL[(b << 2) | 3] = importingArena;
      return b;
    }
    this.flRemove(t);
    this.tType[t] = BT_TYPE_BUSY;
    this.hashInsert(t);
    this.tL[(t << 2) | 3] = importingArena;
    return t;
  }

  /**
   * vmem_fit on free tag `t` for the current request, with fitLo as the
   * lower bound: true, with the lowest fitting address in fitAddr, or false.
   */
  private fitTag(t: number): boolean {
    const tF = this.tF;
    const size = this.rqSize;
    let lo = tF[t << 1];
    let hi = lo + tF[(t << 1) | 1] - 1;
    if (lo < this.fitLo) lo = this.fitLo;
    if (hi > this.rqMax) hi = this.rqMax;
    if (lo > hi) return false;
    const align = this.rqAlign;
    const phase = this.rqPhase;
    const nocross = this.rqNocross;
    let a = Math.ceil((lo - phase) * this.rqInvAlign) * align + phase;
    if (nocross !== 0) {
      const inv = this.rqInvNocross;
      if (Math.floor(a * inv) !== Math.floor((a + size - 1) * inv)) a = Math.ceil((a - phase) * inv) * nocross + phase; // see fitRange
    }
    if (a <= hi && hi - a >= size - 1) {
      this.fitAddr = a;
      return true;
    }
    return false;
  }

  /**
   * Instant fit or best fit over the free lists (the list loop of
   * vmem_xalloc) for the current request. Returns the busy tag or 0.
   * Requires ensureTags(2).
   *
   * Instant fit looks only at the head of each list from the first list
   * whose every segment is big enough: O(1) without constraints. If that
   * fails (constraints), it falls back to best fit, which scans every
   * segment of every list from the one that may hold the size, and so
   * finds a place whenever one exists in the arena. Best fit takes the
   * first fitting segment of the lowest such list, as FreeBSD: exact below
   * 32 quanta; above, its cost grows with the too-small segments sharing
   * the request's list.
   */
  private listFit(strat: number): number {
    const size = this.rqSize;
    const q = size * this.invQuantum;
    const order = vmemSizeToOrder(q);
    const simple = this.rqSimple;
    const flHead = this.flHead;
    const tF = this.tF;
    this.fitLo = this.rqMin;
    if (strat !== M_BESTFIT) {
      for (let l = this.flFirst(ORDER_SIZE[order] === q ? order : order + 1); l >= 0; l = this.flFirst(l + 1)) {
        const t = flHead[l];
        if (simple) return this.clipHead(t, size);
        if (this.fitTag(t)) return this.clip(t, size);
      }
    }
    const tL = this.tL;
    for (let l = this.flFirst(order); l >= 0; l = this.flFirst(l + 1)) {
      for (let t = flHead[l]; t !== 0; t = tL[(t << 2) | 2]) {
        if (tF[(t << 1) | 1] >= size) {
          if (simple) return this.clipHead(t, size);
          if (this.fitTag(t)) return this.clip(t, size);
        }
      }
    }
    return 0;
  }

  /**
   * Next fit for the current request: the lowest fitting address at or
   * after the cursor, else the lowest one before it (wrap-around). Walks
   * the address-ordered segment list from a hint tag kept at or before the
   * cursor. Returns the busy tag or 0; advances the cursor past the
   * allocation. Requires ensureTags(2).
   */
  private nextFit(): number {
    const tF = this.tF;
    const tType = this.tType;
    const tL = this.tL;
    const size = this.rqSize;
    const cur = this.cursorAddr;
    let t = this.cursorTag;
    // The hint may have been clipped past the cursor; step back to cover it.
    while (t !== 0 && tF[t << 1] > cur) t = tL[(t << 2) | 1];
    if (t === 0) t = tL[0];
    this.fitLo = this.rqMin > cur ? this.rqMin : cur;
    let found = false;
    for (; t !== 0; t = tL[t << 2]) {
      if (tType[t] === BT_TYPE_FREE && tF[(t << 1) | 1] >= size && this.fitTag(t)) {
        found = true;
        break;
      }
    }
    if (!found) {
      this.fitLo = this.rqMin;
      for (t = tL[0]; t !== 0 && tF[t << 1] < cur; t = tL[t << 2]) {
        if (tType[t] === BT_TYPE_FREE && tF[(t << 1) | 1] >= size && this.fitTag(t)) {
          found = true;
          break;
        }
      }
      if (!found) return 0;
    }
    this.cursorAddr = this.fitAddr + size;
    const b = this.clip(t, size);
    this.cursorTag = b;
    return b;
  }

  private search(strat: number): number {
    this.ensureTags(4);
    return strat === M_NEXTFIT ? this.nextFit() : this.listFit(strat);
  }

  /**
   * The body of vmem_xalloc for the current request: search, then import
   * from the source and search again, then drain the quantum caches and
   * search again (vmem_try_fetch without sleeping). Returns the busy tag
   * or 0. An import that still leaves the request unsatisfied is released
   * at once rather than kept.
   */
  private xallocTag(strat: number, flags: number, mayDrain: boolean): number {
    let t = this.search(strat);
    if (t !== 0) return t;
    // Import and release callbacks may re-enter vmem; keep our request.
    const size = this.rqSize;
    const align = this.rqAlign;
    const phase = this.rqPhase;
    const nocross = this.rqNocross;
    const minaddr = this.rqMin;
    const maxaddr = this.rqMax;
    if (this.importFn !== null) {
      const s = this.importSpan(size, align, flags);
      if (s !== 0) {
        this.setRequest(size, align, phase, nocross, minaddr, maxaddr);
        t = this.search(strat);
        if (t !== 0) return t;
        const f = this.tL[s << 2];
        if (this.releaseFn !== null && this.tType[s] === BT_TYPE_SPAN && this.tType[f] === BT_TYPE_FREE && this.tF[(f << 1) | 1] === this.tF[(s << 1) | 1]) {
          this.flRemove(f);
          this.releaseSpan(s, f);
        }
      }
    }
    if (mayDrain && this.qcTotal !== 0) {
      this.qcDrain();
      this.setRequest(size, align, phase, nocross, minaddr, maxaddr);
      t = this.search(strat);
    }
    return t;
  }

  private fitOf(flags: number, what: string): number {
    if (!Number.isInteger(flags)) einval(`${what} '${this.name}': flags ${flags} is not an integer`);
    const strat = flags & VMEM_FITMASK;
    if (strat === 0) return M_FIRSTFIT;
    if (strat !== M_FIRSTFIT && strat !== M_BESTFIT && strat !== M_NEXTFIT) {
      einval(`${what} '${this.name}': flags ${hex(flags)} name more than one fit`);
    }
    return strat;
  }

  private checkNonNeg(what: string, argName: string, v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) einval(`${what} '${this.name}': ${argName} ${v} is not a non-negative integer below 2^53`);
  }

  private checkSizeArg(what: string, size: number): void {
    if (!Number.isSafeInteger(size) || size <= 0) einval(`${what} '${this.name}': size ${size} is not a positive integer`);
  }

  /** vmem_roundup_size: size rounded up to a multiple of the quantum. */
  roundupSize(size: number): number {
    return Math.ceil(size * this.invQuantum) * this.quantum;
  }

  /**
   * vmem_alloc: allocates `size` (rounded up to the quantum) with the fit
   * in `flags` (instant fit when none). Sizes up to qcacheMax come from
   * the quantum caches. Returns the address, or VMEM_FAILED when the arena
   * and its source cannot supply it. Throws EINVAL on a bad size or flags.
   * Kept small so that it inlines; the common case is instantFit().
   */
  alloc(size: number, flags = M_FIRSTFIT): number {
    if (!(size > 0 && size <= TWO53 && Number.isInteger(size))) this.checkSizeArg('vmem_alloc', size);
    let t: number;
    if (size <= this.qcacheMax) {
      t = this.qcAllocTag(size, flags);
    } else {
      const rsize = Math.ceil(size * this.invQuantum) * this.quantum;
      const fit = flags & VMEM_FITMASK;
      t = fit === M_FIRSTFIT || fit === 0 ? this.instantFit(rsize) : 0;
      if (t === 0) t = this.allocSlow(rsize, flags);
    }
    return t === 0 ? VMEM_FAILED : this.tF[t << 1];
  }

  /**
   * Hot-path twin of alloc(): instant fit, no quantum cache, no argument
   * checks. Requires size a positive multiple of the quantum below 2^53.
   */
  allocUnsafe(size: number): number {
    let t = this.instantFit(size);
    if (t === 0) t = this.allocSlow(size, M_FIRSTFIT);
    return t === 0 ? VMEM_FAILED : this.tF[t << 1];
  }

  /**
   * Unconstrained instant fit from the free lists alone: the head of the
   * first non-empty list whose every segment holds `size`. Returns the busy
   * tag, or 0 to send the caller to the full path (fallback, import,
   * drain). Requires size a positive multiple of the quantum.
   */
  private instantFit(size: number): number {
    this.ensureTags(2);
    const q = size * this.invQuantum;
    const order = vmemSizeToOrder(q);
    const l = this.flFirst(ORDER_SIZE[order] === q ? order : order + 1);
    if (l < 0) return 0;
    return this.clipHead(this.flHead[l], size);
  }

  /** vmem_alloc past the instant-fit fast path: any fit, import, drain. Returns the tag or 0. */
  private allocSlow(rsize: number, flags: number): number {
    const strat = this.fitOf(flags, 'vmem_alloc');
    this.setRequest(rsize, this.quantum, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX);
    return this.xallocTag(strat, flags, true);
  }

  /**
   * vmem_alloc from the quantum cache of `size`'s class (uma_zalloc on
   * qc_cache), refilling it from the arena, else from the arena directly.
   * Returns the tag or 0.
   */
  private qcAllocTag(size: number, flags: number): number {
    const strat = this.fitOf(flags, 'vmem_alloc');
    const c = Math.ceil(size * this.invQuantum) - 1;
    let n = this.qcCount[c];
    if (n === 0) n = this.qcRefill(c, strat, flags);
    if (n !== 0) {
      const t = this.qcStack[c * QC_CAP + n - 1];
      this.qcCount[c] = n - 1;
      this.qcTotal--;
      this.tType[t] = BT_TYPE_BUSY;
      this.tL[(t << 2) | 3] = importingArena;
      this.cachedBytes -= this.tF[(t << 1) | 1];
      return t;
    }
    this.setRequest((c + 1) * this.quantum, this.quantum, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX);
    return this.xallocTag(strat, flags, true);
  }

  /**
   * vmem_xalloc: allocates `size` (rounded up to the quantum) at an address
   * a with a = phase (mod align), [a, a + size) not crossing a multiple of
   * nocross, a >= minaddr and a + size - 1 <= maxaddr. align 0 means the
   * quantum; nocross 0 means no boundary. Bypasses the quantum caches.
   * Returns the address or VMEM_FAILED.
   * Throws EINVAL for non-integer or negative arguments or several fits,
   * ENOSPC for constraints no arena could ever meet (align not a power of
   * two or not a quantum multiple, phase >= align, nocross < size or not a
   * power of two, minaddr > maxaddr, a window with no valid address).
   */
  xalloc(
    size: number,
    align = 0,
    phase = 0,
    nocross = 0,
    minaddr = VMEM_ADDR_MIN,
    maxaddr = VMEM_ADDR_MAX,
    flags = M_FIRSTFIT,
  ): number {
    const what = 'vmem_xalloc';
    this.checkSizeArg(what, size);
    const strat = this.fitOf(flags, what);
    this.checkNonNeg(what, 'align', align);
    this.checkNonNeg(what, 'phase', phase);
    this.checkNonNeg(what, 'nocross', nocross);
    this.checkNonNeg(what, 'minaddr', minaddr);
    this.checkNonNeg(what, 'maxaddr', maxaddr);
    const q = this.quantum;
    if (size > TWO53 - q) enospc(`${what} '${this.name}': size ${hex(size)} can never fit below 2^53`);
    const rsize = this.roundupSize(size);
    if (align === 0) align = q;
    if (!isPow2(align) || align % q !== 0) {
      enospc(`${what} '${this.name}': align ${hex(align)} is not a power of two multiple of quantum ${hex(q)}`);
    }
    if (phase % q !== 0 || phase >= align) {
      enospc(`${what} '${this.name}': phase ${hex(phase)} is not a quantum multiple below align ${hex(align)}`);
    }
    if (nocross !== 0) {
      if (!isPow2(nocross) || nocross % q !== 0) {
        enospc(`${what} '${this.name}': nocross ${hex(nocross)} is not a power of two multiple of quantum ${hex(q)}`);
      }
      if (rsize > nocross) enospc(`${what} '${this.name}': size ${hex(rsize)} is larger than nocross ${hex(nocross)}`);
      if (Math.floor(phase / nocross) !== Math.floor((phase + rsize - 1) / nocross)) {
        enospc(`${what} '${this.name}': size ${hex(rsize)} at phase ${hex(phase)} always crosses a ${hex(nocross)} boundary`);
      }
    }
    if (minaddr > maxaddr) enospc(`${what} '${this.name}': minaddr ${hex(minaddr)} > maxaddr ${hex(maxaddr)}`);
    if (fitRange(minaddr, maxaddr, rsize, align, phase, nocross) < 0) {
      enospc(
        `${what} '${this.name}': no address in [${hex(minaddr)}, ${hex(maxaddr)}] fits size ${hex(rsize)} ` +
          `align ${hex(align)} phase ${hex(phase)} nocross ${hex(nocross)}`,
      );
    }
    this.setRequest(rsize, align, phase, nocross, minaddr, maxaddr);
    const t = this.xallocTag(strat, flags, true);
    return t === 0 ? VMEM_FAILED : this.tF[t << 1];
  }

  /* ------------------------------------------------------------ freeing */

  /**
   * Frees busy (or cached) tag `t`, already off the hash: coalesces it with
   * free neighbours, keeping an existing free neighbour's tag so that a
   * merge whose order does not change needs no free-list work, and releases
   * the span to the source when the result covers a whole imported span.
   */
  private freeTag(t: number): void {
    const tF = this.tF;
    const tType = this.tType;
    const size = tF[(t << 1) | 1];
    this.inuse -= size;
    const p = this.tL[(t << 2) | 1];
    const n = this.tL[t << 2];
    let s: number;
    let oldOrder: number;
    if (tType[p] === BT_TYPE_FREE) {
      s = p;
      oldOrder = this.orderOf(tF[(p << 1) | 1]);
      tF[(p << 1) | 1] += size;
      this.retireSeg(t, p);
      if (tType[n] === BT_TYPE_FREE) {
        tF[(p << 1) | 1] += tF[(n << 1) | 1];
        this.flRemove(n);
        this.retireSeg(n, p);
      }
    } else if (tType[n] === BT_TYPE_FREE) {
      s = n;
      oldOrder = this.orderOf(tF[(n << 1) | 1]);
      tF[n << 1] = tF[t << 1];
      tF[(n << 1) | 1] += size;
      this.retireSeg(t, n);
    } else {
      s = t;
      oldOrder = -1;
      tType[t] = BT_TYPE_FREE;
    }
    const sp = this.tL[(s << 2) | 1];
    if (tType[sp] === BT_TYPE_SPAN && tF[(sp << 1) | 1] === tF[(s << 1) | 1] && this.releaseFn !== null) {
      if (oldOrder >= 0) this.flRemove(s);
      this.releaseSpan(sp, s);
      return;
    }
    const newOrder = this.orderOf(tF[(s << 1) | 1]);
    if (newOrder !== oldOrder) {
      if (oldOrder >= 0) this.flRemove(s);
      this.flInsert(s, newOrder);
    }
  }

  /**
   * vmem_xfree: frees [addr, addr + size) allocated by xalloc or alloc.
   * Throws (without changing the arena) ENOTALLOC when addr is not the
   * start of an allocation or size is not its size, EDOUBLEFREE when addr
   * is already free, EWRONGARENA when the arena does not own addr or addr
   * is a span this arena handed to an importing arena. An error thrown by
   * the release function (a span going back to the source) propagates
   * after this free has taken effect.
   */
  xfree(addr: number, size: number): void {
    const t = this.hashLookup(addr);
    if (
      t === 0 ||
      this.tType[t] !== BT_TYPE_BUSY ||
      (this.tF[(t << 1) | 1] !== size && (this.tF[(t << 1) | 1] !== Math.ceil(size * this.invQuantum) * this.quantum || !Number.isInteger(size))) ||
      (this.tL[(t << 2) | 3] !== 0 && this.tL[(t << 2) | 3] !== releasingArena)
    ) {
      this.freeError('vmem_xfree', addr, size);
    }
    this.hashRemoveFound(t);
    this.freeTag(t);
  }

  /**
   * vmem_free: frees an allocation of vmem_alloc. Sizes up to qcacheMax go
   * back to their quantum cache (flushing half of it to the arena when
   * full); others are vmem_xfree. Errors as xfree.
   */
  free(addr: number, size: number): void {
    if (size > this.qcacheMax || !(size > 0)) {
      this.xfree(addr, size);
      return;
    }
    const rsize = Math.ceil(size * this.invQuantum) * this.quantum;
    const t = this.hashLookup(addr);
    if (!Number.isInteger(size) || t === 0 || this.tType[t] !== BT_TYPE_BUSY || this.tF[(t << 1) | 1] !== rsize || (this.tL[(t << 2) | 3] !== 0 && this.tL[(t << 2) | 3] !== releasingArena)) {
      this.freeError('vmem_free', addr, size);
    }
    const c = rsize * this.invQuantum - 1;
    let n = this.qcCount[c];
    if (n === QC_CAP) n = this.qcFlush(c, QC_BATCH);
    this.tType[t] = BT_TYPE_QCACHE;
    this.tL[(t << 2) | 3] = 0;
    this.qcStack[c * QC_CAP + n] = t;
    this.qcCount[c] = n + 1;
    this.qcTotal++;
    this.cachedBytes += rsize;
  }

  /**
   * Classifies a free that failed the fast checks and throws the matching
   * error, naming the address and the arena. Never returns.
   */
  private freeError(what: string, addr: number, size: number): never {
    const where = `${what}: ${Number.isFinite(addr) ? hex(addr) : String(addr)} freed to arena '${this.name}'`;
    if (!Number.isSafeInteger(addr) || addr < 0) einval(`${where}: address is not a non-negative integer below 2^53`);
    if (!Number.isSafeInteger(size) || size <= 0) einval(`${where}: size ${size} is not a positive integer`);
    const si = this.spanFind(addr);
    if (si < 0) {
      const other = whoOwns(addr, this);
      throw new PagelabError(
        'EWRONGARENA',
        `${where}, which does not own it (${other === null ? 'no arena has a span containing it' : `it belongs to arena '${other}'`})`,
      );
    }
    const t = this.segmentAt(addr);
    const start = this.tF[t << 1];
    const end = start + this.tF[(t << 1) | 1];
    const type = this.tType[t];
    if (type === BT_TYPE_FREE) {
      throw new PagelabError('EDOUBLEFREE', `${where} is already free (free segment [${hex(start)}, ${hex(end)})): double free?`);
    }
    const owner = this.tL[(t << 2) | 3];
    const imported = owner !== 0 ? ` (a span imported by arena '${arenaName(owner)}')` : '';
    if (start !== addr) {
      throw new PagelabError(
        'ENOTALLOC',
        `${where} is not the start of an allocation: it lies inside busy segment [${hex(start)}, ${hex(end)})${imported}`,
      );
    }
    if (type === BT_TYPE_QCACHE) {
      throw new PagelabError('EDOUBLEFREE', `${where} is already free (held by the quantum cache): double free?`);
    }
    if (owner !== 0 && owner !== releasingArena) {
      throw new PagelabError(
        'EWRONGARENA',
        `${where}, but it is a span imported by arena '${arenaName(owner)}': free it to '${arenaName(owner)}'`,
      );
    }
    throw new PagelabError(
      'ENOTALLOC',
      `${where} with size ${hex(size)}, but it was allocated with size ${hex(this.tF[(t << 1) | 1])}`,
    );
  }

  /**
   * Does this arena hold addr itself (in a free, busy or cached segment),
   * rather than only as a span it handed to an importing arena?
   * Requires owns(addr).
   */
  holdsDirectly(addr: number): boolean {
    const t = this.segmentAt(addr);
    return this.tType[t] === BT_TYPE_FREE || this.tL[(t << 2) | 3] === 0;
  }

  /** The segment tag containing addr. Requires addr inside some span. O(segments in that span). */
  private segmentAt(addr: number): number {
    const si = this.spanFind(addr);
    let t = this.tL[(this.spanTag[si]) << 2];
    while (this.tF[t << 1] + this.tF[(t << 1) | 1] <= addr) t = this.tL[t << 2];
    return t;
  }

  /* ------------------------------------------------------ quantum caches */

  /**
   * Fills quantum cache `c` with up to QC_BATCH segments from the arena
   * (qc_import). Returns the new count; 0 when the arena has nothing.
   */
  private qcRefill(c: number, strat: number, flags: number): number {
    const size = (c + 1) * this.quantum;
    const saved = importingArena;
    importingArena = 0; // cached tags belong to no importer until handed out
    let n = 0;
    try {
      while (n < QC_BATCH) {
        this.setRequest(size, this.quantum, 0, 0, VMEM_ADDR_MIN, VMEM_ADDR_MAX);
        const t = this.xallocTag(strat, flags, false);
        if (t === 0) break;
        this.tType[t] = BT_TYPE_QCACHE;
        this.tL[(t << 2) | 3] = 0;
        this.qcStack[c * QC_CAP + n] = t;
        n++;
      }
    } finally {
      importingArena = saved;
    }
    this.qcCount[c] = n;
    this.qcTotal += n;
    this.cachedBytes += n * size;
    return n;
  }

  /**
   * Returns the `k` most recently cached segments of cache `c` to the arena
   * (qc_release); returns the new count. Pops one at a time so the cache is
   * consistent whenever a release function runs.
   */
  private qcFlush(c: number, k: number): number {
    const base = c * QC_CAP;
    for (let i = 0; i < k; i++) {
      const n = this.qcCount[c] - 1;
      if (n < 0) break;
      const t = this.qcStack[base + n];
      this.qcCount[c] = n;
      this.qcTotal--;
      this.cachedBytes -= this.tF[(t << 1) | 1];
      this.hashLookup(this.tF[t << 1]);
      this.hashRemoveFound(t);
      this.freeTag(t);
    }
    return this.qcCount[c];
  }

  /** qc_drain: returns every cached segment to the arena. */
  qcDrain(): void {
    for (let c = 0; c < this.qcClasses; c++) this.qcFlush(c, this.qcCount[c]);
  }

  /* -------------------------------------------------------- configuration */

  /**
   * vmem_set_import: spans are imported with importFn(arg, size, flags),
   * which returns an address or VMEM_FAILED, and released with
   * releaseFn(arg, addr, size) when wholly free (null: never released).
   * Requires an empty arena and importQuantum a multiple of the quantum.
   */
  setImport<T>(importFn: VmemImportFn<T>, releaseFn: VmemReleaseFn<T> | null, arg: T, importQuantum: number): void {
    if (this.total !== 0) einval(`vmem_set_import '${this.name}': arena is not empty`);
    if (importQuantum === 0) importQuantum = this.quantum;
    if (!Number.isSafeInteger(importQuantum) || importQuantum < 0 || importQuantum % this.quantum !== 0) {
      einval(`vmem_set_import '${this.name}': import quantum ${importQuantum} is not a multiple of quantum ${hex(this.quantum)}`);
    }
    this.importFn = importFn as VmemImportFn<any>;
    this.releaseFn = releaseFn as VmemReleaseFn<any> | null;
    this.importArg = arg;
    this.importQuantum = importQuantum;
  }

  /** vmem_set_limit: imports may not take the arena past `limit` bytes (0: no limit). */
  setLimit(limit: number): void {
    if (!Number.isSafeInteger(limit) || limit < 0) einval(`vmem_set_limit '${this.name}': limit ${limit} is not a non-negative integer`);
    this.limit = limit;
  }

  /**
   * vmem_destroy: drains the quantum caches and retires the arena.
   * Requires no outstanding allocations (EINVAL otherwise).
   */
  destroy(): void {
    this.qcDrain();
    if (this.nBusy !== 0) einval(`vmem_destroy '${this.name}': ${this.nBusy} allocations (${hex(this.inuse)} bytes) outstanding`);
    this.destroyed = true;
    arenaRegistry.delete(this.id);
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  /* ------------------------------------------------------------ queries */

  /**
   * vmem_size: VMEM_ALLOC bytes in use (including quantum-cached),
   * VMEM_FREE bytes free, both for the total; VMEM_MAXFREE the largest free
   * segment (exact here; FreeBSD returns its list's lower bound).
   */
  size(typemask: number): number {
    switch (typemask) {
      case VMEM_ALLOC:
        return this.inuse;
      case VMEM_FREE:
        return this.total - this.inuse;
      case VMEM_ALLOC | VMEM_FREE:
        return this.total;
      case VMEM_MAXFREE: {
        let best = 0;
        for (let l = VMEM_MAXORDER - 1; l >= 0 && best === 0; l--) {
          for (let t = this.flHead[l]; t !== 0; t = this.tL[(t << 2) | 2]) if (this.tF[(t << 1) | 1] > best) best = this.tF[(t << 1) | 1];
        }
        return best;
      }
      default:
        return einval(`vmem_size '${this.name}': bad typemask ${typemask}`);
    }
  }

  stats(): VmemStats {
    return {
      name: this.name,
      quantum: this.quantum,
      total: this.total,
      inuse: this.inuse,
      cached: this.cachedBytes,
      free: this.total - this.inuse,
      spans: this.nSpans,
      busyTags: this.nBusy,
      tagsInUse: this.tagHigh - 1 - this.nFreeTags,
      tagCapacity: this.tagCap,
      hashBuckets: this.hashBuckets.length,
    };
  }

  /** Calls fn for every tag in address order (each span tag before its segments). */
  walk(fn: (start: number, size: number, type: number) => void): void {
    for (let t = this.tL[0 << 2]; t !== 0; t = this.tL[t << 2]) fn(this.tF[t << 1], this.tF[(t << 1) | 1], this.tType[t]);
  }

  segments(): VmemSegment[] {
    const out: VmemSegment[] = [];
    this.walk((start, size, type) => out.push({ start, size, type: BT_TYPE_NAMES[type] as VmemSegment['type'] }));
    return out;
  }

  /** Does any span of this arena contain addr? */
  owns(addr: number): boolean {
    return this.spanFind(addr) >= 0;
  }

  /** vmem_whatis for this arena: what addr is here, or null when no span holds it. */
  whatis(addr: number): string | null {
    if (this.spanFind(addr) < 0) return null;
    const t = this.segmentAt(addr);
    const type = this.tType[t];
    const state = type === BT_TYPE_FREE ? 'free' : type === BT_TYPE_QCACHE ? 'cached' : 'allocated';
    return `${hex(addr)} is ${hex(this.tF[t << 1])}+${hex(addr - this.tF[t << 1])} in vmem '${this.name}' (${state})`;
  }

  /* ------------------------------------------------------------- checker */

  /**
   * vmem_check: verifies every structural invariant and throws EINVARIANT
   * (naming the arena and address) at the first that fails:
   *  - the segment list is a well-linked cycle; span tags in address order,
   *    non-overlapping, matching the span index; segments tile each span
   *    exactly, quantum-aligned, with no two adjacent free segments;
   *  - no imported span is wholly free (it should have been released);
   *  - every free segment is on the list of its order exactly once, the
   *    lists are well linked and the bitmap marks exactly the non-empty ones;
   *  - the hash holds exactly the busy and cached segments, each in its
   *    bucket; the quantum caches hold exactly the cached ones, by size;
   *  - in-use, cached and total bytes add up; tags are all accounted for.
   * O(tags + buckets).
   */
  check(): void {
    const name = `vmem '${this.name}'`;
    const q = this.quantum;
    const tF = this.tF;
    const tType = this.tType;
    const onSeg = new Uint8Array(this.tagHigh);
    let prev = 0;
    let nSeg = 0;
    let spanIdx = 0;
    let spanEnd = -1;
    let spanType = 0;
    let spanTagOf = 0;
    let segsInSpan = 0;
    let expect = 0;
    let lastEnd = -1;
    let prevFree = false;
    let total = 0;
    let inuse = 0;
    let cached = 0;
    let nFree = 0;
    let nBusy = 0;
    let nCached = 0;
    const closeSpan = (): void => {
      if (spanEnd < 0) return;
      kassert(expect === spanEnd, () => `${name}: segments cover [${hex(tF[spanTagOf << 1])}, ${hex(expect)}) of span ending at ${hex(spanEnd)}`);
      kassert(segsInSpan > 0, () => `${name}: span at ${hex(tF[spanTagOf << 1])} has no segments`);
    };
    for (let t = this.tL[0 << 2]; t !== 0; t = this.tL[t << 2]) {
      kassert(t > 0 && t < this.tagHigh && onSeg[t] === 0, () => `${name}: segment list is not a simple cycle at tag ${t}`);
      kassert(this.tL[(t << 2) | 1] === prev, () => `${name}: back link of tag at ${hex(tF[t << 1])} is wrong`);
      onSeg[t] = 1;
      nSeg++;
      prev = t;
      const type = tType[t];
      const start = tF[t << 1];
      const size = tF[(t << 1) | 1];
      kassert(
        size > 0 && start % q === 0 && size % q === 0 && start + size <= TWO53,
        () => `${name}: tag ${hex(start)}+${hex(size)} is empty, unaligned to ${hex(q)} or past 2^53`,
      );
      if (type === BT_TYPE_SPAN || type === BT_TYPE_SPAN_STATIC) {
        closeSpan();
        kassert(start >= lastEnd, () => `${name}: span at ${hex(start)} is out of order or overlaps the span before`);
        kassert(
          spanIdx < this.nSpans && this.spanTag[spanIdx] === t && this.spanStart[spanIdx] === start,
          () => `${name}: span index disagrees with span tag at ${hex(start)}`,
        );
        spanIdx++;
        spanTagOf = t;
        spanType = type;
        spanEnd = start + size;
        lastEnd = spanEnd;
        expect = start;
        segsInSpan = 0;
        prevFree = false;
        total += size;
        continue;
      }
      kassert(spanEnd >= 0, () => `${name}: segment at ${hex(start)} precedes every span tag`);
      kassert(start === expect, () => `${name}: segment at ${hex(start)} should start at ${hex(expect)} (gap or overlap)`);
      kassert(start + size <= spanEnd, () => `${name}: segment ${hex(start)}+${hex(size)} runs past its span's end ${hex(spanEnd)}`);
      expect = start + size;
      segsInSpan++;
      if (type === BT_TYPE_FREE) {
        kassert(!prevFree, () => `${name}: adjacent free segments at ${hex(start)} were not merged`);
        kassert(
          !(spanType === BT_TYPE_SPAN && this.releaseFn !== null && size === tF[(spanTagOf << 1) | 1]),
          () => `${name}: imported span at ${hex(start)} is wholly free but was not released`,
        );
        prevFree = true;
        nFree++;
      } else if (type === BT_TYPE_BUSY || type === BT_TYPE_QCACHE) {
        prevFree = false;
        kassert(this.hashLookup(start) === t, () => `${name}: busy segment at ${hex(start)} is not in the hash`);
        inuse += size;
        nBusy++;
        if (type === BT_TYPE_QCACHE) {
          cached += size;
          nCached++;
        }
      } else {
        kassert(false, () => `${name}: tag at ${hex(start)} has bad type ${type}`);
      }
    }
    closeSpan();
    kassert(this.tL[(0 << 2) | 1] === prev, () => `${name}: segment list tail link is wrong`);
    kassert(spanIdx === this.nSpans, () => `${name}: span index has ${this.nSpans} spans, segment list ${spanIdx}`);
    kassert(total === this.total, () => `${name}: spans add up to ${hex(total)}, arena says ${hex(this.total)}`);
    kassert(inuse === this.inuse, () => `${name}: busy segments add up to ${hex(inuse)}, arena says ${hex(this.inuse)}`);
    kassert(cached === this.cachedBytes, () => `${name}: cached segments add up to ${hex(cached)}, arena says ${hex(this.cachedBytes)}`);

    // Free lists.
    const seen = new Uint8Array(this.tagHigh);
    let onLists = 0;
    for (let l = 0; l < VMEM_MAXORDER; l++) {
      const head = this.flHead[l];
      const bit = (this.flMap[l >>> 5] >>> (l & 31)) & 1;
      kassert(bit === (head !== 0 ? 1 : 0), () => `${name}: free-list bitmap bit ${l} is ${bit} but the list is ${head ? 'non-empty' : 'empty'}`);
      let p = -1 - l;
      for (let t = head; t !== 0; t = this.tL[(t << 2) | 2]) {
        kassert(t > 0 && t < this.tagHigh && seen[t] === 0, () => `${name}: free list ${l} loops or holds a bad tag`);
        seen[t] = 1;
        kassert(onSeg[t] === 1 && tType[t] === BT_TYPE_FREE, () => `${name}: free list ${l} holds non-free tag at ${hex(tF[t << 1])}`);
        kassert(this.orderOf(tF[(t << 1) | 1]) === l, () => `${name}: free segment ${hex(tF[t << 1])}+${hex(tF[(t << 1) | 1])} is on list ${l}`);
        kassert(this.tL[(t << 2) | 3] === p, () => `${name}: free list ${l} back link wrong at ${hex(tF[t << 1])}`);
        p = t;
        onLists++;
      }
    }
    kassert(onLists === nFree, () => `${name}: ${nFree} free segments but ${onLists} on the free lists`);

    // Hash.
    let inHash = 0;
    const hseen = new Uint8Array(this.tagHigh);
    for (let b = 0; b < this.hashBuckets.length; b++) {
      for (let t = this.hashBuckets[b]; t !== 0; t = this.tL[(t << 2) | 2]) {
        kassert(t > 0 && t < this.tagHigh && hseen[t] === 0, () => `${name}: hash bucket ${b} loops or holds a bad tag`);
        hseen[t] = 1;
        kassert(
          onSeg[t] === 1 && (tType[t] === BT_TYPE_BUSY || tType[t] === BT_TYPE_QCACHE),
          () => `${name}: hash holds non-busy tag at ${hex(tF[t << 1])}`,
        );
        kassert(this.hashIndex(tF[t << 1]) === b, () => `${name}: busy tag at ${hex(tF[t << 1])} is in the wrong bucket`);
        inHash++;
      }
    }
    kassert(inHash === nBusy && this.nBusy === nBusy, () => `${name}: ${nBusy} busy segments, ${inHash} hashed, count says ${this.nBusy}`);

    // Quantum caches.
    let inCaches = 0;
    const cseen = new Uint8Array(this.tagHigh);
    for (let c = 0; c < this.qcClasses; c++) {
      for (let i = 0; i < this.qcCount[c]; i++) {
        const t = this.qcStack[c * QC_CAP + i];
        kassert(
          t > 0 && t < this.tagHigh && cseen[t] === 0 && onSeg[t] === 1 && tType[t] === BT_TYPE_QCACHE,
          () => `${name}: quantum cache ${c} holds a bad or repeated tag (${t})`,
        );
        kassert(tF[(t << 1) | 1] === (c + 1) * q, () => `${name}: quantum cache ${c} holds segment ${hex(tF[t << 1])}+${hex(tF[(t << 1) | 1])}`);
        cseen[t] = 1;
        inCaches++;
      }
    }
    kassert(inCaches === nCached && this.qcTotal === nCached, () => `${name}: ${nCached} cached segments but ${inCaches} in the caches`);

    // Tag accounting.
    let nRecycled = 0;
    for (let t = this.freeTagHead; t !== 0; t = this.tL[(t << 2) | 2]) {
      kassert(t > 0 && t < this.tagHigh && onSeg[t] === 0 && tType[t] === 0 && nRecycled <= this.nFreeTags, () => `${name}: free-tag stack is corrupt`);
      nRecycled++;
    }
    kassert(
      nRecycled === this.nFreeTags && nSeg + nRecycled === this.tagHigh - 1,
      () => `${name}: ${nSeg} tags in use + ${nRecycled} recycled != ${this.tagHigh - 1} allocated`,
    );
    kassert(this.cursorTag === 0 || onSeg[this.cursorTag] === 1, () => `${name}: next-fit hint is a retired tag`);
  }
}

function arenaName(id: number): string {
  const vm = arenaRegistry.get(id)?.deref();
  return vm !== undefined ? vm.name : `#${id}`;
}

/**
 * Name of another live arena with a span containing addr, or null. When
 * arenas are stacked, the innermost one (that did not pass addr on to an
 * importer) is named: a kstack address belongs to the kstack arena, not to
 * the kernel arena it was imported from.
 */
function whoOwns(addr: number, except: Vmem): string | null {
  let outer: string | null = null;
  for (const ref of arenaRegistry.values()) {
    const vm = ref.deref();
    if (vm === undefined || vm === except || !vm.owns(addr)) continue;
    if (vm.holdsDirectly(addr)) return vm.name;
    outer ??= vm.name;
  }
  return outer;
}

/* ---- the FreeBSD-shaped API: thin wrappers over the class */

/** vmem_create: see the Vmem constructor. */
export function vmem_create(name: string, base: number, size: number, quantum: number, qcacheMax = 0, flags = 0): Vmem {
  return new Vmem(name, base, size, quantum, qcacheMax, flags);
}

export function vmem_destroy(vm: Vmem): void {
  vm.destroy();
}

export function vmem_add(vm: Vmem, addr: number, size: number, flags = 0): void {
  vm.add(addr, size, flags);
}

export function vmem_set_import<T>(
  vm: Vmem,
  importFn: VmemImportFn<T>,
  releaseFn: VmemReleaseFn<T> | null,
  arg: T,
  importQuantum: number,
): void {
  vm.setImport(importFn, releaseFn, arg, importQuantum);
}

export function vmem_set_limit(vm: Vmem, limit: number): void {
  vm.setLimit(limit);
}

/** vmem_alloc: the address, or VMEM_FAILED. Usable directly as an import function. */
export function vmem_alloc(vm: Vmem, size: number, flags = M_FIRSTFIT): number {
  return vm.alloc(size, flags);
}

/** vmem_free. Usable directly as a release function. */
export function vmem_free(vm: Vmem, addr: number, size: number): void {
  vm.free(addr, size);
}

export function vmem_xalloc(
  vm: Vmem,
  size: number,
  align: number,
  phase: number,
  nocross: number,
  minaddr: number,
  maxaddr: number,
  flags: number,
): number {
  return vm.xalloc(size, align, phase, nocross, minaddr, maxaddr, flags);
}

export function vmem_xfree(vm: Vmem, addr: number, size: number): void {
  vm.xfree(addr, size);
}

export function vmem_size(vm: Vmem, typemask: number): number {
  return vm.size(typemask);
}

export function vmem_roundup_size(vm: Vmem, size: number): number {
  return vm.roundupSize(size);
}

export function vmem_walk(vm: Vmem, fn: (start: number, size: number, type: number) => void): void {
  vm.walk(fn);
}

export function vmem_check(vm: Vmem): void {
  vm.check();
}

export function vmem_qcache_drain(vm: Vmem): void {
  vm.qcDrain();
}

/** vmem_whatis: what every live arena knows about addr. */
export function vmem_whatis(addr: number): string[] {
  const out: string[] = [];
  for (const ref of arenaRegistry.values()) {
    const s = ref.deref()?.whatis(addr);
    if (s) out.push(s);
  }
  return out;
}
