/**
 * Pre-zeroing of free pages (PG_ZERO), after the Linux "mm: Add PG_zero
 * support" RFC and FreeBSD's old vm_zeroidle: free blocks that are not known
 * to be zero are taken off the free queues (so they cannot be handed out),
 * zeroed off the allocation path (by the ZeroEngine's worker threads, or
 * inline), and freed back marked PG_ZERO. Allocations with VM_ALLOC_ZERO then
 * skip the zeroing. Without backing memory only the accounting runs.
 */
import { Work } from './counters.js';
import { PAGE_SIZE, PG_ZERO } from './param.js';
import type { Phys } from './phys.js';
import type { ZeroEngine } from './zeroidle.js';

interface Pending {
  order: number;
  pool: number;
  runs: number;
}

export class PreZeroer {
  private readonly phys: Phys;
  private readonly engine: ZeroEngine | null;
  private readonly pending = new Map<number, Pending>();
  private readonly takeOut = new Int32Array(2);
  private readonly completions = new Float64Array(256);
  /** Pages taken off the free queues and not yet returned. */
  inFlightPages = 0;

  /*
   * `engine` zeroes real memory (inline with 0 workers, in the background
   * otherwise); null zeroes through phys.zeroHook, or only counts when the
   * machine has no backing.
   */
  constructor(phys: Phys, engine: ZeroEngine | null) {
    this.phys = phys;
    this.engine = engine;
  }

  /*
   * Takes free blocks of `domain` that hold pages not known to be zero off
   * the queues and submits those pages for zeroing, until about `maxPages`
   * pages (whole blocks) are submitted or no such block is found within
   * `maxScan` blocks. Returns the pages submitted for zeroing; pages of a
   * taken block that were already PG_ZERO are not zeroed again.
   */
  submit(domain: number, maxPages: number, maxScan = 4096): number {
    let zeroed = 0;
    while (zeroed < maxPages) {
      const m = this.phys.takeBlockForZeroing(domain, maxScan, this.takeOut);
      if (m < 0) break;
      zeroed += this.zeroTaken(m, this.takeOut[0], this.takeOut[1]);
    }
    return zeroed;
  }

  /*
   * Zeroes the block [m, m + 2^order) that the caller took off the free
   * queues (Phys.isolateFreeBlock or takeBlockForZeroing) and frees it back
   * to `pool` as PG_ZERO when done (at once without workers). Pages already
   * PG_ZERO are not zeroed again. Returns the pages submitted for zeroing.
   */
  zeroTaken(m: number, order: number, pool: number): number {
    const phys = this.phys;
    const flags = phys.pages.flags;
    const n = 1 << order;
    let zeroed = 0;
    this.inFlightPages += n;
    const entry: Pending = { order, pool, runs: 0 };
    this.pending.set(m, entry);
    let i = m;
    while (i < m + n) {
      if ((flags[i] & PG_ZERO) !== 0) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < m + n && (flags[j] & PG_ZERO) === 0) j++;
      const pa = phys.pageToPa(i);
      const bytes = (j - i) * PAGE_SIZE;
      zeroed += j - i;
      phys.work[Work.ZeroBytesBackground] += bytes;
      entry.runs++;
      if (this.engine === null) {
        if (phys.zeroHook !== null) phys.zeroHook(pa, bytes);
        entry.runs--;
      } else {
        while (!this.engine.submit(pa, bytes, m)) this.reapInto();
      }
      i = j;
    }
    if (entry.runs === 0) this.finish(m, entry);
    return zeroed;
  }

  /* Waits for the engine (if any) and frees back every block it finished; returns the pages given back. */
  settle(): number {
    if (this.engine === null) return 0;
    this.engine.waitAll();
    return this.reapInto();
  }

  /* Collect engine completions; returns the pages given back. */
  reap(): number {
    return this.reapInto();
  }

  private reapInto(): number {
    if (this.engine === null) return 0;
    let returned = 0;
    let k: number;
    while ((k = this.engine.poll(this.completions)) > 0) {
      for (let i = 0; i < k; i++) {
        const m = this.completions[i];
        const e = this.pending.get(m);
        if (e === undefined) continue;
        if (--e.runs === 0) returned += this.finish(m, e);
      }
      if (k < this.completions.length) break;
    }
    return returned;
  }

  /** Called with (head, order) after each zeroed block is freed back (free page reporting marks it). */
  onReturn: ((m: number, order: number) => void) | null = null;

  private finish(m: number, e: Pending): number {
    this.pending.delete(m);
    this.phys.returnZeroedBlock(m, e.order, e.pool);
    const n = 1 << e.order;
    this.inFlightPages -= n;
    if (this.onReturn !== null) this.onReturn(m, e.order);
    return n;
  }

  /*
   * Zero everything that is free and not yet PG_ZERO in `domain`, waiting
   * for the engine: the "idle" pre-zeroing run to completion. Returns the
   * pages zeroed.
   */
  runToCompletion(domain: number, slicePages = 4096): number {
    let total = 0;
    for (;;) {
      const n = this.submit(domain, slicePages, Infinity);
      total += n;
      if (this.engine !== null) {
        this.engine.waitAll();
        this.reapInto();
      }
      if (n === 0) break;
    }
    return total;
  }
}
