/**
 * A second reference for the vm_phys pairs: the bare buddy (phys.bench.ts)
 * plus exactly the bookkeeping vm_phys keeps per operation, and nothing of
 * its generality (one segment, one domain, one free list, no lazy pool, no
 * checks, no segment lookup). What it keeps, as vm_phys keeps it:
 * - page state: an allocation-state byte per page (the checked free reads
 *   it), PG_ZERO cleared on free, the pool of a free block's head (a merge
 *   finds its buddy's queue from it);
 * - counters: blocks per queue, free pages per domain, and the work counts
 *   the simulated clock prices (queue inserts, removes, head visits).
 * With `counted` false the counters are skipped (one predictable branch
 * each), so that the table can split the gap to the bare buddy between page
 * state and counters. Links are uint32 with NIL = 2^32 - 1, as in vm_phys.
 */
const NIL = 0xffffffff;
const ALLOCATED = 1;
const FREE = 0;
const PG_ZERO = 1;
/* Work counter slots, as in src/vm/counters.ts. */
const QUEUE_INSERT = 0;
const QUEUE_REMOVE = 1;
const QUEUE_HEAD_VISIT = 2;

export class LeanBuddy {
  private readonly next: Uint32Array;
  private readonly prev: Uint32Array;
  private readonly order: Uint8Array;
  private readonly pool: Uint8Array;
  private readonly astate: Uint8Array;
  private readonly flags: Uint8Array;
  private readonly head: Uint32Array;
  private readonly tail: Uint32Array;
  private readonly count: Int32Array;
  private readonly domainPages = new Float64Array(1);
  private readonly qDomain: Uint8Array;
  readonly work = new Float64Array(3);

  /* Requires: npages a multiple of 2^(nfreeorder - 1). Everything starts free in `pool`. */
  constructor(
    npages: number,
    private readonly nfreeorder: number,
    npools: number,
    private readonly counted: boolean,
    pool: number,
  ) {
    this.next = new Uint32Array(npages);
    this.prev = new Uint32Array(npages);
    this.order = new Uint8Array(npages).fill(nfreeorder);
    this.pool = new Uint8Array(npages);
    this.astate = new Uint8Array(npages).fill(ALLOCATED);
    this.flags = new Uint8Array(npages);
    const nq = npools * nfreeorder;
    this.head = new Uint32Array(nq).fill(NIL);
    this.tail = new Uint32Array(nq).fill(NIL);
    this.count = new Int32Array(nq);
    this.qDomain = new Uint8Array(nq);
    const top = nfreeorder - 1;
    for (let m = 0; m < npages; m += 2 ** top) {
      this.astate.fill(FREE, m, m + 2 ** top);
      this.add(pool * nfreeorder + top, m, top, pool);
    }
  }

  private add(q: number, m: number, o: number, pool: number): void {
    const t = this.tail[q];
    this.order[m] = o;
    this.pool[m] = pool;
    this.prev[m] = t;
    this.next[m] = NIL;
    if (t === NIL) this.head[q] = m;
    else this.next[t] = m;
    this.tail[q] = m;
    if (this.counted) {
      this.count[q]++;
      this.domainPages[this.qDomain[q]] += 1 << o;
      this.work[QUEUE_INSERT]++;
    }
  }

  private rem(q: number, m: number): void {
    const n = this.next[m];
    const p = this.prev[m];
    const o = this.order[m];
    if (p === NIL) this.head[q] = n;
    else this.next[p] = n;
    if (n === NIL) this.tail[q] = p;
    else this.prev[n] = p;
    this.next[m] = NIL;
    this.prev[m] = NIL;
    this.order[m] = this.nfreeorder;
    if (this.counted) {
      this.domainPages[this.qDomain[q]] -= 1 << o;
      this.count[q]--;
      this.work[QUEUE_REMOVE]++;
    }
  }

  /* A block of 2^order pages from `pool`, or -1. */
  alloc(pool: number, order: number): number {
    const nfo = this.nfreeorder;
    for (let o = order; o < nfo; o++) {
      const q = pool * nfo + o;
      if (this.counted) this.work[QUEUE_HEAD_VISIT]++;
      const m = this.head[q];
      if (m === NIL) continue;
      this.rem(q, m);
      while (o > order) {
        o--;
        this.add(pool * nfo + o, m + (1 << o), o, pool);
      }
      if (order === 0) this.astate[m] = ALLOCATED;
      else this.astate.fill(ALLOCATED, m, m + (1 << order));
      return m;
    }
    return -1;
  }

  /* Requires: [m, m + 2^order) was allocated. */
  free(m: number, order: number, pool: number): void {
    const end = m + (1 << order);
    for (let i = m; i < end; i++) {
      this.astate[i] = FREE;
      this.flags[i] &= ~PG_ZERO;
    }
    const nfo = this.nfreeorder;
    while (order < nfo - 1) {
      const b = m ^ (1 << order);
      if (this.order[b] !== order) break;
      this.rem(this.pool[b] * nfo + order, b);
      m &= ~(1 << order);
      order++;
    }
    this.add(pool * nfo + order, m, order, pool);
  }
}
