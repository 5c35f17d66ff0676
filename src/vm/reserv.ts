/**
 * Superpage reservations, as FreeBSD's sys/vm/vm_reserv.c (level 0 only).
 *
 * When a coloured object first needs a page in a reservation-sized, aligned
 * window of its pindexes, a whole physically contiguous block of 2^order
 * pages is taken from vm_phys for the window, and later pages of the window
 * come from the matching offsets of that block. The block is charged to the
 * domain's free count page by page as it is populated (populate), and given
 * back page by page (depopulate) or, when still partly populated, broken:
 * its free pages returned to vm_phys as the largest aligned blocks.
 *
 * The reservation array is indexed by physical address (per segment, as
 * VM_PHYSSEG_SPARSE); every field is a typed array over it. Pages free
 * inside a live reservation are ASTATE_RESV_FREE in the page array.
 *
 * Partially populated reservations of a domain sit on an LRU (partpopq),
 * requeued at most once per tick (PARTPOPSLOP); vm_reserv_reclaim_inactive
 * breaks the least recently changed one when vm_phys has no page left.
 */
import { PagelabError, kassert } from '../errors.js';
import { hex } from '../util/units.js';
import { Work } from './counters.js';
import type { VmObjects } from './object.js';
import type { VmDomains } from './pagequeue.js';
import { ASTATE_ALLOCATED, ASTATE_RESV_FREE, NIL, OBJ_NONE, PAGE_SIZE, VM_FREEPOOL_DEFAULT } from './param.js';
import { addrOk, type Phys } from './phys.js';

/** Requeue a reservation on partpopq at most once per this many ticks. */
export const PARTPOPSLOP = 1;
/** amd64's level-0 reservation: order 9, 2 MiB of 4 KiB pages. */
export const VM_LEVEL_0_ORDER_AMD64 = 9;
/**
 * arm64 with 16 KiB base pages: order 11 (a 32 MiB L2 block of 2048 pages).
 * pagelab keeps 4 KiB page frames, so here the reservation is 2048 frames.
 */
export const VM_LEVEL_0_ORDER_ARM64_16K = 11;

export interface ReservCounters {
  /** Reservations created (a block taken from vm_phys for an object window). */
  started: number;
  broken: number;
  freed: number;
  reclaimed: number;
  fullpop: number;
  partpopq: number[];
  /** Reservations alive (holding a block), per domain. */
  active: number[];
  /** Pages free inside reservations, per domain. */
  free: number[];
}

export class Reserv {
  readonly phys: Phys;
  readonly objects: VmObjects;
  readonly domains: VmDomains;
  readonly order: number;
  /** VM_LEVEL_0_NPAGES. */
  readonly npages: number;
  /** 1 / npages, exact (a power of two): fromPage multiplies instead of dividing. */
  private readonly invNpages: number;
  /** popmap words per reservation. */
  readonly words: number;
  /** Reservations in the array (including ones without a whole superpage under them). */
  readonly count: number;
  /**
   * First page of each live reservation's superpage. Set when the
   * reservation starts (vm_reserv_init fills the whole array at boot; here a
   * 1 TiB lazy boot need not touch it).
   */
  first: Uint32Array = new Uint32Array(0);
  readonly object: Uint32Array;
  pindex: Float64Array = new Float64Array(0);
  popcnt: Uint16Array = new Uint16Array(0);
  popmap: Uint32Array = new Uint32Array(0);
  domain: Uint8Array = new Uint8Array(0);
  inpartpopq: Uint8Array = new Uint8Array(0);
  lasttick: Float64Array = new Float64Array(0);
  // partpopq and object->rvq links.
  private pqNext: Int32Array = new Int32Array(0);
  private pqPrev: Int32Array = new Int32Array(0);
  private readonly pqHead: Int32Array;
  private readonly pqTail: Int32Array;
  readonly pqLen: Float64Array;
  private objNext: Int32Array = new Int32Array(0);
  private objPrev: Int32Array = new Int32Array(0);
  // Page index -> reservation index, per segment.
  private readonly segRvDelta: Float64Array;
  private readonly segPfnDelta: Float64Array;
  private readonly segDomain: Uint8Array;

  /**
   * The clock partpopq ages by (FreeBSD's ticks, hz = 1000). The VM has no
   * clock of its own: until a caller drives it with tick(), all changes fall
   * in one tick, except that membership stays exact (a reservation joins the
   * queue's tail when it becomes partial and leaves when it fills or
   * empties), so reclaim finds every partial reservation, oldest first. Once
   * driven, a reservation is requeued at most once per tick, as FreeBSD's.
   */
  ticks = 0;
  private clockDriven = false;
  private lastTermRv = -1;
  // The page array's and the domains' arrays, held directly for the hot paths.
  private readonly segind: Uint8Array;
  private readonly astate: Uint8Array;
  private readonly pagePindex: Uint32Array;
  private readonly reservFree: Float64Array;
  started = 0;
  broken = 0;
  freed = 0;
  reclaimed = 0;

  /*
   * vm_reserv_startup + vm_reserv_init. Requires: 1 <= order <= phys.maxOrder
   * (FreeBSD requires VM_NFREEORDER > VM_LEVEL_0_ORDER).
   */
  constructor(phys: Phys, objects: VmObjects, domains: VmDomains, order = VM_LEVEL_0_ORDER_AMD64) {
    if (!Number.isInteger(order) || order < 1 || order > phys.maxOrder) {
      throw new PagelabError('ETUNABLE', `vm_reserv: reservation order ${order} needs vm.nfreeorder > ${order} (it is ${phys.nfreeorder})`);
    }
    this.phys = phys;
    this.objects = objects;
    this.domains = domains;
    this.segind = phys.pages.segind;
    this.astate = phys.pages.astate;
    this.pagePindex = phys.pages.pindex;
    this.reservFree = domains.reservFree;
    this.order = order;
    const n = 2 ** order;
    this.npages = n;
    this.invNpages = 1 / n;
    this.words = Math.max(1, n / 32);
    const nsegs = phys.segs.length;
    this.segRvDelta = new Float64Array(nsegs);
    this.segPfnDelta = new Float64Array(nsegs);
    this.segDomain = new Uint8Array(nsegs);
    let count = 0;
    for (let s = 0; s < nsegs; s++) {
      const seg = phys.segs[s];
      const startPfn = seg.start / PAGE_SIZE;
      const endPfn = seg.end / PAGE_SIZE;
      this.segRvDelta[s] = count - Math.floor(startPfn / n);
      this.segPfnDelta[s] = startPfn - seg.firstPage;
      this.segDomain[s] = seg.domain;
      count += Math.ceil(endPfn / n) - Math.floor(startPfn / n);
    }
    this.count = count;
    // Only `object` (is a reservation live?) exists from boot; the other
    // per-reservation arrays are read only for live reservations and are
    // allocated when the first one starts, so a boot costs 4 B per 2 MiB.
    this.object = new Uint32Array(count);
    this.pqHead = new Int32Array(phys.ndomains).fill(-1);
    this.pqTail = new Int32Array(phys.ndomains).fill(-1);
    this.pqLen = new Float64Array(phys.ndomains);
  }

  /** True once the per-reservation arrays exist (the first reservation started). */
  get allocated(): boolean {
    return this.popcnt.length !== 0;
  }

  private allocateArrays(): void {
    const count = this.count;
    this.first = new Uint32Array(count);
    this.pindex = new Float64Array(count);
    this.popcnt = new Uint16Array(count);
    this.popmap = new Uint32Array(count * this.words);
    this.domain = new Uint8Array(count);
    this.inpartpopq = new Uint8Array(count);
    this.lasttick = new Float64Array(count);
    this.pqNext = new Int32Array(count);
    this.pqPrev = new Int32Array(count);
    this.objNext = new Int32Array(count);
    this.objPrev = new Int32Array(count);
  }

  /** Advance the clock by `n` ticks; from now on it moves only by tick(). */
  tick(n = 1): void {
    this.clockDriven = true;
    this.ticks += n;
  }

  /** vm_reserv_from_page: the reservation page `m` would belong to. */
  fromPage(m: number): number {
    const s = this.segind[m];
    return this.segRvDelta[s] + Math.floor((m + this.segPfnDelta[s]) * this.invNpages);
  }

  /** VM_RESERV_INDEX: the offset of `pindex` within its reservation, after colour. */
  indexOf(obj: number, pindex: number): number {
    return (this.objects.pgColor[obj] + pindex) & (this.npages - 1);
  }

  private bit(rv: number, i: number): boolean {
    return (this.popmap[rv * this.words + (i >>> 5)] & (1 << (i & 31))) !== 0;
  }

  /** Is page `index` of reservation `rv` populated? */
  isPopulated(rv: number, index: number): boolean {
    return this.bit(rv, index);
  }

  // ---------------------------------------------------------- queues

  private pqRemove(rv: number): void {
    const d = this.domain[rv];
    const n = this.pqNext[rv];
    const p = this.pqPrev[rv];
    if (p < 0) this.pqHead[d] = n;
    else this.pqNext[p] = n;
    if (n < 0) this.pqTail[d] = p;
    else this.pqPrev[n] = p;
    this.inpartpopq[rv] = 0;
    this.pqLen[d]--;
  }

  private pqInsertTail(rv: number): void {
    const d = this.domain[rv];
    const t = this.pqTail[d];
    this.pqPrev[rv] = t;
    this.pqNext[rv] = -1;
    if (t < 0) this.pqHead[d] = rv;
    else this.pqNext[t] = rv;
    this.pqTail[d] = rv;
    this.inpartpopq[rv] = 1;
    this.pqLen[d]++;
  }

  /* vm_reserv_insert: `rv` now backs pindexes [pindex, pindex + npages) of `obj`. */
  private insert(rv: number, obj: number, pindex: number): void {
    kassert(this.object[rv] === OBJ_NONE && this.popcnt[rv] === 0 && this.inpartpopq[rv] === 0, () => `vm_reserv_insert: reservation at ${this.paOf(rv)} is not free`);
    this.pindex[rv] = pindex;
    this.object[rv] = obj;
    this.lasttick[rv] = this.ticks;
    const h = this.objects.rvqHead[obj];
    this.objPrev[rv] = -1;
    this.objNext[rv] = h;
    if (h >= 0) this.objPrev[h] = rv;
    this.objects.rvqHead[obj] = rv;
  }

  /* vm_reserv_remove: `rv` leaves its object's list. */
  private remove(rv: number): void {
    const obj = this.object[rv];
    kassert(obj !== OBJ_NONE && this.inpartpopq[rv] === 0, () => `vm_reserv_remove: reservation at ${this.paOf(rv)} is free or queued`);
    const n = this.objNext[rv];
    const p = this.objPrev[rv];
    if (p < 0) this.objects.rvqHead[obj] = n;
    else this.objNext[p] = n;
    if (n >= 0) this.objPrev[n] = p;
    this.object[rv] = OBJ_NONE;
  }

  // ---------------------------------------------------------- populate

  /*
   * vm_reserv_populate: page `index` of `rv` is now in use. Moves `rv` to
   * the tail of partpopq, or off it when full, at most once per tick.
   */
  private populate(rv: number, index: number): void {
    const w = rv * this.words + (index >>> 5);
    const b = 1 << (index & 31);
    const bits = this.popmap[w];
    if ((bits & b) !== 0) this.corrupt(rv, `page ${index} is populated already`);
    this.populateBit(rv, index, w, bits | b, this.domain[rv]);
  }

  /*
   * populate's work once the bit is known clear: `bits` is popmap word `w`
   * with it set, `d` the reservation's domain. Returns the page. Small, so it
   * inlines into vm_reserv_alloc_page; the queue work, which a sequential
   * fill needs only when a reservation becomes partial or full, is apart.
   */
  private populateBit(rv: number, index: number, w: number, bits: number, d: number): number {
    this.popmap[w] = bits;
    const m = this.first[rv] + index;
    this.astate[m] = ASTATE_ALLOCATED;
    const pc = ++this.popcnt[rv];
    this.reservFree[d]--;
    // Without a clock only joining (pc < n, not queued) or leaving (pc === n, queued) moves it.
    if (this.clockDriven || (pc === this.npages) === (this.inpartpopq[rv] === 1)) this.requeuePopulated(rv, pc);
    return m;
  }

  /* populate's partpopq work for `rv` now holding `pc` pages. */
  private requeuePopulated(rv: number, pc: number): void {
    const n = this.npages;
    if (!this.clockDriven) {
      // No clock: keep membership exact, never reorder (see `ticks`).
      if (pc === n) {
        if (this.inpartpopq[rv] === 1) this.pqRemove(rv);
      } else if (this.inpartpopq[rv] === 0) this.pqInsertTail(rv);
      return;
    }
    if (this.ticks - this.lasttick[rv] < PARTPOPSLOP && this.inpartpopq[rv] === 1 && pc !== n) return;
    this.lasttick[rv] = this.ticks;
    if (this.inpartpopq[rv] === 1) {
      // Requeueing the tail leaves the queue as it is.
      if (pc < n && this.pqTail[this.domain[rv]] === rv) return;
      this.pqRemove(rv);
    }
    if (pc < n) this.pqInsertTail(rv);
  }

  private corrupt(rv: number, what: string): never {
    throw new PagelabError('EINVARIANT', `vm_reserv: reservation at ${this.paOf(rv)}: ${what}`);
  }

  /*
   * vm_reserv_depopulate: page `index` of `rv` is free again. When the
   * population reaches zero the reservation is freed: its block goes back
   * to vm_phys whole.
   */
  private depopulate(rv: number, index: number): void {
    const w = rv * this.words + (index >>> 5);
    const b = 1 << (index & 31);
    if (this.object[rv] === OBJ_NONE || (this.popmap[w] & b) === 0) this.corrupt(rv, `page ${index} is not populated`);
    this.popmap[w] &= ~b;
    const m0 = this.first[rv];
    this.astate[m0 + index] = ASTATE_RESV_FREE;
    const pc = --this.popcnt[rv];
    const d = this.domain[rv];
    if (!this.clockDriven) {
      if (pc === 0) {
        if (this.inpartpopq[rv] === 1) this.pqRemove(rv);
      } else if (this.inpartpopq[rv] === 0) this.pqInsertTail(rv);
    } else if (this.ticks - this.lasttick[rv] >= PARTPOPSLOP || pc === 0) {
      this.lasttick[rv] = this.ticks;
      if (this.inpartpopq[rv] === 1) {
        if (pc !== 0 && this.pqTail[d] === rv) {
          // Already the most recently changed: nothing moves.
        } else this.pqRemove(rv);
      }
      if (pc !== 0 && this.inpartpopq[rv] === 0) this.pqInsertTail(rv);
    }
    if (pc === 0) {
      this.reservFree[d] -= this.npages - 1;
      this.freeBlock(rv);
    } else {
      this.reservFree[d]++;
    }
  }

  // ---------------------------------------------------------- allocation

  /*
   * vm_reserv_from_object: the reservation of `obj` that holds `pindex`,
   * found through its neighbours mpred (greatest resident pindex below) and
   * msucc (least above), or -1. msucc is left in this.msucc.
   */
  private msucc = -1;
  private fromObject(obj: number, pindex: number, mpred: number): number {
    const n = this.npages;
    if (mpred >= 0) {
      const rv = this.mpredReserv(obj, pindex, mpred);
      if (rv >= 0) {
        this.msucc = -2; // not looked up
        return rv;
      }
    }
    const s = this.objects.radix.lookupGe(obj, pindex + 1);
    const msucc = s === NIL ? -1 : s;
    this.msucc = msucc;
    if (msucc >= 0) {
      const rv = this.fromPage(msucc);
      if (this.object[rv] === obj && pindex >= this.pindex[rv] && pindex - this.pindex[rv] < n) return rv;
    }
    return -1;
  }

  /*
   * vm_reserv_alloc_page: a page for `pindex` of `obj` from an existing
   * reservation or a new one taken from `domain`, or -1 (the caller then
   * falls back to vm_phys). `mpred` is the resident page preceding pindex
   * (-1 if none). Requires: `obj` is coloured and pindex not resident.
   */
  allocPage(obj: number, pindex: number, domain: number, req: number, mpred: number): number {
    const n = this.npages;
    const index = (this.objects.pgColor[obj] + pindex) & (n - 1);
    if (pindex < index || pindex >= this.objects.size[obj]) return -1;
    // The common case of a sequential fill, inline: mpred's reservation holds
    // pindex (vm_reserv_from_object's first test). Everything else, including
    // starting a reservation, is once per reservation and lives in allocPageSlow.
    if (mpred >= 0) {
      const rv = this.mpredReserv(obj, pindex, mpred);
      if (rv >= 0) return this.allocFrom(rv, index, req);
    }
    return this.allocPageSlow(obj, pindex, domain, req, mpred, index);
  }

  /* vm_reserv_from_object's first test: mpred's reservation when it is obj's and holds pindex, else -1. */
  private mpredReserv(obj: number, pindex: number, mpred: number): number {
    const rv = this.fromPage(mpred);
    const first = this.pindex[rv];
    return this.object[rv] === obj && pindex >= first && pindex - first < this.npages ? rv : -1;
  }

  /*
   * vm_reserv_alloc_page's sequential case in one piece: `mpred`, resident
   * at pindex - 1 of `obj`, lies in a reservation of obj that also holds
   * pindex. Returns the page, populated and charged to the reservation's
   * domain; or -1, having changed nothing, when that is not so, the page is
   * populated already, or vm_domain_allocate would refuse: the caller then
   * takes allocPage, which counts a refusal. Requires what allocPage does.
   */
  allocNext(obj: number, pindex: number, mpred: number, req: number): number {
    const index = (this.objects.pgColor[obj] + pindex) & (this.npages - 1);
    const rv = this.mpredReserv(obj, pindex, mpred);
    if (rv < 0 || pindex < index) return -1;
    const w = rv * this.words + (index >>> 5);
    const b = 1 << (index & 31);
    const bits = this.popmap[w];
    const d = this.domain[rv];
    if ((bits & b) !== 0 || !this.domains.mayAllocate(d, req, 1)) return -1;
    return this.populateBit(rv, index, w, bits | b, d);
  }

  /* vm_reserv_alloc_page's tail for an existing reservation `rv`: page `index`, charged to rv's domain. */
  private allocFrom(rv: number, index: number, req: number): number {
    const w = rv * this.words + (index >>> 5);
    const b = 1 << (index & 31);
    const bits = this.popmap[w];
    // Populated yet not resident at pindex: the page was renamed away (FreeBSD's "Handle vm_page_rename").
    if ((bits & b) !== 0) return -1;
    const d = this.domain[rv];
    if (!this.domains.allocate(d, req, 1)) return -1;
    return this.populateBit(rv, index, w, bits | b, d);
  }

  /*
   * vm_reserv_alloc_page/_contig's leftcap: the lowest pindex a new
   * reservation of `obj` may cover without overlapping what lies before it:
   * past mpred's reservation when that is obj's, else past mpred itself;
   * -Infinity without a predecessor.
   */
  private leftCap(obj: number, mpred: number): number {
    if (mpred < 0) return -Infinity;
    const rv = this.fromPage(mpred);
    return this.object[rv] !== obj ? this.pagePindex[mpred] + 1 : this.pindex[rv] + this.npages;
  }

  /* rightcap, the mirror of leftCap: the first pindex at or after msucc's reservation (or msucc); Infinity without a successor. */
  private rightCap(obj: number, msucc: number): number {
    if (msucc < 0) return Infinity;
    const rv = this.fromPage(msucc);
    return this.object[rv] !== obj ? this.pagePindex[msucc] : this.pindex[rv];
  }

  /* allocPage when mpred's reservation does not hold pindex: msucc's, or a new one within leftcap/rightcap. */
  private allocPageSlow(obj: number, pindex: number, domain: number, req: number, mpred: number, index: number): number {
    const n = this.npages;
    const rv0 = this.fromObject(obj, pindex, mpred);
    if (rv0 >= 0) return this.allocFrom(rv0, index, req);
    const first = pindex - index;
    if (this.leftCap(obj, mpred) > first || first + n > this.rightCap(obj, this.msucc)) return -1;
    if (!this.objects.isAnon(obj) && first + n > this.objects.size[obj]) return -1;
    if (!this.domains.allocate(domain, req, 1)) return -1;
    this.phys.work[Work.Lock]++;
    const m = this.phys.allocPagesUnsafe(domain, VM_FREEPOOL_DEFAULT, this.order);
    if (m < 0) return -1;
    return this.start(m, obj, first, index, 1);
  }

  /*
   * A block just taken from vm_phys becomes a reservation of `obj` at
   * `first`, with pages [index, index + count) populated. Returns the page
   * at `index`.
   */
  private start(m: number, obj: number, first: number, index: number, count: number): number {
    if (!this.allocated) this.allocateArrays();
    const rv = this.fromPage(m);
    const s = this.segind[m];
    kassert((m + this.segPfnDelta[s]) % this.npages === 0, () => `vm_reserv: block at ${hex(this.phys.pageToPa(m))} is not a reservation's superpage`);
    this.first[rv] = m;
    this.domain[rv] = this.segDomain[s];
    this.astate.fill(ASTATE_RESV_FREE, m, m + this.npages);
    this.reservFree[this.domain[rv]] += this.npages;
    this.started++;
    this.insert(rv, obj, first);
    for (let i = 0; i < count; i++) this.populate(rv, index + i);
    return m + index;
  }

  /*
   * vm_reserv_alloc_contig: `npages` physically contiguous pages for
   * pindexes [pindex, pindex + npages) of `obj` in [low, high), aligned and
   * within `boundary`, from an existing reservation or new ones. Returns the
   * first page or -1. Requires: `obj` coloured, the pindexes not resident.
   */
  allocContig(obj: number, pindex: number, domain: number, req: number, mpred: number, npages: number, low: number, high: number, alignment: number, boundary: number): number {
    const n = this.npages;
    const index = (this.objects.pgColor[obj] + pindex) & (n - 1);
    if (pindex < index || pindex + npages > this.objects.size[obj]) return -1;
    const size = npages * PAGE_SIZE;
    if (!addrOk(index * PAGE_SIZE, size, alignment, boundary)) return -1;
    const rv0 = this.fromObject(obj, pindex, mpred);
    if (rv0 >= 0) {
      if (index + npages > n) return -1;
      const m = this.first[rv0] + index;
      const pa = this.phys.pageToPa(m);
      if (pa < low || pa + size > high || !addrOk(pa, size, alignment, boundary)) return -1;
      for (let i = 0; i < npages; i++) if (this.bit(rv0, index + i)) return -1;
      if (!this.domains.allocate(this.domain[rv0], req, npages)) return -1;
      for (let i = 0; i < npages; i++) this.populate(rv0, index + i);
      return m;
    }
    const first = pindex - index;
    const minpages = index + npages;
    const maxpages = Math.ceil(minpages / n) * n;
    let allocpages = maxpages;
    if (this.leftCap(obj, mpred) > first) return -1;
    if (first + maxpages > this.rightCap(obj, this.msucc)) {
      if (maxpages === n) return -1;
      allocpages = minpages;
    }
    if (!this.objects.isAnon(obj) && first + maxpages > this.objects.size[obj]) {
      if (maxpages === n) return -1;
      allocpages = minpages;
    }
    if (!this.domains.allocate(domain, req, npages)) return -1;
    const m = this.phys.allocContig(domain, allocpages, low, high, Math.max(alignment, n * PAGE_SIZE), boundary > n * PAGE_SIZE ? boundary : 0);
    if (m < 0) return -1;
    // Every reservation wholly covered by the run becomes one; a ragged
    // tail (allocpages not a multiple of npages) stays allocated pages.
    let mret = -1;
    let left = npages;
    let idx = index;
    let cur = m;
    let f = first;
    let remaining = allocpages;
    while (remaining >= n) {
      const take = Math.min(n - idx, left);
      const got = this.start(cur, obj, f, idx, take);
      if (mret < 0) mret = got;
      left -= take;
      idx = 0;
      cur += n;
      f += n;
      remaining -= n;
    }
    // Pages of the run past the last whole reservation were requested pages
    // (allocpages = minpages there): they stay ordinary allocated pages.
    kassert(mret >= 0 && left === remaining, () => `vm_reserv_alloc_contig: ${left} requested pages left over ${remaining} tail pages`);
    return mret;
  }

  /*
   * vm_reserv_free_page: if `m` belongs to a reservation, depopulate it and
   * return true; else false (the caller frees it to vm_phys).
   */
  freePage(m: number): boolean {
    const rv = this.fromPage(m);
    if (this.object[rv] === OBJ_NONE) return false;
    this.depopulate(rv, m - this.first[rv]);
    return true;
  }

  /*
   * freePage for vm_object_terminate of `obj`: a page of one of obj's own
   * reservations is depopulated without moving the reservation on partpopq
   * (vm_reserv_break_all follows and takes every survivor off the queue);
   * a reservation emptied is freed whole, as depopulate frees it. Pages in
   * another object's reservation take the ordinary path.
   */
  freePageTerminating(m: number, obj: number): boolean {
    // Consecutive pages of one reservation skip the lookup.
    const last = this.lastTermRv;
    const rv = last >= 0 && this.object[last] === obj && m - this.first[last] < this.npages && m >= this.first[last] ? last : this.fromPage(m);
    this.lastTermRv = rv;
    const owner = this.object[rv];
    if (owner === OBJ_NONE) return false;
    const index = m - this.first[rv];
    if (owner !== obj) {
      this.depopulate(rv, index);
      return true;
    }
    const w = rv * this.words + (index >>> 5);
    const b = 1 << (index & 31);
    if ((this.popmap[w] & b) === 0) this.corrupt(rv, `page ${index} is not populated`);
    this.popmap[w] &= ~b;
    // astate is left ALLOCATED: the page leaves the reservation by the free
    // below or by the break that follows, both of which set it.
    const d = this.domain[rv];
    if (--this.popcnt[rv] !== 0) {
      this.reservFree[d]++;
      return true;
    }
    this.reservFree[d] -= this.npages - 1;
    this.freeBlock(rv);
    return true;
  }

  /* An emptied reservation ends: off the queue and its object, its block back to vm_phys whole. */
  private freeBlock(rv: number): void {
    if (this.inpartpopq[rv] === 1) this.pqRemove(rv);
    this.remove(rv);
    const m0 = this.first[rv];
    this.astate.fill(0, m0, m0 + this.npages);
    this.phys.work[Work.Lock]++;
    this.phys.freePagesUnsafe(m0, VM_FREEPOOL_DEFAULT, this.order);
    this.freed++;
  }

  /*
   * For vm_object_terminate: if page `m` starts a full reservation of `obj`,
   * free the reservation whole (as the last of its N depopulations would)
   * and return true; the caller has checked that the N pages are obj's, in
   * order, unwired, and has released their records.
   */
  freeFullTerminating(m: number, obj: number): boolean {
    const rv = this.fromPage(m);
    if (this.object[rv] !== obj || this.first[rv] !== m || this.popcnt[rv] !== this.npages) return false;
    this.popmap.fill(0, rv * this.words, (rv + 1) * this.words);
    this.popcnt[rv] = 0;
    this.freeBlock(rv);
    return true;
  }

  /* Is `m` the first page of a full reservation of `obj`? */
  startsFull(m: number, obj: number): boolean {
    const rv = this.fromPage(m);
    return this.object[rv] === obj && this.first[rv] === m && this.popcnt[rv] === this.npages;
  }

  // ---------------------------------------------------------- breaking

  /*
   * vm_reserv_break: return every free page of `rv` to vm_phys as the
   * largest aligned blocks (vm_phys_enqueue_contig) and forget the
   * reservation; its populated pages stay allocated as ordinary pages.
   * Requires: `rv` is off partpopq.
   */
  private breakRv(rv: number): void {
    this.remove(rv);
    const m0 = this.first[rv];
    const n = this.npages;
    const a = this.astate;
    let pos = 0;
    while (pos < n) {
      while (pos < n && this.bit(rv, pos)) pos++;
      if (pos === n) break;
      let end = pos + 1;
      while (end < n && !this.bit(rv, end)) end++;
      a.fill(0, m0 + pos, m0 + end);
      this.phys.work[Work.Lock]++;
      this.phys.enqueueContig(m0 + pos, VM_FREEPOOL_DEFAULT, end - pos);
      pos = end;
    }
    this.reservFree[this.domain[rv]] -= n - this.popcnt[rv];
    this.popmap.fill(0, rv * this.words, (rv + 1) * this.words);
    this.popcnt[rv] = 0;
    this.broken++;
  }

  /* vm_reserv_break_all: break every reservation of `obj`. */
  breakAll(obj: number): void {
    for (let rv = this.objects.rvqHead[obj]; rv >= 0; rv = this.objects.rvqHead[obj]) {
      if (this.inpartpopq[rv] === 1) this.pqRemove(rv);
      this.breakRv(rv);
    }
  }

  /* vm_reserv_reclaim: break a partially populated reservation. */
  private reclaim(rv: number): void {
    if (this.inpartpopq[rv] === 1) this.pqRemove(rv);
    this.breakRv(rv);
    this.reclaimed++;
  }

  /*
   * vm_reserv_reclaim_inactive: break the least recently changed partially
   * populated reservation of `domain`. Returns whether one was broken.
   */
  reclaimInactive(domain: number): boolean {
    const rv = this.pqHead[domain];
    if (rv < 0) return false;
    this.reclaim(rv);
    return true;
  }

  /*
   * vm_reserv_reclaim_contig: find, least recently changed first, a
   * partially populated reservation of `domain` whose free pages hold a run
   * of `npages` satisfying the constraints; mark the run populated, break the
   * reservation, and return the run's first page (allocated, in no object).
   * -1 when none.
   */
  reclaimContig(domain: number, npages: number, low: number, high: number, alignment: number, boundary: number): number {
    const n = this.npages;
    if (npages > n - 1) return -1;
    const size = npages * PAGE_SIZE;
    if (boundary !== 0 && !addrOk(0, size, 1, boundary)) return -1;
    const l0size = n * PAGE_SIZE;
    const ppnAlign = Math.min(Math.max(PAGE_SIZE, alignment), l0size) / PAGE_SIZE;
    const ppnBound = boundary === 0 ? n : Math.min(Math.max(PAGE_SIZE, boundary), l0size) / PAGE_SIZE;
    for (let rv = this.pqHead[domain]; rv >= 0; rv = this.pqNext[rv]) {
      const pa = this.phys.pageToPa(this.first[rv]);
      if (pa + l0size - size < low || pa + size > high || pa % alignment !== 0) continue;
      const lo = pa >= low ? 0 : Math.ceil((low - pa) / PAGE_SIZE);
      const hi = pa + l0size <= high ? n : Math.floor((high - pa) / PAGE_SIZE);
      const posn = this.findContig(rv, npages, lo, hi, ppnAlign, ppnBound);
      if (posn < 0) continue;
      for (let i = posn; i < posn + npages; i++) {
        this.popmap[rv * this.words + (i >>> 5)] |= 1 << (i & 31);
        this.astate[this.first[rv] + i] = ASTATE_ALLOCATED;
      }
      this.popcnt[rv] += npages;
      this.reservFree[this.domain[rv]] -= npages;
      this.reclaim(rv);
      const m = this.first[rv] + posn;
      kassert(addrOk(this.phys.pageToPa(m), size, alignment, boundary), () => `vm_reserv_reclaim_contig: run at ${hex(this.phys.pageToPa(m))} violates its constraints`);
      return m;
    }
    return -1;
  }

  /* vm_reserv_find_contig: first free run of `npages` in [lo, hi) of `rv`, aligned and not crossing ppnBound. */
  private findContig(rv: number, npages: number, lo: number, hi: number, ppnAlign: number, ppnBound: number): number {
    let start = Math.ceil(lo / ppnAlign) * ppnAlign;
    while (start + npages <= hi) {
      // The run may not cross a multiple of ppnBound.
      const boundEnd = Math.floor(start / ppnBound) * ppnBound + ppnBound;
      if (start + npages > boundEnd) {
        start = Math.ceil(boundEnd / ppnAlign) * ppnAlign;
        continue;
      }
      let i = start;
      while (i < start + npages && !this.bit(rv, i)) i++;
      if (i === start + npages) return start;
      start = Math.ceil((i + 1) / ppnAlign) * ppnAlign;
    }
    return -1;
  }

  /*
   * vm_reserv_rename: the reservation under `m`, if it belongs to `oldObj`,
   * moves to `newObj` with its pindex shifted down by `oldOffset`.
   */
  rename(m: number, newObj: number, oldObj: number, oldOffset: number): void {
    const rv = this.fromPage(m);
    if (this.object[rv] !== oldObj || oldObj === OBJ_NONE) return;
    const inq = this.inpartpopq[rv];
    if (inq === 1) this.pqRemove(rv);
    this.remove(rv);
    const pc = this.popcnt[rv];
    this.popcnt[rv] = 0;
    this.insert(rv, newObj, this.pindex[rv] - oldOffset);
    this.popcnt[rv] = pc;
    if (inq === 1) this.pqInsertTail(rv);
  }

  // ---------------------------------------------------------- views

  /*
   * vm_reserv_to_superpage: the first page of the full reservation holding
   * `m` for m's object, or -1. A full reservation is what pmap may map with
   * one 2 MiB entry (psind 1).
   */
  toSuperpage(m: number): number {
    const rv = this.fromPage(m);
    const obj = this.phys.pages.object[m];
    if (obj !== OBJ_NONE && this.object[rv] === obj && this.popcnt[rv] === this.npages) return this.first[rv];
    return -1;
  }

  /** m->psind of a reservation's first page: 1 when the reservation is full, else 0. */
  psind(m: number): number {
    const rv = this.fromPage(m);
    return this.object[rv] !== OBJ_NONE && this.first[rv] === m && this.popcnt[rv] === this.npages ? 1 : 0;
  }

  /** vm_reserv_level_iffullpop: 0 when `m` is in a full reservation, else -1. */
  levelIfFullpop(m: number): number {
    const rv = this.fromPage(m);
    return this.object[rv] !== OBJ_NONE && this.popcnt[rv] === this.npages ? 0 : -1;
  }

  /** vm_reserv_is_page_free: is `m` free inside a live reservation? */
  isPageFree(m: number): boolean {
    const rv = this.fromPage(m);
    return this.object[rv] !== OBJ_NONE && !this.bit(rv, m - this.first[rv]);
  }

  /*
   * One letter for reservation `rv`'s population, in the notation of the
   * kernel-stack review: F full; E populated from somewhere in the middle to
   * the end; B from the beginning to somewhere in the middle; P any other
   * partial pattern.
   */
  pattern(rv: number): string {
    const n = this.npages;
    const pc = this.popcnt[rv];
    if (pc === n) return 'F';
    if (this.bit(rv, n - 1)) {
      let ok = true;
      for (let i = n - pc; i < n; i++) if (!this.bit(rv, i)) ok = false;
      if (ok) return 'E';
    }
    if (this.bit(rv, 0)) {
      let ok = true;
      for (let i = 0; i < pc; i++) if (!this.bit(rv, i)) ok = false;
      if (ok) return 'B';
    }
    return 'P';
  }

  /*
   * The reservations backing pindexes [start, end) of `obj`, one letter per
   * reservation-sized window (aligned after colour): F, E, B, P as pattern(),
   * and `-` for a window no reservation of the object backs.
   */
  describeObject(obj: number, start = 0, end = Math.min(this.objects.size[obj], 2 ** 32)): string {
    const n = this.npages;
    const color = this.objects.pgColor[obj];
    const radix = this.objects.radix;
    let out = '';
    // The first window holding `start`.
    let w = start - ((color + start) & (n - 1));
    for (; w < end; w += n) {
      let letter = '-';
      let key = Math.max(w, 0);
      for (;;) {
        const m = radix.lookupGe(obj, key);
        if (m === NIL || radix.foundKey >= w + n) break;
        const rv = this.fromPage(m);
        if (this.object[rv] === obj && this.pindex[rv] === w) {
          letter = this.pattern(rv);
          break;
        }
        key = radix.foundKey + 1;
      }
      out += letter;
    }
    return out;
  }

  /** Reservations currently full (vm.reserv.fullpop). */
  fullpop(): number {
    let t = 0;
    for (let rv = 0; rv < this.count; rv++) if (this.object[rv] !== OBJ_NONE && this.popcnt[rv] === this.npages) t++;
    return t;
  }

  /** The vm.reserv.* sysctls. */
  counters(): ReservCounters {
    const nd = this.phys.ndomains;
    const active = new Array<number>(nd).fill(0);
    for (let rv = 0; rv < this.count; rv++) if (this.object[rv] !== OBJ_NONE) active[this.domain[rv]]++;
    return {
      started: this.started,
      broken: this.broken,
      freed: this.freed,
      reclaimed: this.reclaimed,
      fullpop: this.fullpop(),
      partpopq: Array.from(this.pqLen),
      active,
      free: Array.from(this.reservFree),
    };
  }

  /** partpopq of `domain`, head (least recently changed) first: for the checker and reports. */
  partpopqMembers(domain: number): number[] {
    const out: number[] = [];
    for (let rv = this.pqHead[domain]; rv >= 0 && out.length <= this.count; rv = this.pqNext[rv]) out.push(rv);
    return out;
  }

  /** The object's reservations (object->rvq). */
  objectReservations(obj: number): number[] {
    const out: number[] = [];
    for (let rv = this.objects.rvqHead[obj]; rv >= 0 && out.length <= this.count; rv = this.objNext[rv]) out.push(rv);
    return out;
  }

  /** Physical address of `rv`'s superpage, for messages. */
  paOf(rv: number): string {
    return this.object[rv] === OBJ_NONE ? `reservation #${rv}` : hex(this.phys.pageToPa(this.first[rv]));
  }
}
