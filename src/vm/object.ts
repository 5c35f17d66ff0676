/**
 * VM objects, as FreeBSD's vm_object.c: containers of pages keyed by page
 * index (pindex). An object is a slot number (1-based; OBJ_NONE is 0) into
 * an object table of typed arrays; its resident pages live in a radix trie
 * (radix.ts) and each page records its object and pindex in the page array.
 *
 * Types: anonymous memory (OBJT_SWAP with OBJ_ANON, FreeBSD's default
 * object: pages made on demand, may grow, so reservations may reach past its
 * size) and OBJT_PHYS (unmanaged, wired, never paged: the kernel-stack
 * object). Only coloured objects (OBJ_COLORED, vm_object_color) take pages
 * from superpage reservations, as vm_object_reserv() decides.
 */
import { PagelabError, kassert } from '../errors.js';
import type { DomainSet } from './domainset.js';
import { ASTATE_ALLOCATED, NIL, OBJ_NONE, PG_ZERO, VPB_UNBUSIED } from './param.js';
import type { PageArray } from './page.js';
import { PageStat, type VmPage } from './page-alloc.js';
import { Radix } from './radix.js';
import type { Reserv } from './reserv.js';

/** Object types (objtype_t), FreeBSD values. */
export const OBJT_SWAP = 1;
export const OBJT_PHYS = 4;
export const OBJT_DEAD = 5;

/** Object flags (FreeBSD names; values local to pagelab). */
export const OBJ_UNMANAGED = 0x0002;
export const OBJ_DEAD = 0x0008;
export const OBJ_COLORED = 0x1000;
export const OBJ_ANON = 0x0100;

/** Size of an unbounded object: every 32-bit pindex. */
export const OBJ_MAX_SIZE = 2 ** 32 - 1;

export type ObjectType = 'anon' | 'phys';

export interface ObjectOptions {
  /** Size in pages; anonymous objects default to unbounded, OBJT_PHYS needs one. */
  size?: number;
  /** pg_color (vm_object_color); null leaves the object uncoloured, without reservations. Default 0. */
  color?: number | null;
  /** A name for reports (trace objects, lab output). */
  name?: string;
  /** The object's domain policy (obj->domain); the allocator's default when omitted. */
  domainset?: DomainSet | null;
}

export class VmObjects {
  readonly pages: PageArray;
  readonly radix = new Radix();
  type: Uint8Array = new Uint8Array(16);
  flags: Uint16Array = new Uint16Array(16);
  size: Float64Array = new Float64Array(16);
  pgColor: Uint32Array = new Uint32Array(16);
  refCount: Uint32Array = new Uint32Array(16);
  resident: Float64Array = new Float64Array(16);
  /** Resident pages that are busy (exclusive or shared): terminate and page_remove need none. */
  busyPages: Float64Array = new Float64Array(16);
  /** Head of the object's reservation list (object->rvq), -1 when empty; maintained by vm_reserv. */
  rvqHead: Int32Array = new Int32Array(16).fill(-1);
  readonly names: Array<string | undefined> = [];
  readonly domainsets: Array<DomainSet | null> = [];
  private freeIds: number[] = [];
  private top = 1;
  /** Objects alive now. */
  count = 0;
  private page: VmPage | null = null;
  private reserv: Reserv | null = null;
  private readonly batch = new Uint32Array(4096);
  private readonly batchKeys = new Float64Array(4096);

  constructor(pages: PageArray) {
    this.pages = pages;
  }

  /* Connect the page layer that frees pages for terminate and page_remove. */
  bind(page: VmPage, reserv: Reserv | null): void {
    this.page = page;
    this.reserv = reserv;
  }

  /*
   * vm_object_deallocate: drop a reference; the last one terminates the object.
   */
  deallocate(obj: number): void {
    this.check(obj);
    if (this.refCount[obj] === 1) this.terminate(obj);
    else this.refCount[obj]--;
  }

  /*
   * vm_object_terminate: free every resident page and break the object's
   * reservations; the slot is then released. A wired page is not freed: it
   * leaves the object and is freed by its last unwiring (as FreeBSD drops
   * only the object's reference). Requires: no busy page (vm_page_assert_
   * unbusied); a busy one is a typed EBUSY and nothing changes.
   */
  terminate(obj: number): void {
    this.check(obj);
    const page = this.page;
    kassert(page !== null, 'vm_object_terminate: no page layer bound');
    const radix = this.radix;
    const p = this.pages;
    const buf = this.batch;
    const reserv = this.reserv;
    const fullN = reserv !== null && reserv.npages <= buf.length ? reserv.npages : 0;
    this.refuseBusy(obj, 0, Infinity, 'vm_object_terminate');
    for (let key = 0, got = buf.length; got === buf.length; key = radix.gatherNext) {
      got = radix.gather(obj, key, buf);
      for (let i = 0; i < got; i++) {
        const m = buf[i];
        // A full reservation of this object whose pages sit in the batch in
        // order goes back whole: the end state of N single frees, at the
        // cost of a few fills.
        if (fullN !== 0 && i + fullN <= got && buf[i + fullN - 1] === m + fullN - 1 && reserv !== null && reserv.startsFull(m, obj) && this.releaseRun(m, fullN)) {
          reserv.freeFullTerminating(m, obj);
          page.stats[PageStat.Free] += fullN;
          i += fullN - 1;
          continue;
        }
        if (p.wire[m] !== 0) p.object[m] = OBJ_NONE;
        else page.releaseTerminating(m, obj);
      }
    }
    radix.reclaimAll(obj);
    this.resident[obj] = 0;
    this.busyPages[obj] = 0;
    if (this.reserv !== null) this.reserv.breakAll(obj);
    this.release(obj);
  }

  /*
   * Release the records of pages [m, m + n) of a terminating object, unless
   * one is wired (then nothing changes and the caller frees page by page).
   */
  private releaseRun(m: number, n: number): boolean {
    const p = this.pages;
    for (let k = m; k < m + n; k++) if (p.wire[k] !== 0) return false;
    p.object.fill(OBJ_NONE, m, m + n);
    const f = p.flags;
    for (let k = m; k < m + n; k++) f[k] &= ~PG_ZERO;
    return true;
  }

  /*
   * vm_object_page_remove: free the resident pages of `obj` in [start, end)
   * (end 0: to the end of the object). Wired pages stay resident, as
   * FreeBSD invalidates but keeps them. A busy page is a typed EBUSY and
   * nothing changes. Returns the pages freed.
   */
  pageRemove(obj: number, start: number, end = 0): number {
    this.check(obj);
    const page = this.page;
    kassert(page !== null, 'vm_object_page_remove: no page layer bound');
    const stop = end === 0 ? Infinity : end;
    const buf = this.batch;
    const keys = this.batchKeys;
    const p = this.pages;
    this.refuseBusy(obj, start, stop, 'vm_object_page_remove');
    let freed = 0;
    for (let key = start, got = buf.length; got === buf.length; key = keys[got - 1] + 1) {
      got = this.radix.gather(obj, key, buf, keys);
      for (let i = 0; i < got && keys[i] < stop; i++) {
        if (p.wire[buf[i]] !== 0) continue;
        page.freeUnsafe(buf[i]);
        freed++;
      }
      if (got > 0 && keys[got - 1] >= stop) break;
    }
    return freed;
  }

  private grow(): void {
    const n = this.type.length * 2;
    const g = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array | Int32Array>(a: T, C: new (n: number) => T, fill = 0): T => {
      const b = new C(n);
      if (fill !== 0) b.fill(fill);
      b.set(a);
      return b;
    };
    this.type = g(this.type, Uint8Array);
    this.flags = g(this.flags, Uint16Array);
    this.size = g(this.size, Float64Array);
    this.pgColor = g(this.pgColor, Uint32Array);
    this.refCount = g(this.refCount, Uint32Array);
    this.resident = g(this.resident, Float64Array);
    this.busyPages = g(this.busyPages, Float64Array);
    this.rvqHead = g(this.rvqHead, Int32Array, -1);
    this.radix.ensureTrees(n);
  }

  /*
   * vm_object_allocate / vm_object_allocate_anon: a new object with one
   * reference and no pages. Returns its slot.
   */
  allocate(type: ObjectType, opts: ObjectOptions = {}): number {
    if (type !== 'anon' && type !== 'phys') throw new PagelabError('EINVAL', `object type "${String(type)}" is not anon or phys`);
    const size = opts.size ?? (type === 'anon' ? OBJ_MAX_SIZE : NaN);
    if (!(Number.isInteger(size) && size >= 1 && size <= OBJ_MAX_SIZE)) {
      throw new PagelabError('EINVAL', `object${opts.name ? ` ${opts.name}` : ''}: size ${size} pages is out of range (1..${OBJ_MAX_SIZE})${type === 'phys' ? '; an OBJT_PHYS object needs a size' : ''}`);
    }
    const color = opts.color === undefined ? 0 : opts.color;
    if (color !== null && !(Number.isInteger(color) && color >= 0 && color <= 0xffffffff)) {
      throw new PagelabError('EINVAL', `object${opts.name ? ` ${opts.name}` : ''}: colour ${color} is not a 32-bit page count`);
    }
    const id = this.freeIds.length > 0 ? (this.freeIds.pop() as number) : this.top++;
    while (id >= this.type.length) this.grow();
    this.type[id] = type === 'anon' ? OBJT_SWAP : OBJT_PHYS;
    this.flags[id] = type === 'anon' ? OBJ_ANON : OBJ_UNMANAGED;
    this.size[id] = size;
    this.pgColor[id] = 0;
    this.refCount[id] = 1;
    if (color !== null) this.color(id, color);
    this.resident[id] = 0;
    this.busyPages[id] = 0;
    this.rvqHead[id] = -1;
    this.names[id] = opts.name;
    this.domainsets[id] = opts.domainset ?? null;
    this.count++;
    return id;
  }

  /* vm_object_color: set pg_color once; later calls leave it. */
  color(obj: number, color: number): void {
    this.check(obj);
    if ((this.flags[obj] & OBJ_COLORED) === 0) {
      this.pgColor[obj] = color >>> 0;
      this.flags[obj] |= OBJ_COLORED;
    }
  }

  /** vm_object_reserv: does `obj` take pages from reservations? */
  usesReserv(obj: number): boolean {
    return (this.flags[obj] & OBJ_COLORED) !== 0;
  }

  isAnon(obj: number): boolean {
    return (this.flags[obj] & OBJ_ANON) !== 0;
  }

  /** True when `obj` is a live object slot. */
  isLive(obj: number): boolean {
    return obj > 0 && obj < this.top && (obj | 0) === obj && this.refCount[obj] > 0 && (this.flags[obj] & OBJ_DEAD) === 0;
  }

  /** Typed error unless `obj` is a live object. */
  check(obj: number): void {
    if (!this.isLive(obj)) this.noSuchObject(obj);
  }

  // Apart from check(), which stays small enough to inline into the allocators.
  private noSuchObject(obj: number): never {
    throw new PagelabError('EINVAL', `object ${this.describe(obj)} does not exist`);
  }

  /** "NAME (slot N)" or "slot N", for messages. */
  describe(obj: number): string {
    const n = Number.isInteger(obj) && obj > 0 ? this.names[obj] : undefined;
    return n !== undefined ? `${n} (slot ${obj})` : `slot ${obj}`;
  }

  /** vm_object_reference. */
  reference(obj: number): void {
    this.check(obj);
    this.refCount[obj]++;
  }

  /* vm_page_lookup: the page at `pindex` of `obj`, or -1. */
  lookup(obj: number, pindex: number): number {
    const m = this.radix.lookup(obj, pindex);
    return m === NIL ? -1 : m;
  }

  /*
   * vm_page_insert_after's bookkeeping: page `m` becomes resident in `obj`
   * at `pindex`. Returns false, changing nothing, when the pindex is taken.
   */
  linkPage(obj: number, pindex: number, m: number): boolean {
    if (!this.radix.insertNearFound(obj, pindex, m) && !this.radix.insert(obj, pindex, m)) return false;
    // vm_page_alloc's sequential fast path (page-alloc.ts) does the same in line.
    this.pages.object[m] = obj;
    this.pages.pindex[m] = pindex;
    this.resident[obj]++;
    if (this.pages.busy[m] !== VPB_UNBUSIED) this.busyPages[obj]++;
    return true;
  }

  /* vm_page_object_remove's bookkeeping: `m` leaves its object. Requires: m is resident. */
  unlinkPage(m: number): void {
    const obj = this.pages.object[m];
    this.radix.remove(obj, this.pages.pindex[m]);
    this.pages.object[m] = OBJ_NONE;
    this.resident[obj]--;
    if (this.pages.busy[m] !== VPB_UNBUSIED) this.busyPages[obj]--;
  }

  /* Set page m's busy state, keeping its object's count of busy pages. */
  setBusy(m: number, b: number): void {
    const p = this.pages;
    const old = p.busy[m];
    p.busy[m] = b;
    const obj = p.object[m];
    if (obj !== OBJ_NONE) this.busyPages[obj] += (b !== VPB_UNBUSIED ? 1 : 0) - (old !== VPB_UNBUSIED ? 1 : 0);
  }

  /* EBUSY naming the first busy page of `obj` in [start, stop), if any. */
  private refuseBusy(obj: number, start: number, stop: number, what: string): void {
    if (this.busyPages[obj] === 0) return;
    const buf = this.batch;
    const keys = this.batchKeys;
    const p = this.pages;
    for (let key = start, got = buf.length; got === buf.length; key = keys[got - 1] + 1) {
      got = this.radix.gather(obj, key, buf, keys);
      for (let i = 0; i < got && keys[i] < stop; i++) {
        if (p.busy[buf[i]] !== VPB_UNBUSIED) {
          throw new PagelabError('EBUSY', `${what}: object ${this.describe(obj)} has ${VmObjects.busyName(p.busy[buf[i]])} page at pindex ${keys[i]}`);
        }
      }
      if (got > 0 && keys[got - 1] >= stop) return;
    }
  }

  /*
   * Releases slot `obj` after termination (the object's pages and
   * reservations are gone). Requires: no resident page, no reservation.
   */
  release(obj: number): void {
    this.flags[obj] = OBJ_DEAD;
    this.type[obj] = OBJT_DEAD;
    this.refCount[obj] = 0;
    this.names[obj] = undefined;
    this.domainsets[obj] = null;
    this.freeIds.push(obj);
    this.count--;
  }

  /** Live object slots, in slot order. */
  live(): number[] {
    const out: number[] = [];
    for (let i = 1; i < this.top; i++) if (this.isLive(i)) out.push(i);
    return out;
  }

  /** The object named `name`, or -1. */
  byName(name: string): number {
    for (let i = 1; i < this.top; i++) if (this.isLive(i) && this.names[i] === name) return i;
    return -1;
  }

  /** Resident pages of `obj` in pindex order from `start` (at most `max`), as [page, pindex]. */
  residentPages(obj: number, start = 0, end = OBJ_MAX_SIZE + 1, max = Infinity): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const buf = new Uint32Array(256);
    const keys = new Float64Array(256);
    let key = start;
    for (;;) {
      const got = this.radix.gather(obj, key, buf, keys);
      for (let i = 0; i < got; i++) {
        if (keys[i] >= end || out.length >= max) return out;
        out.push([buf[i], keys[i]]);
      }
      if (got < buf.length) return out;
      key = keys[got - 1] + 1;
    }
  }

  /** For checks: is `m` allocated, resident at (object, pindex) as its record says? */
  pageIsResident(m: number): boolean {
    const obj = this.pages.object[m];
    return obj !== OBJ_NONE && this.pages.astate[m] === ASTATE_ALLOCATED && this.radix.lookup(obj, this.pages.pindex[m]) === m;
  }

  /** Unbusied? (for messages) */
  static busyName(b: number): string {
    return b === VPB_UNBUSIED ? 'unbusied' : b === 0xff ? 'exclusive busy' : `shared busy (${b})`;
  }
}
