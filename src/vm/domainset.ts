/**
 * Domain selection policies, as FreeBSD's domainset(9): DOMAINSET_POLICY_PREFER,
 * _ROUNDROBIN, _FIRSTTOUCH and _INTERLEAVE. A policy yields the order in
 * which an allocation tries the domains; the page allocator's
 * vm_domainset_iter_page (page-alloc.ts) walks it.
 */
import { PagelabError } from '../errors.js';

export type DomainPolicy = 'prefer' | 'roundrobin' | 'firsttouch' | 'interleave';

export class DomainSet {
  readonly policy: DomainPolicy;
  readonly ndomains: number;
  readonly prefer: number;
  /** dr_iter: the round-robin cursor. */
  cursor = 0;

  /*
   * Requires: ndomains >= 1; for 'prefer', 0 <= prefer < ndomains.
   */
  constructor(policy: DomainPolicy, ndomains: number, prefer = 0) {
    if (policy !== 'prefer' && policy !== 'roundrobin' && policy !== 'firsttouch' && policy !== 'interleave') {
      throw new PagelabError('EINVAL', `unknown domain policy "${String(policy)}" (prefer, roundrobin, firsttouch, interleave)`);
    }
    if (!Number.isInteger(prefer) || prefer < 0 || prefer >= ndomains) {
      throw new PagelabError('EINVAL', `preferred domain ${prefer} is out of range (machine has ${ndomains})`);
    }
    this.policy = policy;
    this.ndomains = ndomains;
    this.prefer = prefer;
  }

  /*
   * Writes into `out` the domains to try, first choice first, and returns
   * how many. `cpuDomain` is the domain of the allocating CPU (first-touch);
   * `offset` is interleave's di_offset (the pindex's stripe).
   * Round-robin advances its cursor once per call, as vm_domainset_iter_rr.
   */
  order(out: Int32Array | number[], cpuDomain = 0, offset = 0): number {
    const n = this.ndomains;
    let first: number;
    switch (this.policy) {
      case 'prefer':
        first = this.prefer;
        break;
      case 'firsttouch':
        first = cpuDomain % n;
        break;
      case 'roundrobin':
        first = this.cursor;
        this.cursor = (this.cursor + 1) % n;
        break;
      case 'interleave':
        first = offset % n;
        break;
    }
    for (let i = 0; i < n; i++) out[i] = (first + i) % n;
    return n;
  }
}
