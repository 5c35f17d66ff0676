/**
 * The consistency checker of the page layer, run after checkPhys: every page
 * in exactly one state (free in vm_phys, free inside a reservation, in a page
 * cache, resident in an object at one pindex, or allocated in no object);
 * each live reservation's popmap equal to its allocated pages, its object's
 * pages inside it at the matching offsets, its population counted, its
 * queue membership consistent; free counts equal to the queues plus the
 * reservations' free pages; objects' resident counts equal to their tries.
 * O(pages + resident pages): for tests, `replay --check` and debug runs.
 */
import { PagelabError } from '../errors.js';
import { hex } from '../util/units.js';
import { OBJ_MAX_SIZE } from './object.js';
import { ASTATE_ALLOCATED, ASTATE_CACHED, ASTATE_RESV_FREE, NIL, OBJ_NONE, PG_PCPU_CACHE, VM_FREEPOOL_LAZYINIT } from './param.js';
import type { Vm } from './vm.js';

function fail(msg: string): never {
  throw new PagelabError('EINVARIANT', `vm_page check: ${msg}`);
}

/* Throws EINVARIANT with the first broken invariant, naming pages and objects. */
export function checkObjects(vm: Vm): void {
  const phys = vm.phys;
  const p = phys.pages;
  const objects = vm.object;
  const reserv = vm.reserv;
  const n = phys.npages;
  const pa = (m: number): string => hex(phys.pageToPa(m));

  // Objects: each trie entry is a resident page recording (object, pindex).
  const seen = new Uint8Array(n);
  const buf = new Uint32Array(1024);
  const keys = new Float64Array(1024);
  for (const obj of objects.live()) {
    let count = 0;
    let busy = 0;
    for (let key = 0, got = buf.length; got === buf.length; key = keys[got - 1] + 1) {
      got = objects.radix.gather(obj, key, buf, keys);
      for (let i = 0; i < got; i++) {
        const m = buf[i];
        if (!(m < n)) fail(`object ${objects.describe(obj)} maps pindex ${keys[i]} to page index ${m}, outside the machine`);
        if (seen[m]) fail(`page ${pa(m)} is resident twice (object ${objects.describe(obj)}, pindex ${keys[i]})`);
        seen[m] = 1;
        if (p.object[m] !== obj || p.pindex[m] !== keys[i]) fail(`page ${pa(m)} sits at pindex ${keys[i]} of object ${objects.describe(obj)} but records object slot ${p.object[m]} pindex ${p.pindex[m]}`);
        if (p.astate[m] !== ASTATE_ALLOCATED) fail(`resident page ${pa(m)} of object ${objects.describe(obj)} is not allocated (state ${p.astate[m]})`);
        if (keys[i] >= objects.size[obj] && objects.size[obj] < OBJ_MAX_SIZE) fail(`page ${pa(m)} at pindex ${keys[i]} lies beyond object ${objects.describe(obj)}'s size ${objects.size[obj]}`);
        count++;
        if (p.busy[m] !== 0) busy++;
      }
    }
    if (busy !== objects.busyPages[obj]) fail(`object ${objects.describe(obj)} counts ${objects.busyPages[obj]} busy pages but has ${busy}`);
    if (count !== objects.resident[obj]) fail(`object ${objects.describe(obj)} counts ${objects.resident[obj]} resident pages but its trie holds ${count}`);
  }

  // Reservations: popmap, popcnt, object pages at their offsets, queues.
  const reservFree = new Float64Array(phys.ndomains);
  if (reserv !== null) {
    const N = reserv.npages;
    const inq = new Uint8Array(reserv.count);
    for (let d = 0; d < phys.ndomains; d++) {
      const members = reserv.partpopqMembers(d);
      if (members.length !== reserv.pqLen[d]) fail(`partpopq of domain ${d} counts ${reserv.pqLen[d]} but links ${members.length}`);
      for (const rv of members) {
        if (inq[rv]) fail(`reservation ${reserv.paOf(rv)} is twice on partpopq`);
        inq[rv] = 1;
        if (reserv.domain[rv] !== d) fail(`reservation ${reserv.paOf(rv)} of domain ${reserv.domain[rv]} is on domain ${d}'s partpopq`);
      }
    }
    const onObjq = new Uint8Array(reserv.count);
    for (const obj of objects.live()) {
      for (const rv of reserv.objectReservations(obj)) {
        if (reserv.object[rv] !== obj) fail(`reservation ${reserv.paOf(rv)} is on object ${objects.describe(obj)}'s list but belongs to slot ${reserv.object[rv]}`);
        onObjq[rv] = 1;
      }
    }
    for (let rv = 0; rv < reserv.count; rv++) {
      const obj = reserv.object[rv];
      if (obj === OBJ_NONE) {
        if (reserv.allocated && (reserv.popcnt[rv] !== 0 || inq[rv] || reserv.inpartpopq[rv])) fail(`free reservation #${rv} has population ${reserv.popcnt[rv]} or is queued`);
        continue;
      }
      if (!objects.isLive(obj)) fail(`reservation ${reserv.paOf(rv)} belongs to dead object slot ${obj}`);
      if (!onObjq[rv]) fail(`reservation ${reserv.paOf(rv)} of object ${objects.describe(obj)} is not on the object's list`);
      if (inq[rv] !== reserv.inpartpopq[rv]) fail(`reservation ${reserv.paOf(rv)} inpartpopq ${reserv.inpartpopq[rv]} disagrees with the queue`);
      const pc = reserv.popcnt[rv];
      if (reserv.inpartpopq[rv] && (pc === 0 || pc === N)) fail(`reservation ${reserv.paOf(rv)} with population ${pc} is on partpopq`);
      if (pc === 0) fail(`live reservation ${reserv.paOf(rv)} has population 0`);
      const m0 = reserv.first[rv];
      if (reserv.fromPage(m0) !== rv) fail(`reservation #${rv} records first page ${pa(m0)}, which maps to another reservation`);
      let bits = 0;
      for (let i = 0; i < N; i++) {
        const m = m0 + i;
        const pop = reserv.isPopulated(rv, i);
        if (pop) {
          bits++;
          if (p.astate[m] !== ASTATE_ALLOCATED) fail(`page ${pa(m)} is populated in reservation ${reserv.paOf(rv)} but not allocated (state ${p.astate[m]})`);
        } else {
          if (p.astate[m] !== ASTATE_RESV_FREE) fail(`page ${pa(m)} is free in reservation ${reserv.paOf(rv)} but has state ${p.astate[m]}`);
          if (seen[m]) fail(`page ${pa(m)} is free in reservation ${reserv.paOf(rv)} and resident in an object`);
        }
        // An object page whose pindex falls in the reservation's window sits at the matching offset.
        if (p.object[m] === obj && seen[m]) {
          const off = p.pindex[m] - reserv.pindex[rv];
          if (off !== i) fail(`page ${pa(m)} of object ${objects.describe(obj)} at pindex ${p.pindex[m]} sits at offset ${i} of reservation ${reserv.paOf(rv)} (pindex ${reserv.pindex[rv]}), not ${off}`);
        }
      }
      if (bits !== pc) fail(`reservation ${reserv.paOf(rv)} popcnt ${pc} but popmap has ${bits} bits`);
      reservFree[reserv.domain[rv]] += N - pc;
      // Pages of the object whose pindex is in the window but sit elsewhere.
      for (let key = reserv.pindex[rv]; ; ) {
        const m = objects.radix.lookupGe(obj, key);
        if (m === NIL || objects.radix.foundKey >= reserv.pindex[rv] + N) break;
        const k = objects.radix.foundKey;
        if (reserv.fromPage(m) === rv && m - m0 !== k - reserv.pindex[rv]) fail(`page ${pa(m)} at pindex ${k} is in reservation ${reserv.paOf(rv)} at the wrong offset`);
        key = k + 1;
      }
    }
  }
  for (let d = 0; d < phys.ndomains; d++) {
    if (reservFree[d] !== vm.domains.reservFree[d]) fail(`domain ${d} counts ${vm.domains.reservFree[d]} pages free in reservations but they hold ${reservFree[d]}`);
  }

  // Every page in one state: the rest of the states were checked by checkPhys.
  let cached = 0;
  for (let m = 0; m < n; m++) {
    const a = p.astate[m];
    if (a === ASTATE_RESV_FREE && (reserv === null || !reserv.isPageFree(m))) fail(`page ${pa(m)} is marked free in a reservation but none holds it`);
    if (a === ASTATE_CACHED) cached++;
    if (a === ASTATE_ALLOCATED && p.object[m] !== OBJ_NONE && !seen[m]) fail(`page ${pa(m)} records object slot ${p.object[m]} pindex ${p.pindex[m]} but is not in its trie`);
    if (a !== ASTATE_ALLOCATED && p.pool[m] !== VM_FREEPOOL_LAZYINIT) {
      if (p.wire[m] !== 0) fail(`page ${pa(m)} is not allocated but wired (${p.wire[m]})`);
      if (p.busy[m] !== 0) fail(`page ${pa(m)} is not allocated but busy`);
      if (a !== ASTATE_CACHED && (p.flags[m] & PG_PCPU_CACHE) !== 0) fail(`free page ${pa(m)} carries PG_PCPU_CACHE`);
    }
  }
  let held = 0;
  for (const row of vm.page.pgcache) for (const c of row) held += c?.size ?? 0;
  // Caches built outside the page layer (PageCache is a public class) hold the rest.
  if (held > cached) fail(`the page layer's caches hold ${held} pages but only ${cached} are marked cached`);
}
