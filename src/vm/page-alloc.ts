/**
 * The vm_page allocation layer, as FreeBSD's sys/vm/vm_page.c: pages for
 * objects (vm_page_alloc, _contig, vm_page_grab) and without one
 * (vm_page_alloc_noobj, _contig), freeing, wiring, busying, and moving pages
 * between objects. Under it: superpage reservations (reserv.ts) for
 * coloured objects, the per-domain page caches (pgcache.ts) for single
 * pages, vm_phys for the rest, each allocation class held above its domain's
 * threshold (pagequeue.ts), and the domainset iterator choosing domains.
 *
 * Pages are page-array indices; -1 is NULL, and a failed allocation returns
 * -1 (a normal outcome). The checked methods validate their arguments and
 * throw a PagelabError naming the page or object; the *Unsafe twins skip that
 * for hot loops.
 */
import { PagelabError } from '../errors.js';
import { hex } from '../util/units.js';
import { Work } from './counters.js';
import { DomainSet } from './domainset.js';
import { OBJ_COLORED, OBJ_DEAD, type VmObjects } from './object.js';
import { RADIX_COUNT } from './radix.js';
import type { PageArray } from './page.js';
import type { VmDomains } from './pagequeue.js';
import {
  ASTATE_ALLOCATED,
  ASTATE_CACHED,
  ASTATE_RESV_FREE,
  NIL,
  OBJ_NONE,
  PAGE_SIZE,
  PG_NODUMP,
  PG_PCPU_CACHE,
  PG_ZERO,
  VM_ALLOC_NOBUSY,
  VM_ALLOC_NOCREAT,
  VM_ALLOC_NODUMP,
  VM_ALLOC_NORECLAIM,
  VM_ALLOC_NOWAIT,
  VM_ALLOC_SBUSY,
  VM_ALLOC_WIRED,
  VM_ALLOC_ZERO,
  VM_FREEPOOL_DEFAULT,
  VM_FREEPOOL_DIRECT,
  VM_NFREEPOOL,
  VPB_MAX_SHARERS,
  VPB_UNBUSIED,
  VPB_XBUSY,
} from './param.js';
import { PageCache } from './pgcache.js';
import type { Phys } from './phys.js';
import type { Reserv } from './reserv.js';

/** The pindex FreeBSD leaves in pages without an object (0xdeadc0de...). */
export const NOOBJ_PINDEX = 0xdeadc0de;
/** vm_domainset_default_stride: interleave stripe, in pages, for objects without reservations. */
const INTERLEAVE_STRIDE = 64;

/** Where allocations came from, for reports and the benchmarks. */
export const enum PageStat {
  Alloc = 0,
  FromReserv,
  FromCache,
  FromPhys,
  Failed,
  Free,
  ReclaimRetry,
  Zeroed,
  COUNT,
}
export const PAGE_STAT_NAMES = ['alloc', 'from_reserv', 'from_pgcache', 'from_phys', 'failed', 'free', 'reclaim_retry', 'zeroed'];

export interface PageAllocOptions {
  /** Per-domain page caches in front of vm_phys for single pages (default true). */
  pgcache?: boolean;
  /** The allocating thread's policy (td_domain); first-touch from domain 0 when omitted. */
  policy?: DomainSet;
}

export class VmPage {
  readonly phys: Phys;
  readonly pages: PageArray;
  readonly objects: VmObjects;
  readonly reserv: Reserv | null;
  readonly domains: VmDomains;
  /** vmd_pgcache[pool] per domain; null where a pool has none. */
  readonly pgcache: Array<Array<PageCache | null>>;
  /** The thread's domain policy (curthread->td_domain). */
  policy: DomainSet;
  /** PCPU_GET(domain): the domain of the allocating CPU, for first-touch. */
  cpuDomain = 0;
  readonly stats = new Float64Array(PageStat.COUNT);
  private readonly segDomain: Uint8Array;
  private readonly allDomains: number;
  /** A single domain: vm_page_alloc needs no domainset iterator. */
  private readonly oneDomain: boolean;
  // The domainset iterator (struct vm_domainset_iter), as fields.
  private diSet: DomainSet;
  private diRemain = 0;
  private diMin = 0;
  private diMinskip = true;
  private diOffset = 0;

  constructor(phys: Phys, objects: VmObjects, domains: VmDomains, reserv: Reserv | null, opts: PageAllocOptions = {}) {
    if (phys.ndomains > 31) throw new PagelabError('EINVAL', `vm_page: ${phys.ndomains} domains exceed the 31 the domainset iterator handles`);
    this.phys = phys;
    this.pages = phys.pages;
    this.objects = objects;
    this.domains = domains;
    this.reserv = reserv;
    this.policy = opts.policy ?? new DomainSet('firsttouch', phys.ndomains);
    this.diSet = this.policy;
    this.allDomains = (1 << phys.ndomains) - 1;
    this.oneDomain = phys.ndomains === 1;
    this.segDomain = Uint8Array.from(phys.segs.map((s) => s.domain));
    this.pgcache = [];
    for (let d = 0; d < phys.ndomains; d++) {
      const row: Array<PageCache | null> = new Array<PageCache | null>(VM_NFREEPOOL).fill(null);
      if (opts.pgcache ?? true) {
        // vm_page_init_cache_zones: each pool's cache limited to 0.1% of the domain.
        const cap = Math.max(2, Math.floor(domains.pageCount[d] / 1000));
        const batch = Math.max(1, Math.min(cap >> 1, 2 ** phys.maxOrder));
        for (const pool of [VM_FREEPOOL_DEFAULT, VM_FREEPOOL_DIRECT]) {
          const c = new PageCache(phys, d, pool, cap, batch);
          // vm_page_zone_import charges the batch as NORMAL allocations.
          c.importGate = (n: number) => domains.allocate(d, 0, n);
          row[pool] = c;
        }
      }
      this.pgcache.push(row);
    }
  }

  /** Domain of page `m`. */
  domainOf(m: number): number {
    return this.segDomain[this.pages.segind[m]];
  }

  // ------------------------------------------------------------ checks

  private pa(m: number): string {
    return hex(this.phys.pageToPa(m));
  }

  private checkPindex(obj: number, pindex: number, n = 1): void {
    this.objects.check(obj);
    if (!(pindex >= 0 && pindex + n <= this.objects.size[obj] && Math.floor(pindex) === pindex)) this.pindexBeyond(obj, pindex, n);
  }

  // The throws of the checks on vm_page_alloc's path live apart, so the checks stay small enough to inline.
  private pindexBeyond(obj: number, pindex: number, n: number): never {
    throw new PagelabError('EINVAL', `object ${this.objects.describe(obj)}: pindex ${pindex}${n > 1 ? ` (+${n})` : ''} is beyond its size of ${this.objects.size[obj]} pages`);
  }

  private alreadyResident(obj: number, pindex: number, m: number): never {
    throw new PagelabError('EEXIST', `object ${this.objects.describe(obj)} already has page ${this.pa(m)} at pindex ${pindex}`);
  }

  private checkNotResident(obj: number, pindex: number, n: number): void {
    const m = this.objects.radix.lookupGe(obj, pindex);
    if (m !== NIL && this.objects.radix.foundKey < pindex + n) this.alreadyResident(obj, this.objects.radix.foundKey, m);
  }

  /* A page this layer handed out (allocated, not free in any form), or a typed error. */
  private checkAllocated(m: number, what: string): void {
    if (!(Number.isInteger(m) && m >= 0 && m < this.phys.npages)) throw new PagelabError('ENOTALLOC', `${what}: page index ${m} is outside the machine's ${this.phys.npages} pages`);
    const a = this.pages.astate[m];
    if (a === ASTATE_ALLOCATED) return;
    if (a === ASTATE_RESV_FREE || a === ASTATE_CACHED || (a === 0 && this.pages.pool[m] !== 0)) {
      const where = a === ASTATE_RESV_FREE ? ' (free inside a reservation)' : a === ASTATE_CACHED ? ' (in a page cache)' : '';
      throw new PagelabError('EDOUBLEFREE', `${what}: page ${this.pa(m)} is already free${where}`);
    }
    throw new PagelabError('ENOTALLOC', `${what}: page ${this.pa(m)} is not allocated`);
  }

  private checkAlloc(npages: number, low: number, high: number, alignment: number, boundary: number, what: string): void {
    const pow2 = (x: number): boolean => Number.isSafeInteger(x) && x > 0 && 2 ** Math.round(Math.log2(x)) === x;
    if (!(Number.isInteger(npages) && npages >= 1)) throw new PagelabError('EINVAL', `${what}: npages ${npages} must be a positive integer`);
    if (!pow2(alignment)) throw new PagelabError('EINVAL', `${what}: alignment ${hex(alignment)} is not a power of 2`);
    if (boundary !== 0 && !pow2(boundary)) throw new PagelabError('EINVAL', `${what}: boundary ${hex(boundary)} is not a power of 2`);
    if (!(low >= 0 && high > 0)) throw new PagelabError('EINVAL', `${what}: range [${low}, ${high}) is invalid`);
  }

  // ------------------------------------------------------------ domainset iterator

  /*
   * vm_domainset_iter_page_init + _first: the first domain to try for
   * (obj, pindex) under the object's policy or the thread's.
   */
  private iterInit(obj: number, pindex: number): number {
    const ds = obj !== OBJ_NONE ? (this.objects.domainsets[obj] ?? this.policy) : this.policy;
    this.diSet = ds;
    if (ds.policy === 'interleave') {
      let off: number;
      if (obj !== OBJ_NONE && this.reserv !== null && this.objects.usesReserv(obj)) off = Math.floor((pindex + this.objects.pgColor[obj]) / this.reserv.npages);
      else off = Math.floor(pindex / INTERLEAVE_STRIDE);
      this.diOffset = off + obj;
    }
    this.diMinskip = true;
    const d = this.iterFirst();
    if (this.domains.countMin(d)) return this.iterNext();
    return d;
  }

  private iterFirst(): number {
    const ds = this.diSet;
    const n = this.phys.ndomains;
    let d: number;
    switch (ds.policy) {
      case 'firsttouch':
      case 'roundrobin':
        if (ds.policy === 'firsttouch' && this.cpuDomain >= 0 && this.cpuDomain < n) {
          d = this.cpuDomain;
          break;
        }
        // Round-robin, and an invalid first-touch, which becomes round-robin.
        ds.cursor = (ds.cursor + 1) % n;
        d = ds.cursor;
        break;
      case 'prefer':
        d = ds.prefer;
        break;
      case 'interleave':
        d = this.diOffset % n;
        ds.cursor = d;
        break;
    }
    this.diRemain = (this.diMinskip ? this.allDomains : this.diMin) & ~(1 << d);
    if (this.diMinskip) this.diMin = 0;
    return d;
  }

  /*
   * vm_domainset_iter_page for a NOWAIT allocation: the next domain, or -1
   * when every domain has been tried. Domains below free_min are skipped on
   * the first pass and tried on a second, so a depleted preferred domain
   * falls back instead of looping.
   */
  private iterNext(): number {
    const ds = this.diSet;
    const n = this.phys.ndomains;
    while (this.diRemain !== 0) {
      ds.cursor = (ds.cursor + 1) % n;
      const d = ds.cursor;
      if ((this.diRemain & (1 << d)) !== 0) {
        this.diRemain &= ~(1 << d);
        if (!this.diMinskip || !this.domains.countMin(d)) return d;
        this.diMin |= 1 << d;
      }
    }
    if (this.diMinskip) {
      this.diMinskip = false;
      return this.iterFirst();
    }
    return -1;
  }

  // ------------------------------------------------------------ page init

  /* The common tail of the object allocators: flags, busy, wiring, insertion. */
  private initObjectPage(m: number, obj: number, pindex: number, req: number, flags: number): void {
    const p = this.pages;
    p.flags[m] = (p.flags[m] & PG_ZERO) | flags | ((req & VM_ALLOC_NODUMP) !== 0 ? PG_NODUMP : 0);
    p.pool[m] = VM_FREEPOOL_DEFAULT;
    p.busy[m] = (req & (VM_ALLOC_NOBUSY | VM_ALLOC_SBUSY)) === 0 ? VPB_XBUSY : (req & VM_ALLOC_SBUSY) !== 0 ? 1 : VPB_UNBUSIED;
    p.wire[m] = (req & VM_ALLOC_WIRED) !== 0 ? 1 : 0;
    if (!this.objects.linkPage(obj, pindex, m)) this.linkRefused(obj, pindex);
  }

  private linkRefused(obj: number, pindex: number): never {
    throw new PagelabError('EINVARIANT', `vm_page_alloc: object ${this.objects.describe(obj)} already has pindex ${pindex}`);
  }

  // ------------------------------------------------------------ vm_page_alloc

  /*
   * vm_page_alloc: a page for pindex `pindex` of object `obj`, or -1 when no
   * domain the policy allows can give one to this allocation class.
   * VM_ALLOC_ZERO is a preference: the caller reads PG_ZERO. The page is
   * exclusive busy unless VM_ALLOC_NOBUSY/SBUSY; wired with VM_ALLOC_WIRED.
   * Requires: a live object, pindex below its size and not resident.
   */
  alloc(obj: number, pindex: number, req = 0): number {
    // allocNext is a call (too big to inline): without reservations, skip it.
    const m = this.reserv !== null ? this.allocNext(obj, pindex, req) : -1;
    return m >= 0 ? m : this.allocChecked(obj, pindex, req);
  }

  /* alloc() past its sequential-fill shortcut. */
  private allocChecked(obj: number, pindex: number, req: number): number {
    this.checkPindex(obj, pindex);
    const radix = this.objects.radix;
    const mp = radix.lookupLe(obj, pindex);
    if (mp !== NIL && radix.foundKey === pindex) this.alreadyResident(obj, pindex, mp);
    return this.allocAfter(obj, pindex, req, mp === NIL ? -1 : mp);
  }

  /* alloc() without the checks. */
  allocUnsafe(obj: number, pindex: number, req = 0): number {
    const m = this.reserv !== null ? this.allocNext(obj, pindex, req) : -1;
    if (m >= 0) return m;
    const mp = this.objects.radix.lookupLe(obj, pindex);
    return this.allocAfter(obj, pindex, req, mp === NIL ? -1 : mp);
  }

  /*
   * vm_page_alloc's common case, a sequential fill, in one piece: one
   * domain, `obj` coloured, pindex - 1 resident in the trie leaf the last
   * lookup found and pindex not, and pindex - 1's reservation holding
   * pindex. The same page, state and counters as the general path (the unit
   * test "sequential fast path" compares them). Returns -1, having changed
   * nothing, when any of that does not hold: the caller then takes the
   * general path, which also raises the errors.
   *
   * Why in one piece: through vm_page_alloc_domain_after, vm_reserv_alloc_page,
   * vm_page_insert and vm_radix_insert the chain is deeper than V8 inlines
   * whole, above all where the call site also takes the general path (the
   * objects benchmark shares one between orders and VMs), and each call left
   * costs more than the few stores it makes. Here only the reservation step
   * is a call (Reserv.allocNext, itself call-free); the trie's leaf and the
   * page are read and written in line. With the trie and page parts in
   * helpers (predecessor lookup, insertNearFound, initObjectPage, linkPage)
   * the benchmark's sequential populate measured 1.15-1.4x slower.
   */
  private allocNext(obj: number, pindex: number, req: number): number {
    const reserv = this.reserv;
    const objects = this.objects;
    // A coloured object not dead (flags of anything but a slot read undefined) ...
    if (reserv === null || !this.oneDomain || (objects.flags[obj] & (OBJ_COLORED | OBJ_DEAD)) !== OBJ_COLORED || objects.refCount[obj] === 0) return -1;
    if (!(pindex < objects.size[obj] && pindex >>> 0 === pindex)) return -1;
    // ... whose trie the last lookup was in (so obj is a slot in use: objects.isLive holds),
    // in a leaf holding pindex - 1 (mpred, what vm_radix_lookup_le answers) and not pindex.
    const radix = objects.radix;
    const i = pindex - radix.hintBase;
    if (radix.hintTree !== obj || i < 1 || i >= RADIX_COUNT) return -1;
    const slots = radix.leafSlots;
    const at = radix.hintSlot + i;
    const mpred = slots[at - 1];
    if (mpred === NIL || slots[at] !== NIL) return -1;
    const m = reserv.allocNext(obj, pindex, mpred, req);
    if (m < 0) return -1;
    this.stats[PageStat.Alloc]++;
    this.stats[PageStat.FromReserv]++;
    // initObjectPage(m, obj, pindex, req, 0): the page, the trie (as insertNearFound), the object (as VmObjects.linkPage).
    const p = this.pages;
    p.flags[m] = (p.flags[m] & PG_ZERO) | ((req & VM_ALLOC_NODUMP) !== 0 ? PG_NODUMP : 0);
    p.pool[m] = VM_FREEPOOL_DEFAULT;
    const busy = (req & (VM_ALLOC_NOBUSY | VM_ALLOC_SBUSY)) === 0 ? VPB_XBUSY : (req & VM_ALLOC_SBUSY) !== 0 ? 1 : VPB_UNBUSIED;
    p.busy[m] = busy;
    p.wire[m] = (req & VM_ALLOC_WIRED) !== 0 ? 1 : 0;
    slots[at] = m;
    radix.leafBits[at >>> 5] |= 1 << (at & 31);
    p.object[m] = obj;
    p.pindex[m] = pindex;
    objects.resident[obj]++;
    if (busy !== VPB_UNBUSIED) objects.busyPages[obj]++;
    return m;
  }

  /*
   * vm_page_alloc_after: as allocUnsafe with the caller's `mpred` (the
   * resident page with the greatest pindex below `pindex`, -1 if none).
   */
  allocAfter(obj: number, pindex: number, req: number, mpred: number): number {
    if (this.oneDomain) return this.allocDomainAfter(obj, pindex, 0, req, mpred);
    for (let d = this.iterInit(obj, pindex); d >= 0; d = this.iterNext()) {
      const m = this.allocDomainAfter(obj, pindex, d, req, mpred);
      if (m >= 0) return m;
    }
    return -1;
  }

  /* vm_page_alloc_domain: alloc() from `domain` only. */
  allocDomain(obj: number, pindex: number, domain: number, req = 0): number {
    this.domains.checkDomain(domain);
    this.checkPindex(obj, pindex);
    this.checkNotResident(obj, pindex, 1);
    const mp = this.objects.radix.lookupLe(obj, pindex);
    return this.allocDomainAfter(obj, pindex, domain, req, mp === NIL ? -1 : mp);
  }

  /*
   * vm_page_alloc_domain_after: a reservation first (coloured objects), then
   * the domain's page cache, then vm_phys within the class's threshold; when
   * vm_phys is empty, break an inactive reservation and retry.
   */
  private allocDomainAfter(obj: number, pindex: number, domain: number, req: number, mpred: number): number {
    this.stats[PageStat.Alloc]++;
    const m = this.allocFromReserv(obj, pindex, domain, req, mpred);
    return m >= 0 ? m : this.allocDomainSlow(obj, pindex, domain, req, mpred);
  }

  /* The reservation step of allocDomainAfter (kept small so it inlines into alloc): a page or -1. */
  private allocFromReserv(obj: number, pindex: number, domain: number, req: number, mpred: number): number {
    const reserv = this.reserv;
    if (reserv === null || (this.objects.flags[obj] & OBJ_COLORED) === 0) return -1;
    const m = reserv.allocPage(obj, pindex, domain, req, mpred);
    if (m >= 0) {
      this.stats[PageStat.FromReserv]++;
      this.initObjectPage(m, obj, pindex, req, 0);
    }
    return m;
  }

  /* allocDomainAfter past a reservation: the page cache, vm_phys, and a retry after breaking an inactive reservation. */
  private allocDomainSlow(obj: number, pindex: number, domain: number, req: number, mpred: number): number {
    const st = this.stats;
    const reserv = this.reserv;
    for (;;) {
      const cache = this.pgcache[domain][VM_FREEPOOL_DEFAULT];
      if (cache !== null) {
        const m = cache.alloc();
        if (m >= 0) {
          st[PageStat.FromCache]++;
          this.initObjectPage(m, obj, pindex, req, PG_PCPU_CACHE);
          return m;
        }
      }
      if (this.domains.allocate(domain, req, 1)) {
        this.phys.work[Work.Lock]++;
        const m = this.phys.allocPagesUnsafe(domain, VM_FREEPOOL_DEFAULT, 0);
        if (m >= 0) {
          st[PageStat.FromPhys]++;
          this.initObjectPage(m, obj, pindex, req, 0);
          return m;
        }
        if (reserv !== null && reserv.reclaimInactive(domain)) {
          st[PageStat.ReclaimRetry]++;
          const r = this.allocFromReserv(obj, pindex, domain, req, mpred);
          if (r >= 0) return r;
          continue;
        }
      }
      st[PageStat.Failed]++;
      return -1;
    }
  }

  /*
   * vm_page_alloc_contig: `npages` physically contiguous pages in [low, high),
   * the first aligned to `alignment` and the run not crossing a multiple of
   * `boundary` (0: none), for pindexes [pindex, pindex + npages) of `obj`.
   * Returns the first page or -1. VM_ALLOC_ZERO is a preference.
   */
  allocContig(obj: number, pindex: number, req: number, npages: number, low = 0, high = Number.MAX_SAFE_INTEGER, alignment = PAGE_SIZE, boundary = 0): number {
    this.checkAlloc(npages, low, high, alignment, boundary, 'vm_page_alloc_contig');
    this.checkPindex(obj, pindex, npages);
    this.checkNotResident(obj, pindex, npages);
    const mp = this.objects.radix.lookupLe(obj, pindex);
    const mpred = mp === NIL ? -1 : mp;
    for (let d = this.iterInit(obj, pindex); d >= 0; d = this.iterNext()) {
      this.stats[PageStat.Alloc]++;
      let m = -1;
      if (this.reserv !== null && this.objects.usesReserv(obj)) m = this.reserv.allocContig(obj, pindex, d, req, mpred, npages, low, high, alignment, boundary);
      if (m >= 0) this.stats[PageStat.FromReserv]++;
      else m = this.findContigDomain(d, req, npages, low, high, alignment, boundary);
      if (m < 0) continue;
      for (let i = 0; i < npages; i++) this.initObjectPage(m + i, obj, pindex + i, req, 0);
      return m;
    }
    this.stats[PageStat.Failed]++;
    return -1;
  }

  /*
   * vm_page_find_contig_domain: a run from vm_phys within the class's
   * threshold; failing that, one carved out of a broken reservation.
   */
  private findContigDomain(domain: number, req: number, npages: number, low: number, high: number, alignment: number, boundary: number): number {
    if (!this.domains.allocate(domain, req, npages)) return -1;
    let m = this.phys.allocContig(domain, npages, low, high, alignment, boundary);
    if (m >= 0) {
      this.stats[PageStat.FromPhys]++;
      return m;
    }
    if (this.reserv !== null && (req & VM_ALLOC_NORECLAIM) === 0) {
      m = this.reserv.reclaimContig(domain, npages, low, high, alignment, boundary);
      if (m >= 0) this.stats[PageStat.ReclaimRetry]++;
    }
    return m;
  }

  // ------------------------------------------------------------ noobj

  /*
   * vm_page_alloc_noobj: a page in no object, from the DIRECT pool.
   * VM_ALLOC_ZERO is a guarantee: the page is zeroed unless PG_ZERO.
   * Unbusied; wired with VM_ALLOC_WIRED. Returns -1 on failure.
   */
  allocNoobj(req = 0): number {
    for (let d = this.phys.ndomains === 1 ? 0 : this.iterInit(OBJ_NONE, 0); d >= 0; d = this.phys.ndomains === 1 ? -1 : this.iterNext()) {
      const m = this.allocNoobjDomain(d, req);
      if (m >= 0) return m;
    }
    return -1;
  }

  /* vm_page_alloc_noobj_domain. */
  allocNoobjDomain(domain: number, req = 0): number {
    this.domains.checkDomain(domain);
    const st = this.stats;
    st[PageStat.Alloc]++;
    let m = -1;
    let flags = 0;
    for (;;) {
      const cache = this.pgcache[domain][VM_FREEPOOL_DIRECT];
      if (cache !== null && (m = cache.alloc()) >= 0) {
        flags = PG_PCPU_CACHE;
        st[PageStat.FromCache]++;
        break;
      }
      if (this.domains.allocate(domain, req, 1)) {
        this.phys.work[Work.Lock]++;
        m = this.phys.allocPagesUnsafe(domain, VM_FREEPOOL_DIRECT, 0);
        if (m >= 0) {
          st[PageStat.FromPhys]++;
          break;
        }
        if (this.reserv !== null && this.reserv.reclaimInactive(domain)) {
          st[PageStat.ReclaimRetry]++;
          continue;
        }
      }
      st[PageStat.Failed]++;
      return -1;
    }
    this.initNoobjPage(m, req, flags);
    return m;
  }

  private initNoobjPage(m: number, req: number, flags: number): void {
    const p = this.pages;
    p.pindex[m] = NOOBJ_PINDEX;
    p.object[m] = OBJ_NONE;
    p.flags[m] = (p.flags[m] & PG_ZERO) | flags | ((req & VM_ALLOC_NODUMP) !== 0 ? PG_NODUMP : 0);
    p.pool[m] = VM_FREEPOOL_DIRECT;
    p.busy[m] = VPB_UNBUSIED;
    p.wire[m] = (req & VM_ALLOC_WIRED) !== 0 ? 1 : 0;
    if ((req & VM_ALLOC_ZERO) !== 0) this.zeroPage(m);
  }

  /*
   * pmap_zero_page unless the page is PG_ZERO: real bytes with backing memory
   * (the backing store's zeroing), else only counted. For callers that fill
   * object pages (vm_fault's zero fill). Requires: an allocated page.
   */
  zeroPage(m: number): void {
    if ((this.pages.flags[m] & PG_ZERO) === 0) this.stats[PageStat.Zeroed]++;
    this.phys.zeroPages(m, 1);
  }

  /*
   * vm_page_alloc_noobj_contig: `npages` contiguous pages in no object;
   * VM_ALLOC_ZERO zeroes every page not already PG_ZERO. Returns the first or -1.
   */
  allocNoobjContig(req: number, npages: number, low = 0, high = Number.MAX_SAFE_INTEGER, alignment = PAGE_SIZE, boundary = 0): number {
    this.checkAlloc(npages, low, high, alignment, boundary, 'vm_page_alloc_noobj_contig');
    for (let d = this.iterInit(OBJ_NONE, 0); d >= 0; d = this.iterNext()) {
      this.stats[PageStat.Alloc]++;
      const m = this.findContigDomain(d, req, npages, low, high, alignment, boundary);
      if (m < 0) continue;
      for (let i = 0; i < npages; i++) this.initNoobjPage(m + i, req, 0);
      return m;
    }
    this.stats[PageStat.Failed]++;
    return -1;
  }

  // ------------------------------------------------------------ grab

  /*
   * vm_page_grab: the page at `pindex` of `obj`, allocated if absent (unless
   * VM_ALLOC_NOCREAT). VM_ALLOC_ZERO guarantees a new page is zero. A
   * resident page is busied as `req` asks; with VM_ALLOC_NOWAIT a page busy
   * in a conflicting way gives -1, without it a typed EBUSY (the single
   * thread would sleep forever).
   */
  grab(obj: number, pindex: number, req = 0): number {
    this.checkPindex(obj, pindex);
    const m = this.objects.lookup(obj, pindex);
    if (m >= 0) {
      const p = this.pages;
      if ((req & VM_ALLOC_NOBUSY) === 0) {
        const b = p.busy[m];
        const shared = (req & VM_ALLOC_SBUSY) !== 0;
        if (b === VPB_XBUSY || (!shared && b !== VPB_UNBUSIED)) {
          if ((req & VM_ALLOC_NOWAIT) !== 0) return -1;
          throw new PagelabError('EBUSY', `vm_page_grab: page ${this.pa(m)} at pindex ${pindex} of object ${this.objects.describe(obj)} is ${b === VPB_XBUSY ? 'exclusive' : 'shared'} busy`);
        }
        this.objects.setBusy(m, shared ? Math.min(b + 1, VPB_MAX_SHARERS) : VPB_XBUSY);
      }
      if ((req & VM_ALLOC_WIRED) !== 0) p.wire[m]++;
      return m;
    }
    if ((req & VM_ALLOC_NOCREAT) !== 0) return -1;
    const n = this.allocUnsafe(obj, pindex, req & ~VM_ALLOC_ZERO);
    if (n >= 0 && (req & VM_ALLOC_ZERO) !== 0) this.zeroPage(n);
    return n;
  }

  // ------------------------------------------------------------ free

  /*
   * vm_page_free: free page `m` (clearing PG_ZERO), removing it from its
   * object. A wired page is the kernel's panic in vm_page_free_prep: a typed
   * EWIRED naming the page, and nothing changes.
   */
  free(m: number): void {
    this.checkAllocated(m, 'vm_page_free');
    this.checkUnwired(m, 'vm_page_free');
    this.clearOrZero(m);
    this.freeToq(m);
  }

  /*
   * The zeroing policy's hook on the free path: under init_on_free
   * (vm.zero.policy=free) it zeroes the page being freed, which is then
   * freed PG_ZERO; null otherwise.
   */
  zeroAtFree: ((m: number, n: number) => void) | null = null;

  /* vm_page_free's PG_ZERO: cleared, or under init_on_free the page zeroed and marked. */
  private clearOrZero(m: number): void {
    if (this.zeroAtFree === null) this.pages.flags[m] &= ~PG_ZERO;
    else {
      this.zeroAtFree(m, 1);
      this.pages.flags[m] |= PG_ZERO;
    }
  }

  /* vm_page_free_zero: the caller vouches the page is zero (checked under INVARIANTS with backing). */
  freeZero(m: number): void {
    this.checkAllocated(m, 'vm_page_free_zero');
    this.checkUnwired(m, 'vm_page_free_zero');
    if (this.phys.invariants && this.phys.isZeroHook !== null && !this.phys.isZeroHook(this.phys.pageToPa(m), PAGE_SIZE)) {
      throw new PagelabError('ENOTZERO', `vm_page_free_zero: page ${this.pa(m)} is not zero`);
    }
    this.pages.flags[m] |= PG_ZERO;
    this.freeToq(m);
  }

  private checkUnwired(m: number, what: string): void {
    const w = this.pages.wire[m];
    if (w !== 0) {
      const obj = this.pages.object[m];
      const where = obj !== OBJ_NONE ? ` (pindex ${this.pages.pindex[m]} of object ${this.objects.describe(obj)})` : '';
      throw new PagelabError('EWIRED', `${what}: page ${this.pa(m)}${where} is wired (wire count ${w})`);
    }
  }

  /* free() without the checks. Requires: an allocated, unwired page. */
  freeUnsafe(m: number): void {
    this.clearOrZero(m);
    this.freeToq(m);
  }

  /*
   * vm_page_free_toq: out of its object, then back where it came from: its
   * page cache, its reservation, or vm_phys.
   */
  private freeToq(m: number): void {
    const p = this.pages;
    if (p.object[m] !== OBJ_NONE) this.objects.unlinkPage(m);
    this.releasePage(m);
  }

  /* The free path after the object is dealt with (vm_object_terminate frees pages whose trie it reclaims whole). */
  releasePage(m: number): void {
    const p = this.pages;
    this.stats[PageStat.Free]++;
    p.busy[m] = VPB_UNBUSIED;
    p.object[m] = OBJ_NONE;
    const f = p.flags[m];
    if ((f & PG_PCPU_CACHE) !== 0) {
      const c = this.pgcache[this.domainOf(m)][p.pool[m]];
      if (c !== null) {
        p.flags[m] = f & ~PG_PCPU_CACHE;
        c.freeUnsafe(m, (f & PG_ZERO) !== 0);
        return;
      }
    }
    if (this.reserv !== null && this.reserv.freePage(m)) return;
    this.phys.work[Work.Lock]++;
    const pool = p.pool[m] === VM_FREEPOOL_DIRECT ? VM_FREEPOOL_DIRECT : VM_FREEPOOL_DEFAULT;
    this.phys.freePagesFast(m, 0, pool, (f & PG_ZERO) !== 0);
  }

  /*
   * vm_object_terminate's free of resident page `m` of `obj`, whose trie the
   * caller reclaims whole: as releasePage, with the reservation's partpopq
   * left to vm_reserv_break_all. Requires: m unwired and unbusied.
   */
  releaseTerminating(m: number, obj: number): void {
    const p = this.pages;
    p.object[m] = OBJ_NONE;
    this.clearOrZero(m);
    const f = p.flags[m];
    const reserv = this.reserv;
    if ((f & PG_PCPU_CACHE) === 0 && reserv !== null && reserv.freePageTerminating(m, obj)) {
      this.stats[PageStat.Free]++;
      return;
    }
    this.releasePage(m);
  }

  // ------------------------------------------------------------ wiring and busy

  /* vm_page_wire: one more wiring of an allocated page. */
  wire(m: number): void {
    this.checkAllocated(m, 'vm_page_wire');
    this.pages.wire[m]++;
  }

  /*
   * vm_page_unwire: drop one wiring; a page that loses its last wiring while
   * in no object has no reference left and is freed. Returns whether it was.
   */
  unwire(m: number): boolean {
    if (!this.unwireNoq(m)) return false;
    if (this.pages.object[m] !== OBJ_NONE) return false;
    this.freeUnsafe(m);
    return true;
  }

  /* vm_page_unwire_noq: drop one wiring; true when it was the last. Never frees. */
  unwireNoq(m: number): boolean {
    this.checkAllocated(m, 'vm_page_unwire');
    const w = this.pages.wire[m];
    if (w === 0) throw new PagelabError('EINVAL', `vm_page_unwire: page ${this.pa(m)} is not wired`);
    this.pages.wire[m] = w - 1;
    return w === 1;
  }

  /* vm_page_tryxbusy: exclusive-busy an unbusied page; false when busy. */
  tryXbusy(m: number): boolean {
    this.checkAllocated(m, 'vm_page_tryxbusy');
    if (this.pages.busy[m] !== VPB_UNBUSIED) return false;
    this.objects.setBusy(m, VPB_XBUSY);
    return true;
  }

  /* vm_page_trysbusy: one more sharer; false when exclusive busy. */
  trySbusy(m: number): boolean {
    this.checkAllocated(m, 'vm_page_trysbusy');
    const b = this.pages.busy[m];
    if (b === VPB_XBUSY || b === VPB_MAX_SHARERS) return false;
    this.objects.setBusy(m, b + 1);
    return true;
  }

  /* vm_page_xunbusy. Requires: exclusive busy. */
  xunbusy(m: number): void {
    this.checkAllocated(m, 'vm_page_xunbusy');
    if (this.pages.busy[m] !== VPB_XBUSY) throw new PagelabError('EBUSY', `vm_page_xunbusy: page ${this.pa(m)} is not exclusive busy`);
    this.objects.setBusy(m, VPB_UNBUSIED);
  }

  /* vm_page_sunbusy. Requires: shared busy. */
  sunbusy(m: number): void {
    this.checkAllocated(m, 'vm_page_sunbusy');
    const b = this.pages.busy[m];
    if (b === VPB_UNBUSIED || b === VPB_XBUSY) throw new PagelabError('EBUSY', `vm_page_sunbusy: page ${this.pa(m)} is not shared busy`);
    this.objects.setBusy(m, b - 1);
  }

  // ------------------------------------------------------------ objects

  /* vm_page_lookup. */
  lookup(obj: number, pindex: number): number {
    this.objects.check(obj);
    return this.objects.lookup(obj, pindex);
  }

  /*
   * vm_page_insert: an allocated page in no object becomes resident at
   * `pindex` of `obj`.
   */
  insert(m: number, obj: number, pindex: number): void {
    this.checkAllocated(m, 'vm_page_insert');
    if (this.pages.object[m] !== OBJ_NONE) throw new PagelabError('EINVAL', `vm_page_insert: page ${this.pa(m)} is already in object ${this.objects.describe(this.pages.object[m])}`);
    this.checkPindex(obj, pindex);
    this.checkNotResident(obj, pindex, 1);
    this.objects.linkPage(obj, pindex, m);
  }

  /*
   * vm_page_remove: `m` leaves its object and stays allocated. Returns true
   * when that was its last reference (not wired): the caller should free it.
   */
  remove(m: number): boolean {
    this.checkAllocated(m, 'vm_page_remove');
    if (this.pages.object[m] === OBJ_NONE) throw new PagelabError('EINVAL', `vm_page_remove: page ${this.pa(m)} is in no object`);
    this.objects.unlinkPage(m);
    this.pages.pindex[m] = NOOBJ_PINDEX;
    return this.pages.wire[m] === 0;
  }

  /*
   * vm_page_rename: move resident page `m` to `newPindex` of another object.
   * Its reservation, if any, stays with the old object (as in FreeBSD).
   * Returns false, changing nothing, when the new pindex is taken.
   */
  rename(m: number, newObj: number, newPindex: number): boolean {
    this.checkAllocated(m, 'vm_page_rename');
    const old = this.pages.object[m];
    if (old === OBJ_NONE) throw new PagelabError('EINVAL', `vm_page_rename: page ${this.pa(m)} is in no object`);
    if (old === newObj) throw new PagelabError('EINVAL', `vm_page_rename: page ${this.pa(m)} is already in object ${this.objects.describe(newObj)}`);
    this.checkPindex(newObj, newPindex);
    if (this.objects.lookup(newObj, newPindex) >= 0) return false;
    this.objects.unlinkPage(m);
    this.objects.linkPage(newObj, newPindex, m);
    return true;
  }

  /** Counters of where allocations came from. */
  statsObject(): Record<string, number> {
    const out: Record<string, number> = {};
    for (let i = 0; i < PageStat.COUNT; i++) out[PAGE_STAT_NAMES[i]] = this.stats[i];
    return out;
  }

  /** Give every cached page back to vm_phys (before a comparison of free queues, or under pressure). */
  drainCaches(): void {
    for (const row of this.pgcache) for (const c of row) c?.drain();
  }
}
