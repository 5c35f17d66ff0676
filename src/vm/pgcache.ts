/**
 * A per-domain cache of free single pages in front of vm_phys, as vm_page.c's
 * vmd_pgcache: FreeBSD serves order-0 allocations from a UMA cache zone whose
 * import and release call vm_phys_alloc_npages and vm_phys_free_pages in
 * batches, so the common single-page allocation and free take no free-queue
 * lock and touch no queue. Here the cache is a LIFO stack in a typed array:
 * a page freed is the next handed out, still warm.
 *
 * Cached pages are ASTATE_CACHED: vm_phys and the checker see them as taken,
 * the cache's caller as free. A free of a page that is not allocated (never
 * allocated, or already freed into the cache) is a typed error.
 */
import { PagelabError } from '../errors.js';
import { hex } from '../util/units.js';
import { Work } from './counters.js';
import { ASTATE_ALLOCATED, ASTATE_CACHED, PG_ZERO, VM_FREEPOOL_DEFAULT } from './param.js';
import type { Phys } from './phys.js';

export class PageCache {
  readonly phys: Phys;
  readonly domain: number;
  readonly pool: number;
  /** Pages the stack holds at most; a free beyond it releases half. */
  readonly capacity: number;
  /** Pages imported from vm_phys at a time. */
  readonly batch: number;
  private readonly stack: Uint32Array;
  private readonly importBuf: Float64Array;
  private top = 0;
  /**
   * May the cache import `n` pages? The page layer's vm_domain_allocate
   * charges an import as NORMAL allocations (vm_page_zone_import); null
   * imports whenever vm_phys has pages.
   */
  importGate: ((n: number) => boolean) | null = null;
  /** Imports and releases done (each one free-queue lock), for reports. */
  imports = 0;
  releases = 0;

  /*
   * Requires: a valid domain and pool; 1 <= batch <= capacity, batch at most
   * vm_phys's largest block.
   */
  constructor(phys: Phys, domain = 0, pool = VM_FREEPOOL_DEFAULT, capacity = 512, batch = 256) {
    if (!Number.isInteger(capacity) || capacity < 1 || !Number.isInteger(batch) || batch < 1 || batch > capacity || batch > 2 ** phys.maxOrder) {
      throw new PagelabError('EINVAL', `page cache: batch ${batch} and capacity ${capacity} must satisfy 1 <= batch <= capacity and batch <= ${2 ** phys.maxOrder}`);
    }
    if (!Number.isInteger(domain) || domain < 0 || domain >= phys.ndomains) {
      throw new PagelabError('EINVAL', `page cache: domain ${domain} is out of range (machine has ${phys.ndomains})`);
    }
    this.phys = phys;
    this.domain = domain;
    this.pool = pool;
    this.capacity = capacity;
    this.batch = batch;
    this.stack = new Uint32Array(capacity);
    this.importBuf = new Float64Array(batch);
  }

  /** Pages held. */
  get size(): number {
    return this.top;
  }

  /*
   * One page, or -1 when the cache is empty and vm_phys has none. The page
   * is allocated (ASTATE_ALLOCATED); it is not zeroed.
   */
  alloc(): number {
    if (this.top === 0 && this.import() === 0) return -1;
    const m = this.stack[--this.top];
    this.phys.pages.astate[m] = ASTATE_ALLOCATED;
    return m;
  }

  /*
   * Free one page allocated by alloc() or by vm_phys (order 0, in this
   * domain). With `knownZero` the page keeps PG_ZERO while cached and back
   * in vm_phys (vm_page_free_zero through uma_zfree keeps m->flags);
   * otherwise PG_ZERO is cleared, as vm_phys's free does.
   */
  free(m: number, knownZero = false): void {
    const p = this.phys.pages;
    if (!(m >= 0 && m < this.phys.npages) || p.astate[m] !== ASTATE_ALLOCATED) {
      const what = m >= 0 && m < this.phys.npages ? hex(this.phys.pageToPa(m)) : `index ${m}`;
      const code = m >= 0 && m < this.phys.npages && p.astate[m] === ASTATE_CACHED ? 'EDOUBLEFREE' : 'ENOTALLOC';
      throw new PagelabError(code, `page cache: free of page ${what}, which is not allocated${code === 'EDOUBLEFREE' ? ' (already in the cache)' : ''}`);
    }
    this.freeUnsafe(m, knownZero);
  }

  /* free() without the check: the hot-path twin. Requires an allocated order-0 page of this domain. */
  freeUnsafe(m: number, knownZero = false): void {
    if (this.top === this.capacity) this.release(this.capacity >> 1);
    const p = this.phys.pages;
    p.astate[m] = ASTATE_CACHED;
    if (knownZero) p.flags[m] |= PG_ZERO;
    else p.flags[m] &= ~PG_ZERO;
    this.stack[this.top++] = m;
  }

  /* Refill with up to `batch` pages from vm_phys (vm_page_zone_import). */
  private import(): number {
    if (this.importGate !== null && !this.importGate(this.batch)) return 0;
    const got = this.phys.allocNpages(this.domain, this.pool, this.batch, this.importBuf);
    const p = this.phys.pages;
    for (let i = 0; i < got; i++) {
      const m = this.importBuf[i];
      p.astate[m] = ASTATE_CACHED;
      this.stack[this.top++] = m;
    }
    this.imports++;
    return got;
  }

  /* Give the `n` oldest cached pages back to vm_phys (vm_page_zone_release). */
  release(n: number): void {
    n = Math.min(n, this.top);
    const p = this.phys.pages;
    for (let i = 0; i < n; i++) {
      const m = this.stack[i];
      p.astate[m] = ASTATE_ALLOCATED;
      this.phys.freePagesFast(m, 0, this.pool, (p.flags[m] & PG_ZERO) !== 0);
    }
    this.stack.copyWithin(0, n, this.top);
    this.top -= n;
    this.releases++;
    this.phys.work[Work.Lock]++;
  }

  /** Return every cached page to vm_phys (uma_zone_reclaim), e.g. before a contiguous search. */
  drain(): void {
    this.release(this.top);
  }
}
