/**
 * Views of the free queues: the table of sysctl vm.phys_free (per domain, free
 * list, pool and order) and a Linux /proc/buddyinfo-style summary.
 */
import { FREELIST_NAMES, PAGE_SIZE, POOL_NAMES, VM_NFREEPOOL } from './param.js';
import type { Phys } from './phys.js';
import { textTable } from '../util/table.js';

export interface FreeQueueRow {
  domain: number;
  flind: number;
  /** VM_FREELIST_* name of this free list. */
  freelist: string;
  pool: string;
  /** Blocks per order, index = order. */
  counts: number[];
  pages: number;
}

/* One row per [domain][free list][pool], counts per order (vm.phys_free). */
export function freeQueueTable(phys: Phys): FreeQueueRow[] {
  const rows: FreeQueueRow[] = [];
  const flName: string[] = [];
  for (let f = 0; f < phys.freelistToFlind.length; f++) {
    if (phys.freelistToFlind[f] >= 0) flName[phys.freelistToFlind[f]] = FREELIST_NAMES[f];
  }
  for (let d = 0; d < phys.ndomains; d++) {
    for (let fl = 0; fl < phys.nfreelists; fl++) {
      for (let pool = 0; pool < VM_NFREEPOOL; pool++) {
        const counts: number[] = [];
        let pages = 0;
        for (let o = 0; o < phys.nfreeorder; o++) {
          const c = phys.queueCount(d, fl, pool, o);
          counts.push(c);
          pages += c * 2 ** o;
        }
        rows.push({ domain: d, flind: fl, freelist: flName[fl], pool: POOL_NAMES[pool], counts, pages });
      }
    }
  }
  return rows;
}

/* Renders rows of freeQueueTable as text, orders as columns (sizes in the header). */
export function formatFreeQueueTable(rows: FreeQueueRow[], hideEmpty = true): string {
  const nfreeorder = rows.length > 0 ? rows[0].counts.length : 0;
  const headers = ['dom', 'freelist', 'pool'];
  for (let o = 0; o < nfreeorder; o++) {
    const kb = (PAGE_SIZE / 1024) * 2 ** o;
    headers.push(kb >= 1024 ? `${kb / 1024}M` : `${kb}K`);
  }
  headers.push('pages');
  const body = rows
    .filter((r) => !hideEmpty || r.pages > 0)
    .map((r) => [String(r.domain), r.freelist, r.pool, ...r.counts.map(String), String(r.pages)]);
  return textTable(headers, body).trimEnd();
}
