/**
 * How prezero-vm-start reports itself: terminal tables and a self-contained
 * report.html with three Vega-Lite plots (time per policy and page size with
 * the seed's figures marked; where the start-up time goes; background zeroing
 * over the idle window). Simulated and measured time are never in one table.
 */
import type * as vl from 'vega-lite';
import { summarize } from '../stats/ministat.js';
import { renderSvg } from './plots.js';
import type { ModelCase, PrezeroResult, PublishedPoint } from './prezero-vm-start.js';
import { PGZERO_PUBLISHED } from '../sim/profiles/linux-pgzero-2020.js';
import { textTable } from './table.js';
import { chromeTrace, type TraceRun } from '../sim/timeline.js';

/* Chrome trace-event JSON: the simulated start of every case, one process each. */
export function prezeroTrace(r: PrezeroResult): ReturnType<typeof chromeTrace> {
  const runs: TraceRun[] = r.model.cases.map((c) => ({
    label: `${c.policy}, ${psName(c.pageSize)} (vm.zero.policy=${c.policy.split(/[ ,]/)[0]})`,
    phases: c.phases,
    intervals: c.intervals,
    threadNames: new Map(Object.entries(c.threadNames).map(([k, v]) => [Number(k), v])),
  }));
  return chromeTrace(runs);
}

const s = (ns: number, d = 2) => (ns / 1e9).toFixed(d);
const gib = (b: number) => (b / 2 ** 30).toFixed(1);
const psName = (ps: string) => (ps === '4k' ? '4 KiB' : 'THP');

function pubRow(p: PublishedPoint): string[] {
  const e = p.relativeError * 100;
  return [p.figure, p.published.toFixed(1), p.model.toFixed(2), `${e >= 0 ? '+' : ''}${e.toFixed(1)}%`, p.role, p.miss ? 'MISS (> 25%)' : ''];
}

function modelRow(c: ModelCase): Array<string | number> {
  const k = c.counters;
  return [
    c.policy,
    psName(c.pageSize),
    s(c.startNs),
    s(c.breakdown.allocNs),
    s(c.breakdown.zeroNs),
    s(c.breakdown.pinNs),
    gib(k.allocPathBytes),
    gib(k.freePathBytes + k.backgroundBytes),
    (k.skippedPages / 1e6).toFixed(2),
    gib(k.wastedBytes),
    s(c.backgroundCpuNs, 1),
    c.policy.startsWith('report') ? `${k.reportPasses} / ${k.reportedBlocks} / ${k.reReportedBlocks} / ${k.reportedLost}` : '-',
  ];
}

const MODEL_HEAD = ['policy', 'pages', 'start s', 'alloc s', 'zero s', 'pin s', 'zeroed on alloc GiB', 'zeroed off it GiB', 'pages skipped M', 'wasted GiB', 'background CPU s', 'report passes / blocks / re-reported / lost'];

/* Terminal report. */
export function renderPrezeroText(r: PrezeroResult): string {
  let out = 'prezero-vm-start: pre-zeroing policies on a VFIO guest start (seed 003, the PG_zero RFC)\n';
  out += `profile ${r.profile.name}: ${r.profile.description}\n\n`;
  out += textTable(
    MODEL_HEAD,
    r.model.cases.map(modelRow),
    `Simulated start of a ${gib(r.model.guestBytes)} GiB guest on a ${gib(r.model.hostBytes)} GiB host after ${(r.options.idleMs / 1000).toFixed(0)} s idle (simulated time; VM work run at 1/${r.options.scale} scale and scaled up)`,
  );
  out += `allocation work priced by the model: 4 KiB ${s(r.model.allocWorkNs.page4k, 3)} s, THP ${s(r.model.allocWorkNs.thp, 4)} s (the profile's calibration used ${s(r.model.allocWorkNs.profile4k, 3)} and ${s(r.model.allocWorkNs.profileThp, 4)} s)\n\n`;
  out += textTable(['published figure (seed 003)', 'published s', 'model s', 'rel. error', 'role', ''], r.published.map(pubRow), 'Published figures beside the model (calibration: fitted to their mean; prediction: not used to fit anything; misses beyond 25% are marked)');
  out += '\n';
  if (r.measured !== null) {
    const m = r.measured;
    out += textTable(
      ['policy', 'pages', 'start median ms', 'vs alloc (ministat, 95%)', 'background median ms', 'free path median ms', 'zeroed on alloc MiB', 'skipped pages'],
      m.cases.map((c) => [
        c.policy,
        psName(c.pageSize),
        c.start.median.toFixed(2),
        c.vsAlloc === null ? '-' : c.vsAlloc.significant ? `${c.vsAlloc.percent.toFixed(1)}% ± ${c.vsAlloc.percentHalfWidth.toFixed(1)}%` : 'no difference proven',
        summarize(c.backgroundMs).median.toFixed(2),
        summarize(c.freePathMs).median.toFixed(2),
        (c.counters.allocPathBytes / 2 ** 20).toFixed(1),
        c.counters.skippedPages,
      ]),
      `pagelab's measured wall time on this host (${m.host}): a ${(m.guestBytes / 2 ** 20).toFixed(0)} MiB backed guest on a ${(m.hostBytes / 2 ** 20).toFixed(0)} MiB backed host, real zeroing; ${m.method}`,
    );
    for (const [ps, text] of Object.entries(m.ministat)) out += `\n${psName(ps)} pages, start ms:\n${text}`;
    out += '\n';
  }
  if (r.cacheWarmth !== null) {
    const w = r.cacheWarmth;
    out += `Cache warmth, measured on this host (${w.regionBytes / 2 ** 20} MiB regions; ns per 4 KiB page, medians): zeroing ${summarize(w.zeroOnlyNs).median.toFixed(0)}, first write just after zeroing ${summarize(w.hotWriteNs).median.toFixed(0)}, first write long after ${summarize(w.coldWriteNs).median.toFixed(0)}\n`;
    if (w.ministat !== null) out += w.ministat;
    out += '\n';
  }
  out += `answer: ${r.answer}\n`;
  return out;
}

type Spec = vl.TopLevelSpec;

/* Start time per policy and page size, the seed's rounds as diamonds on the alloc (w/o) and report (w/) bars. */
export function startBarsSpec(r: PrezeroResult): Spec {
  const rows = r.model.cases.map((c) => ({ policy: c.policy, pages: psName(c.pageSize), s: c.startNs / 1e9 }));
  const pub: Array<Record<string, unknown>> = [];
  const mark = (policy: string, pages: string, values: readonly number[], what: string) => values.forEach((v) => pub.push({ policy, pages, s: v, what }));
  mark('alloc', '4 KiB', PGZERO_PUBLISHED.before4k, 'seed: w/o patch (prediction)');
  mark('report', '4 KiB', PGZERO_PUBLISHED.after4k, 'seed: w/ patch (calibration)');
  mark('alloc', 'THP', PGZERO_PUBLISHED.beforeThp, 'seed: w/o patch (prediction)');
  mark('report', 'THP', PGZERO_PUBLISHED.afterThp, 'seed: w/ patch (calibration)');
  const x = { field: 'policy', type: 'nominal', sort: null, title: null, axis: { labelAngle: -30 } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Guest start per policy (simulated), seed figures marked',
    facet: { column: { field: 'pages', type: 'nominal', title: null } },
    data: { values: [...rows.map((d) => ({ ...d, kind: 'model' })), ...pub.map((d) => ({ ...d, kind: 'seed' }))] },
    spec: {
      width: 300,
      height: 240,
      layer: [
        { transform: [{ filter: "datum.kind == 'model'" }], mark: 'bar', encoding: { x, y: { field: 's', type: 'quantitative', title: 'start (s, simulated)' }, color: { value: '#7aa6c2' } } },
        {
          transform: [{ filter: "datum.kind == 'seed'" }],
          mark: { type: 'point', shape: 'diamond', size: 80, filled: true },
          encoding: { x, y: { field: 's', type: 'quantitative' }, color: { field: 'what', type: 'nominal', legend: { orient: 'bottom', title: null } } },
        },
      ],
    },
  } as Spec;
}

/* Stacked bars: where the start time goes. */
export function breakdownSpec(r: PrezeroResult): Spec {
  const rows = r.model.cases.flatMap((c) =>
    (
      [
        ['qemu, kvm, vfio set-up', c.breakdown.fixedNs],
        ['allocation', c.breakdown.allocNs],
        ['zeroing', c.breakdown.zeroNs],
        ['pinning and mapping', c.breakdown.pinNs],
      ] as const
    ).map(([part, ns]) => ({ case: `${c.policy}, ${psName(c.pageSize)}`, part, s: ns / 1e9 })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Where the start-up time goes (simulated)',
    width: 520,
    height: 300,
    data: { values: rows },
    mark: 'bar',
    encoding: {
      y: { field: 'case', type: 'nominal', sort: null, title: null },
      x: { field: 's', type: 'quantitative', stack: 'zero', title: 'seconds' },
      color: { field: 'part', type: 'nominal', sort: null, legend: { orient: 'bottom', title: null } },
    },
  } as Spec;
}

/* Background zeroing over the idle window, per policy (4 KiB runs; THP's are the same before the start). */
export function backgroundSpec(r: PrezeroResult): Spec {
  const rows = r.model.cases.filter((c) => c.pageSize === '4k').flatMap((c) => c.backgroundSeries.map((p) => ({ policy: c.policy, s: p.ms / 1000, gib: p.bytes / 2 ** 30 })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Background zeroing during the idle window (simulated)',
    width: 520,
    height: 260,
    data: { values: rows },
    mark: { type: 'line', interpolate: 'step-after' },
    encoding: {
      x: { field: 's', type: 'quantitative', title: 'simulated time before the start (s)' },
      y: { field: 'gib', type: 'quantitative', title: 'zeroed in the background (GiB)' },
      color: { field: 'policy', type: 'nominal', legend: { orient: 'bottom', title: null } },
    },
  } as Spec;
}

const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
function htmlTable(headers: string[], rows: Array<Array<string | number>>): string {
  return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((x) => `<tr>${x.map((c) => `<td>${esc(String(c))}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/* report.html for this experiment. */
export async function renderPrezeroHtml(r: PrezeroResult): Promise<string> {
  const parts: string[] = [];
  parts.push(`<h1>prezero-vm-start</h1><p>Pre-zeroing policies on one workload: a ${gib(r.model.guestBytes)} GiB VFIO guest starts after the host sat idle ${(r.options.idleMs / 1000).toFixed(0)} s with a previous guest's memory free and dirty (seed 003, the PG_zero RFC). Profile <b>${esc(r.profile.name)}</b>. Times are <b>simulated</b> unless a section says measured.</p>`);
  parts.push(`<h2>Answer</h2><p>${esc(r.answer)}</p>`);
  parts.push(`<h2>Start time per policy</h2>${await renderSvg(startBarsSpec(r))}`);
  parts.push(`<h2>Where the start-up time goes</h2>${await renderSvg(breakdownSpec(r))}`);
  parts.push(`<h2>Background zeroing over time</h2>${await renderSvg(backgroundSpec(r))}`);
  parts.push(`<h2>Model, all counters</h2>${htmlTable(MODEL_HEAD, r.model.cases.map(modelRow))}`);
  parts.push(`<h2>Published figures beside the model</h2>${htmlTable(['figure', 'published s', 'model s', 'relative error', 'role', ''], r.published.map(pubRow))}`);
  if (r.measured !== null) {
    parts.push(
      `<h2>pagelab's measured wall time (host, not simulated)</h2><p>${esc(r.measured.host)}; ${(r.measured.guestBytes / 2 ** 20).toFixed(0)} MiB guest, ${(r.measured.hostBytes / 2 ** 20).toFixed(0)} MiB host.</p>` +
        Object.entries(r.measured.ministat)
          .map(([ps, t]) => `<h3>${psName(ps)} pages</h3><pre>${esc(t)}</pre>`)
          .join(''),
    );
  }
  if (r.cacheWarmth?.ministat != null) parts.push(`<h2>Cache warmth (measured)</h2><pre>${esc(r.cacheWarmth.ministat)}</pre>`);
  parts.push(
    `<h2>Profile constants</h2>` +
      htmlTable(
        ['constant', 'value', 'unit', 'basis', 'source'],
        r.profile.constants.map((c) => [c.name, c.value, c.unit, c.basis + (c.calibratedOn !== undefined ? ` (on: ${c.calibratedOn})` : ''), c.source]),
      ),
  );
  const css = 'body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 7px;text-align:left;font-size:13px;vertical-align:top}th{background:#f3f3f3}pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:12px}svg{max-width:100%;height:auto}';
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>pagelab lab: prezero-vm-start</title><style>${css}</style></head><body>${parts.join('\n')}</body></html>\n`;
}
