/**
 * The physical memory map of a machine, as firmware would hand it to a kernel.
 *
 * All addresses are byte addresses held in JS numbers (exact up to 2^53),
 * page-aligned (4 KiB), half-open `[start, end)`.
 */
export interface PhysRange {
  start: number;
  end: number;
}

/** A range of RAM on one NUMA domain. */
export interface RamRange extends PhysRange {
  domain: number;
}

export interface MemoryMap {
  /** Preset name, file name, or "host". */
  name: string;
  /** Where the map came from, for reports: "preset", "--mem", a file path, "/proc/iomem", ... */
  source: string;
  /** Number of NUMA domains; every RamRange.domain is below it. */
  ndomains: number;
  /** RAM, sorted by start, non-overlapping, page-aligned, non-empty ranges. */
  ram: RamRange[];
  /**
   * FreeBSD's phys_avail[]: the parts of RAM the kernel hands to the page
   * allocator. Sorted, non-overlapping, each inside one RAM range. Pages in
   * RAM but outside phys_avail (the kernel image, firmware tables, early
   * allocations) get their page records initialised eagerly at boot and start
   * allocated.
   */
  physAvail: PhysRange[];
  /** Named reserved ranges (kernel, firmware, ...), for display only. */
  reserved: Array<PhysRange & { what: string }>;
}
