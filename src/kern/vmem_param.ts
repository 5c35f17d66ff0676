/**
 * vmem's constants, flags, size classes, the fit over a window and the
 * registry of live arenas: the parts of sys/kern/subr_vmem.c that are not
 * an arena's own state. See subr_vmem.ts for the design.
 */
import { PagelabError } from '../errors.js';


/* ---- flags: values from FreeBSD sys/malloc.h */

/** Accepted and ignored: vmem here never sleeps. */
export const M_NOWAIT = 0x0001;
/** Accepted and ignored: vmem here never sleeps. */
export const M_WAITOK = 0x0002;
/** Instant fit: first segment of the first list whose sizes all fit (FreeBSD's name). */
export const M_FIRSTFIT = 0x1000;
/** Instant fit, under the paper's name; the same bit as M_FIRSTFIT. */
export const M_INSTANTFIT = M_FIRSTFIT;
/** Best fit, to free-list granularity (exact below 32 quanta), as FreeBSD. */
export const M_BESTFIT = 0x2000;
/** Next fit: the first fitting address at or after a cursor, wrapping. */
export const M_NEXTFIT = 0x8000;
export const VMEM_FITMASK = M_FIRSTFIT | M_BESTFIT | M_NEXTFIT;

/* ---- vmem_size typemask, as sys/vmem.h */
export const VMEM_ALLOC = 0x01;
export const VMEM_FREE = 0x02;
export const VMEM_MAXFREE = 0x10;

export const VMEM_ADDR_MIN = 0;
/** Largest address: 2^53 - 1 (addresses are JS numbers). */
export const VMEM_ADDR_MAX = Number.MAX_SAFE_INTEGER;
/** Returned by the allocating calls when the arena cannot satisfy the request (ENOMEM). */
export const VMEM_FAILED = -1;
/** At most this many quantum caches (sizes 1..16 quanta), as FreeBSD. */
export const VMEM_QCACHE_IDX_MAX = 16;

/* ---- boundary tag types, as FreeBSD (5 is FreeBSD's cursor, unused here) */
export const BT_TYPE_SPAN = 1; // imported from the source; released when wholly free
export const BT_TYPE_SPAN_STATIC = 2; // vmem_add() or create; never released
export const BT_TYPE_FREE = 3;
export const BT_TYPE_BUSY = 4;
export const BT_TYPE_QCACHE = 6; // busy, but held by a quantum cache

export const BT_TYPE_NAMES: Record<number, string> = {
  [BT_TYPE_SPAN]: 'span',
  [BT_TYPE_SPAN_STATIC]: 'static span',
  [BT_TYPE_FREE]: 'free',
  [BT_TYPE_BUSY]: 'busy',
  [BT_TYPE_QCACHE]: 'qcache',
};

/* ---- free list indexing */

/** Sizes below this many quanta have one exact list each. */
export const VMEM_OPTVALUE = 32;
/**
 * Number of free lists. FreeBSD sizes it for 64-bit sizes (90); sizes here
 * are below 2^53 quanta, so SIZE2ORDER tops out at 79.
 */
export const VMEM_MAXORDER = 80;
export const FL_WORDS = 3; // bitmap words over VMEM_MAXORDER lists

export const TWO_M32 = 2 ** -32; // multiplying by it is exact and cheaper than dividing by 2^32

/**
 * SIZE2ORDER: free-list index for a segment of `q` quanta.
 * Orders 0..31 hold exactly 1..32 quanta; order n >= 31 holds
 * [2^(n-26), 2^(n-25)) quanta (order 31 holds 32..63).
 * Requires 1 <= q <= 2^53.
 */
export function vmemSizeToOrder(q: number): number {
  if (q <= VMEM_OPTVALUE) return q - 1;
  // flsl(q) + 25, with flsl over 53-bit values
  return q < 4294967296 ? 57 - Math.clz32(q) : 89 - Math.clz32(q * TWO_M32);
}

/** ORDER2SIZE: the smallest size, in quanta, that lands on list `order`. */
export const ORDER_SIZE = new Float64Array(VMEM_MAXORDER);
for (let o = 0; o < VMEM_MAXORDER; o++) ORDER_SIZE[o] = o < VMEM_OPTVALUE ? o + 1 : 2 ** (o - 26);

/* ---- quantum caches */
export const QC_CAP = 32; // tags held per size class
export const QC_BATCH = 16; // tags moved per refill or flush

/* ---- import/release context, for catching frees to the wrong arena */

/**
 * importing: id of the arena whose import function is running (0: none);
 * releasing: id of the arena whose release function is running (0: none).
 */
export const arenaContext = { importing: 0, releasing: 0, nextId: 1 };

/** What the registry needs of an arena, to name owners of addresses. */
export interface RegisteredArena {
  readonly name: string;
  owns(addr: number): boolean;
  holdsDirectly(addr: number): boolean;
  whatis(addr: number): string | null;
}
export const arenaRegistry = new Map<number, WeakRef<RegisteredArena>>();

export const TWO53 = 2 ** 53;

export type VmemImportFn<T> = (arg: T, size: number, flags: number) => number;
export type VmemReleaseFn<T> = (arg: T, addr: number, size: number) => void;

export interface VmemSegment {
  start: number;
  size: number;
  type: 'span' | 'static span' | 'free' | 'busy' | 'qcache';
}

export interface VmemStats {
  name: string;
  quantum: number;
  /** Bytes in all spans. */
  total: number;
  /** Bytes allocated, including those held by quantum caches (FreeBSD's vm_inuse). */
  inuse: number;
  /** Bytes held by quantum caches (part of inuse). */
  cached: number;
  free: number;
  spans: number;
  busyTags: number;
  /** Tags in use (spans and segments) and tags allocated in the typed arrays. */
  tagsInUse: number;
  tagCapacity: number;
  hashBuckets: number;
}

/** Bytes of typed-array storage per boundary tag (start and size f64, four i32 links, a u8 type). */
export const VMEM_BYTES_PER_TAG = 8 + 8 + 4 + 4 + 4 + 4 + 1;

export { isPow2 } from '../util/bits.js';

export function einval(msg: string): never {
  throw new PagelabError('EINVAL', msg);
}

export function enospc(msg: string): never {
  throw new PagelabError('ENOSPC', msg);
}

/**
 * vmem_fit over a window: the lowest address a in [lo, hi] with
 * a = phase (mod align), [a, a + size - 1] within [lo, hi] and not crossing
 * a multiple of nocross; -1 when there is none.
 * Requires align a power of two, phase < align, size >= 1, and (when
 * nocross != 0) that the constraints were validated so that an address at
 * `phase` past a nocross boundary does not cross (vmem_xalloc checks).
 */
export function fitRange(lo: number, hi: number, size: number, align: number, phase: number, nocross: number): number {
  if (lo > hi) return -1;
  let a = Math.ceil((lo - phase) / align) * align + phase;
  if (nocross !== 0 && Math.floor(a / nocross) !== Math.floor((a + size - 1) / nocross)) {
    // Every aligned start left in this nocross block crosses too; the first
    // candidate of the next block is its boundary plus phase.
    a = Math.ceil((a - phase) / nocross) * nocross + phase;
  }
  return a <= hi && hi - a >= size - 1 ? a : -1;
}


export function arenaName(id: number): string {
  const vm = arenaRegistry.get(id)?.deref();
  return vm !== undefined ? vm.name : `#${id}`;
}

/**
 * Name of another live arena with a span containing addr, or null. When
 * arenas are stacked, the innermost one (that did not pass addr on to an
 * importer) is named: a kstack address belongs to the kstack arena, not to
 * the kernel arena it was imported from.
 */
export function whoOwns(addr: number, except: RegisteredArena): string | null {
  let outer: string | null = null;
  for (const ref of arenaRegistry.values()) {
    const vm = ref.deref();
    if (vm === undefined || vm === except || !vm.owns(addr)) continue;
    if (vm.holdsDirectly(addr)) return vm.name;
    outer ??= vm.name;
  }
  return outer;
}

/* ---- the FreeBSD-shaped API: thin wrappers over the class */
