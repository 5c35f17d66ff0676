/**
 * The wire experiment's plots (Vega-Lite, rendered by plots.ts): time per
 * path, simulated beside the seed's figures and pagelab's measured medians;
 * and the simulated time of each path stacked by where it goes.
 */
import type * as vl from 'vega-lite';
import { WIRE_CATEGORIES } from '../sim/wire-cost.js';
import { SEED_FIGURES, type WireResult } from './wire.js';

type Spec = vl.TopLevelSpec;

/* Simulated ms per path for the guest, with the seed's two means as reference bars. */
export function wireTimeSpec(r: WireResult): Spec {
  const rows: Array<Record<string, unknown>> = r.sim.map((s) => ({ what: s.label, ms: s.ms, kind: 'simulated (model)' }));
  rows.push({ what: 'seed 001 before (published mean)', ms: SEED_FIGURES.before.mean, kind: 'published' });
  rows.push({ what: 'seed 001 after (published mean)', ms: SEED_FIGURES.after.mean, kind: 'published' });
  rows.push({ what: `zeroing ${r.guestBytes / 2 ** 30} GiB alone at ${r.zeroGBs.toFixed(0)} GB/s`, ms: r.zeroFloorMs, kind: 'bound' });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Wiring ${r.guestBytes / 2 ** 30} GiB: simulated per path, and the seed's figures`,
    width: 520,
    data: { values: rows },
    mark: 'bar',
    encoding: {
      y: { field: 'what', type: 'nominal', sort: null, title: null, axis: { labelLimit: 360 } },
      x: { field: 'ms', type: 'quantitative', title: 'ms' },
      color: { field: 'kind', type: 'nominal', legend: { orient: 'bottom', title: null } },
    },
  };
}

/* Simulated ms per path, stacked by category. */
export function wireStackSpec(r: WireResult): Spec {
  const rows = r.sim.flatMap((s) => WIRE_CATEGORIES.map((c, i) => ({ path: s.label, category: c, order: i, ms: s.byCategoryMs[c] })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Where the simulated time goes',
    width: 520,
    data: { values: rows },
    mark: 'bar',
    encoding: {
      y: { field: 'path', type: 'nominal', sort: null, title: null, axis: { labelLimit: 360 } },
      x: { field: 'ms', type: 'quantitative', stack: 'zero', title: 'simulated ms' },
      color: { field: 'category', type: 'nominal', sort: [...WIRE_CATEGORIES], legend: { orient: 'bottom', title: null } },
      order: { field: 'order', type: 'quantitative' },
    },
  };
}
