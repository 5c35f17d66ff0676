/**
 * The page array: one record per physical page, as FreeBSD's vm_page_array,
 * stored as struct-of-arrays: one buffer per field. (One per field rather
 * than one for all: browsers refuse a single buffer of 2 GiB or more, and a
 * 1 TiB machine's widest field is 1 GiB.)
 *
 * Layout (bytes per page, 27 in all; FreeBSD's struct vm_page is 104):
 *
 *   next, prev   u32 + u32  index links of the list the page is on (free queue; page
 *                           queues, not built yet), NIL (0xffffffff) at the ends
 *   wire         u32        wire count (m->ref_count's wiring)
 *   object       u32        owning object slot, OBJ_NONE when unowned
 *   pindex       u32        page index within the object
 *   segind       u8         physical segment index
 *   pool         u8         free pool; valid on free-block heads (0 also means "never initialised")
 *   order        u8         buddy order on free-block heads, VM_NFREEORDER otherwise
 *   astate       u8         who holds the page: ASTATE_FREE (also never initialised),
 *                           _ALLOCATED, _ZEROING (pre-zeroer), _CACHED (page cache),
 *                           _RESERVED (outside phys_avail, allocated at boot),
 *                           _RESV_FREE (free inside a superpage reservation); see param.ts
 *   flags        u8         PG_* flags (PG_ZERO, PG_PCPU_CACHE, PG_NODUMP)
 *   queue        u8         page queue (vm_pagequeue), PQ_NONE when on none [not read yet]
 *   busy         u8         busy state (m->busy_lock): 0 unbusied, VPB_XBUSY exclusive, else sharers
 *
 * wire, object, pindex and busy belong to the page layer (page-alloc.ts,
 * object.ts, reserv.ts).
 *
 * The buffers (see SHARED_ABOVE_BYTES for which kind) come zero-filled from the
 * operating system and are never touched as a whole: a record that was never
 * written costs no resident memory, so a lazy boot of a 1 TiB map reserves
 * 6.75 GiB of address space and faults in only the records it initialises. An all-zero record reads as pool LAZYINIT,
 * which is exactly what an uninitialised page is.
 */
import { PagelabError } from '../errors.js';
import { formatSize } from '../util/units.js';
import { ASTATE_FREE, MAX_PAGES, NIL, OBJ_NONE, PQ_NONE, VM_NFREEPOOL } from './param.js';

export const BYTES_PER_PAGE = 27;
/**
 * Page arrays larger than this live in a SharedArrayBuffer. V8 counts a plain
 * ArrayBuffer as external memory of the isolate and answers a large one with
 * full garbage collections (a 6.5 GiB reservation for 1 TiB cost one to
 * several, 4-30 ms, in a fresh process); a SharedArrayBuffer reservation
 * costs none, and its pages are just as untouched until written. Smaller
 * arrays stay plain, where TypedArray.fill (the bzero-then-set
 * initialisation) is several times faster than on shared memory. V8's
 * allowance for external memory growth between collections is 64 MiB.
 * Where there is no SharedArrayBuffer (a web page that is not cross-origin
 * isolated) every array is plain.
 */
export const SHARED_ABOVE_BYTES = 64 * 2 ** 20;

export class PageArray {
  readonly npages: number;
  /**
   * The fields' buffers, in the layout's order (next, prev, ..., queue):
   * ArrayBuffers, or SharedArrayBuffers when the whole array is above SHARED_ABOVE_BYTES.
   */
  readonly buffers: ReadonlyArray<ArrayBuffer | SharedArrayBuffer>;
  readonly next: Uint32Array;
  readonly prev: Uint32Array;
  readonly wire: Uint32Array;
  readonly object: Uint32Array;
  readonly pindex: Uint32Array;
  readonly segind: Uint8Array;
  readonly pool: Uint8Array;
  readonly order: Uint8Array;
  readonly astate: Uint8Array;
  readonly flags: Uint8Array;
  readonly queue: Uint8Array;
  readonly busy: Uint8Array;
  /** The value of `order` on pages that are not the head of a free block. */
  readonly notFreeOrder: number;

  /*
   * Requires: 0 < npages <= MAX_PAGES.
   * Guarantees: every record reads as never initialised (all zero).
   */
  constructor(npages: number, nfreeorder: number) {
    if (!Number.isSafeInteger(npages) || npages <= 0 || npages > MAX_PAGES) {
      throw new PagelabError('EINVAL', `page array: ${npages} pages is out of range (1..${MAX_PAGES})`);
    }
    this.npages = npages;
    this.notFreeOrder = nfreeorder;
    const bytes = npages * BYTES_PER_PAGE;
    const shared = bytes > SHARED_ABOVE_BYTES && typeof SharedArrayBuffer === 'function';
    const buffers: Array<ArrayBuffer | SharedArrayBuffer> = [];
    const alloc = (width: number): ArrayBuffer | SharedArrayBuffer => {
      try {
        const b = shared ? new SharedArrayBuffer(npages * width) : new ArrayBuffer(npages * width);
        buffers.push(b);
        return b;
      } catch {
        throw new PagelabError(
          'EHOST',
          `page array for ${npages} pages needs ${formatSize(bytes)} of address space (${formatSize(npages * width)} for one field), which this host refused`,
        );
      }
    };
    const u32 = (): Uint32Array => new Uint32Array(alloc(4));
    const u8 = (): Uint8Array => new Uint8Array(alloc(1));
    this.next = u32();
    this.prev = u32();
    this.wire = u32();
    this.object = u32();
    this.pindex = u32();
    this.segind = u8();
    this.pool = u8();
    this.order = u8();
    this.astate = u8();
    this.flags = u8();
    this.queue = u8();
    this.busy = u8();
    this.buffers = buffers;
  }

  /** True once the record has been written by an initialiser. */
  isInitialised(i: number): boolean {
    return this.pool[i] !== 0;
  }

  /*
   * vm_page_init_page: initialise one record field by field.
   * Guarantees: the page is on no list, in no object, unwired, not free, with
   * no valid pool (VM_NFREEPOOL, as FreeBSD leaves non-head pages).
   */
  initPage(i: number, segind: number): void {
    this.next[i] = NIL;
    this.prev[i] = NIL;
    this.wire[i] = 0;
    this.object[i] = OBJ_NONE;
    this.pindex[i] = 0;
    this.segind[i] = segind;
    this.pool[i] = VM_NFREEPOOL;
    this.order[i] = this.notFreeOrder;
    this.astate[i] = ASTATE_FREE;
    this.flags[i] = 0;
    this.queue[i] = PQ_NONE;
    this.busy[i] = 0;
  }

  /*
   * Initialise [first, first + count) one record at a time: the loop of
   * vm_page_startup and vm_phys_finish_init.
   */
  initRange(first: number, count: number, segind: number): void {
    const { next, prev, wire, object, pindex, pool, order, astate, flags, queue, busy } = this;
    const seg = this.segind;
    const nfo = this.notFreeOrder;
    const end = first + count;
    for (let i = first; i < end; i++) {
      next[i] = NIL;
      prev[i] = NIL;
      wire[i] = 0;
      object[i] = OBJ_NONE;
      pindex[i] = 0;
      seg[i] = segind;
      pool[i] = VM_NFREEPOOL;
      order[i] = nfo;
      astate[i] = ASTATE_FREE;
      flags[i] = 0;
      queue[i] = PQ_NONE;
      busy[i] = 0;
    }
  }

  /*
   * Initialise [first, first + count) field by field over the whole range:
   * zero-fill, then set the fields whose initial value is not zero. This is
   * the "bzero then set" variant the D40403 reviewers asked about; the result
   * is identical to initRange.
   */
  initRangeBulk(first: number, count: number, segind: number): void {
    const end = first + count;
    this.next.fill(NIL, first, end);
    this.prev.fill(NIL, first, end);
    this.wire.fill(0, first, end);
    this.object.fill(OBJ_NONE, first, end);
    this.pindex.fill(0, first, end);
    this.fillBytes(this.segind, segind, first, end);
    this.fillBytes(this.pool, VM_NFREEPOOL, first, end);
    this.fillBytes(this.order, this.notFreeOrder, first, end);
    this.fillBytes(this.astate, ASTATE_FREE, first, end);
    this.fillBytes(this.flags, 0, first, end);
    this.fillBytes(this.queue, PQ_NONE, first, end);
    this.fillBytes(this.busy, 0, first, end);
  }

  /*
   * field.fill(value, first, end) for a one-byte field. On shared memory,
   * where Node's byte fill runs at a quarter of its word fill, the aligned
   * middle is filled four bytes at a time.
   */
  private fillBytes(field: Uint8Array, value: number, first: number, end: number): void {
    if (typeof SharedArrayBuffer !== 'function' || !(field.buffer instanceof SharedArrayBuffer) || end - first < 64) {
      field.fill(value, first, end);
      return;
    }
    const lo = Math.ceil((field.byteOffset + first) / 4);
    const hi = Math.floor((field.byteOffset + end) / 4);
    field.fill(value, first, lo * 4 - field.byteOffset);
    new Uint32Array(field.buffer, lo * 4, hi - lo).fill(value * 0x01010101);
    field.fill(value, hi * 4 - field.byteOffset, end);
  }
}
