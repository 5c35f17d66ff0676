/**
 * Domain selection policies, as FreeBSD's domainset(9): DOMAINSET_POLICY_PREFER,
 * _ROUNDROBIN and _FIRSTTOUCH. A policy yields the order in which an
 * allocation tries the domains; vm_domainset_iter walks it.
 */
import { PagelabError } from '../errors.js';

export type DomainPolicy = 'prefer' | 'roundrobin' | 'firsttouch';

export class DomainSet {
  readonly policy: DomainPolicy;
  readonly ndomains: number;
  readonly prefer: number;
  private cursor = 0;

  /*
   * Requires: ndomains >= 1; for 'prefer', 0 <= prefer < ndomains.
   */
  constructor(policy: DomainPolicy, ndomains: number, prefer = 0) {
    if (policy !== 'prefer' && policy !== 'roundrobin' && policy !== 'firsttouch') {
      throw new PagelabError('EINVAL', `unknown domain policy "${String(policy)}" (prefer, roundrobin, firsttouch)`);
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
   * how many. `cpuDomain` is the domain of the allocating CPU (first-touch).
   * Round-robin advances its cursor once per call, as vm_domainset_iter_rr.
   */
  order(out: Int32Array | number[], cpuDomain = 0): number {
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
    }
    for (let i = 0; i < n; i++) out[i] = (first + i) % n;
    return n;
  }
}
