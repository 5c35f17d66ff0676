/**
 * Eager and lazy boot of the same machine side by side, on the simulated
 * clock. The timings are lab/freebsd-boot.ts's (simulateBoot with a calibration
 * profile, one run per policy); the maps are two Vms of this page, and the
 * lazy one is drained slice by slice so that the share of its drain work
 * done (priced with the same profile) follows the simulated drain thread
 * from its start at SMP to the moment the simulation says the pool was
 * empty. DOM-free.
 */
import type { MemoryMap } from '../machine/types.js';
import { simulateBoot, EARLY_ALLOCATIONS, type BootSimResult } from '../lab/freebsd-boot.js';
import { priceWork, type CostProfile } from '../sim/cost.js';
import { DEFAULT_FREEBSD_PROFILE, getProfile } from '../sim/profiles/index.js';
import { newWorkCounters, WORK_NAMES, workDelta } from '../vm/counters.js';
import { Vm } from '../vm/vm.js';

/** Real seconds the whole race takes to play. */
export const RACE_SECONDS = 6;

const ms = (ns: number): string => `${(ns / 1e6).toFixed(ns < 1e7 ? 2 : 1)} ms`;

export class BootSide {
  readonly vm: Vm;
  readonly sim: BootSimResult;
  /** Priced ns of drain work done on `vm` so far (lazy side). */
  private drainedNs = 0;
  private readonly drainTotalNs: number;

  constructor(map: MemoryMap, lazy: boolean, private readonly profile: CostProfile) {
    const tunables = { 'vm.lazy_page_init': lazy ? 1 : 0 };
    this.sim = simulateBoot({ profile, map, tunables });
    this.vm = new Vm(map, tunables);
    for (const a of EARLY_ALLOCATIONS) for (let i = 0; i < a.count; i++) this.vm.phys.allocPages(0, a.pool, a.order);
    const w = newWorkCounters();
    WORK_NAMES.forEach((n, i) => (w[i] = this.sim.workDrain[n] ?? 0));
    this.drainTotalNs = priceWork(profile, w);
  }

  /** Fraction of the drain the simulation has done by `clockNs`. */
  drainShare(clockNs: number): number {
    if (!this.sim.lazy) return 1;
    const span = this.sim.allInitialisedAtNs - this.sim.smpAtNs;
    if (clockNs <= this.sim.smpAtNs) return 0;
    return span <= 0 ? 1 : Math.min(1, (clockNs - this.sim.smpAtNs) / span);
  }

  /*
   * Drains the lazy Vm until its priced drain work reaches the simulated
   * share at `clockNs`, at most `maxPages` pages per call (a frame's budget).
   * Returns the pages initialised.
   */
  catchUp(clockNs: number, maxPages: number): number {
    const phys = this.vm.phys;
    const target = this.drainShare(clockNs) * this.drainTotalNs;
    let done = 0;
    const slice = 2 ** phys.maxOrder;
    while (phys.lazyPending() > 0 && done < maxPages && (this.drainedNs < target || this.drainShare(clockNs) >= 1)) {
      const before = Float64Array.from(phys.work);
      let n = 0;
      for (let d = 0; d < phys.ndomains && n === 0; d++) n = phys.lazyInitSlice(d, slice);
      if (n === 0) break;
      this.drainedNs += priceWork(this.profile, workDelta(phys.work, before));
      done += n;
    }
    return done;
  }

  /** Share of page records written by `clockNs` (1 for an eager boot once vm_page_startup ended). */
  initialisedShare(clockNs: number): number {
    const phys = this.vm.phys;
    if (!this.sim.lazy) return Math.min(1, clockNs / this.sim.allInitialisedAtNs);
    return 1 - phys.lazyPending() / phys.npages;
  }

  describe(clockNs: number): string {
    const s = this.sim;
    const head = s.lazy ? 'lazy (vm.lazy_page_init=1)' : 'eager (vm.lazy_page_init=0)';
    const pct = (this.initialisedShare(clockNs) * 100).toFixed(1);
    const booted = clockNs >= s.bootNs ? 'booted' : 'booting';
    return `${head}: ${booted}; boot ends at ${ms(s.bootNs)}, every page initialised at ${ms(s.allInitialisedAtNs)}; now ${pct}% of page records written`;
  }
}

export class BootRace {
  readonly eager: BootSide;
  readonly lazy: BootSide;
  readonly profile: CostProfile;
  clockNs = 0;
  private readonly endNs: number;

  constructor(map: MemoryMap, profileName = DEFAULT_FREEBSD_PROFILE) {
    this.profile = getProfile(profileName, 'freebsd');
    this.eager = new BootSide(map, false, this.profile);
    this.lazy = new BootSide(map, true, this.profile);
    this.endNs = Math.max(this.eager.sim.bootNs, this.eager.sim.allInitialisedAtNs, this.lazy.sim.bootNs, this.lazy.sim.allInitialisedAtNs) * 1.05;
  }

  get finished(): boolean {
    return this.clockNs >= this.endNs && this.lazy.vm.phys.lazyPending() === 0;
  }

  /* Advances the simulated clock by `realMs` of playback; true when something changed. */
  advance(realMs: number): boolean {
    if (this.finished) return false;
    this.clockNs = Math.min(this.endNs, this.clockNs + (this.endNs / (RACE_SECONDS * 1000)) * realMs);
    this.lazy.catchUp(this.clockNs, 1 << 20);
    return true;
  }

  clockText(): string {
    return `simulated clock ${ms(this.clockNs)} (profile ${this.profile.name})`;
  }
}
