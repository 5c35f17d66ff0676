/**
 * vmem's boundary-tag store (sys/kern/subr_vmem.c: bt_alloc/bt_free, the
 * segment list, the free lists, the busy-tag hash) and the span index.
 * Every field of an arena lives here, so the layers above (the queries and
 * checker of vmem_check.ts, the allocator of subr_vmem.ts) add behaviour
 * only, and no field initialiser runs after the constructor has added the
 * initial span. See subr_vmem.ts for the representation.
 */
import { hex } from '../util/units.js';
import {
  BT_TYPE_FREE,
  FL_WORDS,
  QC_CAP,
  TWO53,
  TWO_M32,
  VMEM_ADDR_MAX,
  VMEM_MAXORDER,
  VMEM_QCACHE_IDX_MAX,
  type VmemImportFn,
  type VmemReleaseFn,
  arenaContext,
  arenaRegistry,
  einval,
  isPow2,
  vmemSizeToOrder,
} from './vmem_param.js';

export abstract class VmemTags {
  abstract owns(addr: number): boolean;
  abstract whatis(addr: number): string | null;

  readonly name: string;
  /** Registry id; recorded in busy tags handed out as spans to an importer. */
  readonly id: number;
  readonly quantum: number;
  protected readonly invQuantum: number;
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
  protected tF: Float64Array;
  protected tL: Int32Array;
  protected tType: Uint8Array;
  protected tagCap = 0;
  protected tagHigh = 1; // tags [1, tagHigh) have been used at least once
  protected freeTagHead = 0;
  protected nFreeTags = 0;

  /* free lists and their non-empty bitmap */
  protected readonly flHead = new Int32Array(VMEM_MAXORDER);
  protected readonly flMap = new Int32Array(FL_WORDS);

  /* busy-tag hash: chained through the link-next field */
  protected hashBuckets: Int32Array;
  protected hashShift: number;
  protected nBusy = 0;
  protected hashGrowAt = 16; // grow past load 1
  protected hashShrinkAt = -1; // shrink below load 1/8 (never at the minimum size)
  protected hashFoundPrev = 0; // set by hashLookup for hashRemoveFound
  protected hashFoundBucket = 0;

  /* spans in address order */
  protected spanStart: Float64Array;
  protected spanTag: Int32Array;
  protected nSpans = 0;

  /* accounting */
  protected inuse = 0;
  protected total = 0;
  protected cachedBytes = 0;
  protected limit = 0;

  /* import source */
  protected importFn: VmemImportFn<any> | null = null;
  protected releaseFn: VmemReleaseFn<any> | null = null;
  protected importArg: unknown = undefined;
  protected importQuantum: number;

  /* the request being served, and the fit routines' result (see setRequest) */
  protected rqSize = 0;
  protected rqAlign = 0;
  protected rqInvAlign = 0; // 1 / align: exact, as align is a power of two, and cheaper than dividing
  protected rqPhase = 0;
  protected rqNocross = 0;
  protected rqInvNocross = 0;
  protected rqMin = 0;
  protected rqMax = VMEM_ADDR_MAX;
  protected rqSimple = true;
  protected fitLo = 0;
  protected fitAddr = 0;

  /* next fit: cursor address and a tag at or before it (a hint) */
  protected cursorAddr = 0;
  protected cursorTag = 0;

  /* quantum caches: per class a stack of cached busy tags */
  protected readonly qcClasses: number;
  protected readonly qcStack: Int32Array;
  protected readonly qcCount: Int32Array;
  protected qcTotal = 0;

  protected destroyed = false;

  /**
   * vmem_create. Requires quantum a power of two no larger than 2^52,
   * qcacheMax a multiple of quantum (capped at 16 quanta), and base/size
   * quantum multiples within 2^53 (size 0: no initial span).
   */
  constructor(name: string, quantum: number, qcacheMax: number) {
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

    this.id = arenaContext.nextId++;
    arenaRegistry.set(this.id, new WeakRef(this));
  }

  /* ---------------------------------------------------------------- tags */

  /** Guarantees that `n` tags can be taken with newTag() without growing (bt_fill). */
  protected ensureTags(n: number): void {
    if (this.nFreeTags + (this.tagCap - this.tagHigh) < n) this.growTags();
  }

  protected growTags(): void {
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
  protected newTag(): number {
    const t = this.freeTagHead;
    if (t !== 0) {
      this.freeTagHead = this.tL[(t << 2) | 2];
      this.nFreeTags--;
      return t;
    }
    return this.tagHigh++;
  }

  /** Unlinks `t` from the segment list and recycles it; the next-fit hint moves to `heir`. */
  protected retireSeg(t: number, heir: number): void {
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

  protected segInsertBefore(t: number, before: number): void {
    const p = this.tL[(before << 2) | 1];
    this.tL[p << 2] = t;
    this.tL[(t << 2) | 1] = p;
    this.tL[t << 2] = before;
    this.tL[(before << 2) | 1] = t;
  }

  /* ----------------------------------------------------------- free lists */

  protected flInsert(t: number, order: number): void {
    const h = this.flHead[order];
    this.tL[(t << 2) | 2] = h;
    this.tL[(t << 2) | 3] = -1 - order;
    if (h !== 0) this.tL[(h << 2) | 3] = t;
    else this.flMap[order >>> 5] |= 1 << (order & 31);
    this.flHead[order] = t;
  }

  protected flRemove(t: number): void {
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
  protected flFirst(order: number): number {
    if (order >= VMEM_MAXORDER) return -1;
    let w = order >>> 5;
    let bits = this.flMap[w] & (-1 << (order & 31));
    while (bits === 0) {
      if (++w === FL_WORDS) return -1;
      bits = this.flMap[w];
    }
    return (w << 5) + 31 - Math.clz32(bits & -bits);
  }

  protected orderOf(size: number): number {
    return vmemSizeToOrder(size * this.invQuantum);
  }

  /** Moves free tag `t` to [start, start + size), re-filing it if its order changes. */
  protected resizeFree(t: number, start: number, size: number): void {
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

  protected hashIndex(addr: number): number {
    const q = addr * this.invQuantum;
    const lo = q >>> 0;
    const hi = (q * TWO_M32) >>> 0;
    return Math.imul(lo ^ Math.imul(hi, 0x85ebca77), 0x9e3779b1) >>> this.hashShift;
  }

  /** Busy tag starting at `addr`, or 0; remembers its chain position for hashRemoveFound. */
  protected hashLookup(addr: number): number {
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
  protected hashRemoveFound(t: number): void {
    const n = this.tL[(t << 2) | 2];
    if (this.hashFoundPrev === 0) this.hashBuckets[this.hashFoundBucket] = n;
    else this.tL[(this.hashFoundPrev << 2) | 2] = n;
    if (--this.nBusy < this.hashShrinkAt) this.rehash(this.hashBuckets.length >>> 1);
  }

  protected hashInsert(t: number): void {
    const b = this.hashIndex(this.tF[t << 1]);
    this.tL[(t << 2) | 2] = this.hashBuckets[b];
    this.hashBuckets[b] = t;
    if (++this.nBusy > this.hashGrowAt) this.rehash(this.hashBuckets.length * 2);
  }

  /**
   * Resizes the hash to `n` buckets (a power of two). Load stays between
   * 1/8 and 1, so chains are short and a free costs O(1) amortised.
   */
  protected rehash(n: number): void {
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
  protected spanUpper(addr: number): number {
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
  protected spanFind(addr: number): number {
    const i = this.spanUpper(addr) - 1;
    if (i < 0) return -1;
    return addr < this.spanStart[i] + this.tF[((this.spanTag[i]) << 1) | 1] ? i : -1;
  }

  protected spanIndexInsert(i: number, addr: number, tag: number): void {
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

  protected spanIndexRemove(i: number): void {
    this.spanStart.copyWithin(i, i + 1, this.nSpans);
    this.spanTag.copyWithin(i, i + 1, this.nSpans);
    this.nSpans--;
  }

  /* ---------------------------------------------------------------- spans */

  protected checkRange(what: string, addr: number, size: number): void {
    if (!Number.isSafeInteger(addr) || addr < 0 || !Number.isSafeInteger(size) || size <= 0 || addr + size > TWO53) {
      einval(`${what} '${this.name}': span ${hex(addr)}+${hex(size)} is not within [0, 2^53)`);
    }
    if (addr % this.quantum !== 0 || size % this.quantum !== 0) {
      einval(`${what} '${this.name}': span ${hex(addr)}+${hex(size)} is not a multiple of quantum ${hex(this.quantum)}`);
    }
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
  protected segmentAt(addr: number): number {
    const si = this.spanFind(addr);
    let t = this.tL[(this.spanTag[si]) << 2];
    while (this.tF[t << 1] + this.tF[(t << 1) | 1] <= addr) t = this.tL[t << 2];
    return t;
  }

}
