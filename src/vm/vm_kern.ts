/**
 * The kernel's virtual address space, as FreeBSD's sys/vm/vm_kern.c:
 * `kernel_arena` over [VM_MIN_KERNEL_ADDRESS, + size), and one
 * `vmd_kernel_arena` per NUMA domain importing superpage-aligned chunks from
 * it, so that a virtual superpage is backed by memory of one domain.
 *
 * FreeBSD's kernel_arena imports from kernel_map (kva_import); pagelab has no
 * vm_map, so kernel_arena owns the whole range as one static span. The
 * per-domain arenas import exactly as kva_import_domain does: KVA_QUANTUM
 * aligned, a multiple of the import quantum in size, never released.
 *
 * Addresses are JS numbers below 2^53: the amd64 base 0xfffffe0000000000 is
 * modelled as 0xfe0000000000 (its sign-extension bits dropped).
 */
import { PagelabError } from '../errors.js';
import { Vmem, M_BESTFIT, VMEM_ALLOC, VMEM_FAILED, vmem_xalloc } from '../kern/vmem.js';
import { VMEM_FITMASK } from '../kern/vmem_param.js';
import type { Tunables } from '../kern/tunables.js';
import { hex } from '../util/units.js';
import { PAGE_SHIFT, PAGE_SIZE } from './param.js';

/*
 * KVA_QUANTUM_SHIFT: the superpage size in address bits when the machine has
 * reservations (VM_NRESERVLEVEL > 0), else 8 + PAGE_SHIFT ("on
 * non-superpage architectures we want large import sizes").
 * Requires: reservOrder >= 0, or null when reservations are off.
 */
export function kvaQuantumShift(reservOrder: number | null): number {
  return reservOrder === null ? 8 + PAGE_SHIFT : reservOrder + PAGE_SHIFT;
}

/** KVA_NUMA_IMPORT_QUANTUM is this many KVA quanta (128 x 2 MiB = 256 MiB on amd64). */
export const KVA_NUMA_IMPORT_QUANTA = 128;

export interface KernelArenaOptions {
  /** VM_MIN_KERNEL_ADDRESS; a multiple of the KVA quantum. */
  base: number;
  /** Bytes of kernel virtual address space; a multiple of the KVA quantum. */
  size: number;
  ndomains: number;
  /** The level-0 reservation order (9 on amd64), or null when reservations are off. */
  reservOrder: number | null;
}

/** The options a booted machine's tunables give (vm.kva_base, vm.kva_size). */
export function kernelArenaOptions(t: Tunables, ndomains: number, reservOrder: number | null): KernelArenaOptions {
  return { base: t.num('vm.kva_base'), size: t.num('vm.kva_size'), ndomains, reservOrder };
}

export class KernelArenas {
  readonly base: number;
  readonly size: number;
  readonly ndomains: number;
  /** KVA_QUANTUM: the superpage size (2 MiB on amd64). */
  readonly kvaQuantum: number;
  /** The per-domain arenas' import quantum: KVA_NUMA_IMPORT_QUANTUM on NUMA machines, else KVA_QUANTUM. */
  readonly importQuantum: number;
  readonly kernelArena: Vmem;
  /** vm_dom[domain].vmd_kernel_arena */
  readonly domainArena: readonly Vmem[];

  /*
   * kmem_init: creates kernel_arena over [base, base + size) and the
   * per-domain arenas. Requires ndomains >= 1; base and size multiples of
   * KVA_QUANTUM, within 2^53 (EINVAL naming the value otherwise).
   */
  constructor(opts: KernelArenaOptions) {
    const q = 2 ** kvaQuantumShift(opts.reservOrder);
    const { base, size, ndomains } = opts;
    if (!Number.isSafeInteger(base) || base < 0 || base % q !== 0) {
      throw new PagelabError('EINVAL', `vm.kva_base ${hex(base)} is not a multiple of the KVA quantum ${hex(q)}`);
    }
    if (!Number.isSafeInteger(size) || size < q || size % q !== 0 || base + size > 2 ** 53) {
      throw new PagelabError('EINVAL', `vm.kva_size ${hex(size)} is not a positive multiple of the KVA quantum ${hex(q)} ending below 2^53 (base ${hex(base)})`);
    }
    if (!Number.isInteger(ndomains) || ndomains < 1) throw new PagelabError('EINVAL', `kernel arenas: ${ndomains} domains`);
    this.base = base;
    this.size = size;
    this.ndomains = ndomains;
    this.kvaQuantum = q;
    this.importQuantum = ndomains > 1 ? q * KVA_NUMA_IMPORT_QUANTA : q;
    this.kernelArena = new Vmem('kernel arena', base, size, PAGE_SIZE);
    const arenas: Vmem[] = [];
    for (let d = 0; d < ndomains; d++) {
      const a = new Vmem(`kernel arena domain ${d}`, 0, 0, PAGE_SIZE);
      a.setImport(kvaImportDomain, null, { parent: this.kernelArena, quantum: q }, this.importQuantum);
      arenas.push(a);
    }
    this.domainArena = arenas;
  }

  /** atop(va - VM_MIN_KERNEL_ADDRESS): the linear page index of a kernel virtual address. */
  linearIndex(va: number): number {
    return (va - this.base) / PAGE_SIZE;
  }

  /*
   * kva_alloc: `size` bytes of KVA from kernel_arena, best fit, no backing.
   * Returns the address or 0 when the arena is exhausted.
   */
  kvaAlloc(size: number): number {
    const a = this.kernelArena.xalloc(roundPage(size), 0, 0, 0, undefined, undefined, M_BESTFIT);
    return a === VMEM_FAILED ? 0 : a;
  }

  /** kva_free: returns KVA from kvaAlloc. Throws as vmem_xfree (wrong address or size). */
  kvaFree(addr: number, size: number): void {
    this.kernelArena.xfree(addr, roundPage(size));
  }

  /*
   * The KVA half of kmem_malloc_domain: `size` bytes from the domain's
   * arena, best fit. Returns the address or 0.
   */
  kmemAllocKva(domain: number, size: number): number {
    const a = this.domainArena[domain].alloc(roundPage(size), M_BESTFIT);
    return a === VMEM_FAILED ? 0 : a;
  }

  kmemFreeKva(domain: number, addr: number, size: number): void {
    this.domainArena[domain].free(addr, roundPage(size));
  }

  /** Bytes allocated from kernel_arena, directly or by the domain arenas' imports. */
  kernelArenaInUse(): number {
    return this.kernelArena.size(VMEM_ALLOC);
  }

  /** Runs vmem_check on every arena. */
  check(): void {
    this.kernelArena.check();
    for (const a of this.domainArena) a.check();
  }
}

export function roundPage(size: number): number {
  return Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
}

/*
 * kva_import_domain: a KVA_QUANTUM-aligned chunk of kernel_arena for a
 * per-domain arena. Requires size a multiple of KVA_QUANTUM (EINVARIANT).
 */
function kvaImportDomain(arg: { parent: Vmem; quantum: number }, size: number, flags: number): number {
  if (size % arg.quantum !== 0) {
    throw new PagelabError('EINVARIANT', `kva_import_domain: size ${hex(size)} is not a multiple of KVA_QUANTUM ${hex(arg.quantum)}`);
  }
  return vmem_xalloc(arg.parent, size, arg.quantum, 0, 0, 0, Number.MAX_SAFE_INTEGER, (flags & ~VMEM_FITMASK) | M_BESTFIT);
}
