/**
 * vm_map_wire's per-entry work, on four paths (vm.wire.fast), after review
 * D43602-style "fast wiring" (seed 001):
 *
 *   0         FreeBSD today: vm_fault(VM_FAULT_WIRE) for every 4 KiB page.
 *   proposed  the patch's first version: preallocate reservation-sized runs
 *             (vm_page_alloc_contig) into the entry's object, mark them valid
 *             WITHOUT zeroing them and unbusy them, then vm_fault each page,
 *             which finds them valid and maps whatever bytes they hold.
 *   revised   its second version: the runs go in wired, unbusied and invalid
 *             (VM_ALLOC_WIRED | VM_ALLOC_NOBUSY); vm_fault then fills and
 *             maps them. Between the two the object lock is dropped, and a
 *             collapse there meets wired, invalid, unbusied pages.
 *   1         done right: each run is busied while it is inserted, zeroed
 *             unless PG_ZERO, validated, unbusied, and mapped with one 2 MiB
 *             PDE (pmap_enter psind 1); no moment leaves an invalid page
 *             unbusied in the object.
 *
 * Runs are used only where a whole 2 MiB of the entry is aligned and its
 * object has no page there (path 1 also asks that no backing object has
 * one: those pages must be copied, not replaced by zeros); the rest of the entry (edges, resident pages,
 * runs the allocator could not give) goes through vm_fault as on path 0.
 */
import { VM_FAULT_WIRE } from './fault.js';
import { MapWork } from './map-counters.js';
import type { VmMap } from './map.js';
import { PAGE_SIZE, VM_ALLOC_NOBUSY, VM_ALLOC_WIRED, VPB_UNBUSIED } from './param.js';
import { KERN_SUCCESS, NBPDR, NPTEPG, PMAP_ENTER_WIRED, VM_PROT_EXECUTE, VM_PROT_READ } from './pmap.js';

export type WirePath = '0' | 'proposed' | 'revised' | '1';
export const WIRE_PATHS: readonly WirePath[] = ['0', 'proposed', 'revised', '1'];

/** Runs where a path has put its pages in the object and dropped the object lock, before mapping them. */
export type WireWindow = (map: VmMap, entry: number) => void;

/*
 * Wire every page of entry `s` of `map` on `path`. Returns KERN_SUCCESS, or
 * the first failure's code with everything this call wired unwired again.
 * Requires: the entry is not wired yet.
 */
export function wireEntry(map: VmMap, s: number, path: WirePath, window?: WireWindow): number {
  // vm_map_wire_locked leaves entries nobody may read unfaulted: they count as wired, hold no page.
  if ((map.prot[s] & (VM_PROT_READ | VM_PROT_EXECUTE)) === 0) return KERN_SUCCESS;
  if (path === '0') return wireByFault(map, map.start[s], map.end[s]);
  return wirePrealloc(map, s, path, window);
}

/* vm_fault(VM_FAULT_WIRE) over [from, to); on failure, unwire what was wired. */
function wireByFault(map: VmMap, from: number, to: number): number {
  const f = map.maps.fault;
  for (let va = from; va < to; va += PAGE_SIZE) {
    const rv = f.fault(map, va, 0, VM_FAULT_WIRE);
    if (rv !== KERN_SUCCESS) {
      f.unwireRange(map, from, va);
      return rv;
    }
  }
  return KERN_SUCCESS;
}

function wirePrealloc(map: VmMap, s: number, path: WirePath, window?: WireWindow): number {
  const maps = map.maps;
  const vm = maps.vm;
  const objects = vm.object;
  const page = vm.page;
  const pages = page.pages;
  const valid = maps.shadow.valid;
  const work = maps.work;
  // Resolve the entry's object as a wiring fault would: a writable
  // copy-on-write entry gets its shadow first, so the runs go in front.
  const lrv = map.lookup(map.start[s], map.prot[s]);
  if (lrv !== KERN_SUCCESS) return lrv;
  const obj = map.object[s];
  const start = map.start[s];
  const end = map.end[s];
  const off = map.offset[s];
  const req = path === 'proposed' ? 0 : path === 'revised' ? VM_ALLOC_WIRED | VM_ALLOC_NOBUSY : VM_ALLOC_WIRED;
  const runs: number[] = []; // pairs: va, first page
  for (let va = Math.ceil(start / NBPDR) * NBPDR; va + NBPDR <= end; va += NBPDR) {
    const p0 = off + (va - start) / PAGE_SIZE;
    if (objects.residentPages(obj, p0, p0 + NPTEPG, 1).length > 0) continue;
    // Done right also leaves windows a backing object holds data for to vm_fault's copy; the patch did not look.
    if (path === '1' && backingHasPages(map, obj, p0)) continue;
    const m0 = page.allocContig(obj, p0, req, NPTEPG, 0, Number.MAX_SAFE_INTEGER, NBPDR, 0);
    if (m0 < 0) continue;
    work[MapWork.ContigAlloc]++;
    work[MapWork.ContigPage] += NPTEPG;
    valid.fill(0, m0, m0 + NPTEPG);
    if (path === 'proposed') {
      // The first version: valid and unbusied as allocated; nothing zeroes them.
      valid.fill(1, m0, m0 + NPTEPG);
      work[MapWork.Validate] += NPTEPG;
      for (let i = 0; i < NPTEPG; i++) objects.setBusy(m0 + i, VPB_UNBUSIED);
    } else if (path === '1') {
      vm.phys.zeroPages(m0, NPTEPG);
      valid.fill(1, m0, m0 + NPTEPG);
      work[MapWork.Validate] += NPTEPG;
      for (let i = 0; i < NPTEPG; i++) objects.setBusy(m0 + i, VPB_UNBUSIED);
    }
    runs.push(va, m0);
  }
  if (window !== undefined) {
    try {
      window(map, s);
    } catch (e) {
      undoRuns(map, obj, runs, path);
      throw e;
    }
  }
  let rv = KERN_SUCCESS;
  if (path === '1') {
    const prot = map.prot[s];
    for (let i = 0; i < runs.length && rv === KERN_SUCCESS; i += 2) {
      if (maps.superpages) {
        rv = map.pmap.enter(runs[i], runs[i + 1], prot, PMAP_ENTER_WIRED, 1);
      } else {
        for (let k = 0; k < NPTEPG && rv === KERN_SUCCESS; k++) rv = map.pmap.enterUnsafe(runs[i] + k * PAGE_SIZE, runs[i + 1] + k, prot, PMAP_ENTER_WIRED);
      }
    }
    if (rv !== KERN_SUCCESS) {
      maps.fault.unwireRange(map, start, end);
      undoRuns(map, obj, runs, path);
      return rv;
    }
    // The rest of the entry (edges, pages already resident) as path 0 does.
    let va = start;
    for (let i = 0; i <= runs.length; i += 2) {
      const stop = i < runs.length ? runs[i] : end;
      if (va < stop) rv = wireByFault(map, va, stop);
      if (rv !== KERN_SUCCESS) {
        maps.fault.unwireRange(map, start, end);
        return rv;
      }
      va = stop + NBPDR;
    }
    return KERN_SUCCESS;
  }
  // proposed and revised: the patch's vm_fault loop over the whole entry.
  rv = wireByFault(map, start, end);
  if (path === 'revised') {
    // The preallocation's own wiring: vm_fault wired each page again.
    for (let i = 0; i < runs.length; i += 2) {
      for (let k = 0; k < NPTEPG; k++) {
        const m = runs[i + 1] + k;
        if (pages.object[m] === obj) {
          if (rv === KERN_SUCCESS || valid[m] !== 0) pages.wire[m]--;
          else {
            pages.wire[m] = 0;
            page.free(m);
          }
          work[MapWork.PageWire]++;
        }
      }
    }
  }
  return rv;
}

/* Does any object behind `obj` hold a page for pindexes [p0, p0 + NPTEPG) of `obj`? */
function backingHasPages(map: VmMap, obj: number, p0: number): boolean {
  const shadow = map.maps.shadow;
  const objects = map.maps.vm.object;
  let lo = p0;
  for (let b = shadow.backing(obj); b !== undefined; b = shadow.backing(b.object)) {
    lo += b.offset;
    if (objects.residentPages(b.object, lo, lo + NPTEPG, 1).length > 0) return true;
  }
  return false;
}

/* Take back runs that were put in the object but never mapped (a failure in the window). */
function undoRuns(map: VmMap, obj: number, runs: number[], path: WirePath): void {
  const page = map.maps.vm.page;
  const pages = page.pages;
  for (let i = 0; i < runs.length; i += 2) {
    for (let k = 0; k < NPTEPG; k++) {
      const m = runs[i + 1] + k;
      if (pages.object[m] !== obj || map.pmap.extract(runs[i] + k * PAGE_SIZE) === m) continue;
      if (path !== 'proposed' && pages.wire[m] > 0) pages.wire[m]--;
      if (pages.wire[m] === 0) page.free(m);
    }
  }
}
