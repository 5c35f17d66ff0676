/**
 * Page faults, as FreeBSD's sys/vm/vm_fault.c: vm_fault (map lookup,
 * object-chain walk, page lookup or allocation, zero fill or copy on write,
 * validation, pmap_enter, wiring for VM_FAULT_WIRE), vm_fault_soft_fast
 * (a resident valid page mapped without walking the chain, 2 MiB at once
 * when its reservation is full and the range allows), and vm_fault_unwire.
 * Also copyin/copyout over backed memory, which fault pages in as a user
 * access would.
 */
import { PagelabError } from '../errors.js';
import { hex } from '../util/units.js';
import { MapWork, type MapWorkCounters } from './map-counters.js';
import type { VmMap, VmMaps } from './map.js';
import type { VmObjects } from './object.js';
import type { PageArray } from './page.js';
import type { VmPage } from './page-alloc.js';
import { PAGE_SIZE, PG_ZERO, VPB_UNBUSIED, VPB_XBUSY } from './param.js';
import type { Phys } from './phys.js';
import { KERN_RESOURCE_SHORTAGE, KERN_SUCCESS, NBPDR, NPTEPG, PG_W, PMAP_ENTER_WIRED, VM_PROT_READ, VM_PROT_WRITE } from './pmap.js';
import type { Reserv } from './reserv.js';
import type { VmShadow } from './shadow.js';

/** vm_fault flags (fault_flags), FreeBSD values. */
export const VM_FAULT_NORMAL = 0x00;
export const VM_FAULT_WIRE = 0x01;

export class VmFault {
  private readonly maps: VmMaps;
  private readonly objects: VmObjects;
  private readonly page: VmPage;
  private readonly pages: PageArray;
  private readonly phys: Phys;
  private readonly reserv: Reserv | null;
  private readonly shadow: VmShadow;
  private readonly valid: Uint8Array;
  private readonly work: MapWorkCounters;

  constructor(maps: VmMaps) {
    this.maps = maps;
    const vm = maps.vm;
    this.objects = vm.object;
    this.page = vm.page;
    this.pages = vm.page.pages;
    this.phys = vm.phys;
    this.reserv = vm.reserv;
    this.shadow = maps.shadow;
    this.valid = maps.shadow.valid;
    this.work = maps.work;
  }

  /*
   * vm_fault: resolve a fault at `va` of `map` for access `faultType`
   * (VM_PROT_*); VM_FAULT_WIRE also wires the page and maps it wired, and
   * (as vm_fault_lookup does for wiring) asks for the entry's full
   * protection, so a writable copy-on-write entry is copied now.
   * Returns KERN_SUCCESS, KERN_INVALID_ADDRESS, KERN_PROTECTION_FAILURE, or
   * KERN_RESOURCE_SHORTAGE when no page (or page-table page) could be had;
   * pagelab does not sleep for the page daemon.
   */
  fault(map: VmMap, va: number, faultType: number, faultFlags: number): number {
    const pva = va - (va % PAGE_SIZE);
    const wire = (faultFlags & VM_FAULT_WIRE) !== 0;
    let type = faultType === 0 ? VM_PROT_READ : faultType;
    if (wire) {
      const s = map.lookupEntry(pva);
      if (s >= 0) type = map.prot[s];
    }
    const rv = map.lookup(pva, type);
    if (rv !== KERN_SUCCESS) return rv;
    const s = map.lkEntry;
    const first = map.lkObject;
    const pindex = map.lkPindex;
    const prot = map.lkProt;
    const wiredMapping = wire || map.wiredCount[s] > 0;
    const p = this.pages;
    const valid = this.valid;
    if (!wire) {
      const m = this.objects.lookup(first, pindex);
      if (m >= 0 && valid[m] !== 0 && p.busy[m] === VPB_UNBUSIED) return this.softFast(map, s, pva, m, prot, wiredMapping);
    }
    // The slow path.
    this.work[MapWork.Fault]++;
    let obj = first;
    let pidx = pindex;
    let fill = -1; // an invalid page of the first object to fill
    let found = -1; // a valid page somewhere in the chain
    let foundInFirst = false;
    for (;;) {
      const m = this.objects.lookup(obj, pidx);
      if (m >= 0) {
        if (p.busy[m] !== VPB_UNBUSIED) throw new PagelabError('EBUSY', `vm_fault: page ${hex(this.phys.pageToPa(m))} at pindex ${pidx} of object ${this.objects.describe(obj)} is busy (the fault would sleep forever with one thread)`);
        if (valid[m] !== 0) {
          found = m;
          foundInFirst = obj === first;
          break;
        }
        if (obj === first) fill = m;
      }
      const b = this.shadow.backing(obj);
      if (b === undefined) break;
      obj = b.object;
      pidx += b.offset;
      this.work[MapWork.ChainStep]++;
    }
    let m: number;
    let mapProt = prot;
    if (found >= 0 && foundInFirst) {
      m = found;
    } else if (found >= 0 && fill < 0 && (type & VM_PROT_WRITE) === 0) {
      // A read of a backing object's page: map it read-only until a write copies it.
      m = found;
      mapProt = prot & ~VM_PROT_WRITE;
    } else {
      m = fill;
      if (m < 0) {
        m = this.page.allocUnsafe(first, pindex, 0);
        if (m < 0) return KERN_RESOURCE_SHORTAGE;
        this.work[MapWork.PageAlloc]++;
        valid[m] = 0;
      } else {
        this.objects.setBusy(m, VPB_XBUSY);
      }
      if (found >= 0) {
        this.copyPage(m, found);
        // vm_fault_cow: a wired entry's wiring moves from the original to the copy.
        if (wiredMapping && !wire && map.pmap.extract(pva) === found) {
          p.wire[m]++;
          this.page.unwire(found);
          this.work[MapWork.PageWire] += 2;
        }
      } else this.phys.zeroPages(m, 1);
      valid[m] = 1;
      this.work[MapWork.Validate]++;
      this.objects.setBusy(m, VPB_UNBUSIED);
    }
    const r = map.pmap.enterUnsafe(pva, m, mapProt, wiredMapping ? PMAP_ENTER_WIRED : 0);
    if (r !== KERN_SUCCESS) return r;
    if (wire) {
      p.wire[m]++;
      this.work[MapWork.PageWire]++;
    }
    return KERN_SUCCESS;
  }

  /*
   * vm_fault_soft_fast: page `m` is resident and valid in the first object.
   * Map the whole 2 MiB run at once when m's reservation is full, the run's
   * addresses are 2 MiB aligned and inside the entry, and every page of it is
   * valid (vm_page_ps_test); else map the one page.
   */
  private softFast(map: VmMap, s: number, pva: number, m: number, prot: number, wired: boolean): number {
    this.work[MapWork.FaultSoft]++;
    const flags = wired ? PMAP_ENTER_WIRED : 0;
    if (this.reserv !== null && this.maps.superpages) {
      const m0 = this.reserv.toSuperpage(m);
      if (m0 >= 0) {
        const va0 = pva - (m - m0) * PAGE_SIZE;
        if (va0 % NBPDR === 0 && va0 >= map.start[s] && va0 + NBPDR <= map.end[s] && this.allValid(m0)) {
          return map.pmap.enter(va0, m0, prot, flags, 1);
        }
      }
    }
    return map.pmap.enterUnsafe(pva, m, prot, flags);
  }

  private allValid(m0: number): boolean {
    const v = this.valid;
    const b = this.pages.busy;
    for (let i = 0; i < NPTEPG; i++) if (v[m0 + i] === 0 || b[m0 + i] !== VPB_UNBUSIED) return false;
    return true;
  }

  /* pmap_copy_page: real bytes with backing memory, counted either way. */
  private copyPage(dst: number, src: number): void {
    const backing = this.maps.vm.backing;
    if (backing !== null) backing.copy(this.phys.pageToPa(dst), this.phys.pageToPa(src), PAGE_SIZE);
    this.pages.flags[dst] &= ~PG_ZERO;
    this.work[MapWork.CopyPage]++;
  }

  /*
   * vm_fault_unwire: unwire every wired mapping of [start, end) and drop one
   * wiring of each page it maps (a page in no object then goes free).
   * Unwired mappings in the range (an interrupted wiring) are left alone.
   */
  unwireRange(map: VmMap, start: number, end: number): void {
    const pmap = map.pmap;
    let runStart = -1;
    for (let va = start; va <= end; va += PAGE_SIZE) {
      const m = va < end ? pmap.extract(va) : -1;
      const wired = m >= 0 && (pmap.lastBits & PG_W) !== 0;
      if (wired) {
        if (runStart < 0) runStart = va;
        this.page.unwire(m);
        this.work[MapWork.PageWire]++;
      } else if (runStart >= 0) {
        pmap.unwire(runStart, va);
        runStart = -1;
      }
    }
  }

  // ------------------------------------------------------------ user access

  private userPa(map: VmMap, va: number, write: boolean): number {
    const type = write ? VM_PROT_WRITE : VM_PROT_READ;
    let m = map.pmap.extract(va);
    if (m < 0 || (write && (map.pmap.lastBits & 0x02) === 0)) {
      const rv = this.fault(map, va, type, 0);
      if (rv !== KERN_SUCCESS) throw new PagelabError('EINVAL', `${write ? 'copyout' : 'copyin'}: fault at ${hex(va)} failed (KERN ${rv})`);
      m = map.pmap.extract(va);
    }
    if (write) this.pages.flags[m] &= ~PG_ZERO;
    return this.phys.pageToPa(m) + (va % PAGE_SIZE);
  }

  /*
   * copyout: write `data` at `va`, faulting pages in for write.
   * Requires backing memory (vm.backed=1).
   */
  copyout(map: VmMap, va: number, data: Uint8Array): void {
    const backing = this.requireBacking('copyout');
    let done = 0;
    while (done < data.length) {
      const a = va + done;
      const n = Math.min(data.length - done, PAGE_SIZE - (a % PAGE_SIZE));
      backing.view(this.userPa(map, a, true), n).set(data.subarray(done, done + n));
      done += n;
    }
  }

  /* copyin: `len` bytes read at `va`, faulting pages in for read. Requires backing memory. */
  copyin(map: VmMap, va: number, len: number): Uint8Array {
    const backing = this.requireBacking('copyin');
    const out = new Uint8Array(len);
    let done = 0;
    while (done < len) {
      const a = va + done;
      const n = Math.min(len - done, PAGE_SIZE - (a % PAGE_SIZE));
      out.set(backing.view(this.userPa(map, a, false), n), done);
      done += n;
    }
    return out;
  }

  private requireBacking(what: string): NonNullable<VmMaps['vm']['backing']> {
    const b = this.maps.vm.backing;
    if (b === null) throw new PagelabError('EINVAL', `${what}: needs backing memory (-o vm.backed=1)`);
    return b;
  }
}
