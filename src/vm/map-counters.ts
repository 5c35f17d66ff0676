/**
 * Work counters of the mapping layer (pmap, vm_map, vm_fault, wiring), kept
 * apart from counters.ts's allocator work so that the boot profiles, which
 * price only allocator work, stay complete. Same contract: the VM counts,
 * src/sim prices (sim/wire-cost.ts), one Float64Array, one increment each.
 */
export const enum MapWork {
  /** vm_fault calls that took the slow path (map lookup, object chain walk, page lookup or allocation). */
  Fault = 0,
  /** vm_fault calls served by vm_fault_soft_fast (resident, valid page; no object chain walk). */
  FaultSoft,
  /** Objects visited while walking a shadow chain, beyond the first. */
  ChainStep,
  /** Single pages allocated by vm_fault (vm_page_alloc from a reservation, a page cache or vm_phys). */
  PageAlloc,
  /** Runs allocated by vm_page_alloc_contig for wiring (one per superpage). */
  ContigAlloc,
  /** Pages initialised inside those runs (per-page loop of vm_page_alloc_contig). */
  ContigPage,
  /** Pages copied on a copy-on-write fault (pmap_copy_page). */
  CopyPage,
  /** Pages marked valid (vm_page_valid) by a fault or a wiring path. */
  Validate,
  /** 4 KiB page-table entries written (pmap_enter psind 0, demotion fills count here too). */
  PteWrite,
  /** 2 MiB page-directory entries written (pmap_enter psind 1 or a promotion). */
  PdeWrite,
  /** Page-table pages allocated (pmap_alloc_pt_page). */
  PtpAlloc,
  /** Page-table pages freed. */
  PtpFree,
  /** Successful pmap_promote_pde. */
  Promote,
  /** pmap_demote_pde. */
  Demote,
  /** Page-table entries cleared by pmap_remove. */
  PteRemove,
  /** vm_page_wire / vm_page_unwire calls made by wiring and unwiring. */
  PageWire,
  /** Pages moved or freed by vm_object_collapse. */
  CollapsePage,
  COUNT,
}

export const MAP_WORK_NAMES: readonly string[] = [
  'fault',
  'fault_soft',
  'chain_step',
  'page_alloc',
  'contig_alloc',
  'contig_page',
  'copy_page',
  'validate',
  'pte_write',
  'pde_write',
  'ptp_alloc',
  'ptp_free',
  'promote',
  'demote',
  'pte_remove',
  'page_wire',
  'collapse_page',
];

export type MapWorkCounters = Float64Array;

export function newMapWork(): MapWorkCounters {
  return new Float64Array(MapWork.COUNT);
}

export function mapWorkToObject(w: MapWorkCounters): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < MapWork.COUNT; i++) out[MAP_WORK_NAMES[i]] = w[i];
  return out;
}
