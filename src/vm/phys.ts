/**
 * The physical memory allocator, as FreeBSD's sys/vm/vm_phys.c: a binary
 * buddy allocator over physical segments, with free queues per
 * [domain][free list][pool][order], and the LAZYINIT pool of review D40403.
 *
 * Pages are named by their index in the page array (FreeBSD's vm_page_t);
 * -1 is NULL. Queues are index-linked lists through the page array's
 * next/prev fields, with head/tail/count in typed arrays.
 *
 * The LAZYINIT pool is the one place where pagelab departs in representation
 * from FreeBSD. FreeBSD writes the first page record of each lazy free block;
 * in a 1 TiB machine that is 65536 records spread over the whole page array,
 * and on this host every first touch of fresh memory costs microseconds. So
 * lazy blocks are kept in a small side table of block descriptors (head,
 * order, queue links), which is what FreeBSD's head records hold, and the
 * page records of a lazy block stay all zero (reading as pool LAZYINIT) until
 * the block leaves the pool and vm_phys_finish_init writes them all.
 */
import { PagelabError, kassert } from '../errors.js';
import type { MemoryMap } from '../machine/types.js';
import { hex } from '../util/units.js';
import { Work, newWorkCounters, type WorkCounters } from './counters.js';
import { PageArray } from './page.js';
import {
  NIL,
  PAGE_SIZE,
  VM_DMA32_BOUNDARY,
  VM_DMA32_NPAGES_THRESHOLD,
  VM_FREELIST_DEFAULT,
  VM_FREELIST_DMA32,
  VM_FREELIST_LOWMEM,
  VM_FREEPOOL_DEFAULT,
  VM_FREEPOOL_LAZYINIT,
  VM_LOWMEM_BOUNDARY,
  VM_NFREELIST,
  VM_NFREEORDER_DEFAULT,
  VM_NFREEORDER_MAX,
  VM_NFREEPOOL,
  VM_PHYSSEG_MAX,
  PG_ZERO,
  VM_ALLOC_ZERO,
  ASTATE_ZEROING,
} from './param.js';

export interface PhysOptions {
  /** VM_NFREEORDER: number of buddy orders (blocks up to 2^(n-1) pages). */
  nfreeorder?: number;
  /** INVARIANTS: reads of never-initialised page records fail with the page's address. */
  invariants?: boolean;
  /** vm.numa.disabled: treat every range as domain 0. */
  numaDisabled?: boolean;
  /**
   * vm.lazy_index_moves: vm_default_freepool moves past LAZYINIT once every
   * domain is drained (default). False models D40403's first revision, whose
   * searches across pools always started at pool 0.
   */
  lazyIndexMoves?: boolean;
}

/** A physical segment (struct vm_phys_seg), read-only view for reports. */
export interface PhysSeg {
  start: number;
  end: number;
  domain: number;
  flind: number;
  freelist: number;
  firstPage: number;
  npages: number;
}

const TWO32 = 4294967296;

/*
 * vm_phys_add_seg + vm_phys_init: split RAM ranges at the LOWMEM and DMA32
 * boundaries, decide which free lists exist, give each segment its free list
 * and its first page, and coalesce neighbours that share free queues.
 * Requires: a validated map (sorted, non-overlapping, page-aligned ranges).
 */
export function buildSegments(
  map: MemoryMap,
  numaDisabled: boolean,
): { segs: PhysSeg[]; freelistToFlind: Int8Array; nfreelists: number; ndomains: number } {
  const ndomains = numaDisabled ? 1 : map.ndomains;
  const raw: Array<{ start: number; end: number; domain: number }> = [];
  for (const r of map.ram) {
    const domain = numaDisabled ? 0 : r.domain;
    let paddr = r.start;
    if (paddr < VM_LOWMEM_BOUNDARY && r.end > VM_LOWMEM_BOUNDARY) {
      raw.push({ start: paddr, end: VM_LOWMEM_BOUNDARY, domain });
      paddr = VM_LOWMEM_BOUNDARY;
    }
    if (paddr < VM_DMA32_BOUNDARY && r.end > VM_DMA32_BOUNDARY) {
      raw.push({ start: paddr, end: VM_DMA32_BOUNDARY, domain });
      paddr = VM_DMA32_BOUNDARY;
    }
    raw.push({ start: paddr, end: r.end, domain });
  }
  raw.sort((a, b) => a.start - b.start);

  // Which free lists exist: LOWMEM for segments below 16 MiB, DMA32 for
  // segments below 4 GiB only when more than 64 GiB lies above it.
  const present = new Int8Array(VM_NFREELIST);
  let npagesAbove = 0;
  for (let i = raw.length - 1; i >= 0; i--) {
    const s = raw[i];
    if (s.end <= VM_LOWMEM_BOUNDARY) present[VM_FREELIST_LOWMEM] = 1;
    else if (npagesAbove > VM_DMA32_NPAGES_THRESHOLD && s.end <= VM_DMA32_BOUNDARY) present[VM_FREELIST_DMA32] = 1;
    else {
      npagesAbove += (s.end - s.start) / PAGE_SIZE;
      present[VM_FREELIST_DEFAULT] = 1;
    }
  }
  const freelistToFlind = new Int8Array(VM_NFREELIST);
  let running = 0;
  for (let f = 0; f < VM_NFREELIST; f++) {
    running += present[f];
    freelistToFlind[f] = present[f] ? running - 1 : -1;
  }
  const nfreelists = running;

  const segs: PhysSeg[] = [];
  for (const s of raw) {
    let freelist: number;
    if (s.end <= VM_LOWMEM_BOUNDARY) freelist = VM_FREELIST_LOWMEM;
    else if (s.end <= VM_DMA32_BOUNDARY && freelistToFlind[VM_FREELIST_DMA32] >= 0) freelist = VM_FREELIST_DMA32;
    else freelist = VM_FREELIST_DEFAULT;
    const flind = freelistToFlind[freelist];
    kassert(flind >= 0, () => `buildSegments: free list ${freelist} has no index`);
    const prev = segs[segs.length - 1];
    if (prev !== undefined && prev.end === s.start && prev.domain === s.domain && prev.flind === flind) {
      prev.end = s.end;
      prev.npages = (prev.end - prev.start) / PAGE_SIZE;
      continue;
    }
    segs.push({ start: s.start, end: s.end, domain: s.domain, flind, freelist, firstPage: 0, npages: (s.end - s.start) / PAGE_SIZE });
  }
  if (segs.length > VM_PHYSSEG_MAX) {
    throw new PagelabError(
      'EMEMMAP',
      `memory map ${map.name}: ${segs.length} physical segments exceed VM_PHYSSEG_MAX (${VM_PHYSSEG_MAX}); first past the limit starts at ${hex(segs[VM_PHYSSEG_MAX].start)}`,
    );
  }
  let first = 0;
  for (const s of segs) {
    s.firstPage = first;
    first += s.npages;
  }
  return { segs, freelistToFlind, nfreelists, ndomains };
}

export class Phys {
  readonly map: MemoryMap;
  readonly nfreeorder: number;
  readonly maxOrder: number;
  readonly ndomains: number;
  readonly nfreelists: number;
  readonly freelistToFlind: Int8Array;
  /** Free-list indices in the order allocations try them (VM_FREELIST_DEFAULT first). */
  private readonly flindOrder: Int32Array;
  readonly segs: readonly PhysSeg[];
  readonly npages: number;
  readonly pages: PageArray;
  readonly invariants: boolean;
  readonly work: WorkCounters = newWorkCounters();

  // Segment table, mirrored into typed arrays for the hot paths.
  private readonly segFirst: Float64Array;
  private readonly segCount: Float64Array;
  private readonly segPfnLo: Int32Array;
  private readonly segQueueBase: Int32Array;
  private readonly segDomainArr: Uint8Array;

  // Free queues: q = ((domain * nfreelists + flind) * VM_NFREEPOOL + pool) * nfreeorder + order.
  private readonly qHead: Uint32Array;
  private readonly qTail: Uint32Array;
  readonly qCount: Float64Array;

  /**
   * Zeroes physical memory [pa, pa + bytes) for VM_ALLOC_ZERO; null on a
   * machine without backing memory, where zeroing is only counted.
   */
  zeroHook: ((pa: number, bytes: number) => void) | null = null;
  /** INVARIANTS: is [pa, pa + bytes) all zero? (debug.vm_check_pg_zero); null without backing. */
  isZeroHook: ((pa: number, bytes: number) => boolean) | null = null;

  /**
   * Pages leaving the LAZYINIT pool are known to be zero: set when the
   * machine's memory is a fresh backing store, whose untouched bytes are zero.
   */
  lazyPagesZero = false;

  /** vm_default_freepool: where fallback searches across pools start. */
  defaultFreepool: number = VM_FREEPOOL_DEFAULT;
  /** See PhysOptions.lazyIndexMoves. */
  readonly lazyIndexMoves: boolean;

  // The LAZYINIT side table: one descriptor per lazy block.
  private lbHead: Uint32Array = new Uint32Array(64);
  private lbOrder: Uint8Array = new Uint8Array(64);
  private lbNext: Int32Array = new Int32Array(64);
  private lbPrev: Int32Array = new Int32Array(64);
  private lbChunkNext: Int32Array = new Int32Array(64);
  private lbLive: Uint8Array = new Uint8Array(64);
  private lbCount = 0;
  private lazyLive = 0;
  private chunkFirst: Int32Array;
  private readonly chunkShift: number;
  private readonly lazyPendingPages: Float64Array;

  /*
   * vm_phys_init. Requires: a validated memory map.
   * Guarantees: every page record reads as never initialised; every queue is
   * empty; the page array is allocated but untouched.
   */
  constructor(map: MemoryMap, opts: PhysOptions = {}) {
    const nfo = opts.nfreeorder ?? VM_NFREEORDER_DEFAULT;
    if (!Number.isInteger(nfo) || nfo < 1 || nfo > VM_NFREEORDER_MAX) {
      throw new PagelabError('EINVAL', `VM_NFREEORDER ${nfo} is out of range (1..${VM_NFREEORDER_MAX})`);
    }
    this.map = map;
    this.nfreeorder = nfo;
    this.maxOrder = nfo - 1;
    this.invariants = opts.invariants ?? false;
    this.lazyIndexMoves = opts.lazyIndexMoves ?? true;
    const built = buildSegments(map, opts.numaDisabled ?? false);
    this.segs = built.segs;
    this.ndomains = built.ndomains;
    this.nfreelists = built.nfreelists;
    this.freelistToFlind = built.freelistToFlind;
    this.flindOrder = Int32Array.from([...built.freelistToFlind].filter((f) => f >= 0));
    const nsegs = this.segs.length;
    this.segFirst = new Float64Array(nsegs);
    this.segCount = new Float64Array(nsegs);
    this.segPfnLo = new Int32Array(nsegs);
    this.segQueueBase = new Int32Array(nsegs);
    this.segDomainArr = new Uint8Array(nsegs);
    let npages = 0;
    for (let s = 0; s < nsegs; s++) {
      const seg = this.segs[s];
      this.segFirst[s] = seg.firstPage;
      this.segCount[s] = seg.npages;
      this.segPfnLo[s] = (seg.start / PAGE_SIZE) % TWO32 | 0;
      this.segQueueBase[s] = this.queueIndex(seg.domain, seg.flind, 0, 0);
      this.segDomainArr[s] = seg.domain;
      npages += seg.npages;
    }
    this.npages = npages;
    this.pages = new PageArray(npages, nfo);
    const nq = this.ndomains * this.nfreelists * VM_NFREEPOOL * nfo;
    this.qHead = new Uint32Array(nq).fill(NIL);
    this.qTail = new Uint32Array(nq).fill(NIL);
    this.qCount = new Float64Array(nq);
    this.lazyPendingPages = new Float64Array(this.ndomains);
    this.chunkShift = this.maxOrder;
    this.chunkFirst = new Int32Array(Math.floor(npages / 2 ** this.chunkShift) + 1).fill(-1);
  }

  /** Index of the free queue [domain][flind][pool][order]. */
  queueIndex(domain: number, flind: number, pool: number, order: number): number {
    return ((domain * this.nfreelists + flind) * VM_NFREEPOOL + pool) * this.nfreeorder + order;
  }

  // ---------------------------------------------------------------- addresses

  /** Segment index containing `pa`, or -1. Binary search over the few segments. */
  paToSeg(pa: number): number {
    let lo = 0;
    let hi = this.segs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.segs[mid];
      if (pa < s.start) hi = mid - 1;
      else if (pa >= s.end) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** vm_phys_paddr_to_vm_page: page index of `pa`, or -1 when no segment holds it. */
  paToPage(pa: number): number {
    const s = this.paToSeg(pa);
    if (s < 0) return -1;
    return this.segs[s].firstPage + Math.floor((pa - this.segs[s].start) / PAGE_SIZE);
  }

  /** Physical address of page `m`. Requires: 0 <= m < npages. */
  pageToPa(m: number): number {
    const seg = this.segs[this.segOfIndex(m)];
    return seg.start + (m - seg.firstPage) * PAGE_SIZE;
  }

  /** Segment of a page index, found without reading the page record (which may be uninitialised). */
  segOfIndex(m: number): number {
    let lo = 0;
    let hi = this.segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segFirst[mid] <= m) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Domain of page `m`. */
  domainOf(m: number): number {
    return this.segDomainArr[this.segOfIndex(m)];
  }

  // ------------------------------------------------------------ INVARIANTS

  /*
   * Fails with the page's physical address when INVARIANTS is on and the
   * record of `m` was never initialised. The reviewers of D40403 asked for
   * exactly this: use-before-initialisation caught by any debug kernel.
   */
  assertInitialised(m: number, what: string): void {
    if (this.invariants && this.pages.pool[m] === VM_FREEPOOL_LAZYINIT) {
      throw new PagelabError('EUNINIT', `${what}: page record of ${hex(this.pageToPa(m))} was never initialised`);
    }
  }

  /** Checked read of a page's buddy order (VM_NFREEORDER when not a free head). */
  pageOrder(m: number): number {
    this.assertInitialised(m, 'pageOrder');
    return this.pages.order[m];
  }

  // ------------------------------------------------------------ free queues

  /*
   * vm_freelist_add: make `m` the head of a free block of `order` in `pool`
   * and link it into queue `q`. Requires: `m` is on no queue.
   */
  private freelistAdd(q: number, m: number, order: number, pool: number, tail: boolean): void {
    const p = this.pages;
    p.order[m] = order;
    p.pool[m] = pool;
    if (tail) {
      const t = this.qTail[q];
      p.prev[m] = t;
      p.next[m] = NIL;
      if (t === NIL) this.qHead[q] = m;
      else p.next[t] = m;
      this.qTail[q] = m;
    } else {
      const h = this.qHead[q];
      p.next[m] = h;
      p.prev[m] = NIL;
      if (h === NIL) this.qTail[q] = m;
      else p.prev[h] = m;
      this.qHead[q] = m;
    }
    this.qCount[q]++;
    this.work[Work.QueueInsert]++;
  }

  /* vm_freelist_rem. Requires: `m` heads a free block of `order` on queue `q`. */
  private freelistRem(q: number, m: number, order: number): void {
    const p = this.pages;
    const n = p.next[m];
    const pr = p.prev[m];
    if (pr === NIL) this.qHead[q] = n;
    else p.next[pr] = n;
    if (n === NIL) this.qTail[q] = pr;
    else p.prev[n] = pr;
    p.next[m] = NIL;
    p.prev[m] = NIL;
    p.order[m] = this.nfreeorder;
    this.qCount[q]--;
    this.work[Work.QueueRemove]++;
  }

  // ------------------------------------------------------------ LAZYINIT pool

  /* Make room for `more` lazy blocks beyond those existing. */
  private lazyReserve(more: number): void {
    while (this.lbCount + more > this.lbHead.length) this.lazyGrow(Math.max(this.lbHead.length * 2, this.lbCount + more));
  }

  private lazyGrow(n = this.lbHead.length * 2): void {
    const grow = <T extends Uint32Array | Uint8Array | Int32Array>(a: T, ctor: new (n: number) => T): T => {
      const b = new ctor(n);
      b.set(a);
      return b;
    };
    this.lbHead = grow(this.lbHead, Uint32Array);
    this.lbOrder = grow(this.lbOrder, Uint8Array);
    this.lbNext = grow(this.lbNext, Int32Array);
    this.lbPrev = grow(this.lbPrev, Int32Array);
    this.lbChunkNext = grow(this.lbChunkNext, Int32Array);
    this.lbLive = grow(this.lbLive, Uint8Array);
  }

  /*
   * Add a lazy block [m, m + 2^order) at the tail of its LAZYINIT queue.
   * Touches no page record.
   */
  private lazyAdd(m: number, seg: number, order: number): void {
    if (this.lbCount === this.lbHead.length) this.lazyGrow();
    const id = this.lbCount++;
    this.lbHead[id] = m;
    this.lbOrder[id] = order;
    this.lbLive[id] = 1;
    const q = this.segQueueBase[seg] + VM_FREEPOOL_LAZYINIT * this.nfreeorder + order;
    const t = this.qTail[q];
    this.lbPrev[id] = t === NIL ? -1 : t;
    this.lbNext[id] = -1;
    if (t === NIL) this.qHead[q] = id;
    else this.lbNext[t] = id;
    this.qTail[q] = id;
    this.qCount[q]++;
    const c = m >>> this.chunkShift;
    this.lbChunkNext[id] = this.chunkFirst[c];
    this.chunkFirst[c] = id;
    this.lazyLive++;
    const d = this.segDomainArr[seg];
    this.lazyPendingPages[d] += 1 << order;
    this.work[Work.QueueInsert]++;
  }

  /*
   * Add `count` consecutive lazy blocks of `order`, the first at page `m`,
   * in address order at the tail of their queue: lazyAdd for the long middle
   * of a boot range, in one tight loop because a 1 TiB boot runs it 65536
   * times before the JIT has warmed up.
   */
  private lazyAddRun(m: number, seg: number, order: number, count: number): void {
    if (count <= 0) return;
    this.lazyReserve(count);
    const first = this.lbCount;
    const end = first + count;
    const step = 1 << order;
    const shift = this.chunkShift;
    const head = this.lbHead;
    const next = this.lbNext;
    const prev = this.lbPrev;
    const q = this.segQueueBase[seg] + VM_FREEPOOL_LAZYINIT * this.nfreeorder + order;
    const t = this.qTail[q];
    // Max-order blocks are never looked up by head (only a buddy of lower
    // order merges), so a run needs no chunk registration.
    if (order !== this.maxOrder) {
      for (let id = first, pg = m; id < end; id++, pg += step) {
        const c = pg >>> shift;
        this.lbChunkNext[id] = this.chunkFirst[c];
        this.chunkFirst[c] = id;
      }
    }
    for (let id = first, pg = m; id < end; id++, pg += step) {
      head[id] = pg;
      next[id] = id + 1;
      prev[id] = id - 1;
    }
    this.lbOrder.fill(order, first, end);
    this.lbLive.fill(1, first, end);
    next[end - 1] = -1;
    prev[first] = t === NIL ? -1 : t;
    if (t === NIL) this.qHead[q] = first;
    else next[t] = first;
    this.qTail[q] = end - 1;
    this.qCount[q] += count;
    this.lbCount = end;
    this.lazyLive += count;
    this.lazyPendingPages[this.segDomainArr[seg]] += count * step;
    this.work[Work.QueueInsert] += count;
  }

  /* Unlink lazy block `id` from queue `q`. */
  private lazyRem(q: number, id: number): void {
    const n = this.lbNext[id];
    const pr = this.lbPrev[id];
    if (pr < 0) this.qHead[q] = n < 0 ? NIL : n;
    else this.lbNext[pr] = n;
    if (n < 0) this.qTail[q] = pr < 0 ? NIL : pr;
    else this.lbPrev[n] = pr;
    this.lbLive[id] = 0;
    this.qCount[q]--;
    this.lazyLive--;
    const order = this.lbOrder[id];
    const d = this.domainOf(this.lbHead[id]);
    this.lazyPendingPages[d] -= 2 ** order;
    this.work[Work.QueueRemove]++;
  }

  /* The live lazy block whose head is page `m`, or -1. */
  private lazyBlockAt(m: number): number {
    for (let id = this.chunkFirst[m >>> this.chunkShift]; id >= 0; id = this.lbChunkNext[id]) {
      if (this.lbHead[id] === m && this.lbLive[id] === 1) return id;
    }
    return -1;
  }

  /*
   * Take lazy block `id` off queue `q` and initialise every record in it
   * (vm_phys_finish_init). Returns the head page, now an ordinary page that
   * is on no queue.
   */
  private lazyTake(q: number, id: number): number {
    this.lazyRem(q, id);
    const m = this.lbHead[id];
    const order = this.lbOrder[id];
    this.finishInit(m, order);
    this.work[Work.LazyBlockTaken]++;
    return m;
  }

  /* vm_phys_finish_init: write every record of a block that left the lazy pool. */
  private finishInit(m: number, order: number): void {
    const n = 2 ** order;
    this.pages.initRange(m, n, this.segOfIndex(m));
    if (this.lazyPagesZero) this.pages.flags.fill(PG_ZERO, m, m + n);
    this.work[Work.PageInit] += n;
  }

  /** Lazy blocks ever created (the side table's size). */
  queueInsertsLazy(): number {
    return this.lbCount;
  }

  /** Pages still in the LAZYINIT pool of `domain` (all domains when omitted). */
  lazyPending(domain?: number): number {
    if (domain !== undefined) return this.lazyPendingPages[domain];
    let t = 0;
    for (let d = 0; d < this.ndomains; d++) t += this.lazyPendingPages[d];
    return t;
  }

  /*
   * vm_phys_lazy_init_domain, resumable: initialise at least `maxPages` pages
   * (whole blocks) of `domain`'s LAZYINIT pool and free them into DEFAULT,
   * coalescing with their buddies. Returns the pages initialised; 0 means the
   * domain is drained. When every domain is drained, vm_default_freepool
   * moves past LAZYINIT so that fallback searches stop visiting its queues.
   * Idempotent: calling it on a drained domain does nothing.
   */
  lazyInitSlice(domain: number, maxPages = Infinity): number {
    this.checkDomain(domain);
    let done = 0;
    if (this.lazyPendingPages[domain] > 0) {
      this.work[Work.Lock]++;
      outer: for (let freelist = 0; freelist < VM_NFREELIST; freelist++) {
        const flind = this.freelistToFlind[freelist];
        if (flind < 0) continue;
        for (let oind = 0; oind < this.nfreeorder; oind++) {
          const q = this.queueIndex(domain, flind, VM_FREEPOOL_LAZYINIT, oind);
          while (this.qHead[q] !== NIL) {
            if (done >= maxPages) break outer;
            const m = this.lazyTake(q, this.qHead[q]);
            this.freePagesUnsafe(m, VM_FREEPOOL_DEFAULT, oind);
            done += 2 ** oind;
          }
        }
      }
    }
    if (this.lazyLive === 0 && this.lazyIndexMoves) this.defaultFreepool = VM_FREEPOOL_DEFAULT;
    return done;
  }

  /** Drain `domain`'s LAZYINIT pool completely. */
  lazyInitDomain(domain: number): number {
    return this.lazyInitSlice(domain, Infinity);
  }

  /** Drain every domain (vm_phys_lazy_init). */
  lazyInit(): number {
    let n = 0;
    for (let d = 0; d < this.ndomains; d++) n += this.lazyInitDomain(d);
    return n;
  }

  // ------------------------------------------------------------ enqueue

  /*
   * vm_phys_enqueue_contig: put [m, m + npages) on the free queues of `pool`
   * as the largest aligned power-of-two blocks, without merging with
   * neighbours. Requires: the range lies in one segment; its pages are
   * initialised (unless pool is LAZYINIT) and on no queue; `m`'s buddy is not free.
   */
  enqueueContig(m: number, pool: number, npages: number): void {
    if (npages <= 0) return;
    const seg = this.segOfIndex(m);
    if (m + npages > this.segFirst[seg] + this.segCount[seg]) {
      throw new PagelabError('EINVARIANT', `enqueueContig: range at ${hex(this.pageToPa(m))} of ${npages} pages spans segments`);
    }
    const lazy = pool === VM_FREEPOOL_LAZYINIT;
    if (lazy) this.lazyReserve(Math.floor(npages / 2 ** this.maxOrder) + 2 * this.nfreeorder);
    const lo = this.segPfnLo[seg];
    const base = this.segFirst[seg];
    const maxOrder = this.maxOrder;
    const q0 = this.segQueueBase[seg] + pool * this.nfreeorder;
    let i = m;
    const end = m + npages;
    while (i < end) {
      const order = this.largestBlockOrder((lo + (i - base)) | 0, end - i);
      if (lazy && order === maxOrder) {
        const run = Math.floor((end - i) / 2 ** maxOrder);
        this.lazyAddRun(i, seg, maxOrder, run);
        i += run * 2 ** maxOrder;
        continue;
      }
      if (lazy) this.lazyAdd(i, seg, order);
      else this.freelistAdd(q0 + order, i, order, pool, true);
      i += 1 << order;
    }
  }

  /*
   * The largest order of a block that starts at a page whose pfn has the low
   * 32 bits `pfnLow` (so it is aligned) and fits in `remaining` (>= 1) pages:
   * the step of a maximal aligned power-of-two decomposition.
   */
  private largestBlockOrder(pfnLow: number, remaining: number): number {
    let order = pfnLow === 0 ? this.maxOrder : 31 - Math.clz32(pfnLow & -pfnLow);
    if (order > this.maxOrder) order = this.maxOrder;
    while (order > 0 && remaining < 1 << order) order--;
    return order;
  }

  /*
   * vm_phys_enq_range: free [m, m + npages), which ends at the end of an
   * aligned power-of-two set, as blocks of increasing size.
   */
  private enqRange(m: number, npages: number, q0: number, pool: number, tail: boolean): void {
    let i = m;
    let n = npages;
    while (n > 0) {
      const order = 31 - Math.clz32(n & -n);
      this.freelistAdd(q0 + order, i, order, pool, tail);
      i += 1 << order;
      n -= 1 << order;
    }
  }

  // ------------------------------------------------------------ allocation

  private checkDomain(domain: number): void {
    if (!(domain >= 0 && domain < this.ndomains && (domain | 0) === domain)) {
      throw new PagelabError('EINVAL', `domain ${domain} is out of range (machine has ${this.ndomains})`);
    }
  }

  private checkPool(pool: number): void {
    if (pool !== VM_FREEPOOL_DEFAULT && pool !== 2) {
      throw new PagelabError('EINVAL', `pool ${pool} is not an allocation pool (DEFAULT=1, DIRECT=2)`);
    }
  }

  private checkOrder(order: number): void {
    if (!(order >= 0 && order <= this.maxOrder && (order | 0) === order)) {
      throw new PagelabError('EINVAL', `order ${order} is out of range (0..${this.maxOrder})`);
    }
  }

  /* Mark [m, m + n) allocated. */
  private markAllocated(m: number, n: number): void {
    const a = this.pages.astate;
    if (n === 1) a[m] = 1;
    else a.fill(1, m, m + n);
  }

  /*
   * vm_phys_alloc_pages: allocate a free block of 2^order pages from
   * `domain`, trying the free lists DEFAULT, DMA32, LOWMEM in turn.
   * Returns the head page, or -1 when no block is free.
   */
  allocPages(domain: number, pool: number, order: number, req = 0): number {
    this.checkDomain(domain);
    this.checkPool(pool);
    this.checkOrder(order);
    this.work[Work.Lock]++;
    const m = this.allocPagesUnsafe(domain, pool, order);
    if (m >= 0 && (req & VM_ALLOC_ZERO) !== 0) {
      // A single PG_ZERO page is the case pre-zeroing exists for: skip it inline.
      if (order === 0 && (this.pages.flags[m] & PG_ZERO) !== 0 && !this.invariants) this.work[Work.ZeroSkipped]++;
      else this.zeroPages(m, 1 << order);
    }
    return m;
  }

  /*
   * VM_ALLOC_ZERO on [m, m + n): zero every page that is not PG_ZERO (in
   * runs, on the allocating thread) and skip those that are. INVARIANTS
   * verifies that a PG_ZERO page really is zero, as debug.vm_check_pg_zero.
   * Guarantees: with backing memory, the range reads as zero.
   */
  zeroPages(m: number, n: number): void {
    const flags = this.pages.flags;
    const end = m + n;
    let i = m;
    while (i < end) {
      if ((flags[i] & PG_ZERO) !== 0) {
        this.work[Work.ZeroSkipped]++;
        if (this.invariants && this.isZeroHook !== null) {
          const pa = this.pageToPa(i);
          if (!this.isZeroHook(pa, PAGE_SIZE)) throw new PagelabError('ENOTZERO', `PG_ZERO page ${hex(pa)} is not zero`);
        }
        i++;
        continue;
      }
      let j = i + 1;
      while (j < end && (flags[j] & PG_ZERO) === 0) j++;
      if (this.zeroHook !== null) this.zeroHook(this.pageToPa(i), (j - i) * PAGE_SIZE);
      this.work[Work.ZeroBytesSync] += (j - i) * PAGE_SIZE;
      for (let k = i; k < j; k++) flags[k] |= PG_ZERO;
      i = j;
    }
  }

  /*
   * allocPages without argument checks or the lock count: the hot-path twin.
   * Requires: a valid domain, an allocation pool and 0 <= order <= maxOrder.
   */
  allocPagesUnsafe(domain: number, pool: number, order: number): number {
    const flinds = this.flindOrder;
    for (let i = 0; i < flinds.length; i++) {
      const m = this.allocFlindUnsafe(domain, flinds[i], pool, order);
      if (m >= 0) {
        this.markAllocated(m, 1 << order);
        return m;
      }
    }
    return -1;
  }

  /*
   * freePages without validation: the hot-path twin. Requires: [m, m + 2^order)
   * was allocated and is wholly owned by the caller.
   */
  freePagesFast(m: number, order: number, pool: number = VM_FREEPOOL_DEFAULT, knownZero = false): void {
    const p = this.pages;
    if (order === 0) {
      p.astate[m] = 0;
      p.flags[m] = knownZero ? p.flags[m] | PG_ZERO : p.flags[m] & ~PG_ZERO;
    } else {
      const end = m + (1 << order);
      p.astate.fill(0, m, end);
      for (let i = m; i < end; i++) p.flags[i] = knownZero ? p.flags[i] | PG_ZERO : p.flags[i] & ~PG_ZERO;
    }
    this.freePagesUnsafe(m, pool, order);
  }

  /*
   * vm_phys_alloc_freelist_pages: as allocPages, from one free list
   * (VM_FREELIST_*). Returns -1 when that free list does not exist or is empty.
   */
  allocFreelistPages(domain: number, freelist: number, pool: number, order: number): number {
    this.checkDomain(domain);
    this.checkPool(pool);
    this.checkOrder(order);
    if (!Number.isInteger(freelist) || freelist < 0 || freelist >= VM_NFREELIST) {
      throw new PagelabError('EINVAL', `free list ${freelist} is out of range (0..${VM_NFREELIST - 1})`);
    }
    const flind = this.freelistToFlind[freelist];
    if (flind < 0) return -1;
    this.work[Work.Lock]++;
    const m = this.allocFlindUnsafe(domain, flind, pool, order);
    if (m >= 0) this.markAllocated(m, 1 << order);
    return m;
  }

  /*
   * The body of vm_phys_alloc_freelist_pages, on a free-list index. Requires
   * valid arguments. The smallest block in `pool` that fits is split, the
   * unused halves going back to `pool`; failing that, the largest block of
   * any pool from vm_default_freepool on is taken (initialised first if it
   * was lazy), moved to `pool`, and split.
   */
  private allocFlindUnsafe(domain: number, flind: number, pool: number, order: number): number {
    const nfo = this.nfreeorder;
    const base = this.queueIndex(domain, flind, 0, 0);
    const q0 = base + pool * nfo;
    const w = this.work;
    for (let oind = order; oind < nfo; oind++) {
      w[Work.QueueHeadVisit]++;
      const m = this.qHead[q0 + oind];
      if (m !== NIL) {
        this.freelistRem(q0 + oind, m, oind);
        this.splitPages(m, oind, q0, order, pool);
        return m;
      }
    }
    for (let oind = this.maxOrder; oind >= order; oind--) {
      for (let pind = this.defaultFreepool; pind < VM_NFREEPOOL; pind++) {
        w[Work.QueueHeadVisit]++;
        const q = base + pind * nfo + oind;
        const h = this.qHead[q];
        if (h === NIL) continue;
        const m = this.takeHead(q, h, pind, oind);
        this.splitPages(m, oind, q0, order, pool);
        return m;
      }
    }
    return -1;
  }

  /*
   * Take the head `h` of queue `q` (pool `pool`, order `order`) off it: a
   * lazy block is initialised on the way (vm_phys_finish_init). Returns the
   * first page of the block, now on no queue.
   */
  private takeHead(q: number, h: number, pool: number, order: number): number {
    if (pool === VM_FREEPOOL_LAZYINIT) return this.lazyTake(q, h);
    this.freelistRem(q, h, order);
    return h;
  }

  /*
   * vm_phys_split_pages: keep the lower 2^order pages of block [m, m + 2^oind)
   * and free the upper halves to queues q0 + k, at the tail (the lower-order
   * queues are known to be empty).
   */
  private splitPages(m: number, oind: number, q0: number, order: number, pool: number): void {
    while (oind > order) {
      oind--;
      this.freelistAdd(q0 + oind, m + (1 << oind), oind, pool, true);
      this.work[Work.Split]++;
    }
  }

  /*
   * vm_phys_alloc_npages: allocate up to `npages` (<= 2^maxOrder) single pages
   * from `domain`, writing their indices into `out`. Returns how many it got;
   * fewer than asked means the domain ran out.
   */
  allocNpages(domain: number, pool: number, npages: number, out: Uint32Array | Float64Array | number[]): number {
    this.checkDomain(domain);
    this.checkPool(pool);
    if (!Number.isInteger(npages) || npages < 0 || npages > 2 ** this.maxOrder) {
      throw new PagelabError('EINVAL', `allocNpages: ${npages} pages is out of range (0..${2 ** this.maxOrder})`);
    }
    if (out.length < npages) throw new PagelabError('EINVAL', `allocNpages: out-array holds ${out.length} < ${npages}`);
    this.work[Work.Lock]++;
    const nfo = this.nfreeorder;
    let i = 0;
    for (let freelist = 0; freelist < VM_NFREELIST && i < npages; freelist++) {
      const flind = this.freelistToFlind[freelist];
      if (flind < 0) continue;
      const base = this.queueIndex(domain, flind, 0, 0);
      const q0 = base + pool * nfo;
      for (let oind = 0; oind < nfo; oind++) {
        this.work[Work.QueueHeadVisit]++;
        let m: number;
        while ((m = this.qHead[q0 + oind]) !== NIL) {
          this.freelistRem(q0 + oind, m, oind);
          i = this.takeRun(m, oind, npages, i, out, q0, pool);
          if (i === npages) return i;
        }
      }
      for (let oind = this.maxOrder; oind >= 0; oind--) {
        for (let pind = this.defaultFreepool; pind < VM_NFREEPOOL; pind++) {
          this.work[Work.QueueHeadVisit]++;
          const q = base + pind * nfo + oind;
          let h: number;
          while ((h = this.qHead[q]) !== NIL) {
            const m = this.takeHead(q, h, pind, oind);
            i = this.takeRun(m, oind, npages, i, out, q0, pool);
            if (i === npages) return i;
          }
        }
      }
    }
    return i;
  }

  /* Hand out pages of block [m, m + 2^oind) until `npages`; return the excess to `pool`. */
  private takeRun(m: number, oind: number, npages: number, i: number, out: Uint32Array | Float64Array | number[], q0: number, pool: number): number {
    const avail = i + (1 << oind);
    const end = Math.min(npages, avail);
    const a = this.pages.astate;
    while (i < end) {
      a[m] = 1;
      out[i++] = m++;
    }
    if (i === npages && avail > i) this.enqRange(m, avail - i, q0, pool, true);
    return i;
  }

  // ------------------------------------------------------------ free

  /*
   * Free [m, m + 2^order), which the caller allocated, to `pool`
   * (DEFAULT when omitted). Every page must be allocated: a page that is
   * free, never initialised or outside the machine is an error naming its
   * address, and nothing is changed.
   */
  freePages(m: number, order: number, pool: number = VM_FREEPOOL_DEFAULT, knownZero = false): void {
    this.checkOrder(order);
    this.checkPool(pool);
    // An allocated single page is the common case: validate it without the range walk.
    if (!(order === 0 && m >= 0 && m < this.npages && this.pages.astate[m] === 1)) this.checkAllocatedRange(m, 2 ** order, 'freePages');
    this.work[Work.Lock]++;
    if (knownZero) this.markZero(m, 1 << order);
    this.freePagesFast(m, order, pool, knownZero);
  }

  /*
   * vm_page_free_zero: the caller vouches that the pages are zero. Under
   * INVARIANTS with backing memory, the claim is checked here.
   */
  private markZero(m: number, n: number): void {
    if (this.invariants && this.isZeroHook !== null) {
      const pa = this.pageToPa(m);
      if (!this.isZeroHook(pa, n * PAGE_SIZE)) throw new PagelabError('ENOTZERO', `freed as zero, but [${hex(pa)}, ${hex(pa + n * PAGE_SIZE)}) is not zero`);
    }
  }

  /* Every page of [m, m + n) is allocated and in one segment, or a typed error. */
  private checkAllocatedRange(m: number, n: number, what: string): void {
    if (!Number.isInteger(m) || m < 0 || m + n > this.npages) {
      throw new PagelabError('ENOTALLOC', `${what}: page ${m} (+${n}) is outside the machine's ${this.npages} pages`);
    }
    const seg = this.segOfIndex(m);
    if (m + n > this.segFirst[seg] + this.segCount[seg]) {
      throw new PagelabError('ENOTALLOC', `${what}: range at ${hex(this.pageToPa(m))} of ${n} pages crosses the end of its segment`);
    }
    const a = this.pages.astate;
    for (let i = m; i < m + n; i++) {
      if (a[i] !== 1) {
        const code = this.pages.pool[i] !== VM_FREEPOOL_LAZYINIT && this.containingFreeBlock(i) >= 0 ? 'EDOUBLEFREE' : 'ENOTALLOC';
        throw new PagelabError(code, `${what}: page ${hex(this.pageToPa(i))} is not allocated${code === 'EDOUBLEFREE' ? ' (already free)' : ''}`);
      }
    }
  }

  /*
   * vm_phys_free_pages: free block [m, m + 2^order) to `pool`, merging with
   * free buddies of equal order (of any pool, lazy ones included, which are
   * initialised as they merge). Requires: the pages are initialised, on no
   * queue, and marked not allocated.
   */
  freePagesUnsafe(m: number, pool: number, order: number): void {
    const p = this.pages;
    const porder = p.order;
    const ppool = p.pool;
    const s = p.segind[m];
    const first = this.segFirst[s];
    const count = this.segCount[s];
    const pfnLo = this.segPfnLo[s];
    const qbase = this.segQueueBase[s];
    const nfo = this.nfreeorder;
    const maxOrder = this.maxOrder;
    while (order < maxOrder) {
      const bit = 1 << order;
      const off = m - first;
      const b = ((pfnLo + off) & bit) !== 0 ? m - bit : m + bit;
      if (b < first || b >= first + count) break;
      const bpool = ppool[b];
      if (bpool !== VM_FREEPOOL_LAZYINIT) {
        if (porder[b] !== order) break;
        this.freelistRem(qbase + bpool * nfo + order, b, order);
      } else {
        if (this.lazyLive === 0) break;
        const id = this.lazyBlockAt(b);
        if (id < 0 || this.lbOrder[id] !== order) break;
        this.lazyTake(qbase + VM_FREEPOOL_LAZYINIT * nfo + order, id);
      }
      this.work[Work.Merge]++;
      order++;
      if (b < m) m = b;
    }
    this.freelistAdd(qbase + pool * nfo + order, m, order, pool, true);
  }

  /*
   * vm_phys_free_contig: free an arbitrary run [m, m + npages) of allocated
   * pages: the aligned middle is enqueued as whole blocks, the ragged ends
   * are freed last so that they merge with their neighbours.
   */
  freeContig(m: number, npages: number, pool: number = VM_FREEPOOL_DEFAULT): void {
    if (!Number.isInteger(npages) || npages <= 0) throw new PagelabError('EINVAL', `freeContig: ${npages} pages`);
    this.checkPool(pool);
    this.checkAllocatedRange(m, npages, 'freeContig');
    this.work[Work.Lock]++;
    this.pages.astate.fill(0, m, m + npages);
    const flags = this.pages.flags;
    for (let i = m; i < m + npages; i++) flags[i] &= ~PG_ZERO;
    this.freeContigUnsafe(m, npages, pool);
  }

  private freeContigUnsafe(m: number, npages: number, pool: number): void {
    // Decompose into maximal aligned blocks; freeing each with merging gives
    // the same free set as FreeBSD's middle-enqueue-then-ends order.
    const seg = this.segOfIndex(m);
    const lo = this.segPfnLo[seg];
    const base = this.segFirst[seg];
    const end = m + npages;
    let i = m;
    while (i < end) {
      const order = this.largestBlockOrder((lo + (i - base)) | 0, end - i);
      this.freePagesUnsafe(i, pool, order);
      i += 2 ** order;
    }
  }

  // ------------------------------------------------------------ contiguous

  /*
   * vm_phys_alloc_contig: allocate `npages` physically contiguous pages from
   * `domain` in [low, high), starting at a multiple of `alignment` and not
   * crossing a multiple of `boundary` (0 = none); both powers of two.
   * Drains the domain's LAZYINIT pool first, as the core issue asks (FreeBSD
   * itself searches lazy heads directly). Returns the first page or -1.
   */
  allocContig(domain: number, npages: number, low = 0, high = Number.MAX_SAFE_INTEGER, alignment = PAGE_SIZE, boundary = 0, req = 0): number {
    this.checkDomain(domain);
    if (!Number.isInteger(npages) || npages <= 0) throw new PagelabError('EINVAL', `allocContig: npages ${npages} must be a positive integer`);
    if (!isPow2(alignment)) throw new PagelabError('EINVAL', `allocContig: alignment ${hex(alignment)} is not a power of 2`);
    if (boundary !== 0 && !isPow2(boundary)) throw new PagelabError('EINVAL', `allocContig: boundary ${hex(boundary)} is not a power of 2`);
    if (boundary !== 0 && boundary < npages * PAGE_SIZE) return -1;
    if (low >= high) return -1;
    this.lazyInitDomain(domain);
    this.work[Work.Lock]++;
    let queuesBase = -1;
    let run = -1;
    for (let s = this.segs.length - 1; s >= 0; s--) {
      const seg = this.segs[s];
      if (seg.start >= high || seg.domain !== domain) continue;
      if (low >= seg.end) break;
      const paStart = Math.max(low, seg.start);
      const paEnd = Math.min(high, seg.end);
      if (paEnd - paStart < npages * PAGE_SIZE) continue;
      if (this.segQueueBase[s] === queuesBase) continue;
      queuesBase = this.segQueueBase[s];
      run = this.findQueuesContig(queuesBase, npages, low, high, alignment, boundary);
      if (run >= 0) break;
    }
    if (run < 0) return -1;
    const nfo = this.nfreeorder;
    let m = run;
    const runEnd = run + npages;
    while (m < runEnd) {
      const oind = this.pages.order[m];
      this.freelistRem(queuesBase + this.pages.pool[m] * nfo + oind, m, oind);
      m += 2 ** oind;
    }
    if (m > runEnd) this.enqRange(runEnd, m - runEnd, queuesBase + VM_FREEPOOL_DEFAULT * nfo, VM_FREEPOOL_DEFAULT, false);
    this.markAllocated(run, npages);
    if ((req & VM_ALLOC_ZERO) !== 0) this.zeroPages(run, npages);
    const pa = this.pageToPa(run);
    kassert(low <= pa && pa + npages * PAGE_SIZE <= high && addrOk(pa, npages * PAGE_SIZE, alignment, boundary), () => `allocContig: run at ${hex(pa)} violates its constraints`);
    return run;
  }

  /*
   * vm_phys_find_queues_contig: first, a single free block of sufficient
   * order whose head satisfies the constraints; for requests larger than the
   * largest block, a sequence of adjacent max-order blocks.
   */
  private findQueuesContig(qbase: number, npages: number, low: number, high: number, alignment: number, boundary: number): number {
    const nfo = this.nfreeorder;
    const order = npages <= 1 ? 0 : 32 - Math.clz32(npages - 1);
    const size = npages * PAGE_SIZE;
    const p = this.pages;
    for (let oind = order; oind < nfo; oind++) {
      for (let pind = this.defaultFreepool; pind < VM_NFREEPOOL; pind++) {
        this.work[Work.QueueHeadVisit]++;
        for (let m = this.qHead[qbase + pind * nfo + oind]; m !== NIL; m = p.next[m]) {
          this.work[Work.ContigScan]++;
          const pa = this.pageToPa(m);
          if (low <= pa && pa + size <= high && addrOk(pa, size, alignment, boundary)) return m;
        }
      }
    }
    if (order < nfo) return -1;
    for (let pind = this.defaultFreepool; pind < VM_NFREEPOOL; pind++) {
      const m = this.findFreelistContig(qbase + pind * nfo, npages, low, high, alignment, boundary);
      if (m >= 0) return m;
    }
    return -1;
  }

  /*
   * vm_phys_find_freelist_contig: among max-order free blocks, find one that
   * starts a physically contiguous sequence of free max-order blocks long
   * enough and aligned. Each block is examined at most twice.
   */
  private findFreelistContig(q0: number, npages: number, low: number, high: number, alignment: number, boundary: number): number {
    const maxOrder = this.maxOrder;
    const maxPages = 2 ** maxOrder;
    const size = npages * PAGE_SIZE;
    const maxSize = maxPages * PAGE_SIZE;
    const p = this.pages;
    const isMaxFree = (i: number, seg: number): boolean =>
      i >= this.segFirst[seg] && i < this.segFirst[seg] + this.segCount[seg] && p.pool[i] !== VM_FREEPOOL_LAZYINIT && p.order[i] === maxOrder;
    for (let m = this.qHead[q0 + maxOrder]; m !== NIL; m = p.next[m]) {
      this.work[Work.ContigScan]++;
      const s = p.segind[m];
      const seg = this.segs[s];
      const pa = this.pageToPa(m);
      const floor = Math.max(low, seg.start);
      if (pa < floor) continue;
      if (pa >= maxSize && pa - maxSize >= floor && isMaxFree(m - maxPages, s)) continue;
      const ceil = Math.min(high, seg.end);
      let ret = m;
      let retPa = pa;
      while (!addrOk(retPa, size, alignment, boundary) && retPa + size <= ceil && isMaxFree(ret + maxPages, s)) {
        ret += maxPages;
        retPa += maxSize;
        this.work[Work.ContigScan]++;
      }
      if (retPa + size > ceil) continue;
      let it = ret;
      while (it < ret + npages && isMaxFree(it, s)) {
        it += maxPages;
        this.work[Work.ContigScan]++;
      }
      if (it < ret + npages) continue;
      return ret;
    }
    return -1;
  }

  // ------------------------------------------------------------ unfree

  /*
   * vm_phys_unfree_page: take the page at `pa` out of the free lists (to
   * blacklist bad memory). Drains its domain's LAZYINIT pool first. Returns
   * false when the page is not free. The page is then allocated.
   */
  unfreePage(pa: number): boolean {
    const s = this.paToSeg(pa);
    if (s < 0) throw new PagelabError('ERANGE', `unfreePage: ${hex(pa)} is not in any physical segment`);
    if (pa % PAGE_SIZE !== 0) throw new PagelabError('EINVAL', `unfreePage: ${hex(pa)} is not page-aligned`);
    this.lazyInitDomain(this.segs[s].domain);
    this.work[Work.Lock]++;
    const m = this.paToPage(pa);
    const set = this.containingFreeBlock(m);
    if (set < 0) return false;
    const p = this.pages;
    const pool = p.pool[set];
    let order = p.order[set];
    const q0 = this.segQueueBase[s] + pool * this.nfreeorder;
    this.freelistRem(q0 + order, set, order);
    let mset = set;
    while (order > 0) {
      order--;
      const half = mset + 2 ** order;
      let tmp: number;
      if (m < half) tmp = half;
      else {
        tmp = mset;
        mset = half;
      }
      this.freelistAdd(q0 + order, tmp, order, pool, false);
    }
    kassert(mset === m, () => `unfreePage: fatal inconsistency at ${hex(pa)}`);
    p.astate[m] = 1;
    return true;
  }

  /*
   * The head of the initialised free block containing page `m`, or -1:
   * walk up the aligned ancestors of `m` until one is a free head whose
   * block covers `m`.
   */
  containingFreeBlock(m: number): number {
    const s = this.segOfIndex(m);
    const first = this.segFirst[s];
    const pfnLo = this.segPfnLo[s];
    const p = this.pages;
    for (let order = 0; order <= this.maxOrder; order++) {
      const off = m - first;
      const mask = 2 ** order - 1;
      const head = m - ((pfnLo + off) & mask);
      if (head < first) return -1;
      if (p.pool[head] !== VM_FREEPOOL_LAZYINIT && p.order[head] < this.nfreeorder && p.order[head] >= order) {
        return head + 2 ** p.order[head] > m ? head : -1;
      }
    }
    return -1;
  }

  // ------------------------------------------------------------ pre-zeroing

  /*
   * For the pre-zeroer: take off the free queues the first free block (of
   * DEFAULT or DIRECT, largest order first, domain `domain`) that has a page
   * not known to be zero, scanning at most `maxScan` blocks. Its pages are
   * marked ASTATE_ZEROING, so they can be neither handed out nor freed until
   * returnZeroedBlock. Returns the head or -1; the order and pool are written
   * to out[0], out[1].
   */
  takeBlockForZeroing(domain: number, maxScan: number, out: Int32Array): number {
    this.checkDomain(domain);
    const p = this.pages;
    let scanned = 0;
    for (let fl = 0; fl < this.nfreelists; fl++) {
      for (let o = this.maxOrder; o >= 0; o--) {
        for (let pool = VM_FREEPOOL_DEFAULT; pool < VM_NFREEPOOL; pool++) {
          const q = this.queueIndex(domain, fl, pool, o);
          for (let m = this.qHead[q]; m !== NIL; m = p.next[m]) {
            if (++scanned > maxScan) return -1;
            const n = 1 << o;
            let i = m;
            while (i < m + n && (p.flags[i] & PG_ZERO) !== 0) i++;
            if (i === m + n) continue;
            this.work[Work.Lock]++;
            this.freelistRem(q, m, o);
            p.astate.fill(ASTATE_ZEROING, m, m + n);
            out[0] = o;
            out[1] = pool;
            return m;
          }
        }
      }
    }
    return -1;
  }

  /*
   * The pre-zeroer's block is zero: mark every page PG_ZERO and free the
   * block back to `pool`, merging as any free does.
   * Requires: [m, m + 2^order) was taken by takeBlockForZeroing.
   */
  returnZeroedBlock(m: number, order: number, pool: number): void {
    const p = this.pages;
    const n = 1 << order;
    for (let i = m; i < m + n; i++) {
      kassert(p.astate[i] === ASTATE_ZEROING, () => `returnZeroedBlock: page ${hex(this.pageToPa(i))} was not taken for zeroing`);
      p.astate[i] = 0;
      p.flags[i] |= PG_ZERO;
    }
    this.work[Work.Lock]++;
    this.freePagesUnsafe(m, pool, order);
  }

  /** Free pages known to be zero (PG_ZERO), lazy pages excluded. */
  zeroFreePages(): number {
    let n = 0;
    const f = this.pages.flags;
    this.forEachFreeBlock((m, o, pool) => {
      if (pool === VM_FREEPOOL_LAZYINIT) return;
      for (let i = m; i < m + (1 << o); i++) if ((f[i] & PG_ZERO) !== 0) n++;
    });
    return n;
  }

  // ------------------------------------------------------------ views

  /** Number of free blocks on queue [domain][flind][pool][order]. */
  queueCount(domain: number, flind: number, pool: number, order: number): number {
    return this.qCount[this.queueIndex(domain, flind, pool, order)];
  }

  /*
   * Free pages of `domain`, lazy pool included: the queue counts weighted by
   * block size. Derived rather than maintained, to keep the hot paths short.
   */
  domainFreePages(domain: number): number {
    let t = 0;
    const nfo = this.nfreeorder;
    const per = this.nfreelists * VM_NFREEPOOL * nfo;
    for (let q = domain * per; q < (domain + 1) * per; q++) t += this.qCount[q] * 2 ** (q % nfo);
    return t;
  }

  /** Free pages in all domains. */
  totalFree(): number {
    let t = 0;
    for (let d = 0; d < this.ndomains; d++) t += this.domainFreePages(d);
    return t;
  }

  /*
   * Visits every free block: (head page, order, pool, domain, flind). Lazy
   * blocks are visited with pool LAZYINIT. For reports, tests and the checker.
   */
  forEachFreeBlock(fn: (m: number, order: number, pool: number, domain: number, flind: number) => void): void {
    for (let d = 0; d < this.ndomains; d++) {
      for (let fl = 0; fl < this.nfreelists; fl++) {
        for (let pool = 0; pool < VM_NFREEPOOL; pool++) {
          for (let o = 0; o < this.nfreeorder; o++) {
            const q = this.queueIndex(d, fl, pool, o);
            if (pool === VM_FREEPOOL_LAZYINIT) {
              for (let id = this.qHead[q] === NIL ? -1 : this.qHead[q]; id >= 0; id = this.lbNext[id]) fn(this.lbHead[id], this.lbOrder[id], pool, d, fl);
            } else {
              for (let m = this.qHead[q]; m !== NIL; m = this.pages.next[m]) fn(m, o, pool, d, fl);
            }
          }
        }
      }
    }
  }

  /** Raw queue walk for the checker: the list as page indices (or lazy ids), head first. */
  queueMembers(q: number): { members: number[]; reverse: number[] } {
    const members: number[] = [];
    const reverse: number[] = [];
    const pool = Math.floor(q / this.nfreeorder) % VM_NFREEPOOL;
    const limit = this.npages + this.lbCount + 1;
    if (pool === VM_FREEPOOL_LAZYINIT) {
      for (let id = this.qHead[q] === NIL ? -1 : this.qHead[q]; id >= 0 && members.length <= limit; id = this.lbNext[id]) members.push(this.lbHead[id]);
      for (let id = this.qTail[q] === NIL ? -1 : this.qTail[q]; id >= 0 && reverse.length <= limit; id = this.lbPrev[id]) reverse.push(this.lbHead[id]);
    } else {
      for (let m = this.qHead[q]; m !== NIL && members.length <= limit; m = this.pages.next[m]) members.push(m);
      for (let m = this.qTail[q]; m !== NIL && reverse.length <= limit; m = this.pages.prev[m]) reverse.push(m);
    }
    reverse.reverse();
    return { members, reverse };
  }

  /** PFN low 32 bits of page `m` (for alignment checks without 64-bit arithmetic). */
  pfnLow(m: number): number {
    const s = this.segOfIndex(m);
    return (this.segPfnLo[s] + (m - this.segFirst[s])) | 0;
  }
}

function isPow2(x: number): boolean {
  return Number.isSafeInteger(x) && x > 0 && 2 ** Math.round(Math.log2(x)) === x;
}

/* vm_addr_ok: aligned to `alignment`, and not crossing a multiple of `boundary` (0 = none). */
export function addrOk(pa: number, size: number, alignment: number, boundary: number): boolean {
  if (pa % alignment !== 0) return false;
  if (boundary === 0) return true;
  return Math.floor(pa / boundary) === Math.floor((pa + size - 1) / boundary);
}

