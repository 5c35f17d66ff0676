/**
 * vmem(9): the resource arena allocator, as FreeBSD's sys/kern/subr_vmem.c,
 * under its FreeBSD names. The arena is the Vmem class (subr_vmem.ts, over
 * vmem_tags.ts and vmem_check.ts); these are thin wrappers for code written
 * against the kernel's API, and the module's public surface.
 */
import { Vmem } from './subr_vmem.js';
import { M_FIRSTFIT, arenaRegistry, type VmemImportFn, type VmemReleaseFn } from './vmem_param.js';

export { Vmem } from './subr_vmem.js';
export {
  M_NOWAIT,
  M_WAITOK,
  M_FIRSTFIT,
  M_INSTANTFIT,
  M_BESTFIT,
  M_NEXTFIT,
  VMEM_ALLOC,
  VMEM_FREE,
  VMEM_MAXFREE,
  VMEM_ADDR_MIN,
  VMEM_ADDR_MAX,
  VMEM_FAILED,
  VMEM_QCACHE_IDX_MAX,
  BT_TYPE_SPAN,
  BT_TYPE_SPAN_STATIC,
  BT_TYPE_FREE,
  BT_TYPE_BUSY,
  BT_TYPE_QCACHE,
  VMEM_MAXORDER,
  VMEM_BYTES_PER_TAG,
  vmemSizeToOrder,
  type VmemImportFn,
  type VmemReleaseFn,
  type VmemSegment,
  type VmemStats,
} from './vmem_param.js';

/** vmem_create: see the Vmem constructor. */
export function vmem_create(name: string, base: number, size: number, quantum: number, qcacheMax = 0, flags = 0): Vmem {
  return new Vmem(name, base, size, quantum, qcacheMax, flags);
}

export function vmem_destroy(vm: Vmem): void {
  vm.destroy();
}

export function vmem_add(vm: Vmem, addr: number, size: number, flags = 0): void {
  vm.add(addr, size, flags);
}

export function vmem_set_import<T>(
  vm: Vmem,
  importFn: VmemImportFn<T>,
  releaseFn: VmemReleaseFn<T> | null,
  arg: T,
  importQuantum: number,
): void {
  vm.setImport(importFn, releaseFn, arg, importQuantum);
}

export function vmem_set_limit(vm: Vmem, limit: number): void {
  vm.setLimit(limit);
}

/** vmem_alloc: the address, or VMEM_FAILED. Usable directly as an import function. */
export function vmem_alloc(vm: Vmem, size: number, flags = M_FIRSTFIT): number {
  return vm.alloc(size, flags);
}

/** vmem_free. Usable directly as a release function. */
export function vmem_free(vm: Vmem, addr: number, size: number): void {
  vm.free(addr, size);
}

export function vmem_xalloc(
  vm: Vmem,
  size: number,
  align: number,
  phase: number,
  nocross: number,
  minaddr: number,
  maxaddr: number,
  flags: number,
): number {
  return vm.xalloc(size, align, phase, nocross, minaddr, maxaddr, flags);
}

export function vmem_xfree(vm: Vmem, addr: number, size: number): void {
  vm.xfree(addr, size);
}

export function vmem_size(vm: Vmem, typemask: number): number {
  return vm.size(typemask);
}

export function vmem_roundup_size(vm: Vmem, size: number): number {
  return vm.roundupSize(size);
}

export function vmem_walk(vm: Vmem, fn: (start: number, size: number, type: number) => void): void {
  vm.walk(fn);
}

export function vmem_check(vm: Vmem): void {
  vm.check();
}

export function vmem_qcache_drain(vm: Vmem): void {
  vm.qcDrain();
}

/** vmem_whatis: what every live arena knows about addr. */
export function vmem_whatis(addr: number): string[] {
  const out: string[] = [];
  for (const ref of arenaRegistry.values()) {
    const s = ref.deref()?.whatis(addr);
    if (s) out.push(s);
  }
  return out;
}
