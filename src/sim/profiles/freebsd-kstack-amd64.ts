/**
 * Calibration profile for kernel-stack creation and disposal on FreeBSD/amd64
 * (the kstack-pindex experiment). Nothing here is fitted to a figure the
 * experiment prints: the seed (D38852) publishes no timings, so every
 * constant is an independent figure or a stated assumption, and the
 * simulated times it gives are predictions of the model's shape (how the
 * schemes differ), not of any published number.
 */
import type { Constant } from '../cost.js';

export interface EventCostProfile {
  name: string;
  description: string;
  machine: string;
  /** Price of one event of each kind, ns. */
  params: Record<string, Constant>;
}

export const freebsdKstackAmd64: EventCostProfile = {
  name: 'freebsd-kstack-amd64',
  description: 'FreeBSD/amd64 kernel stacks: vm_thread_new / vm_thread_dispose paths priced per event',
  machine: 'a recent x86-64 server core at ~3 GHz, two NUMA domains',
  params: {
    umaCacheNs: {
      value: 40,
      unit: 'ns/op',
      basis: 'assumption',
      source: 'uma_zalloc/uma_zfree served from the per-CPU bucket (critical section, bucket pop/push): tens of cycles plus the call; FIRSTTOUCH cross-domain frees take the same path',
    },
    vmemAllocNs: {
      value: 150,
      unit: 'ns/op',
      basis: 'assumption',
      source: 'vmem_alloc(M_BESTFIT) of a kstack-sized segment: arena mutex (~40 ns uncontended), a free-list scan and a boundary-tag split (Bonwick & Adams 2001 report constant-time vmem operations of this order)',
    },
    vmemFreeNs: { value: 120, unit: 'ns/op', basis: 'assumption', source: 'vmem_free: hash lookup, coalescing with free neighbours, under the arena mutex' },
    vmemImportNs: {
      value: 1500,
      unit: 'ns/op',
      basis: 'assumption',
      source: 'vm_thread_kstack_arena_import: vmem_xalloc of an aligned chunk from the domain arena plus vmem_add of the span (two arena locks, tag allocation)',
    },
    vmemReleaseNs: { value: 1000, unit: 'ns/op', basis: 'assumption', source: 'vm_thread_kstack_arena_release: span removal plus vmem_xfree to the domain arena' },
    pageFromReservNs: {
      value: 120,
      unit: 'ns/page',
      basis: 'assumption',
      source: 'vm_page_alloc_domain_after served by an existing reservation: vm_reserv_alloc_page popmap update, vm_page_insert into the object radix trie, page initialisation',
    },
    reservNewNs: {
      value: 900,
      unit: 'ns/reservation',
      basis: 'assumption',
      source: 'a new reservation: vm_phys_alloc_pages(order 9) under the free lock plus vm_reserv_populate bookkeeping, beyond the per-page cost',
    },
    pageFromPhysNs: { value: 250, unit: 'ns/page', basis: 'assumption', source: 'vm_page_alloc without a reservation: domain free lock, vm_phys order-0 allocation (buddy split), radix insert' },
    pageFreeNs: { value: 150, unit: 'ns/page', basis: 'assumption', source: 'vm_page_unwire_noq + vm_page_free: radix remove, vm_reserv_free_page (popmap) or vm_phys_free_pages' },
    pmapQenterNs: { value: 15, unit: 'ns/page', basis: 'assumption', source: 'pmap_qenter: one PTE store per page, no invalidation (the KVA was unmapped)' },
    pmapQremoveNs: {
      value: 3000,
      unit: 'ns/op',
      basis: 'independent',
      source: 'pmap_qremove of a stack: invalidating kernel mappings on every CPU is a TLB shootdown; Amit, "Optimizing the TLB Shootdown Algorithm with Page-Access Tracking" (USENIX ATC 2017) measures shootdowns in the low microseconds on x86 servers',
    },
  },
};
