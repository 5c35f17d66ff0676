/**
 * Work counters: what the VM did, in units a cost model can price.
 *
 * The VM never measures time; it counts primitive operations here, and the
 * simulator (src/sim/) multiplies them by calibrated costs. One Float64Array
 * so that counting is a single indexed increment on the hot path.
 */
export const enum Work {
  /** Page records initialised (vm_page_init_page). */
  PageInit = 0,
  /** Page records initialised by zero-fill-then-set (bulk path), counted in pages. */
  PageInitBulk,
  /** Blocks added to a free queue (vm_freelist_add). */
  QueueInsert,
  /** Blocks removed from a free queue (vm_freelist_rem / TAILQ_FIRST+remove). */
  QueueRemove,
  /** Free-queue heads examined while searching for a block (one per list looked at). */
  QueueHeadVisit,
  /** Halvings while splitting a block (vm_phys_split_pages iterations). */
  Split,
  /** Buddy merges while freeing (vm_phys_free_pages iterations that coalesced). */
  Merge,
  /** Acquisitions of a domain's free-queue lock. */
  Lock,
  /** LAZYINIT blocks taken out of the lazy pool (and initialised). */
  LazyBlockTaken,
  /** Pages examined by contiguous-range searches (vm_phys_find_freelist_contig). */
  ContigScan,
  /** Bytes zeroed on the allocating thread. */
  ZeroBytesSync,
  /** Bytes zeroed in the background. */
  ZeroBytesBackground,
  /** Pages whose zeroing was skipped because they were PG_ZERO. */
  ZeroSkipped,
  COUNT,
}

export const WORK_NAMES: readonly string[] = [
  'page_init',
  'page_init_bulk',
  'queue_insert',
  'queue_remove',
  'queue_head_visit',
  'split',
  'merge',
  'lock',
  'lazy_block_taken',
  'contig_scan',
  'zero_bytes_sync',
  'zero_bytes_background',
  'zero_skipped',
];

export type WorkCounters = Float64Array;

export function newWorkCounters(): WorkCounters {
  return new Float64Array(Work.COUNT);
}

/** A plain object view of the counters, for JSON and the cost model. */
export function workToObject(w: WorkCounters): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < Work.COUNT; i++) out[WORK_NAMES[i]] = w[i];
  return out;
}

/** `a - b`, element-wise, into a new counter set: the work done between two snapshots. */
export function workDelta(a: WorkCounters, b: WorkCounters): WorkCounters {
  const d = newWorkCounters();
  for (let i = 0; i < Work.COUNT; i++) d[i] = a[i] - b[i];
  return d;
}
