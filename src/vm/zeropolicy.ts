/**
 * Pre-zeroing policies (vm.zero.policy), all on the same vm_phys: when the
 * zeroing that VM_ALLOC_ZERO asks for is done, and by whom.
 *
 *   alloc   zero on the allocation path only (Linux __GFP_ZERO and FreeBSD
 *           VM_ALLOC_ZERO today): PG_ZERO pages are skipped, nothing else
 *           makes them.
 *   idle    FreeBSD's old vm_zeroidle.c: an idle-priority thread zeroes free
 *           pages whenever fewer than ZIDLE_LO = 2/3 of the free pages are
 *           zeroed, until ZIDLE_HI = 4/5 are (hysteresis), a bounded run of
 *           pages per wake-up.
 *   free    Linux init_on_free: a page is zeroed when it is freed, on the
 *           freeing thread; allocations then skip the zeroing.
 *   report  the PG_zero RFC (seed 003): free page reporting
 *           (mm/page_reporting.c) drives the zeroing. A free that leaves a
 *           block of at least page_reporting_order requests a pass 2 s
 *           later; a pass walks the lists of that order and above, isolates
 *           unreported blocks in batches of PAGE_REPORTING_CAPACITY (32),
 *           zeroes them, frees them back PG_ZERO and marks each PG_REPORTED
 *           if it did not merge on the way back. It makes at most
 *           ceil(nr_free / (32 * 16)) + 1 batch calls per list (about 1/16
 *           of a list per pass) and asks for another pass when it stops
 *           early. PG_REPORTED is lost when the block leaves its queue
 *           (split, merged, allocated), as PageReported is; PG_ZERO is a page
 *           property and stays with the page until it is allocated, so a
 *           block reported again after a merge is re-reported without being
 *           zeroed again.
 *
 * threads (vm.zero.threads) is how many threads the background policies
 * run: the caller turns time into a page budget (the VM never sees time).
 * hugepool (vm.zero.hugepool) keeps that much memory aside as pre-zeroed
 * 2 MiB blocks, the hugetlbfs alternative of the thread: order-9 and order-0
 * zeroed allocations are served from it first, and idle time refills it.
 *
 * Allocations and frees of a workload go through ZeroPolicy.alloc/free; the
 * counters (stats()) are what the lab reports. The rest of the VM is covered
 * too: under `free` the page layer's vm_page_free zeroes through zeroAtFree
 * (Vm installs it), and idle's hysteresis reads vm_phys's own count of free
 * PG_ZERO pages (Phys.zeroFreeCount), which every allocation and free keeps,
 * whoever makes it (page layer, reservations, page cache, wiring, kstacks).
 */
import { PagelabError, kassert } from '../errors.js';
import { hex } from '../util/units.js';
import { Work } from './counters.js';
import { PAGE_SIZE, PG_REPORTED, VM_ALLOC_ZERO, VM_FREEPOOL_DEFAULT, VM_FREEPOOL_DIRECT } from './param.js';
import type { Phys } from './phys.js';
import type { PreZeroer } from './prezero.js';

export const ZERO_POLICIES = ['alloc', 'idle', 'free', 'report'] as const;
export type ZeroPolicyName = (typeof ZERO_POLICIES)[number];

/** mm/page_reporting.h: PAGE_REPORTING_CAPACITY, blocks per report() call. */
export const PAGE_REPORTING_CAPACITY = 32;
/** mm/page_reporting.c: PAGE_REPORTING_DELAY = 2 * HZ. */
export const PAGE_REPORTING_DELAY_NS = 2e9;
/** mm/page_reporting.c: a pass makes at most nr_free / (CAPACITY * 16) calls per list (plus one). */
export const PAGE_REPORTING_BUDGET_DIV = 16;
/** vm_zeroidle.c: ZIDLE_LO(v) = v * 2 / 3, ZIDLE_HI(v) = v * 4 / 5. */
export const ZIDLE_LO = 2 / 3;
export const ZIDLE_HI = 4 / 5;
/** Pages the idle thread zeroes per wake-up before it looks again (a bounded run). */
export const IDLE_RUN_PAGES = 512;
/** The huge page of the hugetlbfs pool: 2 MiB. */
export const HUGEPOOL_ORDER = 9;

export interface ZeroPolicyOptions {
  policy?: ZeroPolicyName;
  /** Background zeroing threads (idle, report, pool refill); >= 1. */
  threads?: number;
  /** Bytes kept aside as pre-zeroed 2 MiB blocks; a multiple of 2 MiB. */
  hugepoolBytes?: number;
  /** page_reporting_order: smallest order reported. */
  reportOrder?: number;
}

export interface ZeroPolicyStats {
  policy: ZeroPolicyName;
  threads: number;
  hugepoolBytes: number;
  /** Bytes zeroed on the allocation path (VM_ALLOC_ZERO on pages not PG_ZERO). */
  allocPathBytes: number;
  /** Bytes zeroed when freed (policy free), on the freeing thread. */
  freePathBytes: number;
  /** Bytes zeroed in the background (idle or report threads, hugepool fill). */
  backgroundBytes: number;
  /** Of backgroundBytes, the hugepool's fills. */
  hugepoolFillBytes: number;
  /** Pages of zeroed allocations that needed no zeroing (PG_ZERO, or from the hugepool). */
  skippedPages: number;
  /**
   * Bytes of PG_ZERO pages handed to allocations that did not ask for zero:
   * pre-zeroing that bought nothing. (A fresh backing's pages are PG_ZERO
   * without any work: take deltas from after a history that used them.)
   */
  wastedBytes: number;
  /** idle: wake-ups that zeroed something. */
  idleRuns: number;
  /** report: passes run, blocks reported (zeroed and marked), of them re-reported (already all PG_ZERO), PG_REPORTED lost. */
  reportPasses: number;
  reportedBlocks: number;
  reReportedBlocks: number;
  reportedLost: number;
  /** hugepool: whole blocks held (the one order-0 requests are being cut from excluded), pages handed out from it. */
  hugepoolBlocks: number;
  hugepoolPagesServed: number;
}

/* Report pass states, as mm/page_reporting.c. */
const enum ReportState {
  Idle,
  Requested,
  Active,
}

export class ZeroPolicy {
  readonly policy: ZeroPolicyName;
  readonly threads: number;
  readonly hugepoolBytes: number;
  readonly reportOrder: number;
  private readonly phys: Phys;
  private readonly prezero: PreZeroer;
  private readonly work0: Float64Array;
  private freePathBytes = 0;
  private wastedBytes = 0;
  private hugepoolFillBytes = 0;
  private idleRuns = 0;
  /** idle: zeroing until ZIDLE_HI once it fell to ZIDLE_LO. */
  private idleZeroing = true;
  /** Simulated now, ns, advanced by idle(). */
  private nowNs = 0;
  private reportState = ReportState.Idle;
  private reportDueNs = 0;
  private reportPasses = 0;
  private reportedBlocks = 0;
  private reReportedBlocks = 0;
  private readonly reportedLost0: number;
  /** Blocks isolated for the current report batch: head, order, pool. */
  private readonly batch = new Int32Array(3 * PAGE_REPORTING_CAPACITY);
  private batchLen = 0;
  /** Heads marked PG_REPORTED since the caller last emptied this array (tests model the bookkeeping with it). */
  readonly lastReported: number[] = [];
  // The hugepool: allocated order-9 blocks, each zero; `carve*` is the block order-0 requests are cut from.
  private pool: number[] = [];
  private readonly poolTarget: number;
  private carveHead = -1;
  private carveNext = 0;
  private poolServed = 0;

  /*
   * Sets the policy up on `phys` (whose prezero is `prezero`). A hugepool is
   * taken and zeroed at once, as hugetlbfs fills its pool at boot; that work
   * counts as background. Throws EINVAL for a bad option and ENOMEM when the
   * hugepool does not fit the free memory.
   */
  constructor(phys: Phys, prezero: PreZeroer, opts: ZeroPolicyOptions = {}) {
    const policy = opts.policy ?? 'alloc';
    if (!(ZERO_POLICIES as readonly string[]).includes(policy)) throw new PagelabError('EINVAL', `vm.zero.policy: unknown policy "${policy}" (${ZERO_POLICIES.join(', ')})`);
    const threads = opts.threads ?? 1;
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new PagelabError('EINVAL', `vm.zero.threads: ${threads} is not an integer in 1..256`);
    const hp = opts.hugepoolBytes ?? 0;
    const hugeBytes = PAGE_SIZE << HUGEPOOL_ORDER;
    if (!Number.isSafeInteger(hp) || hp < 0 || hp % hugeBytes !== 0) throw new PagelabError('EINVAL', `vm.zero.hugepool: ${hp} bytes is not a multiple of 2 MiB`);
    const ro = opts.reportOrder ?? 9;
    if (policy === 'report' && (!Number.isInteger(ro) || ro < 0 || ro > phys.maxOrder)) throw new PagelabError('EINVAL', `vm.zero.report_order: ${ro} is not an order in 0..${phys.maxOrder}`);
    if (hp > 0 && HUGEPOOL_ORDER > phys.maxOrder) throw new PagelabError('EINVAL', `vm.zero.hugepool needs order-${HUGEPOOL_ORDER} blocks; this machine's largest order is ${phys.maxOrder}`);
    this.policy = policy as ZeroPolicyName;
    this.threads = threads;
    this.hugepoolBytes = hp;
    this.reportOrder = ro;
    this.phys = phys;
    this.prezero = prezero;
    this.work0 = Float64Array.from(phys.work);
    phys.setReporting(this.policy === 'report' ? ro : Infinity);
    this.reportedLost0 = phys.reportedLost;
    prezero.onReturn = this.policy === 'report' ? (m, o) => this.markReported(m, o) : null;
    this.poolTarget = hp / hugeBytes;
    if (this.poolTarget > 0) {
      this.refillPool(Infinity);
      if (this.pool.length < this.poolTarget) {
        throw new PagelabError('ENOSPC', `vm.zero.hugepool: only ${this.pool.length} of ${this.poolTarget} free 2 MiB blocks for a ${hp / 2 ** 20} MiB pool`);
      }
    }
    // page_reporting_register asks for an initial pass.
    if (this.policy === 'report') this.requestReport();
  }

  /*
   * Stops the policy's hooks on vm_phys (before another policy takes over):
   * reporting is switched off and every PG_REPORTED mark cleared. The
   * hugepool's blocks are freed back (they are zero).
   */
  detach(): void {
    if (this.phys.reporting) {
      const f = this.phys.pages.flags;
      this.phys.forEachFreeBlock((m) => {
        f[m] &= ~PG_REPORTED;
      });
      this.phys.setReporting(Infinity);
    }
    this.prezero.onReturn = null;
    this.prezero.settle();
    if (this.carveHead >= 0) this.releaseCarve();
    for (const m of this.pool) this.phys.freePages(m, HUGEPOOL_ORDER, VM_FREEPOOL_DEFAULT, true);
    this.pool = [];
  }

  // ---------------------------------------------------------------- the paths

  /*
   * An allocation of 2^order pages from `domain`, zeroed when `zero`
   * (VM_ALLOC_ZERO): from the hugepool when it can serve it, else from
   * vm_phys, which zeroes what is not PG_ZERO. Returns the head or -1.
   */
  alloc(domain: number, order: number, zero: boolean, pool = VM_FREEPOOL_DEFAULT): number {
    if (zero && this.poolTarget > 0) {
      const m = this.allocFromPool(order);
      if (m >= 0) return m;
    }
    const phys = this.phys;
    if (zero) return phys.allocPages(domain, pool, order, VM_ALLOC_ZERO);
    const m = phys.allocPages(domain, pool, order);
    if (m >= 0) this.wastedBytes += phys.countZero(m, 1 << order) * PAGE_SIZE;
    return m;
  }

  /*
   * Frees [m, m + 2^order), which the caller allocated. Under `free` the
   * pages are zeroed first (what is not PG_ZERO) on this thread; under
   * `report` a free that ends in a block of page_reporting_order or more
   * requests a pass.
   */
  free(m: number, order: number, pool = VM_FREEPOOL_DEFAULT): void {
    const phys = this.phys;
    const n = 1 << order;
    if (this.policy === 'free') {
      // PG_ZERO on an allocated page says only that it was zero when handed
      // out: the whole block is zeroed, as init_on_free does.
      this.zeroAtFree(m, n);
      phys.freePages(m, order, pool, true);
      return;
    }
    phys.freePages(m, order, pool);
    if (this.policy === 'report' && phys.lastFreedOrder >= this.reportOrder) this.requestReport();
  }

  /** Whether frees zero their pages (init_on_free): the page layer's vm_page_free then calls zeroAtFree. */
  get zeroesAtFree(): boolean {
    return this.policy === 'free';
  }

  /*
   * init_on_free's work on [m, m + n), pages being freed: zeroed on the
   * freeing thread (real bytes with backing memory) and counted as
   * free-path bytes. The caller frees them as known zero.
   */
  zeroAtFree(m: number, n: number): void {
    const phys = this.phys;
    const bytes = n * PAGE_SIZE;
    if (phys.zeroHook !== null) phys.zeroHook(phys.pageToPa(m), bytes);
    this.freePathBytes += bytes;
  }

  // ---------------------------------------------------------------- background

  /*
   * Lets the background work run for `elapsedNs` of simulated time, in which
   * the policy's threads can zero at most `budgetPages` pages (the caller's
   * cost model decides the budget: threads x bandwidth x time). Returns the
   * pages zeroed. With an engine that has workers, waits for them.
   */
  idle(elapsedNs: number, budgetPages: number): number {
    if (!(elapsedNs >= 0) || !(budgetPages >= 0)) throw new PagelabError('EINVAL', `idle: ${elapsedNs} ns with a budget of ${budgetPages} pages`);
    const end = this.nowNs + elapsedNs;
    const nsPerPage = budgetPages > 0 ? elapsedNs / budgetPages : Infinity;
    // Work done past the last stretch's budget (a report batch is zeroed whole) is paid from this one.
    let left = budgetPages - this.debtPages;
    let zeroed = 0;
    if (this.poolTarget > 0 && this.pool.length < this.poolTarget) {
      const z = this.refillPool(left);
      left -= z;
      zeroed += z;
    }
    if (this.policy === 'idle') {
      const z = this.idleZero(left);
      left -= z;
      zeroed += z;
    } else if (this.policy === 'report') {
      let t = this.nowNs + (zeroed > 0 ? zeroed * nsPerPage : 0);
      while (this.reportState !== ReportState.Idle && this.reportDueNs <= end && t <= end && left > 0) {
        t = Math.max(t, this.reportDueNs);
        this.nowNs = t;
        const z = this.reportPass(Math.min(left, nsPerPage > 0 ? Math.floor((end - t) / nsPerPage) : Infinity));
        left -= z;
        zeroed += z;
        t += z * nsPerPage;
        this.nowNs = t;
        // A pass cut short by the budget of this stretch resumes at the next one.
        if (this.reportState === ReportState.Active) break;
      }
    }
    this.debtPages = Math.max(0, -left);
    this.prezero.settle();
    this.nowNs = end;
    return zeroed;
  }

  /* vm_zeroidle: zero runs of pages while below ZIDLE_HI, once below ZIDLE_LO. Returns pages zeroed. */
  private idleZero(budget: number): number {
    const phys = this.phys;
    let zeroed = 0;
    const free = phys.totalFree();
    // vm_phys's exact count (whoever allocated and freed), plus lazy pages when fresh memory reads zero; pages
    // submitted below count as zeroed at once, as the old vm_zeroidle counted them.
    let zeroFree = phys.zeroFreePages() + (phys.freshMemoryZero ? phys.lazyPending() : 0);
    if (zeroFree <= ZIDLE_LO * free) this.idleZeroing = true;
    while (this.idleZeroing && zeroed < budget) {
      if (zeroFree >= ZIDLE_HI * free) {
        this.idleZeroing = false;
        break;
      }
      let z = 0;
      for (let d = 0; d < phys.ndomains && z === 0; d++) z = this.prezero.submit(d, Math.min(IDLE_RUN_PAGES, budget - zeroed));
      if (z === 0) break;
      this.idleRuns++;
      zeroed += z;
      zeroFree += z;
    }
    return zeroed;
  }

  /* __page_reporting_request. */
  private requestReport(): void {
    if (this.reportState === ReportState.Idle) this.reportDueNs = this.nowNs + PAGE_REPORTING_DELAY_NS;
    this.reportState = this.reportState === ReportState.Active ? ReportState.Active : ReportState.Requested;
    this.reportRequestedDuringPass = true;
  }
  private reportRequestedDuringPass = false;
  private debtPages = 0;
  /** Calls left per list (by queue index) in the current pass. */
  private readonly passCalls = new Map<number, number>();
  /** Why the last reportList stopped early: its call budget, or the stretch's page budget. */
  private listStop: 'calls' | 'budget' | null = null;
  /** Where an interrupted pass resumes: order, pool and per-list budget used. */
  private passOrder = -1;

  /*
   * page_reporting_process: one pass over the lists of reportOrder and
   * above, zeroing at most `budget` pages. Returns the pages zeroed. When it
   * finishes, another pass is scheduled 2 s later if one was requested
   * meanwhile or a list's call budget ran out.
   */
  private reportPass(budget: number): number {
    const phys = this.phys;
    if (this.reportState !== ReportState.Active) {
      this.reportState = ReportState.Active;
      this.reportRequestedDuringPass = false;
      this.reportPasses++;
      this.passOrder = this.reportOrder;
      this.passCalls.clear();
    }
    let zeroed = 0;
    for (; this.passOrder <= phys.maxOrder; this.passOrder++) {
      for (let d = 0; d < phys.ndomains; d++) {
        for (let fl = 0; fl < phys.nfreelists; fl++) {
          for (const pool of [VM_FREEPOOL_DEFAULT, VM_FREEPOOL_DIRECT]) {
            zeroed += this.reportList(d, fl, pool, this.passOrder, budget - zeroed);
            if (this.listStop === 'calls') this.reportRequestedDuringPass = true;
            if (this.listStop === 'budget') return zeroed + this.flushBatch();
          }
        }
      }
    }
    zeroed += this.flushBatch();
    this.reportState = this.reportRequestedDuringPass ? ReportState.Requested : ReportState.Idle;
    if (this.reportState === ReportState.Requested) this.reportDueNs = this.nowNs + PAGE_REPORTING_DELAY_NS;
    return zeroed;
  }

  /*
   * page_reporting_cycle on one list: isolate unreported blocks into the
   * batch, reporting it whenever it is full, within the list's call budget
   * and the stretch's page budget. Returns the pages zeroed.
   */
  private reportList(domain: number, flind: number, pool: number, order: number, budgetPages: number): number {
    const phys = this.phys;
    const f = phys.pages.flags;
    const count = phys.queueCount(domain, flind, pool, order);
    const key = phys.queueIndex(domain, flind, pool, order);
    // The list's call budget holds for the whole pass, across stretches that interrupt it.
    let calls = this.passCalls.get(key) ?? Math.ceil(count / (PAGE_REPORTING_CAPACITY * PAGE_REPORTING_BUDGET_DIV));
    let zeroed = 0;
    this.listStop = calls < 0 ? 'calls' : null;
    if (calls < 0) return 0;
    let m = phys.queueFirst(domain, flind, pool, order);
    // Reported blocks stay on the list and a report restarts the walk: bound the visits.
    let visits = 4 * count + 2 * PAGE_REPORTING_CAPACITY;
    while (m >= 0 && visits-- > 0) {
      if ((f[m] & PG_REPORTED) !== 0) {
        m = phys.queueNext(m);
        continue;
      }
      if (this.batchLen === PAGE_REPORTING_CAPACITY) {
        if (zeroed >= budgetPages) {
          this.listStop = 'budget';
          break;
        }
        if (--calls < 0) {
          this.listStop = 'calls';
          break;
        }
        zeroed += this.flushBatch();
        // The list changed under the report (blocks came back, some merged): start again from its head.
        m = phys.queueFirst(domain, flind, pool, order);
        continue;
      }
      const next = phys.queueNext(m);
      const o = phys.isolateFreeBlock(m);
      kassert(o === order, () => `report: block at ${hex(phys.pageToPa(m))} of order ${o} on the order-${order} list`);
      const k = 3 * this.batchLen++;
      this.batch[k] = m;
      this.batch[k + 1] = o;
      this.batch[k + 2] = pool;
      m = next;
    }
    this.passCalls.set(key, calls);
    return zeroed;
  }

  /* prdev->report for the batch: zero each block (PG_ZERO pages are not zeroed again); page_reporting_drain marks them. */
  private flushBatch(): number {
    let zeroed = 0;
    for (let i = 0; i < this.batchLen; i++) {
      const m = this.batch[3 * i];
      const o = this.batch[3 * i + 1];
      const z = this.prezero.zeroTaken(m, o, this.batch[3 * i + 2]);
      if (z === 0) this.reReportedBlocks++;
      this.reportedBlocks++;
      zeroed += z;
    }
    this.batchLen = 0;
    return zeroed;
  }

  /* page_reporting_drain: a block that came back without merging is reported. */
  private markReported(m: number, order: number): void {
    const p = this.phys.pages;
    if (p.astate[m] === 0 && p.order[m] === order) {
      p.flags[m] |= PG_REPORTED;
      // Bounded: a caller that never empties it keeps the last pass's worth.
      if (this.lastReported.length >= 1 << 16) this.lastReported.length = 0;
      this.lastReported.push(m);
    }
  }

  // ---------------------------------------------------------------- hugepool

  /* Takes free 2 MiB blocks and zeroes them until the pool is full or `budget` pages are zeroed. Returns pages zeroed. */
  private refillPool(budget: number): number {
    const phys = this.phys;
    let zeroed = 0;
    while (this.pool.length < this.poolTarget && zeroed < budget) {
      const m = phys.allocPages(0, VM_FREEPOOL_DEFAULT, HUGEPOOL_ORDER);
      if (m < 0) break;
      const z = phys.countZero(m, 1 << HUGEPOOL_ORDER);
      const bytes = ((1 << HUGEPOOL_ORDER) - z) * PAGE_SIZE;
      phys.zeroPages(m, 1 << HUGEPOOL_ORDER);
      // zeroPages counted it as allocation-path work; it is the pool's fill.
      phys.work[Work.ZeroBytesSync] -= bytes;
      phys.work[Work.ZeroSkipped] -= z;
      this.hugepoolFillBytes += bytes;
      zeroed += bytes / PAGE_SIZE;
      this.pool.push(m);
    }
    return zeroed;
  }

  /* A zeroed block from the pool: order 9 whole, order 0 cut from the current block. */
  private allocFromPool(order: number): number {
    if (order === HUGEPOOL_ORDER) {
      const m = this.pool.pop();
      if (m === undefined) return -1;
      this.poolServed += 1 << order;
      return m;
    }
    if (order !== 0) return -1;
    if (this.carveHead < 0) {
      const m = this.pool.pop();
      if (m === undefined) return -1;
      this.carveHead = m;
      this.carveNext = m;
    }
    const m = this.carveNext++;
    if (this.carveNext === this.carveHead + (1 << HUGEPOOL_ORDER)) this.carveHead = -1;
    this.poolServed++;
    return m;
  }

  /* Frees the uncut rest of the block order-0 requests were being cut from. */
  private releaseCarve(): void {
    const end = this.carveHead + (1 << HUGEPOOL_ORDER);
    this.phys.freeContig(this.carveNext, end - this.carveNext);
    this.carveHead = -1;
  }

  // ---------------------------------------------------------------- reports

  stats(): ZeroPolicyStats {
    const w = this.phys.work;
    return {
      policy: this.policy,
      threads: this.threads,
      hugepoolBytes: this.hugepoolBytes,
      allocPathBytes: w[Work.ZeroBytesSync] - this.work0[Work.ZeroBytesSync],
      freePathBytes: this.freePathBytes,
      backgroundBytes: w[Work.ZeroBytesBackground] - this.work0[Work.ZeroBytesBackground] + this.hugepoolFillBytes,
      hugepoolFillBytes: this.hugepoolFillBytes,
      skippedPages: w[Work.ZeroSkipped] - this.work0[Work.ZeroSkipped] + this.poolServed,
      wastedBytes: this.wastedBytes,
      idleRuns: this.idleRuns,
      reportPasses: this.reportPasses,
      reportedBlocks: this.reportedBlocks,
      reReportedBlocks: this.reReportedBlocks,
      reportedLost: this.phys.reportedLost - this.reportedLost0,
      hugepoolBlocks: this.pool.length,
      hugepoolPagesServed: this.poolServed,
    };
  }

  /** Free blocks marked PG_REPORTED now (a walk of the free queues). */
  reportedNow(): number {
    let n = 0;
    const f = this.phys.pages.flags;
    this.phys.forEachFreeBlock((m) => {
      if ((f[m] & PG_REPORTED) !== 0) n++;
    });
    return n;
  }

  /** Simulated ns the policy has been idle in all (the sum of idle()'s elapsed). */
  get idleNs(): number {
    return this.nowNs;
  }
}
