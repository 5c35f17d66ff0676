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

/* pagelab's measured wall time per path: median bars, min-max rules, every sample as a tick. */
export function wireWallSpec(r: WireResult): Spec | null {
  if (r.wall === null) return null;
  const series = [...r.wall.paths.map((p) => p.series), ...(r.wall.fill !== null ? [r.wall.fill] : [])];
  const summary = series.filter((s) => s.summary !== null).map((s) => ({ path: s.name, median: s.summary!.median, min: s.summary!.min, max: s.summary!.max }));
  const samples = series.flatMap((s) => s.ms.map((ms) => ({ path: s.name, ms })));
  const order = series.map((s) => s.name);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `pagelab's measured wall time wiring ${r.wall.bytes / 2 ** 20} MiB backed (this host)`,
    width: 520,
    layer: [
      { data: { values: summary }, mark: { type: 'bar', opacity: 0.5 }, encoding: { y: { field: 'path', type: 'nominal', sort: order, title: null }, x: { field: 'median', type: 'quantitative', title: 'ms (median bar, min-max rule, runs as ticks)' } } },
      { data: { values: summary }, mark: 'rule', encoding: { y: { field: 'path', type: 'nominal', sort: order }, x: { field: 'min', type: 'quantitative' }, x2: { field: 'max' } } },
      { data: { values: samples }, mark: { type: 'tick', color: 'black' }, encoding: { y: { field: 'path', type: 'nominal', sort: order }, x: { field: 'ms', type: 'quantitative' } } },
    ],
  };
}
