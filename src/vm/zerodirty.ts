/**
 * The pre-zeroer's dirty list: free pages that may not be zero, one stack per
 * domain, each page on it at most once (PG_DIRTYQ marks membership). Entries
 * go stale as pages are allocated or zeroed; the consumer
 * (Phys.takeBlockForZeroing) discards those as it pops them. FreeBSD's old
 * vm_zeroidle found its pages by taking them off the free queues in order;
 * this list is what makes a pass over a large machine proportional to the
 * pages dirtied rather than to the free blocks scanned.
 */
import { PG_DIRTYQ } from './param.js';

export class DirtyList {
  private stacks: Uint32Array[];
  private readonly tops: Int32Array;
  private readonly flags: Uint8Array;
  private readonly domainOf: ((m: number) => number) | null;

  /*
   * `flags` is the page array's flag field; `domainOf(m)` the domain of page
   * m (not called on a single-domain machine).
   */
  constructor(flags: Uint8Array, ndomains: number, domainOf: (m: number) => number) {
    this.flags = flags;
    this.domainOf = ndomains > 1 ? domainOf : null;
    this.stacks = Array.from({ length: ndomains }, () => new Uint32Array(1024));
    this.tops = new Int32Array(ndomains);
  }

  /* Pushes page m unless it is already on the list. */
  push(m: number): void {
    const f = this.flags;
    if ((f[m] & PG_DIRTYQ) !== 0) return;
    f[m] |= PG_DIRTYQ;
    const d = this.domainOf === null ? 0 : this.domainOf(m);
    let s = this.stacks[d];
    const t = this.tops[d];
    if (t === s.length) {
      const g = new Uint32Array(s.length * 2);
      g.set(s);
      this.stacks[d] = s = g;
    }
    s[t] = m;
    this.tops[d] = t + 1;
  }

  /* Pops the most recently pushed page of `domain`, or -1 when none is left. */
  pop(domain: number): number {
    const t = this.tops[domain];
    if (t === 0) return -1;
    const m = this.stacks[domain][t - 1];
    this.tops[domain] = t - 1;
    this.flags[m] &= ~PG_DIRTYQ;
    return m;
  }

  length(): number {
    let n = 0;
    for (let d = 0; d < this.tops.length; d++) n += this.tops[d];
    return n;
  }
}
