/**
 * vm_page_startup: initialise the page array and hand every page of
 * phys_avail to the buddy allocator, eagerly or lazily (D40403).
 */
import type { MemoryMap, PhysRange } from '../machine/types.js';
import { Work, workDelta, type WorkCounters } from './counters.js';
import { ASTATE_RESERVED, PAGE_SIZE, PG_ZERO, VM_FREEPOOL_DEFAULT, VM_FREEPOOL_LAZYINIT } from './param.js';
import type { Phys } from './phys.js';

export interface StartupOptions {
  /** vm.lazy_page_init */
  lazy: boolean;
  /** vm.page_init: 'fields' (vm_page_init_page per page) or 'bzero' (zero-fill, then set). */
  pageInit: 'fields' | 'bzero';
}

export interface BootStats {
  lazy: boolean;
  /** Page records written on the boot path. */
  pagesInitialised: number;
  /** Pages outside phys_avail (kernel, firmware), initialised and reserved (ASTATE_RESERVED). */
  pagesReserved: number;
  /** Pages handed to the allocator. */
  pagesFree: number;
  /** Free blocks enqueued (lazy blocks included). */
  blocksEnqueued: number;
  /** Of which in the LAZYINIT pool. */
  lazyBlocks: number;
  /** Work counted during startup, for the cost model. */
  work: WorkCounters;
}

/* phys_avail with adjacent entries merged, so that no two boot blocks are unmerged buddies. */
export function normalisePhysAvail(ranges: readonly PhysRange[]): PhysRange[] {
  const out: PhysRange[] = [];
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    const last = out[out.length - 1];
    if (last !== undefined && last.end === r.start) last.end = r.end;
    else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/*
 * Requires: a freshly constructed Phys (no page initialised, queues empty).
 * Guarantees: pages outside phys_avail are initialised and ASTATE_RESERVED;
 * every page inside phys_avail is free, on a DEFAULT queue (eager, PG_ZERO on
 * fresh memory) or in a LAZYINIT block whose records are untouched (lazy);
 * vm_default_freepool is LAZYINIT while lazy blocks exist.
 */
export function vmPageStartup(phys: Phys, map: MemoryMap, opts: StartupOptions): BootStats {
  if (!opts.lazy) phys.assertHostHoldsRecords(phys.npages, 'an eager boot');
  const before = Float64Array.from(phys.work);
  const avail = normalisePhysAvail(map.physAvail);
  const pages = phys.pages;
  let reserved = 0;
  let free = 0;
  let initialised = 0;
  const lazyBefore = phys.queueInsertsLazy();
  for (let s = 0; s < phys.segs.length; s++) {
    const seg = phys.segs[s];
    // The parts of phys_avail inside this segment.
    const parts: PhysRange[] = [];
    for (const r of avail) {
      const a = Math.max(r.start, seg.start);
      const b = Math.min(r.end, seg.end);
      if (a < b) parts.push({ start: a, end: b });
    }
    const idx = (pa: number): number => seg.firstPage + (pa - seg.start) / PAGE_SIZE;
    if (!opts.lazy) {
      if (opts.pageInit === 'bzero') {
        pages.initRangeBulk(seg.firstPage, seg.npages, s);
        phys.work[Work.PageInitBulk] += seg.npages;
      } else {
        pages.initRange(seg.firstPage, seg.npages, s);
        phys.work[Work.PageInit] += seg.npages;
      }
      initialised += seg.npages;
    }
    // Pages not covered by phys_avail: initialised (lazily booted kernels
    // too, as D40403 does for kmem_bootstrap_free) and allocated.
    let cursor = seg.start;
    const gaps: PhysRange[] = [];
    for (const p of parts) {
      if (p.start > cursor) gaps.push({ start: cursor, end: p.start });
      cursor = p.end;
    }
    if (cursor < seg.end) gaps.push({ start: cursor, end: seg.end });
    for (const g of gaps) {
      const first = idx(g.start);
      const n = (g.end - g.start) / PAGE_SIZE;
      if (opts.lazy) {
        // The kernel's work is vm_page_init_page per page (counted so); the
        // records are written with fills, which give the same result and run
        // as native code while a one-shot process's JIT is still cold.
        pages.initRangeBulk(first, n, s);
        phys.work[Work.PageInit] += n;
        initialised += n;
      }
      pages.astate.fill(ASTATE_RESERVED, first, first + n);
      reserved += n;
    }
    for (const p of parts) {
      const n = (p.end - p.start) / PAGE_SIZE;
      // Fresh backing memory reads zero, as firmware-zeroed RAM would; lazy
      // pages get PG_ZERO as they leave the pool.
      if (!opts.lazy && phys.freshMemoryZero) pages.flags.fill(PG_ZERO, idx(p.start), idx(p.start) + n);
      phys.enqueueContig(idx(p.start), opts.lazy ? VM_FREEPOOL_LAZYINIT : VM_FREEPOOL_DEFAULT, n);
      free += n;
    }
  }
  const work = workDelta(phys.work, before);
  return {
    lazy: opts.lazy,
    pagesInitialised: initialised,
    pagesReserved: reserved,
    pagesFree: free,
    blocksEnqueued: work[Work.QueueInsert],
    lazyBlocks: phys.queueInsertsLazy() - lazyBefore,
    work,
  };
}
