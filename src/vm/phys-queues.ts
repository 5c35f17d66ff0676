/**
 * The free queues of initialised blocks, vm_phys.c's vm_freelist_add and
 * vm_freelist_rem: one index-linked list per [domain][flind][pool][order],
 * threaded through the page array's next/prev fields, with head, tail and
 * count in typed arrays. A block on a queue is named by its head page, whose
 * record says its order and pool.
 *
 * The LAZYINIT slots exist so that one index formula serves every pool, but
 * stay empty: lazy blocks are on LazyBlocks' own queues (phys-lazy.ts).
 */
import { Work, type WorkCounters } from './counters.js';
import type { PageArray } from './page.js';
import { NIL, PG_REPORTED, VM_NFREEPOOL } from './param.js';

export class FreeQueues {
  private readonly pages: PageArray;
  /* The page array's link and head fields, held here so that add and rem reach them in one load. */
  private readonly next: Uint32Array;
  private readonly prev: Uint32Array;
  private readonly order: Uint8Array;
  private readonly pool: Uint8Array;
  private readonly work: WorkCounters;
  private readonly nfreelists: number;
  private readonly nfreeorder: number;
  /** First page of each queue's list, NIL when empty. */
  readonly head: Uint32Array;
  private readonly tail: Uint32Array;
  /** Blocks per queue: at most npages / 2 (buddies merge), so an Int32Array holds it. */
  readonly count: Int32Array;
  /** Pages on the queues of each domain, kept by add/rem so that vm_domain_allocate reads it per page. */
  readonly domainPages: Float64Array;
  private readonly qDomain: Uint8Array;
  /** Free page reporting: blocks of this order and up lose PG_REPORTED as they leave a queue (Phys.setReporting). */
  reportingMinOrder = Infinity;
  /** Reported blocks that lost PG_REPORTED that way. */
  reportedLost = 0;

  constructor(pages: PageArray, ndomains: number, nfreelists: number, nfreeorder: number, work: WorkCounters) {
    this.pages = pages;
    this.next = pages.next;
    this.prev = pages.prev;
    this.order = pages.order;
    this.pool = pages.pool;
    this.work = work;
    this.nfreelists = nfreelists;
    this.nfreeorder = nfreeorder;
    const nq = ndomains * nfreelists * VM_NFREEPOOL * nfreeorder;
    this.head = new Uint32Array(nq).fill(NIL);
    this.tail = new Uint32Array(nq).fill(NIL);
    this.count = new Int32Array(nq);
    this.domainPages = new Float64Array(ndomains);
    this.qDomain = new Uint8Array(nq);
    for (let q = 0; q < nq; q++) this.qDomain[q] = Math.floor(q / (nfreelists * VM_NFREEPOOL * nfreeorder));
  }

  /** Index of the queue [domain][flind][pool][order]. */
  index(domain: number, flind: number, pool: number, order: number): number {
    return ((domain * this.nfreelists + flind) * VM_NFREEPOOL + pool) * this.nfreeorder + order;
  }

  /*
   * vm_freelist_add: make `m` the head of a free block of `order` in `pool`
   * and link it into queue `q`, at its tail or its head.
   * Requires: `m` is initialised and on no queue; `q` is [..][pool][order].
   */
  add(q: number, m: number, order: number, pool: number, tail: boolean): void {
    const next = this.next;
    const prev = this.prev;
    this.order[m] = order;
    this.pool[m] = pool;
    if (tail) {
      const t = this.tail[q];
      prev[m] = t;
      next[m] = NIL;
      if (t === NIL) this.head[q] = m;
      else next[t] = m;
      this.tail[q] = m;
    } else {
      const h = this.head[q];
      next[m] = h;
      prev[m] = NIL;
      if (h === NIL) this.tail[q] = m;
      else prev[h] = m;
      this.head[q] = m;
    }
    this.count[q]++;
    this.domainPages[this.qDomain[q]] += 1 << order;
    this.work[Work.QueueInsert]++;
  }

  /*
   * vm_freelist_rem. Requires: `m` heads a free block on queue `q`.
   * Guarantees: `m` is on no queue and reads as no free head.
   */
  rem(q: number, m: number): void {
    const next = this.next;
    const prev = this.prev;
    const n = next[m];
    const pr = prev[m];
    const order = this.order[m];
    if (pr === NIL) this.head[q] = n;
    else next[pr] = n;
    if (n === NIL) this.tail[q] = pr;
    else prev[n] = pr;
    next[m] = NIL;
    prev[m] = NIL;
    this.order[m] = this.nfreeorder;
    this.domainPages[this.qDomain[q]] -= 1 << order;
    if (order >= this.reportingMinOrder) this.unreport(m);
    this.count[q]--;
    this.work[Work.QueueRemove]++;
  }

  /* A block of a reported order leaves its queue: it is no longer known reported. */
  private unreport(m: number): void {
    const flags = this.pages.flags;
    if ((flags[m] & PG_REPORTED) === 0) return;
    flags[m] &= ~PG_REPORTED;
    this.reportedLost++;
  }

  /*
   * vm_phys_enq_range: free [m, m + npages), which ends at the end of an
   * aligned power-of-two set, as blocks of increasing size on the queues
   * q0 + order of `pool`.
   */
  addRange(m: number, npages: number, q0: number, pool: number, tail: boolean): void {
    let i = m;
    let n = npages;
    while (n > 0) {
      const order = 31 - Math.clz32(n & -n);
      this.add(q0 + order, i, order, pool, tail);
      i += 1 << order;
      n -= 1 << order;
    }
  }

  /** Visits the head pages of queue `q`, first to last. */
  forEachIn(q: number, fn: (m: number) => void): void {
    const next = this.pages.next;
    for (let m = this.head[q]; m !== NIL; m = next[m]) fn(m);
  }

  /*
   * For the checker: the head pages of queue `q` walked forward and backward
   * (the backward walk reversed), each cut off past `limit`, so that a
   * cycle cannot hang it.
   */
  members(q: number, limit: number): { members: number[]; reverse: number[] } {
    const members: number[] = [];
    const reverse: number[] = [];
    for (let m = this.head[q]; m !== NIL && members.length <= limit; m = this.pages.next[m]) members.push(m);
    for (let m = this.tail[q]; m !== NIL && reverse.length <= limit; m = this.pages.prev[m]) reverse.push(m);
    reverse.reverse();
    return { members, reverse };
  }
}
