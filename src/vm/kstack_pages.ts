/**
 * Where kernel stacks get their pages: the machine's vm_page layer
 * (VmKstackPages, behind kstack.ts's KstackPageSource seam), and
 * kstacksForVm, which builds a machine's kernel arenas and stacks from its
 * tunables.
 */
import { PagelabError } from '../errors.js';
import { hex } from '../util/units.js';
import { Kstacks, kstackOptions, type KstackPageSource, type KstackReview } from './kstack.js';
import { newMapWork } from './map-counters.js';
import { OBJ_MAX_SIZE } from './object.js';
import { PAGE_SIZE, VM_ALLOC_NORMAL, VM_ALLOC_WIRED } from './param.js';
import { KERN_SUCCESS, Pmap, VM_MAX_ADDRESS_4LEVEL, VM_PROT_RW } from './pmap.js';
import { VM_LEVEL_0_ORDER_AMD64, VM_LEVEL_0_ORDER_ARM64_16K } from './reserv.js';
import type { Vm } from './vm.js';
import { KernelArenas, kernelArenaOptions } from './vm_kern.js';

/*
 * The page source of a booted machine: vm_page_alloc_domain into OBJT_PHYS
 * objects coloured from pindex 0 (VM_MIN_KERNEL_ADDRESS is superpage
 * aligned), so that stack pages fill superpage reservations when the
 * machine has them (vm.reserv.enable).
 */
export class VmKstackPages implements KstackPageSource {
  private readonly vm: Pick<Vm, 'object' | 'page' | 'reserv'>;
  /*
   * kernel_pmap, for the stacks: each stack page is mapped at its KVA, the
   * guard pages are not. Its page-table pages are the machine's pages
   * (vm_page_alloc_noobj), so they show in the counts; FreeBSD preallocates
   * them with pmap_growkernel, here they come as stacks need them and go
   * when the last stack under them is unmapped.
   */
  readonly kernelPmap: Pmap;

  constructor(vm: Pick<Vm, 'object' | 'page' | 'reserv'>) {
    this.vm = vm;
    // pmap_qenter never promotes: stacks stay 4 KiB mappings.
    this.kernelPmap = new Pmap(vm.page, newMapWork(), { kernel: true, promote: false });
  }

  qenter(va: number, m: number): boolean {
    return this.kernelPmap.enter(va, m, VM_PROT_RW, 0) === KERN_SUCCESS;
  }

  qremove(va: number, npages: number): void {
    this.kernelPmap.remove(va, va + npages * PAGE_SIZE);
  }

  mappedAt(va: number): number {
    return this.kernelPmap.extract(va);
  }

  createObject(name: string, sizePages: number): number {
    return this.vm.object.allocate('phys', { size: Math.min(sizePages, OBJ_MAX_SIZE), color: 0, name });
  }

  allocPage(object: number, pindex: number, domain: number): number {
    return this.vm.page.allocDomain(object, pindex, domain, VM_ALLOC_NORMAL | VM_ALLOC_WIRED);
  }

  lookup(object: number, pindex: number): number {
    return this.vm.page.lookup(object, pindex);
  }

  /* vm_page_xbusy_claim, vm_page_unwire_noq, vm_page_free. */
  freePage(object: number, pindex: number): void {
    const m = this.vm.page.lookup(object, pindex);
    if (!(m >= 0)) throw new PagelabError('EINVARIANT', `vm_page_free: object ${object} has no page at pindex ${pindex}`);
    this.vm.page.unwireNoq(m);
    this.vm.page.free(m);
  }

  domainOf(m: number): number {
    return this.vm.page.domainOf(m);
  }

  reservPattern(object: number, start: number, end: number): string | null {
    return this.vm.reserv === null ? null : this.vm.reserv.describeObject(object, start, end);
  }

  /** Pages held by the object's reservations (populated or not): the physical memory they pin. */
  reservPages(object: number): number {
    return this.vm.reserv === null ? 0 : this.vm.reserv.objectReservations(object).length * this.vm.reserv.npages;
  }

  /** Pages of the object inside its reservations (their popcounts). */
  reservPopulated(object: number): number {
    const r = this.vm.reserv;
    let n = 0;
    if (r !== null) for (const rv of r.objectReservations(object)) n += r.popcnt[rv];
    return n;
  }

  /** The object's reservations, one letter each, in pindex order. */
  reservString(object: number): string {
    const r = this.vm.reserv;
    if (r === null) return '';
    return r
      .objectReservations(object)
      .sort((a, b) => r.pindex[a] - r.pindex[b])
      .map((rv) => r.pattern(rv))
      .join('');
  }

  /** The object's reservations by letter (F, E, B, P). */
  reservLetters(object: number): Record<string, number> {
    const out: Record<string, number> = { F: 0, E: 0, B: 0, P: 0 };
    const r = this.vm.reserv;
    if (r !== null) for (const rv of r.objectReservations(object)) out[r.pattern(rv)]++;
    return out;
  }
}

export interface KstackMachineOptions {
  /** CPUs of the machine (the cache limit is max(128, 4 x ncpu)); default 4 per domain. */
  ncpu?: number;
  /** The page layer to back stacks with; default the machine's vm_page layer (VmKstackPages). */
  source?: KstackPageSource;
  review?: KstackReview;
}

/*
 * The kernel arenas and kernel stacks of a booted machine, configured by its
 * tunables (vm.kva_base, vm.kva_size, kern.kstack_pages,
 * kern.kstack_guard_pages, vm.kstack.pindex, vm.kstack.ilp32,
 * vm.kstack_cache_size). Bad values are EINVAL naming them.
 */
export function kstacksForVm(vm: Vm, opts: KstackMachineOptions = {}): { arenas: KernelArenas; kstacks: Kstacks } {
  const nd = vm.phys.ndomains;
  const base = vm.tunables.num('vm.kva_base');
  const size = vm.tunables.num('vm.kva_size');
  if (base + size > VM_MAX_ADDRESS_4LEVEL) {
    throw new PagelabError('EINVAL', `vm.kva_base ${hex(base)} + vm.kva_size ${hex(size)} ends beyond the 48-bit address space a 4-level kernel pmap maps (${hex(VM_MAX_ADDRESS_4LEVEL)})`);
  }
  const order = vm.reserv?.order ?? (vm.tunables.str('vm.reserv.geometry') === 'arm64-16k' ? VM_LEVEL_0_ORDER_ARM64_16K : VM_LEVEL_0_ORDER_AMD64);
  const arenas = new KernelArenas(kernelArenaOptions(vm.tunables, nd, order));
  const ko = kstackOptions(vm.tunables, opts.ncpu ?? 4 * nd, order);
  const kstacks = new Kstacks(arenas, opts.source ?? new VmKstackPages(vm), { ...ko, ...(opts.review ? { review: opts.review } : {}) });
  return { arenas, kstacks };
}
