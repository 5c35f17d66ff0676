/**
 * The consistency checker of the physical allocator: every free block aligned,
 * inside one segment and on the queue its domain, free list, pool and order
 * say; queue links and counts consistent; no two free buddies of equal order;
 * no page both free and allocated; counters equal to the lists. O(pages):
 * meant for tests, `replay --check` and debug runs on small machines.
 */
import { PagelabError } from '../errors.js';
import { hex } from '../util/units.js';
import { ASTATE_ALLOCATED, ASTATE_CACHED, ASTATE_FREE, ASTATE_RESERVED, ASTATE_RESV_FREE, ASTATE_ZEROING, NIL, PG_ZERO, PQ_NONE, VM_FREEPOOL_DEFAULT, VM_FREEPOOL_LAZYINIT, VM_NFREEPOOL } from './param.js';
import type { Phys } from './phys.js';

function fail(msg: string): never {
  throw new PagelabError('EINVARIANT', `vm_phys check: ${msg}`);
}

/* Throws EINVARIANT with the first broken invariant, naming addresses. */
export function checkPhys(phys: Phys): void {
  const p = phys.pages;
  const n = phys.npages;
  const nfo = phys.nfreeorder;
  const freeHeadOrder = new Int8Array(n).fill(-1);
  const isFree = new Uint8Array(n);
  const freeByDomain = new Float64Array(phys.ndomains);
  let lazyPages = 0;
  let zeroFree = 0;
  const pa = (m: number): string => hex(phys.pageToPa(m));

  for (let d = 0; d < phys.ndomains; d++) {
    for (let fl = 0; fl < phys.nfreelists; fl++) {
      for (let pool = 0; pool < VM_NFREEPOOL; pool++) {
        for (let o = 0; o < nfo; o++) {
          const { members, reverse } = phys.queueMembers(d, fl, pool, o);
          const count = phys.queueCount(d, fl, pool, o);
          if (members.length !== count) {
            fail(`queue [domain ${d}][flind ${fl}][pool ${pool}][order ${o}] counts ${count} but links ${members.length} blocks`);
          }
          if (members.length !== reverse.length || members.some((m, i) => m !== reverse[i])) {
            fail(`queue [domain ${d}][flind ${fl}][pool ${pool}][order ${o}] forward and backward links disagree`);
          }
          for (const m of members) {
            const s = phys.segOfIndex(m);
            const seg = phys.segs[s];
            if (seg.domain !== d || seg.flind !== fl) fail(`block at ${pa(m)} is on domain ${d} flind ${fl} but its segment is domain ${seg.domain} flind ${seg.flind}`);
            if ((phys.pfnLow(m) & (2 ** o - 1)) !== 0) fail(`block at ${pa(m)} of order ${o} is misaligned`);
            if (m + 2 ** o > seg.firstPage + seg.npages) fail(`block at ${pa(m)} of order ${o} runs past its segment end ${hex(seg.end)}`);
            if (pool === VM_FREEPOOL_LAZYINIT) {
              for (let i = m; i < m + 2 ** o; i++) {
                if (p.pool[i] !== VM_FREEPOOL_LAZYINIT) fail(`page ${pa(i)} in lazy block at ${pa(m)} is initialised`);
              }
              lazyPages += 2 ** o;
            } else {
              if (p.pool[m] !== pool) fail(`free head ${pa(m)} on pool ${pool} queue says pool ${p.pool[m]}`);
              if (p.order[m] !== o) fail(`free head ${pa(m)} on order ${o} queue says order ${p.order[m]}`);
            }
            for (let i = m; i < m + 2 ** o; i++) {
              if (pool !== VM_FREEPOOL_LAZYINIT && (p.flags[i] & PG_ZERO) !== 0) zeroFree++;
              if (isFree[i]) fail(`page ${pa(i)} is in two free blocks`);
              isFree[i] = 1;
              if (p.astate[i] !== ASTATE_FREE) fail(`page ${pa(i)} is both free (block at ${pa(m)}) and allocated`);
              if (i !== m && pool !== VM_FREEPOOL_LAZYINIT && p.order[i] !== nfo) fail(`page ${pa(i)} inside free block ${pa(m)} claims order ${p.order[i]}`);
            }
            freeHeadOrder[m] = o;
            freeByDomain[d] += 2 ** o;
          }
        }
      }
    }
  }

  for (let d = 0; d < phys.ndomains; d++) {
    if (freeByDomain[d] !== phys.domainFreePages(d)) fail(`domain ${d} free count ${phys.domainFreePages(d)} but its queues hold ${freeByDomain[d]} pages`);
  }
  if (zeroFree !== phys.zeroFreeCount) fail(`PG_ZERO free page count ${phys.zeroFreeCount} but the queues hold ${zeroFree} PG_ZERO pages`);
  if (lazyPages !== phys.lazyPending()) fail(`lazy pending ${phys.lazyPending()} but lazy queues hold ${lazyPages} pages`);
  if (lazyPages > 0 && phys.defaultFreepool !== VM_FREEPOOL_LAZYINIT) fail(`lazy blocks remain but vm_default_freepool is ${phys.defaultFreepool}`);
  if (lazyPages === 0 && phys.defaultFreepool !== VM_FREEPOOL_DEFAULT && phys.defaultFreepool !== VM_FREEPOOL_LAZYINIT) {
    fail(`vm_default_freepool ${phys.defaultFreepool} is not a pool`);
  }

  for (let m = 0; m < n; m++) {
    const o = freeHeadOrder[m];
    if (o >= 0 && o < phys.maxOrder) {
      const bit = 2 ** o;
      const b = (phys.pfnLow(m) & bit) !== 0 ? m - bit : m + bit;
      const s = phys.segOfIndex(m);
      const seg = phys.segs[s];
      if (b >= seg.firstPage && b < seg.firstPage + seg.npages && freeHeadOrder[b] === o) {
        fail(`free buddies ${pa(Math.min(m, b))} and ${pa(Math.max(m, b))} of order ${o} are not merged`);
      }
    }
    if (!isFree[m]) {
      if (p.pool[m] === VM_FREEPOOL_LAZYINIT) fail(`page ${pa(m)} is neither free nor initialised`);
      if (p.astate[m] !== ASTATE_ALLOCATED && p.astate[m] !== ASTATE_ZEROING && p.astate[m] !== ASTATE_CACHED && p.astate[m] !== ASTATE_RESERVED && p.astate[m] !== ASTATE_RESV_FREE) fail(`page ${pa(m)} is neither free nor allocated (lost)`);
      if (p.order[m] !== nfo) fail(`allocated page ${pa(m)} claims free order ${p.order[m]}`);
      if (p.next[m] !== NIL && p.queue[m] === PQ_NONE) fail(`allocated page ${pa(m)} is linked on a list but on no page queue`);
    }
  }
}
