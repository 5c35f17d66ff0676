/**
 * vm_phys_add_seg and the segment half of vm_phys_init: the machine's RAM cut
 * into physical segments at the free-list boundaries, each with its domain,
 * free list and first page index.
 */
import { PagelabError, kassert } from '../errors.js';
import type { MemoryMap } from '../machine/types.js';
import { hex } from '../util/units.js';
import {
  PAGE_SIZE,
  VM_DMA32_BOUNDARY,
  VM_DMA32_NPAGES_THRESHOLD,
  VM_FREELIST_DEFAULT,
  VM_FREELIST_DMA32,
  VM_FREELIST_LOWMEM,
  VM_LOWMEM_BOUNDARY,
  VM_NFREELIST,
  VM_PHYSSEG_MAX,
} from './param.js';

/** A physical segment (struct vm_phys_seg), read-only view for reports. */
export interface PhysSeg {
  start: number;
  end: number;
  domain: number;
  flind: number;
  freelist: number;
  firstPage: number;
  npages: number;
}

/*
 * vm_phys_add_seg + vm_phys_init: split RAM ranges at the LOWMEM and DMA32
 * boundaries, decide which free lists exist, give each segment its free list
 * and its first page, and coalesce neighbours that share free queues.
 * Requires: a validated map (sorted, non-overlapping, page-aligned ranges).
 */
export function buildSegments(
  map: MemoryMap,
  numaDisabled: boolean,
): { segs: PhysSeg[]; freelistToFlind: Int8Array; nfreelists: number; ndomains: number } {
  const ndomains = numaDisabled ? 1 : map.ndomains;
  const raw: Array<{ start: number; end: number; domain: number }> = [];
  for (const r of map.ram) {
    const domain = numaDisabled ? 0 : r.domain;
    let paddr = r.start;
    if (paddr < VM_LOWMEM_BOUNDARY && r.end > VM_LOWMEM_BOUNDARY) {
      raw.push({ start: paddr, end: VM_LOWMEM_BOUNDARY, domain });
      paddr = VM_LOWMEM_BOUNDARY;
    }
    if (paddr < VM_DMA32_BOUNDARY && r.end > VM_DMA32_BOUNDARY) {
      raw.push({ start: paddr, end: VM_DMA32_BOUNDARY, domain });
      paddr = VM_DMA32_BOUNDARY;
    }
    raw.push({ start: paddr, end: r.end, domain });
  }
  raw.sort((a, b) => a.start - b.start);

  // Which free lists exist: LOWMEM for segments below 16 MiB, DMA32 for
  // segments below 4 GiB only when more than 64 GiB lies above it.
  const present = new Int8Array(VM_NFREELIST);
  let npagesAbove = 0;
  for (let i = raw.length - 1; i >= 0; i--) {
    const s = raw[i];
    if (s.end <= VM_LOWMEM_BOUNDARY) present[VM_FREELIST_LOWMEM] = 1;
    else if (npagesAbove > VM_DMA32_NPAGES_THRESHOLD && s.end <= VM_DMA32_BOUNDARY) present[VM_FREELIST_DMA32] = 1;
    else {
      npagesAbove += (s.end - s.start) / PAGE_SIZE;
      present[VM_FREELIST_DEFAULT] = 1;
    }
  }
  const freelistToFlind = new Int8Array(VM_NFREELIST);
  let running = 0;
  for (let f = 0; f < VM_NFREELIST; f++) {
    running += present[f];
    freelistToFlind[f] = present[f] ? running - 1 : -1;
  }
  const nfreelists = running;

  const segs: PhysSeg[] = [];
  for (const s of raw) {
    let freelist: number;
    if (s.end <= VM_LOWMEM_BOUNDARY) freelist = VM_FREELIST_LOWMEM;
    else if (s.end <= VM_DMA32_BOUNDARY && freelistToFlind[VM_FREELIST_DMA32] >= 0) freelist = VM_FREELIST_DMA32;
    else freelist = VM_FREELIST_DEFAULT;
    const flind = freelistToFlind[freelist];
    kassert(flind >= 0, () => `buildSegments: free list ${freelist} has no index`);
    const prev = segs[segs.length - 1];
    if (prev !== undefined && prev.end === s.start && prev.domain === s.domain && prev.flind === flind) {
      prev.end = s.end;
      prev.npages = (prev.end - prev.start) / PAGE_SIZE;
      continue;
    }
    segs.push({ start: s.start, end: s.end, domain: s.domain, flind, freelist, firstPage: 0, npages: (s.end - s.start) / PAGE_SIZE });
  }
  if (segs.length > VM_PHYSSEG_MAX) {
    throw new PagelabError(
      'EMEMMAP',
      `memory map ${map.name}: ${segs.length} physical segments exceed VM_PHYSSEG_MAX (${VM_PHYSSEG_MAX}); first past the limit starts at ${hex(segs[VM_PHYSSEG_MAX].start)}`,
    );
  }
  let first = 0;
  for (const s of segs) {
    s.firstPage = first;
    first += s.npages;
  }
  return { segs, freelistToFlind, nfreelists, ndomains };
}


/**
 * The segment table in typed arrays, for the hot paths and the address
 * lookups (vm_phys_paddr_to_seg, vm_phys_paddr_to_vm_page and back). Indexed
 * by segment: first page index, page count, low 32 bits of the first pfn
 * (alignment arithmetic stays in 32 bits), domain, and the first free queue
 * and first lazy queue of the segment's [domain][flind].
 */
export class SegmentTable {
  readonly segs: readonly PhysSeg[];
  readonly first: Float64Array;
  readonly count: Float64Array;
  readonly pfnLo: Int32Array;
  /** One past the last page index of the segment (first + count). */
  readonly end: Float64Array;
  /**
   * pfn - page index, low 32 bits: (m + pfnDelta) & bit is bit `bit` of page
   * m's pfn, which decides whether its buddy lies above or below it.
   */
  readonly pfnDelta: Int32Array;
  readonly domain: Uint8Array;
  /** Free queue [domain][flind][0][0] of the segment: add pool * nfreeorder + order. */
  readonly queueBase: Int32Array;
  /** Lazy queue [domain][flind][0] of the segment: add the order. */
  readonly lazyBase: Int32Array;

  constructor(segs: readonly PhysSeg[], queueBase: (domain: number, flind: number) => number, lazyBase: (domain: number, flind: number) => number) {
    this.segs = segs;
    this.first = Float64Array.from(segs, (s) => s.firstPage);
    this.count = Float64Array.from(segs, (s) => s.npages);
    this.pfnLo = Int32Array.from(segs, (s) => (s.start / PAGE_SIZE) % 4294967296 | 0);
    this.end = Float64Array.from(segs, (s) => s.firstPage + s.npages);
    this.pfnDelta = Int32Array.from(segs, (s, i) => (this.pfnLo[i] - (s.firstPage % 4294967296)) | 0);
    this.domain = Uint8Array.from(segs, (s) => s.domain);
    this.queueBase = Int32Array.from(segs, (s) => queueBase(s.domain, s.flind));
    this.lazyBase = Int32Array.from(segs, (s) => lazyBase(s.domain, s.flind));
  }

  /** Segment index containing physical address `pa`, or -1. */
  ofPa(pa: number): number {
    let lo = 0;
    let hi = this.segs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.segs[mid];
      if (pa < s.start) hi = mid - 1;
      else if (pa >= s.end) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** Segment of page index `m` (0 <= m < npages), found without reading the page record. */
  of(m: number): number {
    let lo = 0;
    let hi = this.segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.first[mid] <= m) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Page index of `pa`, or -1 when no segment holds it. */
  paToPage(pa: number): number {
    const s = this.ofPa(pa);
    if (s < 0) return -1;
    return this.segs[s].firstPage + Math.floor((pa - this.segs[s].start) / PAGE_SIZE);
  }

  /** Physical address of page `m`. Requires: 0 <= m < npages. */
  pageToPa(m: number): number {
    const seg = this.segs[this.of(m)];
    return seg.start + (m - seg.firstPage) * PAGE_SIZE;
  }

  /** Low 32 bits of the pfn of page `m`. */
  pfnLow(m: number): number {
    const s = this.of(m);
    return (this.pfnLo[s] + (m - this.first[s])) | 0;
  }
}
