/**
 * A booted machine: the memory map, the tunables, the physical allocator and
 * what boot did. The entry point of the library for most users.
 */
import { PagelabError } from '../errors.js';
import { Tunables, findTunable } from '../kern/tunables.js';
import { BackingStore, hostMemoryLimit } from '../machine/backing.js';
import type { MemoryMap } from '../machine/types.js';
import { checkPhys } from './checker.js';
import { checkObjects } from './check-objects.js';
import { VmObjects } from './object.js';
import { VmPage } from './page-alloc.js';
import { VmDomains } from './pagequeue.js';
import { Reserv, VM_LEVEL_0_ORDER_AMD64, VM_LEVEL_0_ORDER_ARM64_16K } from './reserv.js';
import { DomainSet } from './domainset.js';
import { VM_FREEPOOL_DEFAULT } from './param.js';
import { Phys } from './phys.js';
import { PreZeroer } from './prezero.js';
import { vmPageStartup, type BootStats } from './startup.js';
import { ZeroEngine } from './zeroidle.js';
import { ZeroPolicy, type ZeroPolicyName } from './zeropolicy.js';

/** The tunables setZeroTunable accepts: the pre-zeroing policy's. */
export const RUNTIME_ZERO_TUNABLES: readonly string[] = ['vm.zero.policy', 'vm.zero.threads', 'vm.zero.hugepool', 'vm.zero.report_order'];

export interface VmOptions {
  /**
   * With vm.backed=1: RAM contents to reuse (laid out for the same map), for
   * benchmarks that boot many machines without paying the first touch of
   * fresh memory each time. Its bytes are not assumed zero: no page starts
   * PG_ZERO.
   */
  backing?: BackingStore;
}

export class Vm {
  readonly map: MemoryMap;
  readonly tunables: Tunables;
  readonly phys: Phys;
  readonly boot: BootStats;
  /** The machine's RAM contents when vm.backed=1, else null. */
  readonly backing: BackingStore | null;
  /** Zeroing engine over the backing (workers from vm.zero.workers), else null. */
  readonly zeroEngine: ZeroEngine | null;
  /** Background pre-zeroing of free pages (PG_ZERO). */
  readonly prezero: PreZeroer;
  /** Per-domain free counts and allocation-class thresholds (struct vm_domain). */
  readonly domains: VmDomains;
  /** VM objects and their resident pages (vm_object, vm_radix). */
  readonly object: VmObjects;
  /** Superpage reservations (vm_reserv), or null when vm.reserv.enable=0. */
  readonly reserv: Reserv | null;
  /** The page allocation layer (vm_page_alloc and friends). */
  readonly page: VmPage;
  /** The pre-zeroing policy (vm.zero.*); replaced by setZeroTunable. */
  zeroPolicy: ZeroPolicy;
  private readonly domainOrder: Int32Array;

  /*
   * Boots `map` with `tunables` (defaults when omitted): vm_phys_init, then
   * vm_page_startup. The map must be valid (see machine/memmap.ts).
   */
  constructor(map: MemoryMap, tunables: Tunables | Record<string, string | number | boolean> = new Tunables(), opts: VmOptions = {}) {
    this.map = map;
    this.tunables = tunables instanceof Tunables ? tunables : new Tunables(tunables);
    // The backing first: a machine the host cannot hold is refused before
    // anything else is built.
    const reused = opts.backing !== undefined && this.tunables.num('vm.backed') === 1;
    if (reused && opts.backing!.ramBytes !== map.ram.reduce((a, r) => a + (r.end - r.start), 0)) {
      throw new PagelabError('EINVAL', `Vm: the backing given holds ${opts.backing!.ramBytes} bytes, not the map's RAM`);
    }
    const backing = this.tunables.num('vm.backed') === 1 ? (opts.backing ?? new BackingStore(map)) : null;
    this.phys = new Phys(map, {
      nfreeorder: this.tunables.num('vm.nfreeorder'),
      invariants: this.tunables.num('debug.invariants') === 1,
      numaDisabled: this.tunables.num('vm.numa.disabled') === 1,
      lazyIndexMoves: this.tunables.num('vm.lazy_index_moves') === 1,
      // Page records and backing RAM share one host limit.
      hostLimitBytes: hostMemoryLimit() - (backing === null ? 0 : backing.ramBytes),
      ...(backing === null
        ? {}
        : {
            zero: (pa: number, bytes: number) => backing.zero(pa, bytes),
            isZero: (pa: number, bytes: number) => backing.isZero(pa, bytes),
            // A fresh backing reads zero everywhere, so every free page starts
            // PG_ZERO: the first zeroed allocations skip the work, as they
            // would on a kernel whose firmware handed over zeroed memory. A
            // reused one holds whatever its last machine left.
            freshMemoryZero: !reused,
          }),
    });
    this.boot = vmPageStartup(this.phys, map, {
      lazy: this.tunables.num('vm.lazy_page_init') === 1,
      pageInit: this.tunables.str('vm.page_init') as 'fields' | 'bzero',
    });
    this.domainOrder = new Int32Array(this.phys.ndomains);
    this.backing = backing;
    this.zeroEngine = backing === null ? null : new ZeroEngine(backing, { workers: this.tunables.num('vm.zero.workers') });
    this.prezero = new PreZeroer(this.phys, this.zeroEngine);
    this.domains = new VmDomains(this.phys);
    this.object = new VmObjects(this.phys.pages);
    const order = this.tunables.str('vm.reserv.geometry') === 'arm64-16k' ? VM_LEVEL_0_ORDER_ARM64_16K : VM_LEVEL_0_ORDER_AMD64;
    // FreeBSD needs VM_NFREEORDER > VM_LEVEL_0_ORDER to build reservations; with fewer orders the layer is off.
    this.reserv = this.tunables.num('vm.reserv.enable') === 1 && order <= this.phys.maxOrder ? new Reserv(this.phys, this.object, this.domains, order) : null;
    this.page = new VmPage(this.phys, this.object, this.domains, this.reserv, { pgcache: this.tunables.num('vm.pgcache.enable') === 1 });
    this.object.bind(this.page, this.reserv);
    this.zeroPolicy = this.newZeroPolicy();
  }

  /* The policy of the vm.zero.* tunables; under init_on_free the page layer's frees zero through it too. */
  private newZeroPolicy(): ZeroPolicy {
    const z = new ZeroPolicy(this.phys, this.prezero, {
      policy: this.tunables.str('vm.zero.policy') as ZeroPolicyName,
      threads: this.tunables.num('vm.zero.threads'),
      hugepoolBytes: this.tunables.num('vm.zero.hugepool'),
      reportOrder: this.tunables.num('vm.zero.report_order'),
    });
    this.page.zeroAtFree = z.zeroesAtFree ? (m, n) => z.zeroAtFree(m, n) : null;
    return z;
  }

  /*
   * sysctl vm.zero.*: sets the tunable and replaces the policy (the old one
   * detaches: reporting marks cleared, hugepool freed); counters start again.
   * Throws ETUNABLE for a tunable that cannot change at run time or a bad
   * value, and passes on the new policy's error (ENOSPC for a hugepool that
   * does not fit), leaving the tunable as it was.
   */
  setZeroTunable(name: string, value: string | number): ZeroPolicy {
    const canonical = findTunable(name).name;
    if (!RUNTIME_ZERO_TUNABLES.includes(canonical)) throw new PagelabError('ETUNABLE', `${canonical} cannot be changed at run time (${RUNTIME_ZERO_TUNABLES.join(', ')} can)`);
    const before = this.tunables.get(canonical);
    this.tunables.set(canonical, value);
    this.zeroPolicy.detach();
    try {
      this.zeroPolicy = this.newZeroPolicy();
    } catch (e) {
      this.tunables.set(canonical, before);
      this.zeroPolicy = this.newZeroPolicy();
      throw e;
    }
    return this.zeroPolicy;
  }

  /** Stops the zeroing workers, if any; the process can then exit by itself. */
  async shutdown(): Promise<void> {
    if (this.zeroEngine !== null) await this.zeroEngine.shutdown();
  }

  /*
   * vm_page_alloc-like: a block of 2^order pages from the first domain of
   * `domainset` that has one. Returns the head page index or -1.
   */
  allocPages(order: number, pool = VM_FREEPOOL_DEFAULT, domainset?: DomainSet, cpuDomain = 0): number {
    if (domainset === undefined) return this.phys.allocPages(0, pool, order);
    const n = domainset.order(this.domainOrder, cpuDomain);
    for (let i = 0; i < n; i++) {
      const m = this.phys.allocPages(this.domainOrder[i], pool, order);
      if (m >= 0) return m;
    }
    return -1;
  }

  /** Runs the consistency checker; throws EINVARIANT on the first broken invariant. */
  check(): void {
    checkPhys(this.phys);
    checkObjects(this);
  }
}
