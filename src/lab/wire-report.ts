/**
 * How the wire experiment reports itself: terminal tables, a Chrome trace
 * of the simulated time per path, and report.html with its plots (time per
 * path; where the time goes). Simulated and measured time are separate
 * tables, each labelled as what it is.
 */
import { formatSize } from '../util/units.js';
import { WIRE_CATEGORIES } from '../sim/wire-cost.js';
import { esc, htmlPage, htmlTable } from './report.js';
import { count, textTable } from './table.js';
import { SEED_FIGURES, type WireResult } from './wire.js';

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');
const rel = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;

function simRows(r: WireResult): string[][] {
  return r.sim.map((s) => [s.label, f1(s.ms), ...WIRE_CATEGORIES.map((c) => f1(s.byCategoryMs[c])), count(s.map.fault), count(s.pmap.pdes), count(s.pmap.ptpages)]);
}
const SIM_HEADERS = ['path', 'total ms', ...WIRE_CATEGORIES.map((c) => `${c} ms`), 'vm_faults', '2 MiB PDEs', 'PT pages'];

function publishedRows(r: WireResult): string[][] {
  return r.published.map((p) => [p.figure, f1(p.publishedMs), f1(p.modelMs), `path ${p.path}`, rel(p.relErr), p.role, p.role === 'prediction' && Math.abs(p.relErr) > 0.25 ? 'MISS' : '']);
}
const PUBLISHED_HEADERS = ['seed 001 figure', 'published ms', 'model ms', 'modelled as', 'rel. error', 'role', ''];

function wallRows(r: NonNullable<WireResult['wall']>): string[][] {
  const rows = r.paths.map((p) => {
    const s = p.series.summary;
    return [p.path, s === null ? '-' : s.median.toFixed(2), s === null ? '-' : `${s.min.toFixed(2)}-${s.max.toFixed(2)}`, p.series.outliers.length === 0 ? '-' : p.series.outliers.map((x) => x.toFixed(2)).join(' '), p.faultsPerSecond === null ? '-' : count(p.faultsPerSecond), p.vsFill === null ? '-' : `${p.vsFill.toFixed(1)}x`];
  });
  const f = r.fill?.summary;
  if (f != null) rows.push(['memory.fill (yardstick)', f.median.toFixed(2), `${f.min.toFixed(2)}-${f.max.toFixed(2)}`, r.fill!.outliers.length === 0 ? '-' : r.fill!.outliers.map((x) => x.toFixed(2)).join(' '), '-', '1.0x']);
  return rows;
}
const WALL_HEADERS = ['path', 'median ms', 'min-max', 'outliers', 'faults/s (median)', 'vs memory.fill'];

function reviewLines(r: WireResult): string[] {
  const v = r.review;
  return [
    `previous owner's 0xa5 bytes read back from ${formatSize(v.bytes)} freshly wired: ${Object.entries(v.exposedBytes).map(([p, n]) => `${p}: ${count(n)}`).join(', ')}`,
    `revised, collapse between insertion and fault: ${v.revisedCollapse}`,
    `1, the same collapse: ${v.oneCollapse}`,
  ];
}

function headline(r: WireResult): string[] {
  const floor = r.zeroFloorMs;
  return [
    `The seed's "after" (${SEED_FIGURES.after.mean.toFixed(2)} ms for ${formatSize(r.guestBytes)}) is ${r.afterImpliedGBs.toFixed(0)} GB/s, faster than any memset; zeroing alone at the profile's ${r.zeroGBs.toFixed(0)} GB/s takes ${floor.toFixed(0)} ms. A path that zeroes cannot report it: the measured fast path did not zero its pages (the exposed-bytes test below shows what that leaks).`,
    `The model's proposed, which skips the zeroing but still takes the patch's vm_fault per 4 KiB page, predicts ${f1(r.sim[1].ms)} ms: a miss. Reaching ${SEED_FIGURES.after.mean.toFixed(0)} ms needs most of the per-page fault, mapping and wiring work gone as well.`,
    `A correct patch (path 1) costs ${f1(r.sim[3].ms)} ms simulated without pre-zeroed pages and ${f1(r.sim[4].ms)} ms with them: that is the figure it would report.`,
  ];
}

/* Terminal report. */
export function renderWireText(r: WireResult): string {
  let out = `wire: wiring ${formatSize(r.guestBytes)} of bhyve guest memory on each vm.wire.fast path (seed 001)\n`;
  out += `host ${r.host}; profile ${r.profile.name}: ${r.profile.description}\n\n`;
  out += textTable(SIM_HEADERS, simRows(r), `Simulated kernel time to wire ${formatSize(r.guestBytes)} (simulated; work counted on ${formatSize(r.simBytes)}${r.scaled ? `, scaled x${r.guestBytes / r.simBytes}` : ''})`);
  out += '\n';
  out += textTable(PUBLISHED_HEADERS, publishedRows(r), 'Seed 001 beside the model, every figure of its ministat table (calibration: map.fault was fitted to it; prediction: nothing was)');
  out += `(the stddevs, ${SEED_FIGURES.before.stddev} and ${SEED_FIGURES.after.stddev} ms, are not modelled: the model is deterministic)\n`;
  out += headline(r).map((l) => `${l}\n`).join('') + '\n';
  out += `The review's objections, run on backed memory:\n${reviewLines(r).map((l) => `  ${l}\n`).join('')}\n`;
  if (r.wall !== null) {
    const w = r.wall;
    out += textTable(WALL_HEADERS, wallRows(w), `pagelab's measured wall time wiring ${formatSize(w.bytes)} of backed memory, ms (this host, not the seed's)`);
    out += `samples: ${w.method}; outliers: outside the quartiles -/+ 1.5 x IQR (Tukey), kept in every statistic\n`;
    for (const m of w.ministat) out += `\nministat, as in the seed (x: path ${m.path}, +: path 0):\n${m.text}`;
    out += '\n';
  }
  out += textTable(
    ['constant', 'value', 'unit', 'basis', 'calibrated on'],
    r.profile.constants.map((c) => [c.name, String(Number(c.value.toPrecision(6))), c.unit, c.basis, c.calibratedOn ?? '-']),
    `Profile ${r.profile.name}: every constant (sources in --json and report.html)`,
  );
  return out;
}

/* A Chrome trace: per path, its simulated time as consecutive categories. */
export function wireTrace(r: WireResult): { traceEvents: Array<Record<string, unknown>>; displayTimeUnit: 'ns' } {
  const ev: Array<Record<string, unknown>> = [];
  r.sim.forEach((s, tid) => {
    ev.push({ name: 'thread_name', ph: 'M', pid: 1, tid, args: { name: s.label } });
    let t = 0;
    for (const c of WIRE_CATEGORIES) {
      const us = s.byCategoryMs[c] * 1e3;
      if (us > 0) ev.push({ name: c, cat: 'simulated', ph: 'X', pid: 1, tid, ts: t, dur: us });
      t += us;
    }
  });
  return { traceEvents: ev, displayTimeUnit: 'ns' };
}

/* report.html. */
export async function renderWireHtml(r: WireResult): Promise<string> {
  const { renderSvg } = await import('./plots.js');
  const { wireTimeSpec, wireStackSpec, wireWallSpec } = await import('./wire-plots.js');
  const parts: string[] = [];
  parts.push(`<h1>wire</h1><p>Wiring ${esc(formatSize(r.guestBytes))} of bhyve guest memory on each <code>vm.wire.fast</code> path (seed 001, "vm_map_wire: speed up wiring for large virtual address ranges"). Host <b>${esc(r.host)}</b>, profile <b>${esc(r.profile.name)}</b>.</p>`);
  parts.push(`<h2>Time per path</h2>${await renderSvg(wireTimeSpec(r))}<p>${headline(r).map(esc).join(' ')}</p>`);
  parts.push(`<h2>Where the time goes (simulated)</h2>${await renderSvg(wireStackSpec(r))}` + htmlTable(SIM_HEADERS, simRows(r)));
  parts.push(`<h2>Seed 001 beside the model</h2>` + htmlTable(PUBLISHED_HEADERS, publishedRows(r)));
  parts.push(`<h2>The review's objections, run</h2><ul>${reviewLines(r).map((l) => `<li>${esc(l)}</li>`).join('')}</ul>`);
  if (r.wall !== null) {
    const spec = wireWallSpec(r);
    parts.push(`<h2>Measured wall time (this host)</h2>` + (spec !== null ? await renderSvg(spec) : '') + htmlTable(WALL_HEADERS, wallRows(r.wall)) + `<p>${esc(r.wall.method)}</p>` + r.wall.ministat.map((m) => `<pre>${esc(m.text)}</pre>`).join(''));
  }
  parts.push(
    `<h2>Profile constants</h2>` +
      htmlTable(
        ['constant', 'value', 'unit', 'basis', 'source'],
        r.profile.constants.map((c) => [c.name, c.value, c.unit, c.basis + (c.calibratedOn !== undefined ? ` (on: ${c.calibratedOn})` : ''), c.source]),
      ),
  );
  return htmlPage('wire', parts);
}
