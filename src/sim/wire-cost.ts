/**
 * Prices wiring: the mapping layer's work counters (vm/map-counters.ts) and
 * the allocator's (vm/counters.ts) under a wiring profile, with the total
 * split into the categories the wire experiment plots (fault overhead,
 * allocation, zeroing, mapping, wiring). Same rules as cost.ts: every
 * constant in one profile file with its basis and source.
 */
import { PagelabError } from '../errors.js';
import { MAP_WORK_NAMES, MapWork, type MapWorkCounters } from '../vm/map-counters.js';
import { WORK_NAMES, Work, type WorkCounters } from '../vm/counters.js';
import type { Constant } from './cost.js';

export interface WireProfile {
  name: string;
  description: string;
  machine: string;
  /** Allocator work (counters.ts), ns per unit. */
  work: Record<string, Constant>;
  /** Mapping-layer work (map-counters.ts), ns per unit. */
  map: Record<string, Constant>;
}

export const WIRE_CATEGORIES = ['fault overhead', 'allocation', 'zeroing', 'mapping', 'wiring'] as const;
export type WireCategory = (typeof WIRE_CATEGORIES)[number];

const MAP_CATEGORY: Record<number, WireCategory> = {
  [MapWork.Fault]: 'fault overhead',
  [MapWork.FaultSoft]: 'fault overhead',
  [MapWork.ChainStep]: 'fault overhead',
  [MapWork.PageAlloc]: 'allocation',
  [MapWork.ContigAlloc]: 'allocation',
  [MapWork.ContigPage]: 'allocation',
  [MapWork.CopyPage]: 'zeroing',
  [MapWork.Validate]: 'allocation',
  [MapWork.PteWrite]: 'mapping',
  [MapWork.PdeWrite]: 'mapping',
  [MapWork.PtpAlloc]: 'mapping',
  [MapWork.PtpFree]: 'mapping',
  [MapWork.Promote]: 'mapping',
  [MapWork.Demote]: 'mapping',
  [MapWork.PteRemove]: 'mapping',
  [MapWork.PageWire]: 'wiring',
  [MapWork.CollapsePage]: 'allocation',
};

/*
 * Simulated ns of wiring work, by category and in total.
 * Requires: a profile that prices every counter (checkWireProfile).
 * Guarantees: a pure function; categories add up to the total.
 */
export function priceWiring(profile: WireProfile, work: WorkCounters, map: MapWorkCounters): { totalNs: number; byCategory: Record<WireCategory, number> } {
  const by = Object.fromEntries(WIRE_CATEGORIES.map((c) => [c, 0])) as Record<WireCategory, number>;
  for (let i = 0; i < MapWork.COUNT; i++) if (map[i] !== 0) by[MAP_CATEGORY[i]] += map[i] * profile.map[MAP_WORK_NAMES[i]].value;
  for (let i = 0; i < Work.COUNT; i++) {
    if (work[i] === 0) continue;
    const zero = i === Work.ZeroBytesSync || i === Work.ZeroBytesBackground || i === Work.ZeroSkipped;
    by[zero ? 'zeroing' : 'allocation'] += work[i] * profile.work[WORK_NAMES[i]].value;
  }
  let totalNs = 0;
  for (const c of WIRE_CATEGORIES) totalNs += by[c];
  return { totalNs, byCategory: by };
}

/* Every counter priced and documented; EINVAL naming the first gap. */
export function checkWireProfile(p: WireProfile): void {
  for (const w of WORK_NAMES) if (p.work[w] === undefined) throw new PagelabError('EINVAL', `wire profile ${p.name}: no price for work "${w}"`);
  for (const w of MAP_WORK_NAMES) if (p.map[w] === undefined) throw new PagelabError('EINVAL', `wire profile ${p.name}: no price for mapping work "${w}"`);
  for (const [k, c] of [...Object.entries(p.work), ...Object.entries(p.map)]) {
    if (!Number.isFinite(c.value) || c.value < 0) throw new PagelabError('EINVAL', `wire profile ${p.name}: ${k} = ${c.value}`);
    if (c.source.trim() === '') throw new PagelabError('EINVAL', `wire profile ${p.name}: ${k} has no source`);
    if (c.basis === 'calibration' && (c.calibratedOn ?? '') === '') throw new PagelabError('EINVAL', `wire profile ${p.name}: ${k} is calibrated but does not say on what`);
  }
}

/* The profile's constants as report rows. */
export function wireConstantRows(p: WireProfile): Array<{ name: string } & Constant> {
  return [...Object.entries(p.map).map(([n, c]) => ({ name: `map.${n}`, ...c })), ...Object.entries(p.work).map(([n, c]) => ({ name: `work.${n}`, ...c }))];
}
