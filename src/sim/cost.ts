/**
 * The cost model: the VM counts the primitive operations it performs
 * (src/vm/counters.ts); a calibration profile gives each a price in
 * simulated nanoseconds. The VM never sees time, the model never sees the VM.
 *
 * Every constant carries its unit, its source and its basis:
 *   calibration  fitted to ONE published figure, named in calibratedOn;
 *                that figure may not then be reported as a prediction
 *   independent  taken from data that are not the figures being predicted
 *   assumption   an engineering estimate, stated as such
 *   derived      computed from other constants of the profile
 */
import { PagelabError } from '../errors.js';
import { WORK_NAMES, Work, type WorkCounters } from '../vm/counters.js';

export type Basis = 'calibration' | 'independent' | 'assumption' | 'derived';

export interface Constant {
  value: number;
  unit: string;
  basis: Basis;
  source: string;
  /** For basis 'calibration': the published figure it was fitted to. */
  calibratedOn?: string;
}

export type WorkName = (typeof WORK_NAMES)[number];

export interface CostProfile {
  /** e.g. "firecracker-amd64-2023". */
  name: string;
  os: 'freebsd' | 'linux';
  description: string;
  /** What machine the constants describe. */
  machine: string;
  /** Price of one unit of each kind of VM work, ns per unit (per byte for zero_bytes_*). */
  work: Record<string, Constant>;
  /** The other constants of the model (rest of boot, CPUs, bandwidth, ...). */
  params: Record<string, Constant>;
}

/*
 * Simulated ns for `work` under `profile`.
 * Requires: the profile prices every work kind (checkProfile).
 * Guarantees: a pure function of its arguments; the same inputs give the
 * same float, bit for bit (the sum runs in the fixed order of Work).
 */
export function priceWork(profile: CostProfile, work: WorkCounters): number {
  let ns = 0;
  for (let i = 0; i < Work.COUNT; i++) {
    const n = work[i];
    if (n !== 0) ns += n * profile.work[WORK_NAMES[i]].value;
  }
  return ns;
}

/* Per-kind breakdown of priceWork, for reports: name → ns. Zero entries are left out. */
export function priceBreakdown(profile: CostProfile, work: WorkCounters): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < Work.COUNT; i++) {
    if (work[i] !== 0) out[WORK_NAMES[i]] = work[i] * profile.work[WORK_NAMES[i]].value;
  }
  return out;
}

/*
 * Bytes of memory traffic `work` causes, for the bandwidth limit: page
 * records written (with the write-allocate read the profile assumes) and
 * bytes zeroed.
 */
export function workTraffic(profile: CostProfile, work: WorkCounters): number {
  const perPage = param(profile, 'pageTrafficBytes');
  return (work[Work.PageInit] + work[Work.PageInitBulk]) * perPage + work[Work.ZeroBytesSync] + work[Work.ZeroBytesBackground];
}

/** The value of parameter `name`; EINVAL naming the profile when it has none. */
export function param(profile: CostProfile, name: string): number {
  const c = profile.params[name];
  if (c === undefined) throw new PagelabError('EINVAL', `profile ${profile.name} has no parameter "${name}"`);
  return c.value;
}

/*
 * Checks that a profile prices every work kind and documents every constant.
 * Throws EINVAL naming the first gap.
 */
export function checkProfile(profile: CostProfile): void {
  for (const w of WORK_NAMES) {
    if (profile.work[w] === undefined) throw new PagelabError('EINVAL', `profile ${profile.name}: no price for work "${w}"`);
  }
  for (const [k, c] of [...Object.entries(profile.work), ...Object.entries(profile.params)]) {
    if (!Number.isFinite(c.value) || c.value < 0) throw new PagelabError('EINVAL', `profile ${profile.name}: ${k} = ${c.value}`);
    if (c.source.trim() === '') throw new PagelabError('EINVAL', `profile ${profile.name}: ${k} has no source`);
    if (c.basis === 'calibration' && (c.calibratedOn ?? '') === '') {
      throw new PagelabError('EINVAL', `profile ${profile.name}: ${k} is calibrated but does not say on what`);
    }
  }
}

/** A constant as one row of the documentation / report table. */
export function constantRows(profile: CostProfile): Array<{ name: string; value: number; unit: string; basis: Basis; source: string; calibratedOn?: string }> {
  const rows = [];
  for (const [name, c] of Object.entries(profile.work)) rows.push({ name: `work.${name}`, ...c });
  for (const [name, c] of Object.entries(profile.params)) rows.push({ name, ...c });
  return rows;
}
