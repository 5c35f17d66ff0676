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
import { PagelabError } from '../errors.js';
import { hex } from '../util/units.js';
import { VmemQuery } from './vmem_check.js';
import {
  BT_TYPE_BUSY,
  BT_TYPE_FREE,
  BT_TYPE_QCACHE,
  BT_TYPE_SPAN,
  BT_TYPE_SPAN_STATIC,
  M_BESTFIT,
  M_FIRSTFIT,
  M_NEXTFIT,
  ORDER_SIZE,
  QC_BATCH,
  QC_CAP,
  TWO53,
  VMEM_ADDR_MAX,
  VMEM_ADDR_MIN,
  VMEM_FAILED,
  VMEM_FITMASK,
  type VmemImportFn,
  type VmemReleaseFn,
  arenaContext,
  arenaName,
  arenaRegistry,
  einval,
  enospc,
  fitRange,
  isPow2,
  vmemSizeToOrder,
  whoOwns,
} from './vmem_param.js';

export class Vmem extends VmemQuery {
  /**
   * vmem_create. Requires quantum a power of two no larger than 2^52,
   * qcacheMax a multiple of quantum (capped at 16 quanta), and base/size
   * quantum multiples within 2^53 (size 0: no initial span).
   */
  constructor(name: string, base: number, size: number, quantum: number, qcacheMax = 0, flags = 0) {
    super(name, quantum, qcacheMax);
    if (size !== 0) this.add(base, size, flags);
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
    this.giveBack(addr, size);
  }

  /* Hands [addr, addr + size) back to the source with releaseFn, marking this arena as the one releasing. */
  private giveBack(addr: number, size: number): void {
    const saved = arenaContext.releasing;
    arenaContext.releasing = this.id;
    try {
      this.releaseFn!(this.importArg, addr, size);
    } finally {
      arenaContext.releasing = saved;
    }
  }

  /**
   * vmem_import: asks the source for a span able to hold `size` at `align`
   * (FreeBSD's estimate: size + 2 * align unless align is the quantum,
   * rounded up to the import quantum) and adds it. Returns the new span
   * tag, or 0 if there is no source, the limit would be passed, or the
   * source has nothing. Throws EINVAL if the source returns a span that is
   * misaligned, empty or out of range, after handing it back to the source
   * (when there is a releaseFn) so that the failed import leaks nothing
   * there. A span overlapping one already held is not handed back: the
   * source has handed out the same range twice, and freeing it would free
   * the range this arena already holds.
   */
  private importSpan(size: number, align: number, flags: number): number {
    if (this.importFn === null) return 0;
    if (align !== this.quantum) size = align * 2 + size;
    size = Math.ceil(size / this.importQuantum) * this.importQuantum;
    if (size > TWO53) return 0;
    if (this.limit !== 0 && this.limit < this.total + size) return 0;
    const saved = arenaContext.importing;
    arenaContext.importing = this.id;
    let addr: number;
    try {
      addr = this.importFn(this.importArg, size, flags);
    } finally {
      arenaContext.importing = saved;
    }
    if (addr === VMEM_FAILED) return 0;
    try {
      this.checkRange('vmem_import', addr, size);
    } catch (e) {
      // Not an address at all (NaN, negative) was never the source's to take back.
      if (this.releaseFn !== null && Number.isSafeInteger(addr) && addr >= 0) {
        try {
          this.giveBack(addr, size);
        } catch {
          // The source refuses it too; the bad span is the error to report.
        }
      }
      throw e;
    }
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
      this.tL[(b << 2) | 3] = arenaContext.importing;
      return b;
    }
    this.flRemove(t);
    this.tType[t] = BT_TYPE_BUSY;
    this.hashInsert(t);
    this.tL[(t << 2) | 3] = arenaContext.importing;
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
      this.tL[(t << 2) | 3] = arenaContext.importing;
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
      (this.tL[(t << 2) | 3] !== 0 && this.tL[(t << 2) | 3] !== arenaContext.releasing)
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
    if (!Number.isInteger(size) || t === 0 || this.tType[t] !== BT_TYPE_BUSY || this.tF[(t << 1) | 1] !== rsize || (this.tL[(t << 2) | 3] !== 0 && this.tL[(t << 2) | 3] !== arenaContext.releasing)) {
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
    if (owner !== 0 && owner !== arenaContext.releasing) {
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
  /* ------------------------------------------------------ quantum caches */

  /**
   * Fills quantum cache `c` with up to QC_BATCH segments from the arena
   * (qc_import). Returns the new count; 0 when the arena has nothing.
   */
  private qcRefill(c: number, strat: number, flags: number): number {
    const size = (c + 1) * this.quantum;
    const saved = arenaContext.importing;
    arenaContext.importing = 0; // cached tags belong to no importer until handed out
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
      arenaContext.importing = saved;
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

}
