/**
 * Operations of vm_phys.c on given physical ranges rather than on queue
 * heads: the contiguous search (vm_phys_find_queues_contig,
 * vm_phys_find_freelist_contig), which finds a run of free pages under
 * address, alignment and boundary constraints, taking such a run off the
 * queues, and vm_phys_unfree_page. Phys.allocContig validates a request,
 * calls findContig, then takeRange; Phys.unfreePage calls unfreePage.
 *
 * The search reads the free queues only; it changes nothing.
 */
import { kassert, PagelabError } from '../errors.js';
import { hex } from '../util/units.js';
import { Work } from './counters.js';
import { ASTATE_ALLOCATED, NIL, PAGE_SIZE, PG_ZERO, VM_FREEPOOL_DEFAULT, VM_FREEPOOL_LAZYINIT, VM_NFREEPOOL } from './param.js';
import type { Phys } from './phys.js';

/* vm_addr_ok: aligned to `alignment`, and not crossing a multiple of `boundary` (0 = none). */
export function addrOk(pa: number, size: number, alignment: number, boundary: number): boolean {
  if (pa % alignment !== 0) return false;
  if (boundary === 0) return true;
  return Math.floor(pa / boundary) === Math.floor((pa + size - 1) / boundary);
}

/*
 * The segment loop of vm_phys_alloc_contig: search the queues of each
 * segment of `domain` that overlaps [low, high) enough, highest first, each
 * set of queues once. Requires: valid arguments (power-of-two alignment and
 * boundary, npages >= 1) and no lazy blocks in `domain` (the caller drains it).
 * Returns the first page of a run of `npages` free pages, all heads of
 * initialised free blocks or inside them, in one segment; or -1.
 */
export function findContig(phys: Phys, domain: number, npages: number, low: number, high: number, alignment: number, boundary: number): number {
  const segs = phys.segs;
  let queuesBase = -1;
  for (let s = segs.length - 1; s >= 0; s--) {
    const seg = segs[s];
    if (seg.start >= high || seg.domain !== domain) continue;
    if (low >= seg.end) break;
    const paStart = Math.max(low, seg.start);
    const paEnd = Math.min(high, seg.end);
    if (paEnd - paStart < npages * PAGE_SIZE) continue;
    if (phys.segtab.queueBase[s] === queuesBase) continue;
    queuesBase = phys.segtab.queueBase[s];
    const run = findQueuesContig(phys, queuesBase, npages, low, high, alignment, boundary);
    if (run >= 0) return run;
  }
  return -1;
}

/*
 * vm_phys_find_queues_contig: first, a single free block of sufficient
 * order whose head satisfies the constraints; for requests larger than the
 * largest block, a sequence of adjacent max-order blocks.
 */
function findQueuesContig(phys: Phys, qbase: number, npages: number, low: number, high: number, alignment: number, boundary: number): number {
  const nfo = phys.nfreeorder;
  const order = npages <= 1 ? 0 : 32 - Math.clz32(npages - 1);
  const size = npages * PAGE_SIZE;
  const next = phys.pages.next;
  const work = phys.work;
  for (let oind = order; oind < nfo; oind++) {
    for (let pind = phys.defaultFreepool; pind < VM_NFREEPOOL; pind++) {
      work[Work.QueueHeadVisit]++;
      // The caller drained the domain: its lazy queues are empty, but a
      // search from vm_default_freepool = LAZYINIT still looks at them.
      if (pind === VM_FREEPOOL_LAZYINIT) continue;
      for (let m = phys.queues.head[qbase + pind * nfo + oind]; m !== NIL; m = next[m]) {
        work[Work.ContigScan]++;
        const pa = phys.pageToPa(m);
        if (low <= pa && pa + size <= high && addrOk(pa, size, alignment, boundary)) return m;
      }
    }
  }
  if (order < nfo) return -1;
  for (let pind = phys.defaultFreepool; pind < VM_NFREEPOOL; pind++) {
    if (pind === VM_FREEPOOL_LAZYINIT) continue;
    const m = findFreelistContig(phys, qbase + pind * nfo, npages, low, high, alignment, boundary);
    if (m >= 0) return m;
  }
  return -1;
}

/*
 * vm_phys_find_freelist_contig: among max-order free blocks, find one that
 * starts a physically contiguous sequence of free max-order blocks long
 * enough and aligned. Each block is examined at most twice.
 */
function findFreelistContig(phys: Phys, q0: number, npages: number, low: number, high: number, alignment: number, boundary: number): number {
  const maxOrder = phys.maxOrder;
  const maxPages = 2 ** maxOrder;
  const size = npages * PAGE_SIZE;
  const maxSize = maxPages * PAGE_SIZE;
  const p = phys.pages;
  const work = phys.work;
  const isMaxFree = (i: number, seg: number): boolean =>
    i >= phys.segtab.first[seg] && i < phys.segtab.first[seg] + phys.segtab.count[seg] && p.pool[i] !== VM_FREEPOOL_LAZYINIT && p.order[i] === maxOrder;
  for (let m = phys.queues.head[q0 + maxOrder]; m !== NIL; m = p.next[m]) {
    work[Work.ContigScan]++;
    const s = p.segind[m];
    const seg = phys.segs[s];
    const pa = phys.pageToPa(m);
    const floor = Math.max(low, seg.start);
    if (pa < floor) continue;
    if (pa >= maxSize && pa - maxSize >= floor && isMaxFree(m - maxPages, s)) continue;
    const ceil = Math.min(high, seg.end);
    let ret = m;
    let retPa = pa;
    while (!addrOk(retPa, size, alignment, boundary) && retPa + size <= ceil && isMaxFree(ret + maxPages, s)) {
      ret += maxPages;
      retPa += maxSize;
      work[Work.ContigScan]++;
    }
    if (retPa + size > ceil) continue;
    let it = ret;
    while (it < ret + npages && isMaxFree(it, s)) {
      it += maxPages;
      work[Work.ContigScan]++;
    }
    if (it < ret + npages) continue;
    return ret;
  }
  return -1;
}

/*
 * Take the free blocks that cover [run, run + npages) off their queues;
 * what the last block holds past the run goes back to DEFAULT as blocks of
 * increasing size (vm_phys_enq_range). Requires: findContig's run.
 * Guarantees: every page of the run is on no queue; the caller marks them.
 */
export function takeRange(phys: Phys, run: number, npages: number): void {
  const nfo = phys.nfreeorder;
  const p = phys.pages;
  const queuesBase = phys.segtab.queueBase[p.segind[run]];
  let m = run;
  const runEnd = run + npages;
  while (m < runEnd) {
    const oind = p.order[m];
    phys.queues.rem(queuesBase + p.pool[m] * nfo + oind, m);
    m += 2 ** oind;
  }
  if (m > runEnd) phys.queues.addRange(runEnd, m - runEnd, queuesBase + VM_FREEPOOL_DEFAULT * nfo, VM_FREEPOOL_DEFAULT, false);
}

/* vm_phys_unfree_page, for Phys.unfreePage (see there). */
export function unfreePage(phys: Phys, pa: number): boolean {
  const s = phys.paToSeg(pa);
  if (s < 0) throw new PagelabError('ERANGE', `unfreePage: ${hex(pa)} is not in any physical segment`);
  if (pa % PAGE_SIZE !== 0) throw new PagelabError('EINVAL', `unfreePage: ${hex(pa)} is not page-aligned`);
  phys.lazyInitDomain(phys.segs[s].domain);
  phys.work[Work.Lock]++;
  const m = phys.paToPage(pa);
  const set = containingFreeBlock(phys, m);
  if (set < 0) return false;
  const p = phys.pages;
  const pool = p.pool[set];
  let order = p.order[set];
  const q0 = phys.segtab.queueBase[s] + pool * phys.nfreeorder;
  phys.queues.rem(q0 + order, set);
  let mset = set;
  while (order > 0) {
    order--;
    const half = mset + 2 ** order;
    let tmp: number;
    if (m < half) tmp = half;
    else {
      tmp = mset;
      mset = half;
    }
    phys.queues.add(q0 + order, tmp, order, pool, false);
  }
  kassert(mset === m, () => `unfreePage: fatal inconsistency at ${hex(pa)}`);
  p.astate[m] = ASTATE_ALLOCATED;
  if ((p.flags[m] & PG_ZERO) !== 0) phys.zeroFreeCount--;
  return true;
}

/* Phys.containingFreeBlock (see there). */
export function containingFreeBlock(phys: Phys, m: number): number {
  const s = phys.segOfIndex(m);
  const first = phys.segtab.first[s];
  const pfnLo = phys.segtab.pfnLo[s];
  const p = phys.pages;
  for (let order = 0; order <= phys.maxOrder; order++) {
    const off = m - first;
    const mask = 2 ** order - 1;
    const head = m - ((pfnLo + off) & mask);
    if (head < first) return -1;
    if (p.pool[head] !== VM_FREEPOOL_LAZYINIT && p.order[head] < phys.nfreeorder && p.order[head] >= order) {
      return head + 2 ** p.order[head] > m ? head : -1;
    }
  }
  return -1;
}
