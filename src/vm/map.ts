/**
 * Address maps, as FreeBSD's sys/vm/vm_map.c: an address space's entries
 * (start, end, object, offset, protection, inheritance, wiring, eflags),
 * first-fit placement with alignment (vm_map_find, VMFS_SUPER_SPACE),
 * insertion, deletion, protection, clipping, the fault-time lookup
 * (vm_map_lookup, which makes the shadow object of a copy-on-write entry),
 * and mlock's wiring (vm_map_wire / vm_map_unwire) with the global limit
 * vm.max_user_wired and a per-map limit (RLIMIT_MEMLOCK).
 *
 * Entries are slots in typed arrays; `order` lists the slots by address with
 * their start addresses beside them (`ostart`), so vm_map_lookup_entry is a
 * binary search (O(log n)). FreeBSD keeps a splay tree augmented with the
 * largest gap so that placement is O(log n) too; here insertion is a
 * memmove of the order arrays and placement scans the gaps in order, which
 * is linear in the number of entries (a map has hundreds, not millions).
 *
 * `VmMaps` is the machine-wide part: the counters, the wired-page limit and
 * count, the fault handler and the shadow chains; `create()` makes a map
 * with its own pmap.
 */
import { PagelabError, kassert } from '../errors.js';
import { hex } from '../util/units.js';
import { VmFault } from './fault.js';
import { newMapWork, type MapWorkCounters } from './map-counters.js';
import { PAGE_SIZE } from './param.js';
import {
  KERN_INVALID_ADDRESS,
  KERN_INVALID_ARGUMENT,
  KERN_NO_SPACE,
  KERN_PROTECTION_FAILURE,
  KERN_RESOURCE_SHORTAGE,
  KERN_SUCCESS,
  NBPDR,
  PG_RW,
  Pmap,
  VM_MAXUSER_ADDRESS,
  VM_PROT_ALL,
  VM_PROT_READ,
  VM_PROT_WRITE,
} from './pmap.js';
import { VmShadow, type CollapseResult } from './shadow.js';
import type { Vm } from './vm.js';
import { WIRE_PATHS, wireEntry, type WirePath, type WireWindow } from './wire.js';

/** Entry flags (eflags), FreeBSD values (sys/vm/vm_map.h). */
export const MAP_ENTRY_COW = 0x0004;
export const MAP_ENTRY_NEEDS_COPY = 0x0008;
export const MAP_ENTRY_USER_WIRED = 0x0020;
export const MAP_ENTRY_IN_TRANSITION = 0x0100;

/** Inheritance (vm_inherit_t). */
export const VM_INHERIT_SHARE = 0;
export const VM_INHERIT_COPY = 1;
export const VM_INHERIT_NONE = 2;

/** vm_map_find's find_space. */
export const VMFS_ANY_SPACE = 1;
export const VMFS_SUPER_SPACE = 2;

/** The lowest address maps hand out (FreeBSD's vm_map_min of a user map is 0, mmap starts above a hint; pagelab starts at 4 MiB). */
export const VM_MIN_USER_ADDRESS = 4 * 1024 * 1024;

export interface MapEntryInfo {
  start: number;
  end: number;
  object: number;
  objectName?: string;
  offset: number;
  prot: number;
  maxProt: number;
  inheritance: number;
  wiredCount: number;
  eflags: number;
  name?: string;
}

export interface FindOptions {
  /** VMFS_ANY_SPACE (default) or VMFS_SUPER_SPACE: align so that 2 MiB of address and of object offset coincide. */
  findSpace?: number;
  /** Alignment in bytes, a power of two at least PAGE_SIZE (VMFS_ALIGNED_SPACE). */
  align?: number;
  /** The object to map (its reference passes to the entry), 0 for anonymous memory made at first fault. */
  object?: number;
  /** Offset into the object, in pages. */
  offset?: number;
  prot?: number;
  maxProt?: number;
  /** MAP_ENTRY_COW | MAP_ENTRY_NEEDS_COPY for a private mapping of `object`. */
  cow?: number;
  /** A name for reports (the trace tag). */
  name?: string;
}

export interface MapsOptions {
  /** vm.wire.fast: which vm_map_wire path (default 0, FreeBSD today). */
  wirePath?: WirePath;
  /** vm.max_user_wired in pages; 0 or absent: one third of the free pages at boot (vm_pageout_init). */
  maxUserWired?: number;
  /** vm.pmap.pg_ps_enabled: promotion and 2 MiB mappings (default true). */
  superpages?: boolean;
}

/** The machine-wide mapping layer: counters, wired-page accounting, fault handler, shadow chains. */
export class VmMaps {
  readonly vm: Vm;
  readonly work: MapWorkCounters = newMapWork();
  readonly shadow: VmShadow;
  readonly fault: VmFault;
  wirePath: WirePath;
  /** vm_page_max_user_wired, pages. */
  maxUserWired: number;
  /** vm_user_wire_count, pages. */
  userWired = 0;
  readonly superpages: boolean;

  constructor(vm: Vm, opts: MapsOptions = {}) {
    this.vm = vm;
    this.shadow = new VmShadow(vm.object, vm.page, this.work);
    this.fault = new VmFault(this);
    const path = opts.wirePath ?? (vm.tunables.str('vm.wire.fast') as WirePath);
    if (!WIRE_PATHS.includes(path)) throw new PagelabError('ETUNABLE', `vm.wire.fast=${String(path)}: expected one of ${WIRE_PATHS.join(', ')}`);
    this.wirePath = path;
    const tun = opts.maxUserWired ?? vm.tunables.num('vm.max_user_wired');
    let free = 0;
    for (let d = 0; d < vm.phys.ndomains; d++) free += vm.domains.freeCount(d);
    this.maxUserWired = tun > 0 ? tun : Math.floor(free / 3);
    this.superpages = opts.superpages ?? true;
  }

  /* vmspace_alloc: an empty map over [min, max) with a fresh pmap. */
  create(opts: { min?: number; max?: number; wiredLimit?: number } = {}): VmMap {
    return new VmMap(this, opts.min ?? VM_MIN_USER_ADDRESS, opts.max ?? VM_MAXUSER_ADDRESS, opts.wiredLimit ?? Infinity);
  }
}

export class VmMap {
  readonly maps: VmMaps;
  readonly pmap: Pmap;
  readonly min: number;
  readonly max: number;
  /** lim_cur(RLIMIT_MEMLOCK) in bytes for this map's user wiring. */
  wiredLimit: number;
  // Entry slots.
  start = new Float64Array(16);
  end = new Float64Array(16);
  object = new Int32Array(16);
  offset = new Float64Array(16);
  prot = new Uint8Array(16);
  maxProt = new Uint8Array(16);
  inheritance = new Uint8Array(16);
  eflags = new Uint16Array(16);
  wiredCount = new Uint16Array(16);
  readonly names: Array<string | undefined> = [];
  private freeSlots: number[] = [];
  private top = 0;
  // Slots by address, and their starts (for the binary search).
  private order = new Int32Array(16);
  private ostart = new Float64Array(16);
  /** Entries in the map (nentries). */
  nentries = 0;
  /** The entry lookupEntry found last (FreeBSD's splay root plays this part), -1 when none. */
  private hint = -1;
  /** vm_map_lookup's results (the out parameters of the C function). */
  lkEntry = -1;
  lkObject = 0;
  lkPindex = 0;
  lkProt = 0;

  constructor(maps: VmMaps, min: number, max: number, wiredLimit: number) {
    if (!(min >= 0 && min < max && max <= VM_MAXUSER_ADDRESS && min % PAGE_SIZE === 0 && max % PAGE_SIZE === 0)) {
      throw new PagelabError('EINVAL', `vm_map: range [${hex(min)}, ${hex(max)}) is not page-aligned user space`);
    }
    this.maps = maps;
    this.pmap = new Pmap(maps.vm.page, maps.work, { promote: maps.superpages });
    this.min = min;
    this.max = max;
    this.wiredLimit = wiredLimit;
  }

  // ------------------------------------------------------------ entries

  private allocSlot(): number {
    const s = this.freeSlots.pop();
    if (s !== undefined) return s;
    if (this.top === this.start.length) {
      const n = this.top * 2;
      const gf = (a: Float64Array): Float64Array<ArrayBuffer> => {
        const b = new Float64Array(n);
        b.set(a);
        return b;
      };
      this.start = gf(this.start);
      this.end = gf(this.end);
      this.offset = gf(this.offset);
      const oi = new Int32Array(n);
      oi.set(this.object);
      this.object = oi;
      for (const k of ['prot', 'maxProt', 'inheritance'] as const) {
        const b = new Uint8Array(n);
        b.set(this[k]);
        this[k] = b;
      }
      for (const k of ['eflags', 'wiredCount'] as const) {
        const b = new Uint16Array(n);
        b.set(this[k]);
        this[k] = b;
      }
    }
    return this.top++;
  }

  /* Position in `order` of the last entry starting at or below `va`, or -1. */
  private rank(va: number): number {
    let lo = 0;
    let hi = this.nentries - 1;
    let r = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.ostart[mid] <= va) {
        r = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return r;
  }

  private link(slot: number): void {
    this.hint = -1;
    if (this.nentries === this.order.length) {
      const o = new Int32Array(this.nentries * 2);
      o.set(this.order);
      this.order = o;
      const s = new Float64Array(this.nentries * 2);
      s.set(this.ostart);
      this.ostart = s;
    }
    const at = this.rank(this.start[slot]) + 1;
    this.order.copyWithin(at + 1, at, this.nentries);
    this.ostart.copyWithin(at + 1, at, this.nentries);
    this.order[at] = slot;
    this.ostart[at] = this.start[slot];
    this.nentries++;
  }

  private unlink(slot: number): void {
    const at = this.rank(this.start[slot]);
    kassert(at >= 0 && this.order[at] === slot, () => `vm_map: entry slot ${slot} at ${hex(this.start[slot])} is not linked`);
    this.order.copyWithin(at, at + 1, this.nentries);
    this.ostart.copyWithin(at, at + 1, this.nentries);
    this.nentries--;
    this.freeSlots.push(slot);
    this.hint = -1;
  }

  /* vm_map_lookup_entry: the entry containing `va`, or -1. The last hit is tried first (faults come in runs). */
  lookupEntry(va: number): number {
    const h = this.hint;
    if (h >= 0 && va >= this.start[h] && va < this.end[h]) return h;
    const r = this.rank(va);
    if (r < 0) return -1;
    const s = this.order[r];
    if (va >= this.end[s]) return -1;
    this.hint = s;
    return s;
  }

  /* The entry following `slot` in address order, or -1. */
  nextEntry(slot: number): number {
    const r = this.rank(this.start[slot]);
    return r + 1 < this.nentries ? this.order[r + 1] : -1;
  }

  /* The first entry ending above `va`, or -1. */
  private firstFrom(va: number): number {
    const r = this.rank(va);
    if (r >= 0 && this.end[this.order[r]] > va) return this.order[r];
    return r + 1 < this.nentries ? this.order[r + 1] : -1;
  }

  /** Entries in address order, for reports and tests. */
  entries(): MapEntryInfo[] {
    const out: MapEntryInfo[] = [];
    const objs = this.maps.vm.object;
    for (let i = 0; i < this.nentries; i++) {
      const s = this.order[i];
      const o = this.object[s];
      out.push({
        start: this.start[s], end: this.end[s], object: o, objectName: o > 0 ? objs.names[o] : undefined, offset: this.offset[s],
        prot: this.prot[s], maxProt: this.maxProt[s], inheritance: this.inheritance[s], wiredCount: this.wiredCount[s], eflags: this.eflags[s], name: this.names[s],
      });
    }
    return out;
  }

  /** The entry named `name` (first in address order), or -1. */
  entryByName(name: string): number {
    for (let i = 0; i < this.nentries; i++) if (this.names[this.order[i]] === name) return this.order[i];
    return -1;
  }

  // ------------------------------------------------------------ placement and insertion

  private checkRange(start: number, end: number, what: string): void {
    if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && start % PAGE_SIZE === 0 && end % PAGE_SIZE === 0 && start < end)) {
      throw new PagelabError('EINVAL', `${what}: range [${Number.isFinite(start) ? hex(start) : String(start)}, ${Number.isFinite(end) ? hex(end) : String(end)}) is not a non-empty page-aligned range`);
    }
  }

  /*
   * vm_map_findspace + alignment: the lowest address at or above the map's
   * minimum where `length` bytes fit, aligned to `align`; for superpage
   * space, aligned so that va and the object offset agree modulo 2 MiB
   * (pmap_align_superpage). -1 when nothing fits (KERN_NO_SPACE).
   */
  findSpace(length: number, align: number, superSpace: boolean, offsetPages: number): number {
    let a = this.min;
    const fit = (lo: number): number => {
      let va = Math.ceil(lo / align) * align;
      if (superSpace && length >= NBPDR) {
        const want = (offsetPages * PAGE_SIZE) % NBPDR;
        const have = va % NBPDR;
        va += (want - have + NBPDR) % NBPDR;
      }
      return va;
    };
    for (let i = 0; i <= this.nentries; i++) {
      const gapEnd = i < this.nentries ? this.ostart[i] : this.max;
      const va = fit(a);
      if (va + length <= gapEnd) return va;
      if (i < this.nentries) a = Math.max(a, this.end[this.order[i]]);
    }
    return -1;
  }

  /*
   * vm_map_insert: an entry for [start, end) mapping `object` (0: anonymous,
   * its object made at first fault) from page `offset`. The entry takes the
   * caller's object reference. Returns KERN_SUCCESS, KERN_INVALID_ADDRESS
   * outside the map, KERN_NO_SPACE when the range overlaps an entry,
   * KERN_PROTECTION_FAILURE when prot exceeds maxProt.
   */
  insert(object: number, offset: number, start: number, end: number, prot: number, maxProt: number, cow = 0, name?: string): number {
    this.checkRange(start, end, 'vm_map_insert');
    if (start < this.min || end > this.max) return KERN_INVALID_ADDRESS;
    if ((prot & ~maxProt) !== 0) return KERN_PROTECTION_FAILURE;
    const next = this.firstFrom(start);
    if (next >= 0 && this.start[next] < end) return KERN_NO_SPACE;
    if (object !== 0) this.maps.vm.object.check(object);
    const s = this.allocSlot();
    this.start[s] = start;
    this.end[s] = end;
    this.object[s] = object;
    this.offset[s] = offset;
    this.prot[s] = prot;
    this.maxProt[s] = maxProt;
    this.inheritance[s] = VM_INHERIT_COPY;
    this.eflags[s] = cow & (MAP_ENTRY_COW | MAP_ENTRY_NEEDS_COPY);
    this.wiredCount[s] = 0;
    this.names[s] = name;
    this.link(s);
    return KERN_SUCCESS;
  }

  /*
   * vm_map_find: place `length` bytes (first fit) and insert the entry.
   * Returns the start address, or -1 when no space fits (KERN_NO_SPACE).
   */
  find(length: number, opts: FindOptions = {}): number {
    if (!(Number.isSafeInteger(length) && length > 0 && length % PAGE_SIZE === 0)) {
      throw new PagelabError('EINVAL', `vm_map_find: length ${length} is not a positive multiple of ${PAGE_SIZE}`);
    }
    const align = opts.align ?? PAGE_SIZE;
    if (!(Number.isSafeInteger(align) && align >= PAGE_SIZE && Number.isInteger(Math.log2(align)))) {
      throw new PagelabError('EINVAL', `vm_map_find: alignment ${align} is not a power of two of at least ${PAGE_SIZE}`);
    }
    const va = this.findSpace(length, align, opts.findSpace === VMFS_SUPER_SPACE, opts.offset ?? 0);
    if (va < 0) return -1;
    const rv = this.insert(opts.object ?? 0, opts.offset ?? 0, va, va + length, opts.prot ?? (VM_PROT_READ | VM_PROT_WRITE), opts.maxProt ?? VM_PROT_ALL, opts.cow ?? 0, opts.name);
    kassert(rv === KERN_SUCCESS, () => `vm_map_find: insert at ${hex(va)} failed with ${rv}`);
    return va;
  }

  // ------------------------------------------------------------ clipping

  /* vm_map_clip_start: split `slot` so that an entry starts at `addr`. Returns the entry from `addr`. */
  clipStart(slot: number, addr: number): number {
    if (addr <= this.start[slot] || addr >= this.end[slot]) return slot;
    const n = this.splitCopy(slot);
    // The new entry is the front half [start, addr); `slot` keeps [addr, end).
    this.end[n] = addr;
    this.unlink(slot);
    this.freeSlots.pop(); // keep `slot` itself; unlink released it
    this.offset[slot] += (addr - this.start[slot]) / PAGE_SIZE;
    this.start[slot] = addr;
    this.link(slot);
    this.link(n);
    return slot;
  }

  /* vm_map_clip_end: split `slot` so that it ends at `addr`. Returns `slot`, now ending at `addr`. */
  clipEnd(slot: number, addr: number): number {
    if (addr <= this.start[slot] || addr >= this.end[slot]) return slot;
    const n = this.splitCopy(slot);
    this.offset[n] += (addr - this.start[slot]) / PAGE_SIZE;
    this.start[n] = addr;
    this.end[slot] = addr;
    this.link(n);
    return slot;
  }

  /* A copy of `slot` in a new slot (not linked). The copy takes its own object reference, as vm_map_entry_clone does. */
  private splitCopy(slot: number): number {
    // An anonymous entry gets its object now so that both halves share it (vm_map_entry_charge_object / vm_map_entry_back).
    if (this.object[slot] === 0) this.backEntry(slot);
    const n = this.allocSlot();
    this.start[n] = this.start[slot];
    this.end[n] = this.end[slot];
    this.object[n] = this.object[slot];
    this.offset[n] = this.offset[slot];
    this.prot[n] = this.prot[slot];
    this.maxProt[n] = this.maxProt[slot];
    this.inheritance[n] = this.inheritance[slot];
    this.eflags[n] = this.eflags[slot];
    this.wiredCount[n] = this.wiredCount[slot];
    this.names[n] = this.names[slot];
    this.maps.vm.object.refCount[this.object[n]]++;
    return n;
  }

  /*
   * vm_map_entry_back: give an anonymous entry its object, coloured so that
   * pindex and virtual address agree modulo a reservation (vm_object_color
   * with atop(start) - offset): reservations then line up with 2 MiB pages.
   */
  backEntry(slot: number): number {
    kassert(this.object[slot] === 0, () => `vm_map_entry_back: entry at ${hex(this.start[slot])} already has an object`);
    const color = Math.max(0, this.start[slot] / PAGE_SIZE - this.offset[slot]);
    const obj = this.maps.vm.object.allocate('anon', { color: color % 2 ** 32, name: this.names[slot] });
    this.object[slot] = obj;
    return obj;
  }

  // ------------------------------------------------------------ lookup (faults)

  /*
   * vm_map_lookup: the entry, object, pindex and protection for a fault at
   * `va` of type `faultType`. A write to a NEEDS_COPY entry shadows its
   * object first (vm_object_shadow); a read of one maps read-only. An
   * anonymous entry gets its object. Results in lkEntry, lkObject, lkPindex,
   * lkProt. Returns KERN_SUCCESS, KERN_INVALID_ADDRESS (no entry) or
   * KERN_PROTECTION_FAILURE.
   */
  lookup(va: number, faultType: number): number {
    const s = this.lookupEntry(va);
    if (s < 0) return KERN_INVALID_ADDRESS;
    let prot = this.prot[s];
    if ((faultType & prot) !== faultType) return KERN_PROTECTION_FAILURE;
    if ((this.eflags[s] & MAP_ENTRY_NEEDS_COPY) !== 0) {
      if ((faultType & VM_PROT_WRITE) !== 0) this.copyEntry(s);
      else prot &= ~VM_PROT_WRITE;
    }
    if (this.object[s] === 0) this.backEntry(s);
    this.lkEntry = s;
    this.lkObject = this.object[s];
    this.lkPindex = this.offset[s] + (va - this.start[s]) / PAGE_SIZE;
    this.lkProt = prot;
    return KERN_SUCCESS;
  }

  /*
   * The write half of NEEDS_COPY: the entry gets a shadow object in front of
   * its object (vm_object_shadow), indexed from 0 at the entry's start.
   */
  private copyEntry(s: number): void {
    const obj = this.object[s];
    if (obj === 0) {
      this.eflags[s] &= ~MAP_ENTRY_NEEDS_COPY;
      return;
    }
    const objs = this.maps.vm.object;
    const color = (this.start[s] / PAGE_SIZE) % 2 ** 32;
    const sh = this.maps.shadow.shadow(obj, this.offset[s], color, this.names[s] === undefined ? undefined : `${this.names[s]}.shadow`);
    objs.size[sh] = (this.end[s] - this.start[s]) / PAGE_SIZE;
    this.object[s] = sh;
    this.offset[s] = 0;
    this.eflags[s] &= ~MAP_ENTRY_NEEDS_COPY;
  }

  // ------------------------------------------------------------ copy-on-write, collapse

  /*
   * Makes [start, end) copy-on-write, as fork does to a private mapping
   * (vm_map_copy_entry): the entries get COW | NEEDS_COPY and their
   * mappings lose write permission, so the next write fault shadows the
   * object. Requires whole entries with an object; a wired entry refuses
   * (FreeBSD copies wired entries eagerly; pagelab does not model that).
   */
  markCopyOnWrite(start: number, end: number): number {
    this.checkRange(start, end, 'shadow');
    for (let s = this.firstFrom(start); s >= 0 && this.start[s] < end; s = this.nextEntry(s)) {
      if (this.wiredCount[s] > 0) return KERN_INVALID_ARGUMENT;
    }
    for (let s = this.clipStart(this.firstFrom(start), start); s >= 0 && this.start[s] < end; s = this.nextEntry(s)) {
      this.clipEnd(s, end);
      if (this.object[s] === 0) this.backEntry(s);
      this.eflags[s] |= MAP_ENTRY_COW | MAP_ENTRY_NEEDS_COPY;
      this.pmap.protect(this.start[s], this.end[s], this.prot[s] & ~VM_PROT_WRITE);
    }
    return KERN_SUCCESS;
  }

  /*
   * vm_object_collapse of the object of the entry containing `va` with its
   * backing object. Pages the collapse frees are unmapped from this map
   * first (they can only be mapped here).
   */
  collapse(va: number): CollapseResult {
    const s = this.lookupEntry(va);
    if (s < 0 || this.object[s] === 0) return { collapsed: false, reason: 'no object there', moved: 0, freed: 0 };
    const start = this.start[s];
    const off = this.offset[s];
    const end = this.end[s];
    return this.maps.shadow.collapse(this.object[s], (m, pindex) => {
      const a = start + (pindex - off) * PAGE_SIZE;
      if (a >= start && a < end && this.pmap.extract(a) === m) this.pmap.remove(a, a + PAGE_SIZE);
    });
  }

  // ------------------------------------------------------------ deletion and protection

  /*
   * vm_map_delete (munmap): remove every entry in [start, end), clipping
   * the ends. Wired entries are unwired first, as vm_map_delete does; then
   * the mappings go (pmap_remove), then the pages the entry alone held
   * (vm_object_page_remove of the range on a one-mapping object, down the
   * chain while each object has no other reference), then its reference.
   */
  remove(start: number, end: number): number {
    this.checkRange(start, end, 'vm_map_remove');
    if (start < this.min || end > this.max) return KERN_INVALID_ADDRESS;
    let s = this.firstFrom(start);
    if (s < 0 || this.start[s] >= end) return KERN_SUCCESS;
    s = this.clipStart(s, start);
    while (s >= 0 && this.start[s] < end) {
      this.clipEnd(s, end);
      const next = this.nextEntry(s);
      this.deleteEntry(s);
      s = next;
    }
    return KERN_SUCCESS;
  }

  private deleteEntry(s: number): void {
    if (this.wiredCount[s] > 0) this.unwireEntry(s);
    this.pmap.remove(this.start[s], this.end[s]);
    let obj = this.object[s];
    if (obj !== 0) {
      const objs = this.maps.vm.object;
      let lo = this.offset[s];
      let hi = lo + (this.end[s] - this.start[s]) / PAGE_SIZE;
      // Pages of this range are reachable from this entry alone while each object on the way has one reference.
      for (let o = obj; o > 0 && objs.refCount[o] === 1; ) {
        objs.pageRemove(o, lo, hi);
        const b = this.maps.shadow.backing(o);
        if (b === undefined) break;
        o = b.object;
        lo += b.offset;
        hi += b.offset;
      }
      this.maps.shadow.deallocate(obj);
      obj = 0;
    }
    this.unlink(s);
  }

  /*
   * vm_map_protect: set the protection of [start, end) to `prot`
   * (maxProt when `setMax`). KERN_PROTECTION_FAILURE, changing nothing, when
   * `prot` exceeds an entry's maxProt; KERN_INVALID_ADDRESS on a hole.
   */
  protect(start: number, end: number, prot: number, setMax = false): number {
    this.checkRange(start, end, 'vm_map_protect');
    let expect = start;
    for (let s = this.firstFrom(start); s >= 0 && this.start[s] < end; s = this.nextEntry(s)) {
      if (this.start[s] > expect) return KERN_INVALID_ADDRESS;
      if (!setMax && (prot & ~this.maxProt[s]) !== 0) return KERN_PROTECTION_FAILURE;
      expect = this.end[s];
    }
    if (expect < end) return KERN_INVALID_ADDRESS;
    for (let s = this.clipStart(this.firstFrom(start), start); s >= 0 && this.start[s] < end; s = this.nextEntry(s)) {
      this.clipEnd(s, end);
      if (setMax) {
        this.maxProt[s] = prot;
        this.prot[s] &= prot;
      } else this.prot[s] = prot;
      this.pmap.protect(this.start[s], this.end[s], this.prot[s]);
    }
    return KERN_SUCCESS;
  }

  // ------------------------------------------------------------ wiring

  /*
   * vm_map_wire with VM_MAP_WIRE_USER | VM_MAP_WIRE_NOHOLES (mlock): wire
   * every page of [start, end) on the path vm.wire.fast selects. Checks
   * first: no hole (KERN_INVALID_ADDRESS), the per-map limit and the global
   * vm.max_user_wired (KERN_RESOURCE_SHORTAGE, as vm_map_wire_user_count_add
   * refuses). A failure part-way (no memory) unwires what this call wired:
   * nothing is left half-wired. Entries already user-wired are left as they
   * are. `window` runs where the chosen path drops the object lock between
   * putting pages in the object and mapping them (tests and traces use it to
   * run a collapse there).
   */
  wire(start: number, end: number, window?: WireWindow): number {
    this.checkRange(start, end, 'vm_map_wire');
    let expect = start;
    let newPages = 0;
    for (let s = this.firstFrom(start); s >= 0 && this.start[s] < end; s = this.nextEntry(s)) {
      if (this.start[s] > expect) return KERN_INVALID_ADDRESS;
      if ((this.eflags[s] & MAP_ENTRY_USER_WIRED) === 0) newPages += (Math.min(end, this.end[s]) - Math.max(start, this.start[s])) / PAGE_SIZE;
      expect = this.end[s];
    }
    if (expect < end) return KERN_INVALID_ADDRESS;
    const maps = this.maps;
    if ((this.pmap.stats.wired + newPages) * PAGE_SIZE > this.wiredLimit) return KERN_RESOURCE_SHORTAGE;
    if (maps.userWired + newPages > maps.maxUserWired) return KERN_RESOURCE_SHORTAGE;
    maps.userWired += newPages;
    const done: number[] = [];
    let rv = KERN_SUCCESS;
    const undo = (): void => {
      for (const s of done) this.dropUserWiring(s);
      maps.userWired -= newPages;
    };
    for (let s = this.clipStart(this.firstFrom(start), start); s >= 0 && this.start[s] < end; s = this.nextEntry(s)) {
      this.clipEnd(s, end);
      if ((this.eflags[s] & MAP_ENTRY_USER_WIRED) !== 0) continue;
      this.eflags[s] |= MAP_ENTRY_IN_TRANSITION;
      try {
        if (this.wiredCount[s] === 0) rv = wireEntry(this, s, maps.wirePath, window);
      } catch (e) {
        // The kernel's panic in the window (a typed error here): take this call's wiring back first.
        this.eflags[s] &= ~MAP_ENTRY_IN_TRANSITION;
        undo();
        throw e;
      }
      this.eflags[s] &= ~MAP_ENTRY_IN_TRANSITION;
      if (rv !== KERN_SUCCESS) break;
      this.wiredCount[s]++;
      this.eflags[s] |= MAP_ENTRY_USER_WIRED;
      done.push(s);
    }
    if (rv !== KERN_SUCCESS) undo();
    return rv;
  }

  /*
   * vm_map_unwire with VM_MAP_WIRE_USER (munlock): drop the user wiring of
   * every entry in [start, end); the last wiring of an entry unwires its
   * pages (vm_fault_unwire). KERN_INVALID_ADDRESS on a hole, and nothing
   * changes; entries not user-wired are skipped.
   */
  unwire(start: number, end: number): number {
    this.checkRange(start, end, 'vm_map_unwire');
    let expect = start;
    for (let s = this.firstFrom(start); s >= 0 && this.start[s] < end; s = this.nextEntry(s)) {
      if (this.start[s] > expect) return KERN_INVALID_ADDRESS;
      expect = this.end[s];
    }
    if (expect < end) return KERN_INVALID_ADDRESS;
    for (let s = this.clipStart(this.firstFrom(start), start); s >= 0 && this.start[s] < end; s = this.nextEntry(s)) {
      this.clipEnd(s, end);
      if ((this.eflags[s] & MAP_ENTRY_USER_WIRED) === 0) continue;
      this.dropUserWiring(s);
    }
    return KERN_SUCCESS;
  }

  private dropUserWiring(s: number): void {
    this.eflags[s] &= ~MAP_ENTRY_USER_WIRED;
    this.maps.userWired -= (this.end[s] - this.start[s]) / PAGE_SIZE;
    if (--this.wiredCount[s] === 0) this.maps.fault.unwireRange(this, this.start[s], this.end[s]);
  }

  /* vm_map_entry_unwire: drop every wiring of an entry (munmap of wired memory). */
  private unwireEntry(s: number): void {
    if ((this.eflags[s] & MAP_ENTRY_USER_WIRED) !== 0) this.maps.userWired -= (this.end[s] - this.start[s]) / PAGE_SIZE;
    this.eflags[s] &= ~MAP_ENTRY_USER_WIRED;
    this.wiredCount[s] = 0;
    this.maps.fault.unwireRange(this, this.start[s], this.end[s]);
  }

  /*
   * Accesses every page of [start, end) with `faultType`, as a program
   * touching the range would: a page already mapped with the rights asked
   * for costs nothing, any other takes a vm_fault (a resident page the soft
   * fast path). Returns the first failure's KERN code, or KERN_SUCCESS.
   */
  touch(start: number, end: number, faultType: number): number {
    this.checkRange(start, end, 'touch');
    const f = this.maps.fault;
    const pmap = this.pmap;
    const write = (faultType & VM_PROT_WRITE) !== 0;
    for (let va = start; va < end; va += PAGE_SIZE) {
      if (pmap.extract(va) >= 0 && (!write || (pmap.lastBits & PG_RW) !== 0)) continue;
      const rv = f.fault(this, va, faultType, 0);
      if (rv !== KERN_SUCCESS) return rv;
    }
    return KERN_SUCCESS;
  }

  /* vmspace_free: remove every entry and release the pmap. */
  destroy(): void {
    while (this.nentries > 0) {
      const s = this.order[0];
      this.remove(this.start[s], this.end[this.order[this.nentries - 1]]);
    }
    this.pmap.release();
  }

  /*
   * The map's invariants: entries sorted and disjoint inside [min, max),
   * page aligned, prot within maxProt, user-wired entries wired, every
   * resident mapping inside an entry and pointing at a page of its object
   * chain (or wired as the entry says); then the pmap's own check.
   */
  check(): void {
    let prevEnd = this.min;
    for (let i = 0; i < this.nentries; i++) {
      const s = this.order[i];
      kassert(this.ostart[i] === this.start[s], () => `vm_map: order ${i} caches start ${hex(this.ostart[i])} for an entry at ${hex(this.start[s])}`);
      kassert(this.start[s] >= prevEnd && this.start[s] < this.end[s] && this.end[s] <= this.max, () => `vm_map: entry [${hex(this.start[s])}, ${hex(this.end[s])}) overlaps or leaves the map`);
      kassert((this.prot[s] & ~this.maxProt[s]) === 0, () => `vm_map: entry at ${hex(this.start[s])} has prot ${this.prot[s]} beyond max ${this.maxProt[s]}`);
      kassert(((this.eflags[s] & MAP_ENTRY_USER_WIRED) === 0) === (this.wiredCount[s] === 0), () => `vm_map: entry at ${hex(this.start[s])} user-wired flag and wired count ${this.wiredCount[s]} disagree`);
      prevEnd = this.end[s];
    }
    const p = this.maps.vm.page.pages;
    for (const [va, m, bits, size] of this.pmap.mappings()) {
      for (let k = 0; k < size / PAGE_SIZE; k++) {
        const a = va + k * PAGE_SIZE;
        const s = this.lookupEntry(a);
        kassert(s >= 0, () => `vm_map: ${hex(a)} is mapped outside every entry`);
        const wired = (bits & 0x08) !== 0;
        kassert(wired === this.wiredCount[s] > 0, () => `vm_map: mapping at ${hex(a)} is ${wired ? '' : 'not '}wired in entry with wired count ${this.wiredCount[s]}`);
        kassert(p.astate[m + k] === 1 && p.object[m + k] !== 0, () => `vm_map: ${hex(a)} maps page index ${m + k}, which is free or in no object`);
        if (wired) kassert(p.wire[m + k] > 0, () => `vm_map: ${hex(a)} is wired but page index ${m + k} is not`);
      }
    }
    this.pmap.check();
  }
}
