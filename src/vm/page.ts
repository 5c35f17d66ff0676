/**
 * The page array: one record per physical page, as FreeBSD's vm_page_array,
 * stored as struct-of-arrays views over a single ArrayBuffer.
 *
 * Layout (bytes per page, 26 in all; FreeBSD's struct vm_page is 104):
 *
 *   next, prev   u32 + u32  index links of the list the page is on (free queue; the page
 *                           queues of issue 9), NIL (0xffffffff) at the ends
 *   wire         u32        wire count (m->ref_count's wiring)              [issue 9]
 *   object       u32        owning object slot, OBJ_NONE when unowned       [issue 9]
 *   pindex       u32        page index within the object                    [issue 9]
 *   segind       u8         physical segment index
 *   pool         u8         free pool; valid on free-block heads (0 also means "never initialised")
 *   order        u8         buddy order on free-block heads, VM_NFREEORDER otherwise
 *   astate       u8         who holds the page: ASTATE_FREE (also never initialised),
 *                           _ALLOCATED, _ZEROING (pre-zeroer), _CACHED (page cache),
 *                           _RESERVED (outside phys_avail, allocated at boot); see param.ts
 *   flags        u8         PG_* flags (PG_ZERO)
 *   queue        u8         page queue (vm_pagequeue), PQ_NONE when on none  [issue 9]
 *
 * The fields marked [issue 9] are initialised but not yet read: the objects
 * and reservations layer of issue 9 (vm_page_alloc, vm_object, vm_reserv)
 * owns them.
 *
 * The buffer comes zero-filled from the operating system and is never touched
 * as a whole: a record that was never written costs no resident memory, so a
 * lazy boot of a 1 TiB map reserves 6.5 GiB of address space and faults in
 * only the records it initialises. An all-zero record reads as pool LAZYINIT,
 * which is exactly what an uninitialised page is.
 */
import { PagelabError } from '../errors.js';
import { formatSize } from '../util/units.js';
import { ASTATE_FREE, MAX_PAGES, NIL, OBJ_NONE, PQ_NONE, VM_NFREEPOOL } from './param.js';

export const BYTES_PER_PAGE = 26;

export class PageArray {
  readonly npages: number;
  readonly buffer: ArrayBuffer;
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
    try {
      this.buffer = new ArrayBuffer(bytes);
    } catch {
      throw new PagelabError(
        'EHOST',
        `page array for ${npages} pages needs ${formatSize(bytes)} of address space, which this host refused`,
      );
    }
    let off = 0;
    const u32 = (): Uint32Array => {
      const a = new Uint32Array(this.buffer, off, npages);
      off += npages * 4;
      return a;
    };
    const u8 = (): Uint8Array => {
      const a = new Uint8Array(this.buffer, off, npages);
      off += npages;
      return a;
    };
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
  }

  /*
   * Initialise [first, first + count) one record at a time: the loop of
   * vm_page_startup and vm_phys_finish_init.
   */
  initRange(first: number, count: number, segind: number): void {
    const { next, prev, wire, object, pindex, pool, order, astate, flags, queue } = this;
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
    this.segind.fill(segind, first, end);
    this.pool.fill(VM_NFREEPOOL, first, end);
    this.order.fill(this.notFreeOrder, first, end);
    this.astate.fill(ASTATE_FREE, first, end);
    this.flags.fill(0, first, end);
    this.queue.fill(PQ_NONE, first, end);
  }
}
