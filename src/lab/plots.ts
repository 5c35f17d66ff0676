/**
 * Plots for report.html, drawn by Vega-Lite and rendered headless to SVG
 * (no canvas, no browser): boot time against memory size for both modes on
 * log scales, the boot timelines, and the Linux deferred-init curves against
 * every published point.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { formatSize } from '../util/units.js';
import type { LazyInitBootResult } from './lazy-init-boot.js';
import { JORDAN_TABLES } from './lazy-init-published.js';

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
    const tag = s.scaled ? 'derived/scaled (not run on a Vm)' : 'run on a Vm';
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
        layer: [
          { mark: { type: 'line' } },
          {
            mark: { type: 'point', size: 50 },
            encoding: {
              fill: { condition: { test: "datum.tag === 'run on a Vm'", field: 'series', type: 'nominal' }, value: 'white' },
              shape: {
                field: 'tag',
                type: 'nominal',
                scale: { domain: ['run on a Vm', 'derived/scaled (not run on a Vm)'], range: ['circle', 'triangle-up'] },
                legend: { orient: 'bottom', title: null, labelLimit: 400, symbolStrokeColor: 'black' },
              },
            },
          },
        ],
        encoding: {
          x: {
            field: 'bytes',
            type: 'quantitative',
            scale: { type: 'log' },
            axis: { title: 'memory size (* derived/scaled, hollow points)', values: ticks, labelExpr: labelExprForSizes(r) },
          },
          y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, axis: { title: 'simulated time (ms, log)' } },
          color: { field: 'series', type: 'nominal', legend: { orient: 'bottom', columns: 2, title: null, labelLimit: 400 } },
          tooltip: [{ field: 'size' }, { field: 'series' }, { field: 'ms', format: '.2f' }, { field: 'tag' }],
        },
      },
      {
        data: { values: rows.filter((x) => x.tag !== 'run on a Vm' && x.series === 'kernel boot, eager (lazy_page_init=0)').map((x) => ({ ...x, label: `${x.size}*: derived/scaled` })) },
        mark: { type: 'text', align: 'right', dx: -8, dy: -8, fontSize: 11 },
        encoding: {
          x: { field: 'bytes', type: 'quantitative', scale: { type: 'log' } },
          y: { field: 'ms', type: 'quantitative', scale: { type: 'log' } },
          text: { field: 'label' },
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

function labelExprForSizes(r: LazyInitBootResult): string {
  const parts = r.sizes.map((s) => `datum.value == ${s.bytes} ? '${formatSize(s.bytes)}${s.scaled ? '*' : ''}'`);
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

/*
 * Linux deferred init and kernel boot against threads per node, one panel
 * per machine and measure: the model's curve, and every published point with
 * its standard deviation (x = 0: the kernel without the series).
 */
export function linuxThreadsSpec(r: LazyInitBootResult): Spec {
  const rows: Array<Record<string, unknown>> = [];
  const machines = (r.variants?.parallelDrain.linux.machines.filter((m) => m.restOfBootNs !== null) ?? []).map((m) => ({
    ...m,
    description: JORDAN_TABLES.find((t) => t.machine === m.machine)?.label ?? m.machine,
  }));
  for (const m of machines) {
    for (const c of m.cases) {
      rows.push({ machine: m.description, measure: 'deferred init', threads: c.threadsPerNode, ms: c.deferredInitNs / 1e6, kind: 'model' });
      rows.push({ machine: m.description, measure: 'kernel boot', threads: c.threadsPerNode, ms: c.bootNs / 1e6, kind: 'model' });
    }
  }
  for (const p of r.published) {
    const l = p.linux;
    if (l === undefined || l.measure === 'node deferred init' || !machines.some((m) => m.machine === l.machine)) continue;
    const sd = p.publishedStdev ?? 0;
    rows.push({
      machine: machines.find((m) => m.machine === l.machine)?.description,
      measure: l.measure,
      threads: l.threadsPerNode,
      ms: p.published,
      lo: p.published - sd,
      hi: p.published + sd,
      kind: p.role === 'calibration' ? 'published (calibration)' : 'published (prediction)',
      model: p.model,
      error: `${(p.relativeError * 100).toFixed(1)}%`,
    });
  }
  for (const x of rows) x.panel = `${x.machine}: ${x.measure}`;
  const panels = machines.flatMap((m) => [`${m.description}: deferred init`, `${m.description}: kernel boot`]);
  const isPub = "datum.kind !== 'model'";
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Linux deferred init and boot vs padata threads per node (line: model, simulated; diamonds: Jordan 2020, published)',
    data: { values: rows },
    facet: { field: 'panel', type: 'nominal', title: null, sort: panels, header: { labelLimit: 0 } },
    columns: 4,
    spec: {
      width: 230,
      height: 170,
      layer: [
        { transform: [{ filter: "datum.kind === 'model'" }], mark: { type: 'line', point: true, color: '#4c78a8' } },
        { transform: [{ filter: isPub }], mark: { type: 'rule', color: 'black' }, encoding: { y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } } },
        {
          transform: [{ filter: isPub }],
          mark: { type: 'point', shape: 'diamond', size: 80, filled: true, stroke: 'black', strokeWidth: 1 },
          encoding: {
            fill: {
              field: 'kind',
              type: 'nominal',
              scale: { domain: ['published (calibration)', 'published (prediction)'], range: ['white', 'black'] },
              legend: { orient: 'bottom', title: null, labelLimit: 400, symbolType: 'diamond', symbolStrokeColor: 'black' },
            },
            tooltip: [{ field: 'kind' }, { field: 'threads' }, { field: 'ms', format: '.1f' }, { field: 'model', format: '.1f' }, { field: 'error' }],
          },
        },
      ],
      encoding: {
        x: { field: 'threads', type: 'quantitative', axis: { title: 'threads per node (0: without the series)' } },
        y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, axis: { title: 'ms (log)' } },
      },
    },
    resolve: { scale: { y: 'independent', x: 'independent' } },
  } as Spec;
}
