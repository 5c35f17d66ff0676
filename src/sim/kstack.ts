/**
 * Prices the events of kernel-stack creation and disposal (counted by the
 * lab from the VM's own counters) with an event-cost profile. Simulated
 * nanoseconds only; the VM never sees time.
 */
import { PagelabError } from '../errors.js';
import type { EventCostProfile } from './profiles/freebsd-kstack-amd64.js';

/** What vm_thread_new / vm_thread_dispose did, in events the profile prices. */
export interface KstackEvents {
  /** uma_zalloc / uma_zfree served by the kstack cache. */
  cacheOps: number;
  vmemAllocs: number;
  vmemFrees: number;
  imports: number;
  releases: number;
  pagesFromReserv: number;
  /** Reservations created (each also counts its first page in pagesFromReserv). */
  reservsNew: number;
  pagesFromPhys: number;
  pagesFreed: number;
  /** Pages entered by pmap_qenter. */
  pagesMapped: number;
  /** pmap_qremove calls (one per disposed stack). */
  unmaps: number;
}

const PRICE: ReadonlyArray<[keyof KstackEvents, string]> = [
  ['cacheOps', 'umaCacheNs'],
  ['vmemAllocs', 'vmemAllocNs'],
  ['vmemFrees', 'vmemFreeNs'],
  ['imports', 'vmemImportNs'],
  ['releases', 'vmemReleaseNs'],
  ['pagesFromReserv', 'pageFromReservNs'],
  ['reservsNew', 'reservNewNs'],
  ['pagesFromPhys', 'pageFromPhysNs'],
  ['pagesFreed', 'pageFreeNs'],
  ['pagesMapped', 'pmapQenterNs'],
  ['unmaps', 'pmapQremoveNs'],
];

/*
 * Simulated ns of `ev` under `profile`, in all and per event kind.
 * Guarantees: a pure function; the sum runs in a fixed order.
 */
export function priceKstackEvents(profile: EventCostProfile, ev: KstackEvents): { ns: number; breakdown: Record<string, number> } {
  let ns = 0;
  const breakdown: Record<string, number> = {};
  for (const [k, p] of PRICE) {
    const c = profile.params[p];
    if (c === undefined) throw new PagelabError('EINVAL', `profile ${profile.name} has no ${p}`);
    const v = ev[k] * c.value;
    if (v !== 0) breakdown[k] = v;
    ns += v;
  }
  return { ns, breakdown };
}
