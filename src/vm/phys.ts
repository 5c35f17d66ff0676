/**
 * The physical memory allocator, as FreeBSD's sys/vm/vm_phys.c: a binary
 * buddy allocator over physical segments, with free queues per
 * [domain][free list][pool][order], and the LAZYINIT pool of review D40403.
 *
 * Pages are named by their index in the page array (FreeBSD's vm_page_t);
 * -1 is NULL. Queues of initialised free blocks are index-linked lists
 * through the page array's next/prev fields, with head/tail/count in typed
 * arrays. Lazy blocks live in LazyBlocks (phys-lazy.ts), which owns their
 * queues; the contiguous search is in phys-contig.ts.
 */
import { PagelabError, kassert } from '../errors.js';
import type { MemoryMap } from '../machine/types.js';
import { formatSize, hex } from '../util/units.js';
import { Work, newWorkCounters, type WorkCounters } from './counters.js';
import { BYTES_PER_PAGE, PageArray } from './page.js';
import { assertHostHolds } from '../machine/backing.js';
import { addrOk, containingFreeBlock, findContig, takeRange, unfreePage } from './phys-contig.js';
import { LazyBlocks } from './phys-lazy.js';
import { FreeQueues } from './phys-queues.js';
import { DirtyList } from './zerodirty.js';
import { buildSegments, SegmentTable, type PhysSeg } from './phys-segs.js';
import { isPow2 } from '../util/bits.js';
import {
  NIL,
  PAGE_SIZE,
  VM_FREEPOOL_DEFAULT,
  VM_FREEPOOL_LAZYINIT,
  VM_NFREELIST,
  VM_NFREEORDER_DEFAULT,
  VM_NFREEORDER_MAX,
  VM_NFREEPOOL,
  VM_FREEPOOL_DIRECT,
  PG_ZERO,
  VM_ALLOC_ZERO,
  ASTATE_ALLOCATED,
  ASTATE_FREE,
  ASTATE_RESERVED,
  ASTATE_ZEROING,
} from './param.js';

export { addrOk, buildSegments, type PhysSeg };

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
  /**
   * Zeroes physical memory [pa, pa + bytes) for VM_ALLOC_ZERO and the
   * pre-zeroer; omitted on a machine without backing memory, where zeroing
   * is only counted.
   */
  zero?: (pa: number, bytes: number) => void;
  /** Is [pa, pa + bytes) all zero? For INVARIANTS (debug.vm_check_pg_zero); omitted without backing. */
  isZero?: (pa: number, bytes: number) => boolean;
  /**
   * The machine's memory is a fresh backing store, whose untouched bytes are
   * zero: pages handed to the allocator at boot, and lazy pages as they
   * leave the LAZYINIT pool, start PG_ZERO.
   */
  freshMemoryZero?: boolean;
  /**
   * Bytes of page records this machine may initialise (26 per page): eager
   * initialisation beyond it (an eager boot, a drain) is refused up front with
   * EHOST. Default: the host's limit (machine/backing.ts hostMemoryLimit).
   */
  hostLimitBytes?: number;
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

  /** @internal The segment table in typed arrays; phys-contig.ts reads it too. */
  readonly segtab: SegmentTable;
  /** Per domain, the first queue of the free list allocations try first: add pool * nfreeorder + order. */
  private readonly firstQueue: Int32Array;
  /*
   * The segment of the last page freed (frees cluster, so it usually holds
   * the next) and its table entries copied into fields, which the free path
   * reads with one load each: first page, end, pfnDelta, queueBase.
   */
  private lastSeg = 0;
  private lastSegFirst = 0;
  private lastSegEnd = 0;
  private lastSegDelta = 0;
  private lastSegQueue = 0;

  /** @internal The free queues of initialised blocks, indexed by queueIndex(). */
  readonly queues: FreeQueues;
  private readonly lazy: LazyBlocks;

  /** See PhysOptions.zero: null without backing memory. */
  readonly zeroHook: ((pa: number, bytes: number) => void) | null;
  /** See PhysOptions.isZero: null without backing memory. */
  readonly isZeroHook: ((pa: number, bytes: number) => boolean) | null;
  /** See PhysOptions.freshMemoryZero. */
  readonly freshMemoryZero: boolean;
  /** See PhysOptions.lazyIndexMoves. */
  readonly lazyIndexMoves: boolean;
  private freepool: number;
  private readonly hostLimitBytes: number | undefined;
  /** Order of the block takeFallback last took: an out-value, so that the hot path allocates nothing. */
  private takenOrder = 0;
  /** The block the last free ended in, after merging (page_reporting_notify_free's order). */
  lastFreedHead = -1;
  /*
   * Initialised free pages on the queues with PG_ZERO (vm_page_zero_count of
   * old FreeBSD): kept by every path that puts pages on the free queues or
   * takes them off, so that whoever allocates or frees (the page layer, the
   * zeroing policies, reservations) the idle zeroer's hysteresis reads an
   * exact count. The checker compares it with the queues.
   */
  zeroFreeCount = 0;
  lastFreedOrder = -1;
  /**
   * Free pages that may not be zero, for the pre-zeroer (null until it first
   * asks): pushed as pages are freed dirty, so that a background pass costs
   * O(pages dirtied) instead of a scan of every free block per step.
   */
  private dirty: DirtyList | null = null;

  /*
   * vm_phys_init. Requires: a validated memory map.
   * Guarantees: every page record reads as never initialised; every queue is
   * empty; the page array is reserved but untouched.
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
    this.zeroHook = opts.zero ?? null;
    this.isZeroHook = opts.isZero ?? null;
    this.freshMemoryZero = opts.freshMemoryZero ?? false;
    this.hostLimitBytes = opts.hostLimitBytes;
    // D40403's first revision searched from pool 0 always; the landed one
    // only while lazy blocks exist (enqueueContig and lazyInitSlice move it).
    this.freepool = this.lazyIndexMoves ? VM_FREEPOOL_DEFAULT : VM_FREEPOOL_LAZYINIT;
    const built = buildSegments(map, opts.numaDisabled ?? false);
    this.segs = built.segs;
    this.ndomains = built.ndomains;
    this.nfreelists = built.nfreelists;
    this.freelistToFlind = built.freelistToFlind;
    this.flindOrder = Int32Array.from([...built.freelistToFlind].filter((f) => f >= 0));
    const last = this.segs[this.segs.length - 1];
    this.npages = last === undefined ? 0 : last.firstPage + last.npages;
    this.pages = new PageArray(this.npages, nfo);
    this.queues = new FreeQueues(this.pages, this.ndomains, this.nfreelists, nfo, this.work);
    this.lazy = new LazyBlocks(this.npages, this.ndomains, this.nfreelists, nfo, this.work);
    this.segtab = new SegmentTable(this.segs, (d, fl) => this.queues.index(d, fl, 0, 0), (d, fl) => this.lazy.queue(d, fl, 0));
    this.firstQueue = Int32Array.from({ length: this.ndomains }, (_, d) => this.queues.index(d, this.flindOrder[0], 0, 0));
  }

  /** Index of the free queue [domain][flind][pool][order]. */
  queueIndex(domain: number, flind: number, pool: number, order: number): number {
    return this.queues.index(domain, flind, pool, order);
  }

  /** vm_default_freepool: where fallback searches across pools start. */
  get defaultFreepool(): number {
    return this.freepool;
  }

  // ---------------------------------------------------------------- addresses

  /** Segment index containing `pa`, or -1 (vm_phys_paddr_to_seg). */
  paToSeg(pa: number): number {
    return this.segtab.ofPa(pa);
  }

  /** vm_phys_paddr_to_vm_page: page index of `pa`, or -1 when no segment holds it. */
  paToPage(pa: number): number {
    return this.segtab.paToPage(pa);
  }

  /** Physical address of page `m`. Requires: 0 <= m < npages. */
  pageToPa(m: number): number {
    return this.segtab.pageToPa(m);
  }

  /** Segment of a page index, found without reading the page record (which may be uninitialised). */
  segOfIndex(m: number): number {
    return this.segtab.of(m);
  }

  /** Domain of page `m`. */
  domainOf(m: number): number {
    return this.segtab.domain[this.segtab.of(m)];
  }

  /** PFN low 32 bits of page `m` (for alignment checks without 64-bit arithmetic). */
  pfnLow(m: number): number {
    return this.segtab.pfnLow(m);
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

  /*
   * Refuse up front (EHOST) work after which `records` page records would be
   * initialised, when their bytes are more than the host can hold. `what`
   * names the work.
   */
  assertHostHoldsRecords(records: number, what: string): void {
    const bytes = records * BYTES_PER_PAGE;
    assertHostHolds(
      bytes,
      `page array: ${what} leaves ${records} page records initialised, ${formatSize(bytes)}`,
      'boot lazily (vm.lazy_page_init=1) without draining, or with less RAM',
      this.hostLimitBytes,
    );
  }

  /** Checked read of a page's buddy order (VM_NFREEORDER when not a free head). */
  pageOrder(m: number): number {
    this.assertInitialised(m, 'pageOrder');
    return this.pages.order[m];
  }

  // ------------------------------------------------------------ LAZYINIT pool

  /*
   * Take the first block of lazy descriptor `id` off lazy queue `lq` and initialise every record in
   * it (vm_phys_finish_init). Returns the head page, now an ordinary page
   * that is on no queue.
   */
  private lazyTake(lq: number, id: number): number {
    const n = 2 ** this.lazy.orderOf(id);
    const m = this.lazy.take(lq, id);
    this.pages.initRange(m, n, this.segOfIndex(m));
    // joinFree without its scan: initRange left every flag clear.
    if (this.freshMemoryZero) {
      this.pages.flags.fill(PG_ZERO, m, m + n);
      this.zeroFreeCount += n;
    } else if (this.dirty !== null) for (let i = m; i < m + n; i++) this.dirty.push(i);
    this.work[Work.PageInit] += n;
    this.work[Work.LazyBlockTaken]++;
    return m;
  }

  /** Lazy blocks ever enqueued. */
  queueInsertsLazy(): number {
    return this.lazy.everAdded;
  }

  /** Pages still in the LAZYINIT pool of `domain` (all domains when omitted). */
  lazyPending(domain?: number): number {
    if (domain !== undefined) return this.lazy.pending(domain);
    let t = 0;
    for (let d = 0; d < this.ndomains; d++) t += this.lazy.pending(d);
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
    const pending = this.lazy.pending(domain);
    if (pending > 0) this.assertHostHoldsRecords(this.npages - this.lazyPending() + Math.min(maxPages, pending), `draining domain ${domain}`);
    let done = 0;
    if (this.lazy.pending(domain) > 0) {
      this.work[Work.Lock]++;
      outer: for (let freelist = 0; freelist < VM_NFREELIST; freelist++) {
        const flind = this.freelistToFlind[freelist];
        if (flind < 0) continue;
        for (let oind = 0; oind < this.nfreeorder; oind++) {
          const lq = this.lazy.queue(domain, flind, oind);
          let id: number;
          while ((id = this.lazy.first(lq)) >= 0) {
            if (done >= maxPages) break outer;
            const m = this.lazyTake(lq, id);
            this.enqueueFree(m, VM_FREEPOOL_DEFAULT, oind);
            done += 2 ** oind;
          }
        }
      }
    }
    if (this.lazy.live === 0 && this.lazyIndexMoves) this.freepool = VM_FREEPOOL_DEFAULT;
    return done;
  }

  /** Drain `domain`'s LAZYINIT pool completely. */
  lazyInitDomain(domain: number): number {
    return this.lazyInitSlice(domain, Infinity);
  }

  /** Drain every domain (vm_phys_lazy_init); refused whole, before any domain is drained, when the host cannot hold it. */
  lazyInit(): number {
    if (this.lazyPending() > 0) this.assertHostHoldsRecords(this.npages, 'draining every domain');
    let n = 0;
    for (let d = 0; d < this.ndomains; d++) n += this.lazyInitDomain(d);
    return n;
  }

  // ------------------------------------------------------------ enqueue

  /*
   * vm_phys_enqueue_contig: put [m, m + npages) on the free queues of `pool`
   * as the largest aligned power-of-two blocks, without merging with
   * neighbours. Requires: the range lies in one segment; its pages are
   * initialised (unless pool is LAZYINIT) and on no queue; `m`'s buddy is not
   * free. Enqueueing lazy blocks makes searches across pools start at LAZYINIT.
   */
  enqueueContig(m: number, pool: number, npages: number): void {
    if (npages <= 0) return;
    const seg = this.segOfIndex(m);
    if (m + npages > this.segtab.first[seg] + this.segtab.count[seg]) {
      throw new PagelabError('EINVARIANT', `enqueueContig: range at ${hex(this.pageToPa(m))} of ${npages} pages spans segments`);
    }
    const lazy = pool === VM_FREEPOOL_LAZYINIT;
    if (lazy) {
      this.lazy.reserve(2 * this.nfreeorder);
      this.freepool = VM_FREEPOOL_LAZYINIT;
    }
    const lo = this.segtab.pfnLo[seg];
    const base = this.segtab.first[seg];
    const maxOrder = this.maxOrder;
    const q0 = this.segtab.queueBase[seg] + pool * this.nfreeorder;
    const lq0 = this.segtab.lazyBase[seg];
    let i = m;
    const end = m + npages;
    while (i < end) {
      const order = this.largestBlockOrder((lo + (i - base)) | 0, end - i);
      if (lazy) {
        // The long middle of a boot range is a run of largest-order blocks.
        const run = order === maxOrder ? Math.floor((end - i) / 2 ** maxOrder) : 1;
        this.lazy.addRun(i, lq0 + order, order, run);
        i += run * 2 ** order;
      } else {
        this.queues.add(q0 + order, i, order, pool, true);
        this.joinFree(i, 2 ** order);
        i += 2 ** order;
      }
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

  // ------------------------------------------------------------ allocation

  private checkDomain(domain: number): void {
    if (!(domain >= 0 && domain < this.ndomains && (domain | 0) === domain)) {
      throw new PagelabError('EINVAL', `domain ${domain} is out of range (machine has ${this.ndomains})`);
    }
  }

  private checkPool(pool: number): void {
    if (pool !== VM_FREEPOOL_DEFAULT && pool !== VM_FREEPOOL_DIRECT) {
      throw new PagelabError('EINVAL', `pool ${pool} is not an allocation pool (DEFAULT=${VM_FREEPOOL_DEFAULT}, DIRECT=${VM_FREEPOOL_DIRECT})`);
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
    if (n === 1) a[m] = ASTATE_ALLOCATED;
    else a.fill(ASTATE_ALLOCATED, m, m + n);
    this.zeroFreeCount -= this.countZero(m, n);
  }

  /* Pages of [m, m + n) with PG_ZERO. */
  countZero(m: number, n: number): number {
    const f = this.pages.flags;
    if (n === 1) return (f[m] & PG_ZERO) !== 0 ? 1 : 0;
    let z = 0;
    for (let i = m; i < m + n; i++) if ((f[i] & PG_ZERO) !== 0) z++;
    return z;
  }

  /*
   * vm_phys_alloc_pages: allocate a free block of 2^order pages from
   * `domain`, trying the free lists DEFAULT, DMA32, LOWMEM in turn.
   * Returns the head page, or -1 when no block is free. With VM_ALLOC_ZERO
   * in `req`, the block reads as zero.
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
        this.verifyZero(i, 1, 'PG_ZERO page');
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
   * Under INVARIANTS with backing memory, fail with ENOTZERO naming the range
   * unless [m, m + n) reads as zero; otherwise do nothing. `what` says who
   * claimed the pages zero.
   */
  private verifyZero(m: number, n: number, what: string): void {
    if (!this.invariants || this.isZeroHook === null) return;
    const pa = this.pageToPa(m);
    if (!this.isZeroHook(pa, n * PAGE_SIZE)) throw new PagelabError('ENOTZERO', `${what} [${hex(pa)}, ${hex(pa + n * PAGE_SIZE)}) is not zero`);
  }

  /*
   * allocPages without argument checks or the lock count: the hot-path twin.
   * Requires: a valid domain, an allocation pool and 0 <= order <= maxOrder.
   */
  allocPagesUnsafe(domain: number, pool: number, order: number): number {
    // The common case first, small enough to inline into callers: the queue
    // of the right order on the first free list has a block. Same work
    // counted as the general path.
    const q = this.firstQueue[domain] + pool * this.nfreeorder + order;
    const h = this.queues.head[q];
    if (h === NIL || order !== 0) return this.allocPagesSearch(domain, pool, order);
    this.work[Work.QueueHeadVisit]++;
    this.queues.rem(q, h);
    this.pages.astate[h] = ASTATE_ALLOCATED;
    if ((this.pages.flags[h] & PG_ZERO) !== 0) this.zeroFreeCount--;
    return h;
  }

  /* allocPagesUnsafe past its order-0 fast path: each free list in turn, splitting and falling back. */
  private allocPagesSearch(domain: number, pool: number, order: number): number {
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
   * unused halves going back to `pool`; failing that, takeFallback's block.
   */
  private allocFlindUnsafe(domain: number, flind: number, pool: number, order: number): number {
    const nfo = this.nfreeorder;
    const base = this.queueIndex(domain, flind, 0, 0);
    const q0 = base + pool * nfo;
    const w = this.work;
    for (let oind = order; oind < nfo; oind++) {
      w[Work.QueueHeadVisit]++;
      const m = this.queues.head[q0 + oind];
      if (m !== NIL) {
        this.queues.rem(q0 + oind, m);
        this.splitPages(m, oind, q0, order, pool);
        return m;
      }
    }
    const m = this.takeFallback(domain, flind, order, this.maxOrder);
    if (m >= 0) this.splitPages(m, this.takenOrder, q0, order, pool);
    return m;
  }

  /*
   * The cross-pool fallback of vm_phys_alloc_freelist_pages and
   * vm_phys_alloc_npages: the largest block of order in [minOrder, fromOrder]
   * on any pool from vm_default_freepool on (lazy blocks initialised as they
   * are taken), off its queue. Returns its head page, or -1; its order is in
   * takenOrder. The caller moves it to its own pool.
   */
  private takeFallback(domain: number, flind: number, minOrder: number, fromOrder: number): number {
    const nfo = this.nfreeorder;
    const base = this.queueIndex(domain, flind, 0, 0);
    const lq0 = this.lazy.queue(domain, flind, 0);
    const w = this.work;
    for (let oind = fromOrder; oind >= minOrder; oind--) {
      for (let pind = this.freepool; pind < VM_NFREEPOOL; pind++) {
        w[Work.QueueHeadVisit]++;
        let m: number;
        if (pind === VM_FREEPOOL_LAZYINIT) {
          const id = this.lazy.first(lq0 + oind);
          if (id < 0) continue;
          m = this.lazyTake(lq0 + oind, id);
        } else {
          const q = base + pind * nfo + oind;
          m = this.queues.head[q];
          if (m === NIL) continue;
          this.queues.rem(q, m);
        }
        this.takenOrder = oind;
        return m;
      }
    }
    return -1;
  }

  /*
   * vm_phys_split_pages: keep the lower 2^order pages of block [m, m + 2^oind)
   * and free the upper halves to queues q0 + k, at the tail (the lower-order
   * queues are known to be empty).
   */
  private splitPages(m: number, oind: number, q0: number, order: number, pool: number): void {
    while (oind > order) {
      oind--;
      this.queues.add(q0 + oind, m + (1 << oind), oind, pool, true);
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
      const q0 = this.queueIndex(domain, flind, pool, 0);
      for (let oind = 0; oind < nfo; oind++) {
        this.work[Work.QueueHeadVisit]++;
        let m: number;
        while ((m = this.queues.head[q0 + oind]) !== NIL) {
          this.queues.rem(q0 + oind, m);
          i = this.takeRun(m, oind, npages, i, out, q0, pool);
          if (i === npages) return i;
        }
      }
      let from = this.maxOrder;
      let m: number;
      while ((m = this.takeFallback(domain, flind, 0, from)) >= 0) {
        from = this.takenOrder;
        i = this.takeRun(m, from, npages, i, out, q0, pool);
        if (i === npages) return i;
      }
    }
    return i;
  }

  /* Hand out pages of block [m, m + 2^oind) until `npages`; return the excess to `pool`. */
  private takeRun(m: number, oind: number, npages: number, i: number, out: Uint32Array | Float64Array | number[], q0: number, pool: number): number {
    const avail = i + (1 << oind);
    const end = Math.min(npages, avail);
    const a = this.pages.astate;
    const f = this.pages.flags;
    let z = 0;
    while (i < end) {
      a[m] = ASTATE_ALLOCATED;
      if ((f[m] & PG_ZERO) !== 0) z++;
      out[i++] = m++;
    }
    this.zeroFreeCount -= z;
    if (i === npages && avail > i) this.queues.addRange(m, avail - i, q0, pool, true);
    return i;
  }

  // ------------------------------------------------------------ free

  /*
   * Free [m, m + 2^order), which the caller allocated, to `pool` (DEFAULT
   * when omitted); `knownZero` is vm_page_free_zero's promise that the pages
   * are zero (checked under INVARIANTS with backing memory). Every page must
   * be allocated: a page that is free, never initialised, reserved at boot
   * (see bootstrapFree) or outside the machine is an error naming its
   * address, and nothing is changed.
   */
  freePages(m: number, order: number, pool: number = VM_FREEPOOL_DEFAULT, knownZero = false): void {
    this.checkOrder(order);
    this.checkPool(pool);
    // An allocated single page is the common case: validate it without the range walk.
    if (!(order === 0 && m >= 0 && m < this.npages && this.pages.astate[m] === ASTATE_ALLOCATED)) this.checkAllocatedRange(m, 2 ** order, 'freePages');
    this.work[Work.Lock]++;
    if (knownZero) this.verifyZero(m, 1 << order, 'freed as zero, but');
    this.freePagesFast(m, order, pool, knownZero);
  }

  /*
   * freePages without validation: the hot-path twin. Requires: [m, m + 2^order)
   * was allocated and is wholly owned by the caller.
   */
  freePagesFast(m: number, order: number, pool: number = VM_FREEPOOL_DEFAULT, knownZero = false): void {
    if (order !== 0) return this.freeBlockFast(m, order, pool, knownZero);
    const p = this.pages;
    p.astate[m] = ASTATE_FREE;
    // joinFree for one page, written out: the pair loops inline this path only without the extra call.
    if (knownZero) {
      p.flags[m] |= PG_ZERO;
      this.zeroFreeCount++;
    } else {
      p.flags[m] &= ~PG_ZERO;
      if (this.dirty !== null) this.dirty.push(m);
    }
    this.enqueueFree(m, pool, 0);
  }

  /* freePagesFast of a block of order > 0: every page marked free and its PG_ZERO set or cleared. */
  private freeBlockFast(m: number, order: number, pool: number, knownZero: boolean): void {
    const p = this.pages;
    const end = m + (1 << order);
    p.astate.fill(ASTATE_FREE, m, end);
    for (let i = m; i < end; i++) p.flags[i] = knownZero ? p.flags[i] | PG_ZERO : p.flags[i] & ~PG_ZERO;
    this.freePagesUnsafe(m, pool, order);
  }

  /* Every page of [m, m + n) is allocated and in one segment, or a typed error naming the first that is not. */
  private checkAllocatedRange(m: number, n: number, what: string): void {
    if (!Number.isInteger(m) || m < 0 || m + n > this.npages) {
      throw new PagelabError('ENOTALLOC', `${what}: page ${m} (+${n}) is outside the machine's ${this.npages} pages`);
    }
    const seg = this.segOfIndex(m);
    if (m + n > this.segtab.first[seg] + this.segtab.count[seg]) {
      throw new PagelabError('ENOTALLOC', `${what}: range at ${hex(this.pageToPa(m))} of ${n} pages crosses the end of its segment`);
    }
    const a = this.pages.astate;
    for (let i = m; i < m + n; i++) {
      if (a[i] === ASTATE_ALLOCATED) continue;
      const pa = hex(this.pageToPa(i));
      if (a[i] === ASTATE_RESERVED) {
        throw new PagelabError('ERESERVED', `${what}: page ${pa} is outside phys_avail (reserved at boot); return boot memory with bootstrapFree`);
      }
      if (this.pages.pool[i] !== VM_FREEPOOL_LAZYINIT && this.containingFreeBlock(i) >= 0) {
        throw new PagelabError('EDOUBLEFREE', `${what}: page ${pa} is not allocated (already free)`);
      }
      throw new PagelabError('ENOTALLOC', `${what}: page ${pa} is not allocated`);
    }
  }

  /*
   * vm_phys_free_pages: free block [m, m + 2^order) to `pool`, merging with
   * free buddies of equal order (of any pool, lazy ones included, which are
   * initialised as they merge); its PG_ZERO pages join zeroFreeCount.
   * Requires: the pages are initialised, on no queue, and marked not
   * allocated.
   */
  freePagesUnsafe(m: number, pool: number, order: number): void {
    this.joinFree(m, 1 << order);
    this.enqueueFree(m, pool, order);
  }

  /* Pages [m, m + n) join the free set as they are: PG_ZERO ones counted, the others on the dirty list. */
  private joinFree(m: number, n: number): void {
    const z = this.countZero(m, n);
    this.zeroFreeCount += z;
    if (this.dirty !== null && z < n) {
      const f = this.pages.flags;
      for (let i = m; i < m + n; i++) if ((f[i] & PG_ZERO) === 0) this.dirty.push(i);
    }
  }

  /* freePagesUnsafe for pages that have already joined the free set (lazyTake's). */
  private enqueueFree(m: number, pool: number, order: number): void {
    const porder = this.pages.order;
    const ppool = this.pages.pool;
    // The segment from the few-entry table, not from the page's record: one
    // cache miss less on a cold page, and the buddy's address does not wait for it.
    if (!(m >= this.lastSegFirst && m < this.lastSegEnd)) this.cacheSeg(this.segtab.of(m));
    const first = this.lastSegFirst;
    const end = this.lastSegEnd;
    const delta = this.lastSegDelta;
    const qbase = this.lastSegQueue;
    const s = this.lastSeg;
    const nfo = this.nfreeorder;
    const maxOrder = this.maxOrder;
    const queues = this.queues;
    // Read once: a lazy merge that takes the last lazy block leaves a stale
    // true, which only costs mergeLazy's lookup (it then finds no block).
    const lazyLive = this.lazy.live !== 0;
    let merges = 0;
    while (order < maxOrder) {
      const bit = 1 << order;
      const b = ((m + delta) & bit) !== 0 ? m - bit : m + bit;
      if (b < first || b >= end) break;
      // A free head of this order, or (an all-zero record reads order 0 and
      // pool LAZYINIT) perhaps a lazy block: the pool is read only then.
      const bo = porder[b];
      if (bo === order) {
        const bp = ppool[b];
        if (bp !== VM_FREEPOOL_LAZYINIT) queues.rem(qbase + bp * nfo + order, b);
        else if (!lazyLive || !this.mergeLazy(b, s, order)) break;
      } else if (!lazyLive || bo !== 0 || ppool[b] !== VM_FREEPOOL_LAZYINIT || !this.mergeLazy(b, s, order)) break;
      merges++;
      order++;
      if (b < m) m = b;
    }
    if (merges !== 0) this.work[Work.Merge] += merges;
    queues.add(qbase + pool * nfo + order, m, order, pool, true);
    this.lastFreedHead = m;
    this.lastFreedOrder = order;
  }

  /* Make segment `s` the one freePagesUnsafe tries first. */
  private cacheSeg(s: number): void {
    const t = this.segtab;
    this.lastSeg = s;
    this.lastSegFirst = t.first[s];
    this.lastSegEnd = t.end[s];
    this.lastSegDelta = t.pfnDelta[s];
    this.lastSegQueue = t.queueBase[s];
  }

  /*
   * The buddy `b` of a block being freed reads as never initialised: if it
   * heads a lazy block of `order` in segment `s`, take that block (it is
   * initialised) and return true; otherwise false.
   */
  private mergeLazy(b: number, s: number, order: number): boolean {
    const id = this.lazy.blockAt(b);
    if (id < 0 || this.lazy.orderOf(id) !== order) return false;
    this.lazyTake(this.segtab.lazyBase[s] + order, id);
    return true;
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
    this.releaseRange(m, npages, pool);
  }

  /*
   * kmem_bootstrap_free: give pages that boot kept out of phys_avail
   * (ASTATE_RESERVED: the kernel image, firmware tables, holes) to the
   * allocator, as FreeBSD does for boot-time memory it no longer needs.
   * The checked frees refuse these pages, so this is the only way in. Every
   * page of [m, m + npages) must be reserved and in one segment, or a typed
   * error names the first that is not and nothing changes.
   */
  bootstrapFree(m: number, npages: number): void {
    if (!Number.isInteger(npages) || npages <= 0) throw new PagelabError('EINVAL', `bootstrapFree: ${npages} pages`);
    if (!Number.isInteger(m) || m < 0 || m + npages > this.npages) {
      throw new PagelabError('ERANGE', `bootstrapFree: page ${m} (+${npages}) is outside the machine's ${this.npages} pages`);
    }
    const seg = this.segOfIndex(m);
    if (m + npages > this.segtab.first[seg] + this.segtab.count[seg]) {
      throw new PagelabError('EINVAL', `bootstrapFree: range at ${hex(this.pageToPa(m))} of ${npages} pages crosses the end of its segment`);
    }
    const a = this.pages.astate;
    for (let i = m; i < m + npages; i++) {
      if (a[i] !== ASTATE_RESERVED) throw new PagelabError('EINVAL', `bootstrapFree: page ${hex(this.pageToPa(i))} was not reserved at boot`);
    }
    this.work[Work.Lock]++;
    this.releaseRange(m, npages, VM_FREEPOOL_DEFAULT);
  }

  /*
   * Mark [m, m + npages) free and not known zero, and free it as maximal
   * aligned blocks; freeing each with merging gives the same free set as
   * FreeBSD's middle-enqueue-then-ends order. Requires: the pages are
   * initialised, in one segment, on no queue and owned by the caller.
   */
  private releaseRange(m: number, npages: number, pool: number): void {
    const end = m + npages;
    this.pages.astate.fill(ASTATE_FREE, m, end);
    const flags = this.pages.flags;
    for (let i = m; i < end; i++) flags[i] &= ~PG_ZERO;
    const seg = this.segOfIndex(m);
    const lo = this.segtab.pfnLo[seg];
    const base = this.segtab.first[seg];
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
    const run = findContig(this, domain, npages, low, high, alignment, boundary);
    if (run < 0) return -1;
    takeRange(this, run, npages);
    this.markAllocated(run, npages);
    if ((req & VM_ALLOC_ZERO) !== 0) this.zeroPages(run, npages);
    const pa = this.pageToPa(run);
    kassert(low <= pa && pa + npages * PAGE_SIZE <= high && addrOk(pa, npages * PAGE_SIZE, alignment, boundary), () => `allocContig: run at ${hex(pa)} violates its constraints`);
    return run;
  }

  // ------------------------------------------------------------ unfree

  /*
   * vm_phys_unfree_page: take the page at `pa` out of the free lists (to
   * blacklist bad memory). Drains its domain's LAZYINIT pool first. Returns
   * false when the page is not free. The page is then allocated.
   */
  unfreePage(pa: number): boolean {
    return unfreePage(this, pa);
  }

  /*
   * The head of the initialised free block containing page `m`, or -1:
   * walk up the aligned ancestors of `m` until one is a free head whose
   * block covers `m`.
   */
  containingFreeBlock(m: number): number {
    return containingFreeBlock(this, m);
  }

  // ------------------------------------------------------------ pre-zeroing

  /*
   * For the pre-zeroer: take off the free queues a free block of `domain`
   * (DEFAULT or DIRECT pool) holding a page that is not known to be zero,
   * examining at most `maxScan` entries of the dirty list. Its pages are
   * marked ASTATE_ZEROING, so they can be neither handed out nor freed until
   * returnZeroedBlock. Returns the head or -1; the order and pool are written
   * to out[0], out[1].
   * Cost: the first call seeds the dirty list from every free block (once);
   * from then on each freed dirty page is pushed once, and an entry costs
   * O(1) to discard (its page is allocated or already zero again) or
   * O(VM_NFREEORDER) to find its block. A background pass over a large
   * machine thus costs O(pages dirtied), not O(free blocks) per block taken.
   */
  takeBlockForZeroing(domain: number, maxScan: number, out: Int32Array): number {
    this.checkDomain(domain);
    const p = this.pages;
    const dirty = this.dirtyList();
    for (let scanned = 0; scanned < maxScan; scanned++) {
      const i = dirty.pop(domain);
      if (i < 0) return -1;
      // Allocated, cached or being zeroed: pushed again when it is freed dirty.
      if (p.astate[i] !== ASTATE_FREE || (p.flags[i] & PG_ZERO) !== 0) continue;
      const m = this.containingFreeBlock(i);
      if (m < 0) continue;
      const o = p.order[m];
      const pool = p.pool[m];
      this.work[Work.Lock]++;
      this.queues.rem(this.segtab.queueBase[p.segind[m]] + pool * this.nfreeorder + o, m);
      p.astate.fill(ASTATE_ZEROING, m, m + (1 << o));
      this.zeroFreeCount -= this.countZero(m, 1 << o);
      out[0] = o;
      out[1] = pool;
      return m;
    }
    return -1;
  }

  /* The dirty list, created on first use and seeded with every free page not known to be zero. */
  private dirtyList(): DirtyList {
    if (this.dirty === null) {
      const d = new DirtyList(this.pages.flags, this.ndomains, (m) => this.segtab.domain[this.pages.segind[m]]);
      const f = this.pages.flags;
      this.forEachFreeBlock((m, o) => {
        for (let i = m; i < m + (1 << o); i++) if ((f[i] & PG_ZERO) === 0) d.push(i);
      }, false);
      this.dirty = d;
    }
    return this.dirty;
  }

  /** Entries on the dirty list (stale ones included); 0 before the pre-zeroer first ran. */
  dirtyListLength(): number {
    return this.dirty === null ? 0 : this.dirty.length();
  }

  /*
   * __isolate_free_page for free page reporting: take the free block headed
   * by `m` (DEFAULT or DIRECT pool) off its queue and mark its pages
   * ASTATE_ZEROING, as takeBlockForZeroing does. Returns its order, or -1
   * when `m` is not the head of an initialised free block.
   */
  isolateFreeBlock(m: number): number {
    const p = this.pages;
    if (!(m >= 0 && m < this.npages) || p.astate[m] !== ASTATE_FREE || p.pool[m] === VM_FREEPOOL_LAZYINIT || p.order[m] >= this.nfreeorder) return -1;
    const o = p.order[m];
    this.work[Work.Lock]++;
    this.queues.rem(this.segtab.queueBase[p.segind[m]] + p.pool[m] * this.nfreeorder + o, m);
    p.astate.fill(ASTATE_ZEROING, m, m + (1 << o));
    this.zeroFreeCount -= this.countZero(m, 1 << o);
    return o;
  }

  /** Head of the first free block on queue [domain][flind][pool][order], or -1 (lazy queues excluded). */
  queueFirst(domain: number, flind: number, pool: number, order: number): number {
    if (pool === VM_FREEPOOL_LAZYINIT) return -1;
    const h = this.queues.head[this.queueIndex(domain, flind, pool, order)];
    return h === NIL ? -1 : h;
  }

  /** The block after free head `m` on its queue, or -1. */
  queueNext(m: number): number {
    const n = this.pages.next[m];
    return n === NIL ? -1 : n;
  }

  /*
   * Free page reporting on for blocks of `minOrder` and up, or off
   * (Infinity): a block that leaves a free queue (allocated, split, or merged
   * into its buddy) then loses PG_REPORTED, as Linux's del_page_from_free_list
   * clears PageReported. Smaller blocks are never reported, so their
   * removals skip the flag test.
   */
  setReporting(minOrder: number): void {
    this.queues.reportingMinOrder = minOrder;
  }

  get reporting(): boolean {
    return this.queues.reportingMinOrder <= this.maxOrder;
  }

  /** Reported blocks whose PG_REPORTED was lost that way. */
  get reportedLost(): number {
    return this.queues.reportedLost;
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
      p.astate[i] = ASTATE_FREE;
      p.flags[i] |= PG_ZERO;
    }
    this.work[Work.Lock]++;
    this.freePagesUnsafe(m, pool, order);
  }

  /** Free pages known to be zero (PG_ZERO), lazy pages excluded: zeroFreeCount, O(1). */
  zeroFreePages(): number {
    return this.zeroFreeCount;
  }

  // ------------------------------------------------------------ views

  /** Number of free blocks on queue [domain][flind][pool][order]. */
  queueCount(domain: number, flind: number, pool: number, order: number): number {
    if (pool === VM_FREEPOOL_LAZYINIT) return this.lazy.count(this.lazy.queue(domain, flind, order));
    return this.queues.count[this.queueIndex(domain, flind, pool, order)];
  }

  /*
   * Free pages of `domain`, lazy pool included: kept by the queue operations,
   * so that the page layer's vm_domain_allocate can read it per page (the
   * checker recounts it from the queues).
   */
  domainFreePages(domain: number): number {
    return this.queues.domainPages[domain] + this.lazy.pending(domain);
  }

  /** Free pages in all domains. */
  totalFree(): number {
    let t = 0;
    for (let d = 0; d < this.ndomains; d++) t += this.domainFreePages(d);
    return t;
  }

  /*
   * Visits every free block: (head page, order, pool, domain, flind). Lazy
   * blocks are visited with pool LAZYINIT unless `lazy` is false (a lazy 1 TiB
   * machine holds 65536 of them: callers that skip them should not walk them).
   * For reports, tests and the checker.
   */
  forEachFreeBlock(fn: (m: number, order: number, pool: number, domain: number, flind: number) => void, lazy = true): void {
    for (let d = 0; d < this.ndomains; d++) {
      for (let fl = 0; fl < this.nfreelists; fl++) {
        for (let pool = 0; pool < VM_NFREEPOOL; pool++) {
          for (let o = 0; o < this.nfreeorder; o++) {
            if (pool === VM_FREEPOOL_LAZYINIT) {
              if (!lazy) continue;
              this.lazy.forEachIn(this.lazy.queue(d, fl, o), (m, order) => fn(m, order, pool, d, fl));
            } else {
              this.queues.forEachIn(this.queueIndex(d, fl, pool, o), (m) => fn(m, o, pool, d, fl));
            }
          }
        }
      }
    }
  }

  /*
   * For the checker: queue [domain][flind][pool][order] as head pages, walked
   * forward and backward (the backward walk reversed), each cut off past more
   * members than the machine could hold, so a cycle cannot hang it.
   */
  queueMembers(domain: number, flind: number, pool: number, order: number): { members: number[]; reverse: number[] } {
    const limit = this.npages + 1;
    if (pool === VM_FREEPOOL_LAZYINIT) return this.lazy.members(this.lazy.queue(domain, flind, order), limit);
    return this.queues.members(this.queueIndex(domain, flind, pool, order), limit);
  }
}
