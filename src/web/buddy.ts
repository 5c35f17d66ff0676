/**
 * Buddy info for the bar chart: free blocks per pool and order, summed over
 * domains and free lists, read from the free-queue counters (no walk).
 */
import { POOL_NAMES, VM_NFREEPOOL } from '../vm/param.js';
import type { Phys } from '../vm/phys.js';

export interface BuddyBars {
  pools: readonly string[];
  /** counts[pool][order]: free blocks. */
  counts: number[][];
  /** Free pages per pool. */
  pages: number[];
  /** The largest count in the chart, for scaling. */
  max: number;
}

export function buddyBars(phys: Phys): BuddyBars {
  const counts: number[][] = [];
  const pages: number[] = [];
  let max = 0;
  for (let pool = 0; pool < VM_NFREEPOOL; pool++) {
    const row = new Array<number>(phys.nfreeorder).fill(0);
    let pg = 0;
    for (let d = 0; d < phys.ndomains; d++) {
      for (let fl = 0; fl < phys.nfreelists; fl++) {
        for (let o = 0; o < phys.nfreeorder; o++) {
          const c = phys.queueCount(d, fl, pool, o);
          row[o] += c;
          pg += c * 2 ** o;
        }
      }
    }
    for (const c of row) if (c > max) max = c;
    counts.push(row);
    pages.push(pg);
  }
  return { pools: POOL_NAMES, counts, pages, max };
}

/* Bar height in [0, 1]: logarithmic, since counts run from 1 to millions. 0 only for 0. */
export function barHeight(count: number, max: number): number {
  if (count <= 0 || max <= 0) return 0;
  return Math.log2(count + 1) / Math.log2(max + 1);
}
