/**
 * Kernel thread stacks, as FreeBSD's sys/vm/vm_glue.c after D38852:
 * `kstack_object` (OBJT_PHYS) holds the physical pages of every
 * default-sized stack at a pindex computed from the stack's virtual address
 * (vm_kstack_pindex), `kstack_alt_object` those of other sizes; stacks take
 * their KVA from per-domain kstack arenas that import superpage-aligned
 * chunks from the per-domain kernel arenas (vm_kern.ts); a per-domain cache
 * keeps ready stacks (the kstack_cache UMA zone).
 *
 * The pindex schemes (vm.kstack.pindex):
 *   linear     atop(va - VM_MIN_KERNEL_ADDRESS): every guard page leaves a
 *              hole in the object, so reservations never fill (before D38852)
 *   nonlinear  D38852: guard pages are skipped, the pages of consecutive
 *              stacks are consecutive in the object
 *   aligned    nonlinear, with every import aligned so that its first
 *              stack's first pindex starts a reservation, and sized to hold
 *              exactly `reservation pages` stacks (K whole reservations):
 *              the review's wished-for FFFF (see alignedImport)
 * vm.kstack.ilp32=1 models the 32-bit fallback: KVA from kernel_arena and
 * the linear pindex.
 *
 * Physical pages come through a narrow seam (KstackPageSource), so that the
 * same code runs over vm_page_alloc with reservations or over plain vm_phys.
 */
import { PagelabError, kassert } from '../errors.js';
import type { Tunables } from '../kern/tunables.js';
import { Vmem, M_BESTFIT, VMEM_ALLOC, VMEM_FAILED, vmem_xalloc, vmem_xfree } from '../kern/vmem.js';
import { VMEM_FITMASK } from '../kern/vmem_param.js';
import { hex } from '../util/units.js';
import { ReservWindows } from './kstack_windows.js';
import { PAGE_SIZE } from './param.js';
import type { KernelArenas } from './vm_kern.js';

/** KSTACK_MAX_PAGES: the largest stack vm_thread_new gives out. */
export const KSTACK_MAX_PAGES = 64;
/** MAXMEMDOM: td_kstack_domain of a thread without a stack. */
export const MAXMEMDOM = 8;
/** The review's busy loop is cut off after this many fruitless retries (KstackReview.retrySameDomain). */
export const BUSY_LOOP_WATCHDOG = 10000;

export type KstackPindexScheme = 'linear' | 'nonlinear' | 'aligned';
export const KSTACK_PINDEX_SCHEMES: readonly KstackPindexScheme[] = ['linear', 'nonlinear', 'aligned'];

/*
 * The page-backing seam: vm_page_alloc_domain / vm_page_lookup /
 * vm_page_free on an object, with whatever page layer the machine has.
 */
export interface KstackPageSource {
  /** vm_object_allocate(OBJT_PHYS, size): an object handle. */
  createObject(name: string, sizePages: number): number;
  /*
   * vm_page_alloc_domain(object, pindex, domain, VM_ALLOC_NORMAL |
   * VM_ALLOC_WIRED): the page, or -1 when the domain cannot give one.
   * Requires: no page at (object, pindex).
   */
  allocPage(object: number, pindex: number, domain: number): number;
  /** vm_page_lookup. The page at (object, pindex), or -1. */
  lookup(object: number, pindex: number): number;
  /** vm_page_unwire_noq + vm_page_free of the page at (object, pindex). Requires one there. */
  freePage(object: number, pindex: number): void;
  /** vm_page_domain. */
  domainOf(m: number): number;
  /*
   * pmap_qenter of one page: maps `m` at kernel address `va` in the kernel
   * pmap. Returns false when no page-table page could be had (nothing is
   * then mapped at `va`). A source without a pmap leaves stacks unmapped.
   */
  qenter?(va: number, m: number): boolean;
  /** pmap_qremove: unmaps [va, va + npages pages). */
  qremove?(va: number, npages: number): void;
  /** pmap_extract in the kernel pmap: the page mapped at `va`, or -1 (for the checker). */
  mappedAt?(va: number): number;
  /*
   * The reservations backing [start, end) of the object, one letter each
   * (F, E, B, P, -), when the page layer has reservations; else null.
   */
  reservPattern?(object: number, start: number, end: number): string | null;
}

/** struct thread's kernel-stack fields. */
export interface KThread {
  td_kstack: number;
  td_kstack_pages: number;
  td_kstack_domain: number;
}

export function newKThread(): KThread {
  return { td_kstack: 0, td_kstack_pages: 0, td_kstack_domain: MAXMEMDOM };
}

/*
 * The review's earlier revisions, each a bug a regression test must catch.
 * Never set outside tests and the lab's demonstrations.
 */
export interface KstackReview {
  /* KVA from the CPU's domain arena while pages follow DOMAINSET_PREF to another domain; dispose then frees the KVA to the pages' domain. */
  kvaFromCpuDomain?: boolean;
  /* vm_thread_kstack_arena_release frees the import at its bumped start instead of rounding back to KVA_KSTACK_QUANTUM. */
  releaseUnrounded?: boolean;
  /* Retries the preferred domain until it gives KVA and pages (vm_domainset_iter misuse / M_WAITOK) instead of falling back or failing. */
  retrySameDomain?: boolean;
}

export interface KstackOptions {
  /** kern.kstack_pages (K). */
  kstackPages: number;
  /** kern.kstack_guard_pages (G). */
  guardPages: number;
  scheme: KstackPindexScheme;
  /** __ILP32__: linear pindex, KVA from kernel_arena. */
  ilp32: boolean;
  /** vm.kstack_cache_size; negative: max(128, 4 x ncpu); 0: no cache. */
  cacheSize: number;
  ncpu: number;
  /** Level-0 reservation order (9 on amd64): KVA_KSTACK_QUANTUM and the reservation windows. */
  reservOrder: number;
  review?: KstackReview;
}

/** The options a machine's tunables give. */
export function kstackOptions(t: Tunables, ncpu: number, reservOrder: number): KstackOptions {
  return {
    kstackPages: t.num('kern.kstack_pages'),
    guardPages: t.num('kern.kstack_guard_pages'),
    scheme: t.str('vm.kstack.pindex') as KstackPindexScheme,
    ilp32: t.num('vm.kstack.ilp32') === 1,
    cacheSize: t.num('vm.kstack_cache_size'),
    ncpu,
    reservOrder,
  };
}

/* ------------------------------------------------------------ the pindex */

/*
 * vm_kstack_pindex's non-identity map for a default-sized stack: linear
 * page index L (atop(va - VM_MIN_KERNEL_ADDRESS)) of a stack page to its
 * pindex. Stack slot j = floor(L / (K+G)) holds G guard pages, then K stack
 * pages; the stack pages of slot j get pindexes [K*j, K*j + K).
 * Requires: K >= 1, G >= 0, L >= 0 and L mod (K+G) >= G (not a guard page;
 * EINVARIANT naming L otherwise).
 */
export function kstackPindexNonlinear(L: number, K: number, G: number): number {
  if (G === 0) return L;
  const slot = Math.floor(L / (K + G));
  if (!(L - slot * (K + G) >= G)) throw new PagelabError('EINVARIANT', `vm_kstack_pindex: linear index ${L} is a guard page (K=${K}, G=${G})`);
  return L - (slot + 1) * G;
}

/* The inverse of kstackPindexNonlinear: the linear page index of pindex p. Requires p >= 0. */
export function kstackLinearOfPindex(p: number, K: number, G: number): number {
  const slot = Math.floor(p / K);
  return slot * (K + G) + G + (p - slot * K);
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/* ------------------------------------------------------------ the stacks */

export interface KstackChunk {
  domain: number;
  /** The span in the kstack arena. */
  start: number;
  size: number;
  /** Where the parent import began (before the start was moved up). */
  importStart: number;
  /** Stacks the span can hold, and stacks live or cached in it now. */
  slots: number;
  /** pindex range of the chunk's stack pages in kstack_object. */
  pindexStart: number;
  pindexEnd: number;
}

export interface KstackStats {
  /** Stacks created (backed) and disposed (pages and KVA returned). */
  created: number;
  disposed: number;
  /** vm_thread_new calls served from the cache, calls that found it empty, and disposes the cache took. */
  cacheHits: number;
  cacheMisses: number;
  cacheFrees: number;
  /** Stacks whose pages came from a domain other than the preferred one. */
  fallbacks: number;
  /** vm_thread_new calls that failed (no KVA or pages in any domain). */
  failures: number;
  /** Imports into and releases from the kstack arenas. */
  imports: number;
  releases: number;
  /** Stacks drained from the cache by lowmem. */
  drained: number;
}

/*
 * Kernel stacks of one machine: vm_thread_new / vm_thread_dispose over the
 * kstack arenas, the kstack objects and the cache.
 */
export class Kstacks {
  readonly K: number;
  readonly G: number;
  readonly scheme: KstackPindexScheme;
  readonly ilp32: boolean;
  readonly ndomains: number;
  /** Pages per reservation (2^reservOrder). */
  readonly reservPages: number;
  /** KVA_KSTACK_QUANTUM: one reservation's worth of address space. */
  readonly kstackQuantum: number;
  /** Bytes the kstack arenas take from their parent per import. */
  readonly parentImportSize: number;
  /** The kstack arenas' own import quantum (the span each import adds). */
  readonly arenaImportQuantum: number;
  /** aligned: the linear index of every chunk start is a multiple of this many pages. */
  readonly chunkAlignPages: number;
  readonly cacheMax: number;
  readonly kstackObject: number;
  readonly kstackAltObject: number;
  /** vmd_kstack_arena[domain] (null under ilp32). */
  readonly kstackArena: readonly (Vmem | null)[];
  readonly stats: KstackStats = { created: 0, disposed: 0, cacheHits: 0, cacheMisses: 0, cacheFrees: 0, fallbacks: 0, failures: 0, imports: 0, releases: 0, drained: 0 };
  private readonly arenas: KernelArenas;
  readonly src: KstackPageSource;
  private readonly review: KstackReview;
  /** Per-domain LIFO caches of ready stacks (their ks). */
  private readonly cache: number[][];
  private cached = 0;
  /** Live stacks (given to threads) by ks → pages, to catch double and foreign disposes. */
  private readonly live = new Map<number, number>();
  /** aligned: span start → parent import start. */
  private readonly importOrigin = new Map<number, number>();
  /** Import chunks by span start. */
  private readonly chunkMap = new Map<number, KstackChunk>();
  /** kstack_object's resident pages per reservation window, for the chunk strings. */
  readonly windows: ReservWindows;
  private readonly domainOrder: Int32Array;

  /*
   * kstack_cache_init: creates the objects, the cache and the per-domain
   * kstack arenas. Requires 1 <= K <= KSTACK_MAX_PAGES, G >= 0, a known
   * scheme, reservOrder >= 0 (EINVAL naming the value otherwise).
   */
  constructor(arenas: KernelArenas, src: KstackPageSource, opts: KstackOptions) {
    const { kstackPages: K, guardPages: G } = opts;
    if (!Number.isInteger(K) || K < 1 || K > KSTACK_MAX_PAGES) throw new PagelabError('EINVAL', `kern.kstack_pages ${K} is out of range (1..${KSTACK_MAX_PAGES})`);
    if (!Number.isInteger(G) || G < 0) throw new PagelabError('EINVAL', `kern.kstack_guard_pages ${G} is not a non-negative integer`);
    if (!KSTACK_PINDEX_SCHEMES.includes(opts.scheme)) throw new PagelabError('EINVAL', `vm.kstack.pindex "${String(opts.scheme)}" (linear, nonlinear, aligned)`);
    if (!Number.isInteger(opts.reservOrder) || opts.reservOrder < 0 || opts.reservOrder > 20) throw new PagelabError('EINVAL', `reservation order ${opts.reservOrder} is out of range (0..20)`);
    if (2 ** opts.reservOrder * PAGE_SIZE > arenas.kvaQuantum) {
      throw new PagelabError('EINVAL', `reservation order ${opts.reservOrder} is larger than the kernel arenas' KVA quantum ${hex(arenas.kvaQuantum)}`);
    }
    this.K = K;
    this.G = G;
    this.scheme = opts.scheme;
    this.ilp32 = opts.ilp32;
    this.ndomains = arenas.ndomains;
    this.arenas = arenas;
    this.src = src;
    this.review = opts.review ?? {};
    this.reservPages = 2 ** opts.reservOrder;
    this.kstackQuantum = this.reservPages * PAGE_SIZE;
    const kp = K + G;
    const R = this.reservPages;
    if (this.scheme === 'aligned') {
      this.chunkAlignPages = (kp * R) / gcd(K, R);
      this.arenaImportQuantum = R * kp * PAGE_SIZE;
      // Imports start at multiples of R pages, so the move up to a multiple of
      // chunkAlignPages is at most chunkAlignPages - gcd(chunkAlignPages, R) pages.
      const slack = this.chunkAlignPages - gcd(this.chunkAlignPages, R);
      const need = this.arenaImportQuantum + slack * PAGE_SIZE;
      this.parentImportSize = Math.ceil(need / this.kstackQuantum) * this.kstackQuantum;
    } else {
      this.chunkAlignPages = kp;
      // vm_thread_kstack_import_quantum, less one stack for the alignment bump.
      this.parentImportSize = this.kstackQuantum * kp;
      this.arenaImportQuantum = this.parentImportSize - kp * PAGE_SIZE;
    }
    const ncpu = Math.max(1, Math.floor(opts.ncpu));
    this.cacheMax = opts.cacheSize >= 0 ? opts.cacheSize : Math.max(128, 4 * ncpu);
    const objSize = Math.floor(arenas.size / PAGE_SIZE);
    this.kstackObject = src.createObject('kstack_object', objSize);
    this.kstackAltObject = src.createObject('kstack_alt_object', objSize);
    const ka: (Vmem | null)[] = [];
    for (let d = 0; d < this.ndomains; d++) {
      if (this.ilp32) {
        ka.push(null);
        continue;
      }
      const a = new Vmem(`kstack arena domain ${d}`, 0, 0, PAGE_SIZE);
      a.setImport(
        (parent: Vmem, size: number, flags: number) => this.arenaImport(d, parent, size, flags),
        (parent: Vmem, addr: number, size: number) => this.arenaRelease(d, parent, addr, size),
        arenas.domainArena[d],
        this.arenaImportQuantum,
      );
      ka.push(a);
    }
    this.kstackArena = ka;
    this.cache = Array.from({ length: this.ndomains }, () => []);
    this.domainOrder = new Int32Array(this.ndomains);
    this.windows = new ReservWindows(opts.reservOrder);
  }

  /*
   * Whether every stack's pages must share one domain (vm_thread_stack_dispose's
   * KASSERT). Not under ilp32: there the KVA is not per domain, and a stack
   * straddling two 2 MiB windows takes each page from the reservation of its
   * window, whatever its domain (vm_reserv_alloc_page uses rv->domain).
   */
  private get singleDomain(): boolean {
    return !this.ilp32 && this.review.kvaFromCpuDomain !== true;
  }

  /** atop(va - VM_MIN_KERNEL_ADDRESS). */
  linearIndex(va: number): number {
    return this.arenas.linearIndex(va);
  }

  /*
   * vm_kstack_pindex: the pindex of the stack page at `ks` in its object.
   * Linear under ilp32, the linear scheme, G = 0 or a non-default size;
   * otherwise the non-identity map (kstackPindexNonlinear).
   */
  pindexOf(ks: number, kpages: number): number {
    const L = this.linearIndex(ks);
    if (this.ilp32 || this.scheme === 'linear' || this.G === 0 || kpages !== this.K) return L;
    return kstackPindexNonlinear(L, this.K, this.G);
  }

  /* ---------------------------------------------------------- the arenas */

  /*
   * vm_thread_kstack_arena_import: a KVA_KSTACK_QUANTUM-aligned chunk of the
   * domain's kernel arena, its start moved up so that the linear index is a
   * multiple of K+G (aligned: of chunkAlignPages). Returns the moved start.
   * Requires size a multiple of K+G pages (EINVARIANT).
   */
  private arenaImport(domain: number, parent: Vmem, size: number, flags: number): number {
    const kp = this.K + this.G;
    kassert((size / PAGE_SIZE) % kp === 0, () => `vm_thread_kstack_arena_import: size ${hex(size)} is not a multiple of ${kp} kstack pages`);
    const a = vmem_xalloc(parent, this.parentImportSize, this.kstackQuantum, 0, 0, 0, Number.MAX_SAFE_INTEGER, (flags & ~VMEM_FITMASK) | M_BESTFIT);
    if (a === VMEM_FAILED) return VMEM_FAILED;
    const align = this.chunkAlignPages;
    const rem = this.linearIndex(a) % align;
    const start = rem === 0 ? a : a + (align - rem) * PAGE_SIZE;
    kassert(start + size <= a + this.parentImportSize, () => `vm_thread_kstack_arena_import: span ${hex(start)}+${hex(size)} overruns the import at ${hex(a)}`);
    if (this.scheme === 'aligned') this.importOrigin.set(start, a);
    const slotStart = this.linearIndex(start) / kp;
    const slots = size / PAGE_SIZE / kp;
    this.chunkMap.set(start, {
      domain,
      start,
      size,
      importStart: a,
      slots,
      pindexStart: this.chunkPindex(slotStart),
      pindexEnd: this.chunkPindex(slotStart + slots - 1) + this.K,
    });
    this.stats.imports++;
    return start;
  }

  /* The pindex of the first stack page of slot `slot`. */
  private chunkPindex(slot: number): number {
    const kp = this.K + this.G;
    if (this.scheme === 'linear' || this.G === 0) return slot * kp + this.G;
    return slot * this.K;
  }

  /*
   * vm_thread_kstack_arena_release: gives a wholly free span back to the
   * domain's kernel arena, rounding its start back to KVA_KSTACK_QUANTUM
   * (aligned: to where the import began). Requires a span this arena
   * imported (EINVARIANT naming it).
   */
  private arenaRelease(domain: number, parent: Vmem, addr: number, size: number): void {
    const kp = this.K + this.G;
    kassert((size / PAGE_SIZE) % kp === 0, () => `vm_thread_kstack_arena_release: size ${hex(size)} is not a multiple of ${kp} kstack pages`);
    kassert(this.linearIndex(addr) % kp === 0, () => `vm_thread_kstack_arena_release: address ${hex(addr)} is not aligned to ${kp} pages`);
    let origin = addr;
    if (this.scheme === 'aligned') {
      const o = this.importOrigin.get(addr);
      kassert(o !== undefined, () => `vm_thread_kstack_arena_release: ${hex(addr)} was not imported by kstack arena domain ${domain}`);
      origin = o;
      this.importOrigin.delete(addr);
    } else if (this.review.releaseUnrounded !== true) {
      const rem = (addr - this.arenas.base) % this.kstackQuantum;
      kassert(rem <= kp * PAGE_SIZE, () => `vm_thread_kstack_arena_release: ${hex(addr)} is ${hex(rem)} past a quantum, more than one stack`);
      origin = addr - rem;
    }
    this.chunkMap.delete(addr);
    this.stats.releases++;
    vmem_xfree(parent, origin, this.parentImportSize);
  }

  /*
   * vm_thread_alloc_kstack_kva: KVA for a stack of `pages` pages plus its
   * guards from the domain's kstack arena (other sizes: the domain's kernel
   * arena; ilp32: kernel_arena), best fit. Returns the address or 0.
   */
  private allocKva(pages: number, domain: number): number {
    const size = (pages + this.G) * PAGE_SIZE;
    let a: number;
    if (this.ilp32) return this.arenas.kvaAlloc(size);
    if (pages !== this.K) {
      a = this.arenas.domainArena[domain].alloc(size, M_BESTFIT);
    } else {
      a = (this.kstackArena[domain] as Vmem).alloc(size, M_BESTFIT);
      if (a !== VMEM_FAILED) {
        if (!(this.linearIndex(a) % (this.K + this.G) === 0)) throw new PagelabError('EINVARIANT', `vm_thread_alloc_kstack_kva: kstack KVA ${hex(a)} is not aligned to a multiple of the kstack size`);
      }
    }
    return a === VMEM_FAILED ? 0 : a;
  }

  /* vm_thread_free_kstack_kva: returns KVA of allocKva to the arena of `domain`. */
  private freeKva(addr: number, pages: number, domain: number): void {
    const size = (pages + this.G) * PAGE_SIZE;
    if (this.ilp32) this.arenas.kvaFree(addr, size);
    else if (pages !== this.K) this.arenas.domainArena[domain].free(addr, size);
    else (this.kstackArena[domain] as Vmem).free(addr, size);
  }

  /* ------------------------------------------------------ pages of a stack */

  private objectFor(pages: number): number {
    return pages === this.K ? this.kstackObject : this.kstackAltObject;
  }

  /*
   * vm_thread_stack_back: backs [ks, ks + pages) page by page with
   * vm_page_alloc_domain from `domain`, at consecutive pindexes, and maps
   * each page there (pmap_qenter); the guard pages below ks stay unmapped,
   * holes in the kernel's mappings. On failure unmaps and frees what it
   * took. Returns true when every page was allocated and mapped.
   */
  private stackBack(ks: number, pages: number, domain: number): boolean {
    const obj = this.objectFor(pages);
    const p0 = this.pindexOf(ks, pages);
    const src = this.src;
    let n = 0;
    for (; n < pages; n++) {
      let m = src.allocPage(obj, p0 + n, domain);
      if (m < 0 && this.review.kvaFromCpuDomain === true) {
        // The buggy revision: the object's DOMAINSET_PREF policy lets a page come from any domain.
        for (let d = 0; d < this.ndomains && m < 0; d++) if (d !== domain) m = src.allocPage(obj, p0 + n, d);
      }
      if (m < 0) break;
      if (src.qenter !== undefined && !src.qenter(ks + n * PAGE_SIZE, m)) {
        src.freePage(obj, p0 + n);
        break;
      }
      if (obj === this.kstackObject) this.windows.add(p0 + n);
    }
    if (n === pages) return true;
    src.qremove?.(ks, n);
    for (let i = 0; i < n; i++) {
      this.src.freePage(obj, p0 + i);
      if (obj === this.kstackObject) this.windows.remove(p0 + i);
    }
    return false;
  }

  /*
   * vm_thread_stack_create: KVA and pages for a stack of `pages` pages,
   * trying the domains of DOMAINSET_PREF(prefer) in order, KVA and pages
   * from the same domain. Returns ks (the first stack page) or 0 when no
   * domain has both.
   */
  private stackCreate(prefer: number, pages: number): number {
    const n = this.ndomains;
    if (this.review.retrySameDomain === true) {
      for (let spins = 0; spins < BUSY_LOOP_WATCHDOG; spins++) {
        const ks = this.tryDomain(prefer, pages);
        if (ks !== 0) return ks;
      }
      throw new PagelabError('EINVARIANT', `vm_thread_stack_create: busy loop, domain ${prefer} retried ${BUSY_LOOP_WATCHDOG} times without KVA or pages`);
    }
    for (let i = 0; i < n; i++) this.domainOrder[i] = (prefer + i) % n;
    const tries = this.review.kvaFromCpuDomain === true ? 1 : n;
    for (let i = 0; i < tries; i++) {
      const d = this.domainOrder[i];
      const ks = this.tryDomain(d, pages);
      if (ks !== 0) {
        if (d !== prefer || this.src.domainOf(this.src.lookup(this.objectFor(pages), this.pindexOf(ks, pages))) !== prefer) this.stats.fallbacks++;
        return ks;
      }
    }
    return 0;
  }

  private tryDomain(domain: number, pages: number): number {
    const kva = this.allocKva(pages, domain);
    if (kva === 0) return 0;
    const ks = kva + this.G * PAGE_SIZE;
    if (!this.stackBack(ks, pages, domain)) {
      this.freeKva(kva, pages, domain);
      return 0;
    }
    this.stats.created++;
    return ks;
  }

  /*
   * vm_thread_stack_dispose: frees the stack's pages and returns its KVA
   * to the arena of the domain its pages came from.
   */
  private stackDispose(ks: number, pages: number): void {
    const obj = this.objectFor(pages);
    const p0 = this.pindexOf(ks, pages);
    const m0 = this.src.lookup(obj, p0);
    if (!(m0 >= 0)) throw new PagelabError('EINVARIANT', `vm_thread_stack_dispose: kstack ${hex(ks)} already missing (pindex ${p0})`);
    const domain = this.src.domainOf(m0);
    this.src.qremove?.(ks, pages);
    for (let i = 0; i < pages; i++) {
      const m = this.src.lookup(obj, p0 + i);
      if (!(m >= 0)) throw new PagelabError('EINVARIANT', `vm_thread_stack_dispose: kstack ${hex(ks)} page ${i} already missing (pindex ${p0 + i})`);
      if (this.singleDomain) {
        if (!(this.src.domainOf(m) === domain)) throw new PagelabError('EINVARIANT', `vm_thread_stack_dispose: kstack ${hex(ks)} page ${i} is in domain ${this.src.domainOf(m)}, expected ${domain}`);
      }
      this.src.freePage(obj, p0 + i);
      if (obj === this.kstackObject) this.windows.remove(p0 + i);
    }
    this.stats.disposed++;
    this.freeKva(ks - this.G * PAGE_SIZE, pages, domain);
  }

  /* -------------------------------------------------------- the interface */

  /*
   * vm_thread_new: gives `td` a kernel stack of `pages` pages (<= 1: the
   * default; capped at KSTACK_MAX_PAGES), from the cache of the CPU's
   * domain when it has one, else created with DOMAINSET_PREF(cpuDomain).
   * Returns false (td unchanged) when no domain has the KVA and pages.
   * Requires td without a stack, 0 <= cpuDomain < ndomains.
   */
  vm_thread_new(td: KThread, cpuDomain: number, pages = 0): boolean {
    if (!Number.isInteger(cpuDomain) || cpuDomain < 0 || cpuDomain >= this.ndomains) {
      throw new PagelabError('EINVAL', `vm_thread_new: CPU domain ${cpuDomain} is out of range (machine has ${this.ndomains})`);
    }
    if (td.td_kstack !== 0) throw new PagelabError('EINVAL', `vm_thread_new: thread already has kstack ${hex(td.td_kstack)}`);
    if (pages <= 1) pages = this.K;
    else if (pages > KSTACK_MAX_PAGES) pages = KSTACK_MAX_PAGES;
    let ks = 0;
    if (pages === this.K) {
      const c = this.cache[cpuDomain];
      if (c.length > 0) {
        ks = c.pop() as number;
        this.cached--;
        this.stats.cacheHits++;
      } else {
        this.stats.cacheMisses++;
      }
    }
    if (ks === 0) ks = this.stackCreate(cpuDomain, pages);
    if (ks === 0) {
      this.stats.failures++;
      return false;
    }
    const m = this.src.lookup(this.objectFor(pages), this.pindexOf(ks, pages));
    td.td_kstack = ks;
    td.td_kstack_pages = pages;
    td.td_kstack_domain = this.src.domainOf(m);
    this.live.set(ks, pages);
    return true;
  }

  /*
   * vm_thread_dispose: takes td's stack; a default-sized one goes to the
   * cache of its own domain while the cache has room, any other is
   * disposed. Requires a stack this machine gave td (EINVAL naming it).
   */
  vm_thread_dispose(td: KThread): void {
    const ks = td.td_kstack;
    const pages = td.td_kstack_pages;
    if (this.live.get(ks) !== pages) {
      throw new PagelabError('EINVAL', `vm_thread_dispose: kstack ${hex(ks)} (${pages} pages) is not a live stack of this machine`);
    }
    this.live.delete(ks);
    const domain = td.td_kstack_domain;
    td.td_kstack = 0;
    td.td_kstack_pages = 0;
    td.td_kstack_domain = MAXMEMDOM;
    if (pages === this.K && this.cached < this.cacheMax) {
      this.cache[domain].push(ks);
      this.cached++;
      this.stats.cacheFrees++;
      return;
    }
    this.stackDispose(ks, pages);
  }

  /*
   * The vm_lowmem handler / uma_reclaim of kstack_cache: disposes of every
   * cached stack. Returns how many.
   */
  lowmem(): number {
    let n = 0;
    for (const c of this.cache) {
      while (c.length > 0) {
        const ks = c.pop() as number;
        this.cached--;
        this.stackDispose(ks, this.K);
        n++;
      }
    }
    this.stats.drained += n;
    return n;
  }

  /** The physical pages of td's stack, in stack order (vm_page_lookup of each pindex). */
  pagesOf(td: KThread): number[] {
    const obj = this.objectFor(td.td_kstack_pages);
    const p0 = this.pindexOf(td.td_kstack, td.td_kstack_pages);
    return Array.from({ length: td.td_kstack_pages }, (_, i) => this.src.lookup(obj, p0 + i));
  }

  /** Stacks in the cache (all domains, or one). */
  cachedStacks(domain?: number): number {
    return domain === undefined ? this.cached : this.cache[domain].length;
  }

  /** Calls fn with every cached stack (its ks). */
  forEachCached(fn: (ks: number) => void): void {
    for (const c of this.cache) for (const ks of c) fn(ks);
  }

  /** Stacks given to threads. */
  liveStacks(): number {
    return this.live.size;
  }

  /** Resident pages of default-sized stacks (live and cached). */
  stackPages(): number {
    return this.windows.pages;
  }

  /** The import chunks of the kstack arenas, in address order. */
  chunks(): KstackChunk[] {
    return [...this.chunkMap.values()].sort((a, b) => a.start - b.start);
  }

  /* ------------------------------------------------- the reservation view */

  /** The reservation string of an import chunk, seen through its own pindex range (see ReservWindows.rangeString). */
  chunkPattern(c: KstackChunk): string {
    return this.windows.rangeString(c.pindexStart, c.pindexEnd);
  }

  /* -------------------------------------------------------------- checker */

  /*
   * The consistency checker: every live and cached stack has all its pages
   * at its pindexes, in one domain, mapped at its KVA with its guard pages
   * unmapped (when the source has a pmap), its KVA busy in that domain's arena; the
   * window view counts exactly those pages; the arenas pass vmem_check.
   * Throws EINVARIANT naming the first broken invariant.
   */
  check(): void {
    let pagesSeen = 0;
    const stack = (ks: number, pages: number, where: string): void => {
      const obj = this.objectFor(pages);
      const p0 = this.pindexOf(ks, pages);
      const d = this.src.domainOf(this.src.lookup(obj, p0));
      for (let i = 0; i < pages; i++) {
        const m = this.src.lookup(obj, p0 + i);
        kassert(m >= 0, () => `kstack check: ${where} stack ${hex(ks)} page ${i} (pindex ${p0 + i}) is not resident`);
        kassert(this.src.domainOf(m) === d || !this.singleDomain, () => `kstack check: ${where} stack ${hex(ks)} spans domains`);
        if (this.src.mappedAt !== undefined) {
          const at = this.src.mappedAt(ks + i * PAGE_SIZE);
          kassert(at === m, () => `kstack check: ${where} stack ${hex(ks)} page ${i} maps page ${at}, not its page ${m}`);
        }
      }
      if (this.src.mappedAt !== undefined) {
        for (let g = 1; g <= this.G; g++) {
          const at = this.src.mappedAt(ks - g * PAGE_SIZE);
          kassert(at < 0, () => `kstack check: ${where} stack ${hex(ks)} guard page ${hex(ks - g * PAGE_SIZE)} is mapped (page ${at})`);
        }
      }
      if (obj === this.kstackObject) pagesSeen += pages;
      if (!this.ilp32 && pages === this.K) {
        const a = this.kstackArena[d] as Vmem;
        kassert(a.owns(ks - this.G * PAGE_SIZE), () => `kstack check: ${where} stack ${hex(ks)} has pages in domain ${d} but KVA outside kstack arena ${d}`);
      }
    };
    for (const [ks, pages] of this.live) stack(ks, pages, 'live');
    for (let d = 0; d < this.ndomains; d++) {
      for (const ks of this.cache[d]) {
        stack(ks, this.K, 'cached');
        kassert(this.src.domainOf(this.src.lookup(this.kstackObject, this.pindexOf(ks, this.K))) === d, () => `kstack check: cached stack ${hex(ks)} is in the cache of domain ${d} but its pages are not`);
      }
    }
    kassert(pagesSeen === this.windows.pages, () => `kstack check: window view counts ${this.windows.pages} pages, stacks hold ${pagesSeen}`);
    this.windows.check();
    kassert(this.cached <= this.cacheMax, () => `kstack check: ${this.cached} cached stacks above the limit ${this.cacheMax}`);
    let kva = 0;
    for (const a of this.kstackArena) {
      if (a === null) continue;
      a.check();
      kva += a.size(VMEM_ALLOC);
    }
    if (!this.ilp32) {
      let defaultStacks = this.cached;
      for (const p of this.live.values()) if (p === this.K) defaultStacks++;
      kassert(kva === defaultStacks * (this.K + this.G) * PAGE_SIZE, () => `kstack check: kstack arenas have ${hex(kva)} bytes allocated for ${defaultStacks} stacks`);
    }
    this.arenas.check();
  }
}
