/**
 * Machine-independent and amd64 constants of the physical memory layer, as in
 * FreeBSD's sys/amd64/include/vmparam.h and sys/vm/vm_page.h.
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

/** Default number of buddy orders: blocks up to 2^12 pages = 16 MiB on amd64. */
export const VM_NFREEORDER_DEFAULT = 13;
/** Orders above this make no sense for a 32-bit page index. */
export const VM_NFREEORDER_MAX = 25;

/**
 * Free pools, numbered as on amd64 after D40403 landed. LAZYINIT is 0 so that
 * a never-written page record (all zero bytes) reads as "in the lazy pool".
 */
export const VM_FREEPOOL_LAZYINIT = 0;
export const VM_FREEPOOL_DEFAULT = 1;
export const VM_FREEPOOL_DIRECT = 2;
export const VM_NFREEPOOL = 3;
export const POOL_NAMES = ['LAZYINIT', 'DEFAULT', 'DIRECT'] as const;

/** Free lists (VM_FREELIST_*) and their boundaries, amd64. */
export const VM_FREELIST_DEFAULT = 0;
export const VM_FREELIST_DMA32 = 1;
export const VM_FREELIST_LOWMEM = 2;
export const VM_NFREELIST = 3;
export const FREELIST_NAMES = ['DEFAULT', 'DMA32', 'LOWMEM'] as const;
export const VM_LOWMEM_BOUNDARY = 16 * 2 ** 20;
export const VM_DMA32_BOUNDARY = 4 * 2 ** 30;
/** DMA32 gets its own free list only when more than 64 GiB lies above 4 GiB. */
export const VM_DMA32_NPAGES_THRESHOLD = 16777216;
/** FreeBSD's VM_PHYSSEG_MAX on amd64. */
export const VM_PHYSSEG_MAX = 63;

/** Page queue (m->a.queue) of a page on none. */
export const PQ_NONE = 255;

/** Page flags (m->flags), FreeBSD values. PG_PCPU_CACHE: from a per-domain page cache, and back to it when freed. */
export const PG_PCPU_CACHE = 0x01;
export const PG_FICTITIOUS = 0x04;
export const PG_ZERO = 0x08;
export const PG_NODUMP = 0x80;
/**
 * pagelab's own bits, in values FreeBSD leaves unused: PG_REPORTED on the head
 * of a free block that free page reporting has zeroed (Linux's PageReported);
 * PG_DIRTYQ while a free page is on the pre-zeroer's dirty list.
 */
export const PG_REPORTED = 0x20;
export const PG_DIRTYQ = 0x40;

/** Allocation request flags (VM_ALLOC_*), FreeBSD values (sys/vm/vm_page.h). */
export const VM_ALLOC_NORMAL = 0;
export const VM_ALLOC_INTERRUPT = 1;
export const VM_ALLOC_SYSTEM = 2;
export const VM_ALLOC_CLASS_MASK = 3;
export const VM_ALLOC_WAITOK = 0x0008;
export const VM_ALLOC_WAITFAIL = 0x0010;
export const VM_ALLOC_WIRED = 0x0020;
export const VM_ALLOC_ZERO = 0x0040;
export const VM_ALLOC_NORECLAIM = 0x0080;
export const VM_ALLOC_NOBUSY = 0x0200;
export const VM_ALLOC_NOCREAT = 0x0400;
export const VM_ALLOC_NODUMP = 0x2000;
export const VM_ALLOC_SBUSY = 0x4000;
export const VM_ALLOC_NOWAIT = 0x8000;

/** Busy states (m->busy_lock): unbusied, exclusive; 1..VPB_MAX_SHARERS are shared counts. */
export const VPB_UNBUSIED = 0;
export const VPB_XBUSY = 0xff;
export const VPB_MAX_SHARERS = 0xfe;

/** Page allocation states (page array `astate`). */
export const ASTATE_FREE = 0;
export const ASTATE_ALLOCATED = 1;
/** Taken off the free queues by the pre-zeroer; never handed out while so. */
export const ASTATE_ZEROING = 2;
/** Held by a per-domain page cache (vm_page's vmd_pgcache): free to the caller, not to vm_phys. */
export const ASTATE_CACHED = 3;
/**
 * Outside phys_avail (kernel image, firmware, holes): allocated by boot, never
 * by a caller, so the checked frees refuse it; Phys.bootstrapFree gives it back.
 */
export const ASTATE_RESERVED = 4;

/**
 * Free inside a superpage reservation (vm_reserv): vm_phys sees the page as
 * taken (the reservation holds its whole block), the reservation as free.
 */
export const ASTATE_RESV_FREE = 5;

/** "No page" in index-linked lists and return values. */
export const NIL = 0xffffffff;
/** "No object" in the object slot. */
export const OBJ_NONE = 0;

/** Largest page count a machine may have: page indices are 32-bit with NIL reserved. */
export const MAX_PAGES = 0xfffffffe;
