/**
 * Per-domain page accounting, as FreeBSD's struct vm_domain (vm_pagequeue.h)
 * and vm_domain_allocate (vm_page.c): the free page count of each domain and
 * the thresholds that allocation classes may not dip below.
 *
 * vmd_free_count counts pages free in vm_phys plus pages free inside
 * superpage reservations; pages held by a page cache are charged when the
 * cache imports them. FreeBSD keeps it as a counter that allocations charge
 * up front; here it is derived from the allocators' own counts (vm_phys's
 * per-domain free pages and the reservations' free pages), so it cannot drift
 * from them, and vm_domain_allocate only decides whether a class may go lower.
 */
import { PagelabError } from '../errors.js';
import { VM_ALLOC_CLASS_MASK, VM_ALLOC_INTERRUPT, VM_ALLOC_SYSTEM } from './param.js';
import type { Phys } from './phys.js';

/** vm_pageout.c's defaults: pages paged out per cluster, MAXBSIZE in pages. */
const VM_PAGEOUT_PAGE_COUNT = 32;
const MAXBSIZE_PAGES = 65536 / 4096;

export class VmDomains {
  readonly phys: Phys;
  readonly ndomains: number;
  /** vmd_page_count: pages the domain manages (free at boot). */
  readonly pageCount: Float64Array;
  /** vmd_interrupt_free_min: SYSTEM allocations keep this many free for INTERRUPT. */
  readonly interruptFreeMin: Float64Array;
  /** vmd_free_reserved: NORMAL allocations keep this many free. */
  readonly freeReserved: Float64Array;
  /** vmd_free_min and vmd_free_severe: the domainset iterator skips domains below free_min. */
  readonly freeMin: Float64Array;
  readonly freeSevere: Float64Array;
  /** Pages free inside reservations, per domain; written by vm_reserv. */
  readonly reservFree: Float64Array;
  /** Allocations refused by vm_domain_allocate, per class (NORMAL, INTERRUPT, SYSTEM). */
  readonly refused = new Float64Array(3);
  /**
   * vm_phys's free pages in its initialised queues, per domain (the same
   * array, held here so vm_domain_allocate reads it without going through
   * Phys). It leaves out the lazy pool, so it is a lower bound of vm_phys's count.
   */
  private readonly queuedFree: Float64Array;

  /*
   * vm_pageout_init_domain. Requires: a booted Phys (its free pages are the
   * pages each domain manages).
   */
  constructor(phys: Phys) {
    this.phys = phys;
    this.queuedFree = phys.queues.domainPages;
    const n = phys.ndomains;
    this.ndomains = n;
    this.pageCount = new Float64Array(n);
    this.interruptFreeMin = new Float64Array(n);
    this.freeReserved = new Float64Array(n);
    this.freeMin = new Float64Array(n);
    this.freeSevere = new Float64Array(n);
    this.reservFree = new Float64Array(n);
    for (let d = 0; d < n; d++) {
      const pc = phys.domainFreePages(d);
      this.pageCount[d] = pc;
      this.interruptFreeMin[d] = 2;
      let freeMin = pc > 1024 ? 4 + Math.floor((pc - 1024) / 200) : 4;
      const pageoutFreeMin = 2 * MAXBSIZE_PAGES + 2;
      this.freeReserved[d] = VM_PAGEOUT_PAGE_COUNT + pageoutFreeMin + Math.floor(pc / 768);
      let severe = Math.floor(freeMin / 2);
      freeMin += this.freeReserved[d];
      severe += this.freeReserved[d];
      this.freeMin[d] = freeMin;
      this.freeSevere[d] = severe;
    }
  }

  /** vmd_free_count: free pages of `domain` (vm_phys queues, lazy pool and reservations). */
  freeCount(domain: number): number {
    return this.phys.domainFreePages(domain) + this.reservFree[domain];
  }

  /*
   * vm_domain_allocate: may an allocation of class `req & VM_ALLOC_CLASS_MASK`
   * take `npages` from `domain`? NORMAL keeps free_reserved pages free,
   * SYSTEM keeps interrupt_free_min, INTERRUPT may take the last page.
   * A refusal is a normal outcome (counted), never an error.
   */
  allocate(domain: number, req: number, npages: number): boolean {
    if (this.mayAllocate(domain, req, npages)) return true;
    const cls = req & VM_ALLOC_CLASS_MASK;
    this.refused[cls === 3 ? 0 : cls]++;
    return false;
  }

  /* vm_domain_allocate's decision without counting a refusal (for a fast path that falls back to one that counts). */
  mayAllocate(domain: number, req: number, npages: number): boolean {
    const cls = req & VM_ALLOC_CLASS_MASK;
    const need = npages + (cls === VM_ALLOC_INTERRUPT ? 0 : cls === VM_ALLOC_SYSTEM ? this.interruptFreeMin[domain] : this.freeReserved[domain]);
    // The queued pages alone usually clear the limit: the lazy pool is read only when they do not.
    return this.queuedFree[domain] + this.reservFree[domain] >= need || this.freeCount(domain) >= need;
  }

  /** vm_page_count_min_domain: is `domain` below free_min? */
  countMin(domain: number): boolean {
    return this.freeCount(domain) < this.freeMin[domain];
  }

  /** vm_page_count_severe_domain. */
  countSevere(domain: number): boolean {
    return this.freeCount(domain) < this.freeSevere[domain];
  }

  checkDomain(domain: number): void {
    if (!(Number.isInteger(domain) && domain >= 0 && domain < this.ndomains)) {
      throw new PagelabError('EINVAL', `domain ${domain} is out of range (machine has ${this.ndomains})`);
    }
  }
}
