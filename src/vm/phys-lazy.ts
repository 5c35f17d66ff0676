/**
 * The LAZYINIT pool of review D40403, as vm_phys keeps it: free blocks whose
 * page records were never written.
 *
 * This is the one place where pagelab departs in representation from
 * FreeBSD. FreeBSD writes the first page record of each lazy free block and
 * queues it like any free head; in a 1 TiB machine that is 65536 records
 * spread over the whole page array, and on this host every first touch of
 * fresh memory costs microseconds. So a lazy block is a small descriptor
 * here (head page, order, queue links), which is what FreeBSD's head record
 * holds, on queues of its own per [domain][flind][order]; the page records of
 * a lazy block stay all zero (reading as pool LAZYINIT) until the block
 * leaves the pool and vm_phys_finish_init writes them all (Phys does that).
 *
 * A descriptor of the largest order may stand for a run of consecutive
 * blocks (the long middle of a boot range): taking from it takes its first
 * block and advances it, so a 1 TiB boot writes a few dozen descriptors, not
 * 65536. Nothing ever merges into a largest-order block, so runs are never
 * looked up by address. Smaller blocks have a descriptor each, registered in
 * a chunk index by head page, so that a buddy being freed can find the lazy
 * block it merges with (vm_phys_free_pages reads the buddy's head record,
 * which a descriptor stands in for). Descriptors are numbered by creation
 * and never reused; one whose blocks are all taken stays dead.
 */
import { kassert } from '../errors.js';
import { Work, type WorkCounters } from './counters.js';

/** "No block" in descriptor links and queue heads. */
const NONE = -1;

export class LazyBlocks {
  private readonly nfreelists: number;
  private readonly nfreeorder: number;
  private readonly work: WorkCounters;

  // Descriptors, indexed by id.
  private head: Uint32Array = new Uint32Array(64);
  /** Blocks the descriptor stands for: 1, or more for a run of largest-order blocks. */
  private runLength: Uint32Array = new Uint32Array(64);
  private order: Uint8Array = new Uint8Array(64);
  private next: Int32Array = new Int32Array(64);
  private prev: Int32Array = new Int32Array(64);
  private chunkNext: Int32Array = new Int32Array(64);
  private liveFlag: Uint8Array = new Uint8Array(64);
  private created = 0;
  /** Blocks ever added. */
  private blocksAdded = 0;
  /** Live (not yet taken) blocks. */
  private nlive = 0;

  // Queues of descriptors, indexed by queue(domain, flind, order); counts are in blocks.
  private readonly qHead: Int32Array;
  private readonly qTail: Int32Array;
  private readonly qCount: Int32Array;

  // Chunk index: chunkFirst[head >>> chunkShift] starts a list through chunkNext.
  private readonly chunkFirst: Int32Array;
  private readonly chunkShift: number;
  private readonly pendingPages: Float64Array;

  constructor(npages: number, ndomains: number, nfreelists: number, nfreeorder: number, work: WorkCounters) {
    this.nfreelists = nfreelists;
    this.nfreeorder = nfreeorder;
    this.work = work;
    const nq = ndomains * nfreelists * nfreeorder;
    this.qHead = new Int32Array(nq).fill(NONE);
    this.qTail = new Int32Array(nq).fill(NONE);
    this.qCount = new Int32Array(nq);
    this.pendingPages = new Float64Array(ndomains);
    this.chunkShift = nfreeorder - 1;
    this.chunkFirst = new Int32Array(Math.floor(npages / 2 ** this.chunkShift) + 1).fill(NONE);
  }

  /** Index of the lazy queue [domain][flind][order]. */
  queue(domain: number, flind: number, order: number): number {
    return (domain * this.nfreelists + flind) * this.nfreeorder + order;
  }

  private domainOfQueue(q: number): number {
    return Math.floor(q / (this.nfreelists * this.nfreeorder));
  }

  /** Make room for `more` blocks beyond those existing. */
  reserve(more: number): void {
    const need = this.created + more;
    if (need <= this.head.length) return;
    let n = this.head.length * 2;
    while (n < need) n *= 2;
    const grow = <T extends Uint32Array | Uint8Array | Int32Array>(a: T, ctor: new (n: number) => T): T => {
      const b = new ctor(n);
      b.set(a);
      return b;
    };
    this.head = grow(this.head, Uint32Array);
    this.runLength = grow(this.runLength, Uint32Array);
    this.order = grow(this.order, Uint8Array);
    this.next = grow(this.next, Int32Array);
    this.prev = grow(this.prev, Int32Array);
    this.chunkNext = grow(this.chunkNext, Int32Array);
    this.liveFlag = grow(this.liveFlag, Uint8Array);
  }

  /*
   * Add the block [m, m + 2^order) at the tail of lazy queue `q`. Touches no
   * page record. Requires: the block is aligned, inside the queue's segment,
   * and overlaps no other free block.
   */
  add(m: number, q: number, order: number): void {
    this.addRun(m, q, order, 1);
  }

  /*
   * Add `count` consecutive blocks of `order`, the first at page `m`, in
   * address order at the tail of queue `q`: one descriptor for the whole run
   * when `order` is the largest, else one per block.
   */
  addRun(m: number, q: number, order: number, count: number): void {
    if (count <= 0) return;
    const isRun = order === this.nfreeorder - 1;
    const ndesc = isRun ? 1 : count;
    this.reserve(ndesc);
    const first = this.created;
    const end = first + ndesc;
    const step = 2 ** order;
    for (let id = first, pg = m; id < end; id++, pg += step) {
      this.head[id] = pg;
      this.next[id] = id + 1;
      this.prev[id] = id - 1;
      this.runLength[id] = isRun ? count : 1;
      if (!isRun) {
        const c = pg >>> this.chunkShift;
        this.chunkNext[id] = this.chunkFirst[c];
        this.chunkFirst[c] = id;
      }
    }
    this.order.fill(order, first, end);
    this.liveFlag.fill(1, first, end);
    const t = this.qTail[q];
    this.next[end - 1] = NONE;
    this.prev[first] = t;
    if (t === NONE) this.qHead[q] = first;
    else this.next[t] = first;
    this.qTail[q] = end - 1;
    this.qCount[q] += count;
    this.created = end;
    this.blocksAdded += count;
    this.nlive += count;
    this.pendingPages[this.domainOfQueue(q)] += count * step;
    this.work[Work.QueueInsert] += count;
  }

  /** The first block on queue `q`, or -1. */
  first(q: number): number {
    return this.qHead[q];
  }

  /*
   * Take the first block of descriptor `id` off queue `q` and return its
   * head page; a run moves on to its next block, anything else is unlinked
   * and dead from then on. Requires: `id` is live and on `q`.
   */
  take(q: number, id: number): number {
    kassert(this.liveFlag[id] === 1, () => `LazyBlocks.take: block ${id} at page ${this.head[id]} is not live`);
    const m = this.head[id];
    const step = 2 ** this.order[id];
    if (this.runLength[id] > 1) {
      this.runLength[id]--;
      this.head[id] = m + step;
    } else {
      const n = this.next[id];
      const pr = this.prev[id];
      if (pr === NONE) this.qHead[q] = n;
      else this.next[pr] = n;
      if (n === NONE) this.qTail[q] = pr;
      else this.prev[n] = pr;
      this.liveFlag[id] = 0;
    }
    this.qCount[q]--;
    this.nlive--;
    this.pendingPages[this.domainOfQueue(q)] -= step;
    this.work[Work.QueueRemove]++;
    return m;
  }

  /** The live descriptor of the block whose head is page `m` and whose order is below the largest, or -1. */
  blockAt(m: number): number {
    if (this.nlive === 0) return NONE;
    for (let id = this.chunkFirst[m >>> this.chunkShift]; id !== NONE; id = this.chunkNext[id]) {
      if (this.head[id] === m && this.liveFlag[id] === 1) return id;
    }
    return NONE;
  }

  /** Order of the blocks of descriptor `id`. */
  orderOf(id: number): number {
    return this.order[id];
  }

  /** Blocks on queue `q`. */
  count(q: number): number {
    return this.qCount[q];
  }

  /** Live blocks in all queues. */
  get live(): number {
    return this.nlive;
  }

  /** Blocks ever added. */
  get everAdded(): number {
    return this.blocksAdded;
  }

  /** Pages in the pool of `domain`. */
  pending(domain: number): number {
    return this.pendingPages[domain];
  }

  /** Visits the blocks of queue `q` head first: (head page, order). */
  forEachIn(q: number, fn: (m: number, order: number) => void): void {
    for (let id = this.qHead[q]; id !== NONE; id = this.next[id]) {
      const step = 2 ** this.order[id];
      for (let k = 0; k < this.runLength[id]; k++) fn(this.head[id] + k * step, this.order[id]);
    }
  }

  /*
   * For the checker: the head pages of queue `q` walked forward and
   * backward (the backward walk reversed), each cut off past `limit`.
   */
  members(q: number, limit: number): { members: number[]; reverse: number[] } {
    const members: number[] = [];
    const reverse: number[] = [];
    for (let id = this.qHead[q]; id !== NONE && members.length <= limit; id = this.next[id]) {
      for (let k = 0; k < this.runLength[id] && members.length <= limit; k++) members.push(this.head[id] + k * 2 ** this.order[id]);
    }
    for (let id = this.qTail[q]; id !== NONE && reverse.length <= limit; id = this.prev[id]) {
      for (let k = this.runLength[id] - 1; k >= 0 && reverse.length <= limit; k--) reverse.push(this.head[id] + k * 2 ** this.order[id]);
    }
    reverse.reverse();
    return { members, reverse };
  }
}
