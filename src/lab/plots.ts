/**
 * Plots for report.html, drawn by Vega-Lite and rendered headless to SVG
 * (no canvas, no browser): boot time against memory size for both modes on
 * log scales, the boot timelines, and the Linux parallel-drain curve.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { formatSize } from '../util/units.js';
import type { LazyInitBootResult } from './lazy-init-boot.js';

type Spec = vl.TopLevelSpec;

/* Render a Vega-Lite spec to a standalone SVG string. */
export async function renderSvg(spec: Spec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/* Boot time, page-array setup and drain end against memory size, both modes, log-log. */
export function bootVsSizeSpec(r: LazyInitBootResult): Spec {
  const rows: Array<Record<string, unknown>> = [];
  for (const s of r.sizes) {
    const tag = s.scaled ? ' (derived/scaled)' : '';
    rows.push({ bytes: s.bytes, size: s.size, series: 'kernel boot, eager (lazy_page_init=0)', ms: s.eager.bootNs / 1e6, tag });
    rows.push({ bytes: s.bytes, size: s.size, series: 'kernel boot, lazy (lazy_page_init=1)', ms: s.lazy.bootNs / 1e6, tag });
    rows.push({ bytes: s.bytes, size: s.size, series: 'vm_page_startup, eager', ms: s.eager.vmPageStartupNs / 1e6, tag });
    rows.push({ bytes: s.bytes, size: s.size, series: 'lazy: all pages initialised (drain done)', ms: s.lazy.allInitialisedAtNs / 1e6, tag });
  }
  const published = [
    { bytes: 128 * 2 ** 20, ms: 3, what: 'D40403: page array setup 128 MiB (calibration)' },
    { bytes: 2 ** 30, ms: 21.5, what: 'D40403: page array setup 1 GiB (prediction target)' },
    { bytes: 128 * 2 ** 20, ms: 3 / 0.09, what: 'D40403: kernel boot 128 MiB (calibration)' },
    { bytes: 2 ** 30, ms: 21.5 / 0.37, what: 'D40403: kernel boot 1 GiB (prediction target)' },
  ];
  const ticks = r.sizes.map((s) => s.bytes);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Simulated boot vs memory size (${r.profile.name})`,
    width: 560,
    height: 340,
    layer: [
      {
        data: { values: rows },
        mark: { type: 'line', point: true },
        encoding: {
          x: {
            field: 'bytes',
            type: 'quantitative',
            scale: { type: 'log' },
            axis: { title: 'memory size', values: ticks, labelExpr: labelExprForSizes(ticks) },
          },
          y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, axis: { title: 'simulated time (ms, log)' } },
          color: { field: 'series', type: 'nominal', legend: { orient: 'bottom', columns: 2, title: null, labelLimit: 400 } },
          tooltip: [{ field: 'size' }, { field: 'series' }, { field: 'ms', format: '.2f' }, { field: 'tag' }],
        },
      },
      {
        data: { values: published },
        mark: { type: 'point', shape: 'diamond', size: 90, filled: false, color: 'black' },
        encoding: {
          x: { field: 'bytes', type: 'quantitative', scale: { type: 'log' } },
          y: { field: 'ms', type: 'quantitative', scale: { type: 'log' } },
          tooltip: [{ field: 'what' }, { field: 'ms', format: '.2f' }],
        },
      },
    ],
  } as Spec;
}

function labelExprForSizes(ticks: number[]): string {
  const parts = ticks.map((b) => `datum.value == ${b} ? '${formatSize(b)}'`);
  return parts.length === 0 ? 'datum.label' : `${parts.join(' : ')} : ''`;
}

/* Gantt of the boot phases and CPU occupancy of one size, eager and lazy. */
export function timelineSpec(r: LazyInitBootResult, sizeIndex: number): Spec {
  const s = r.sizes[sizeIndex];
  const rows: Array<Record<string, unknown>> = [];
  for (const [mode, b] of [
    ['eager', s.eager],
    ['lazy', s.lazy],
  ] as const) {
    for (const p of b.phases) {
      if (p.depth === 0 && p.phase === 'kernel boot') continue;
      rows.push({ mode, track: `${p.thread}`, phase: p.phase, start: p.enterNs / 1e6, end: p.exitNs / 1e6 });
    }
    for (const iv of b.intervals) {
      rows.push({ mode, track: `CPU ${iv.cpu}`, phase: `runs ${b.threadNames[iv.tid] ?? iv.tid}`, start: iv.start / 1e6, end: iv.end / 1e6 });
    }
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Boot timeline, ${s.size} (${s.machine}), simulated`,
    data: { values: rows },
    facet: { row: { field: 'mode', type: 'nominal', title: null } },
    spec: {
      width: 640,
      height: 110,
      mark: { type: 'bar', height: 14 },
      encoding: {
        y: { field: 'track', type: 'nominal', title: null },
        x: { field: 'start', type: 'quantitative', title: 'simulated time (ms)' },
        x2: { field: 'end' },
        color: { field: 'phase', type: 'nominal', legend: { orient: 'bottom', columns: 3, title: null, labelLimit: 300 } },
        tooltip: [{ field: 'phase' }, { field: 'start', format: '.3f' }, { field: 'end', format: '.3f' }],
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as Spec;
}

/* Linux deferred init against threads per node, with the published points. */
export function parallelDrainSpec(r: LazyInitBootResult): Spec | null {
  const v = r.variants?.parallelDrain;
  if (v === undefined) return null;
  const rows = v.linux.prediction.cases.map((c) => ({ threads: c.threadsPerNode, ms: c.deferredInitNs / 1e6, what: 'model (linux-padata-2020)' }));
  const pub = [
    { threads: 1, ms: 1786, what: 'Jordan 2020, published' },
    { threads: 52, ms: 138, what: 'Jordan 2020, published' },
  ];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Linux deferred init vs threads per node (2 x 384 GiB), simulated',
    width: 420,
    height: 260,
    layer: [
      {
        data: { values: rows },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'threads', type: 'quantitative', scale: { type: 'log' }, axis: { title: 'threads per node (log)', values: rows.map((x) => x.threads) } },
          y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, axis: { title: 'deferred init (ms, log)' } },
          color: { field: 'what', type: 'nominal', legend: { orient: 'bottom', title: null, labelLimit: 400 } },
        },
      },
      {
        data: { values: pub },
        mark: { type: 'point', shape: 'diamond', size: 90, filled: false },
        encoding: {
          x: { field: 'threads', type: 'quantitative', scale: { type: 'log' } },
          y: { field: 'ms', type: 'quantitative', scale: { type: 'log' } },
          color: { field: 'what', type: 'nominal' },
        },
      },
    ],
  } as Spec;
}
