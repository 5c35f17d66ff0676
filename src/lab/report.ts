/**
 * How lazy-init-boot reports itself: terminal tables, the Chrome trace, and
 * a self-contained report.html (plots inline as SVG, no external assets).
 * Simulated time and pagelab's measured wall time are always in separate
 * tables, labelled as what they are.
 */
import { chromeTrace, type TraceRun } from '../sim/timeline.js';
import type { LazyInitBootResult, PublishedComparison, WallSample } from './lazy-init-boot.js';
import { formatVerdict } from '../stats/ministat.js';
import { count, ms, pct, relErr, textTable } from './table.js';

/* A published value with its stdev when the source gives one. */
function fmtValue(p: PublishedComparison, x: number, sd?: number): string {
  const v = p.unit === '%' ? `${x.toFixed(1)}%` : x.toFixed(x >= 100 ? 1 : 2);
  return sd === undefined ? v : `${v} ± ${sd.toFixed(1)}`;
}

/*
 * The rows of the published-vs-model table, and its notes numbered once
 * each (a note shared by many rows is printed once).
 */
function publishedRows(pubs: readonly PublishedComparison[]): { rows: string[][]; notes: string[] } {
  const notes: string[] = [];
  const rows = pubs.map((p) => {
    let mark = '';
    if (p.note !== undefined) {
      let i = notes.indexOf(p.note);
      if (i < 0) i = notes.push(p.note) - 1;
      mark = `[${i + 1}]`;
    }
    return [p.group, p.figure, fmtValue(p, p.published, p.publishedStdev), fmtValue(p, p.model), relErr(p.model, p.published), p.role, mark];
  });
  return { rows, notes };
}

const PUBLISHED_HEADERS = ['source', 'published figure', 'published', 'model', 'rel. error', 'role', 'note'];
const PUBLISHED_TITLE = 'Published figures beside the model, every point of each cited table (calibration: a constant was fitted to it; prediction: nothing was)';

/* The wall-time cells of one size: medians, spread and the outliers, shown rather than dropped. */
function wallRow(w: WallSample): string[] {
  const med = (s: WallSample['eager']) => (s === null ? '-' : s.median.toFixed(3));
  const range = (s: WallSample['eager']) => (s === null ? '-' : `${s.min.toFixed(2)}-${s.max.toFixed(2)}`);
  const outl = (o: number[]) => (o.length === 0 ? '-' : o.map((x) => x.toFixed(2)).join(' '));
  const verdict = w.comparison === null ? (w.note ?? '-') : w.comparison.significant ? `${w.comparison.percent.toFixed(1)}% ± ${w.comparison.percentHalfWidth.toFixed(1)}%` : 'no difference proven';
  return [w.size, w.machine, med(w.eager), range(w.eager), outl(w.eagerOutliers), med(w.lazy), range(w.lazy), outl(w.lazyOutliers), String(w.lazyMs.length), verdict];
}
const WALL_HEADERS = ['size', 'machine', 'eager median', 'eager min-max', 'eager outliers', 'lazy median', 'lazy min-max', 'lazy outliers', 'runs', 'lazy vs eager (ministat, 95%)'];

/* The profile constants: value, unit, basis and what each calibration was fitted on. */
function constantsTable(p: LazyInitBootResult['profile'], title: string): string {
  return textTable(
    ['constant', 'value', 'unit', 'basis', 'calibrated on'],
    p.constants.map((c) => [c.name, Number.isInteger(c.value) || Math.abs(c.value) >= 1e6 ? c.value.toFixed(0) : String(Number(c.value.toPrecision(6))), c.unit, c.basis, c.calibratedOn ?? '-']),
    title,
  );
}

/* The index in r.sizes of the size whose timeline the report shows: 1G when present. */
export function timelineSize(r: LazyInitBootResult): number {
  const i = r.sizes.findIndex((s) => s.bytes === 2 ** 30);
  return i >= 0 ? i : 0;
}

/* Terminal report. */
export function renderText(r: LazyInitBootResult): string {
  let out = '';
  out += `lazy-init-boot: page-structure initialisation at boot, eager vs lazy (D40403)\n`;
  out += `profile ${r.profile.name}: ${r.profile.description}\n\n`;

  out += textTable(
    ['size', 'machine', 'mode', 'boot ms', 'vm_page_startup ms', 'share', 'SMP at ms', 'all init at ms', 'pages init on boot path', 'pages init by drain', 'free pages (drained)'],
    r.sizes.flatMap((s) =>
      (['eager', 'lazy'] as const).map((mode) => {
        const b = s[mode];
        return [
          `${s.size}${s.scaled ? '*' : ''}`,
          s.machine,
          mode,
          ms(b.bootNs),
          ms(b.vmPageStartupNs, 3),
          pct(b.vmPageStartupShare),
          ms(b.smpAtNs),
          ms(b.allInitialisedAtNs),
          count(b.pagesInitBootPath),
          count(b.pagesInitDrain),
          count(b.freePagesEnd),
        ];
      }),
    ),
    'Simulated kernel boot (simulated time; vm.lazy_page_init = 0 eager, 1 lazy)',
  );
  if (r.sizes.some((s) => s.scaled)) {
    out += `* ${r.sizes.filter((s) => s.scaled).map((s) => s.size).join(', ')}: eager work derived, drain work scaled per page (not run on a Vm here; see workSource in --json; --scale-above none runs them for real)\n`;
  }
  out += '\n';

  const pub = publishedRows(r.published);
  out += textTable(PUBLISHED_HEADERS, pub.rows, PUBLISHED_TITLE);
  out += pub.notes.map((n, i) => `[${i + 1}] ${n}\n`).join('');
  if (r.variants === null) out += '(the Linux figures, Gorman 2015 and Jordan 2020, come with the variants: run without --no-variants)\n';
  out += '\n';
  out += constantsTable(r.profile, `Profile ${r.profile.name}: every constant (sources in --json and report.html)`) + '\n';

  const ti = timelineSize(r);
  if (r.sizes.length > 0) {
    const s = r.sizes[ti];
    for (const mode of ['eager', 'lazy'] as const) {
      out += textTable(
        ['phase', 'thread', 'cpu', 'enter ms', 'exit ms', 'duration ms'],
        s[mode].phases.map((p) => [`${'  '.repeat(p.depth)}${p.phase}`, p.thread, p.cpu, ms(p.enterNs, 3), ms(p.exitNs, 3), ms(p.durationNs, 3)]),
        `Boot timeline (TSLOG), ${s.size} ${mode}, simulated`,
      );
      out += '\n';
    }
  }

  if (r.wallTime.samples.length > 0) {
    out += textTable(WALL_HEADERS, r.wallTime.samples.map(wallRow), `pagelab's measured wall time on this host, ms (${r.wallTime.host}): ${r.wallTime.what}`);
    out += `samples: ${r.wallTime.method}; outliers: outside the quartiles ∓ 1.5 × IQR (Tukey), kept in every statistic\n`;
    for (const w of r.wallTime.samples) if (w.ministat !== null) out += `\n${w.ministat}`;
    out += '\n';
  }

  if (r.variants !== null) {
    const v = r.variants;
    out += textTable(
      ['kernel', 'index', 'heads/alloc', 'fallbacks', 'heads/fallback', 'heads/contig', 'work ns/op'],
      v.queueHeads.cases.map((c) => [c.name, c.defaultFreepool, c.headsPerAllocation.toFixed(4), c.fallbacks, c.headsPerFallback.toFixed(2), c.headsPerContig === null ? '-' : c.headsPerContig.toFixed(2), c.workNsPerOp.toFixed(1)]),
      `Variant: standing cost of the extra pool (${v.queueHeads.operations} seeded operations on ${v.queueHeads.machine}; counts measured, ns simulated)`,
    );
    out += `answer: ${v.queueHeads.answer}\n\n`;
    out += `Variant: page record initialisation, field by field vs zero-fill then set (${v.pageInit.machine})\n`;
    out += `  simulated vm_page_startup: fields ${ms(v.pageInit.simulated.fieldsNs, 3)} ms, bzero ${ms(v.pageInit.simulated.bzeroNs, 3)} ms (${pct(v.pageInit.simulated.relative)})\n`;
    const piw = v.pageInit.wall;
    if (piw !== null) {
      out += `  measured wall time of eager boots on this host (${piw.method}):\n`;
      for (const sr of piw.series) out += `    ${sr.name}: median ${sr.summary?.median.toFixed(3) ?? '-'}, outliers ${sr.outliers.length === 0 ? 'none' : sr.outliers.map((x) => x.toFixed(2)).join(' ')}\n`;
      if (piw.ministat !== null) out += indent(piw.ministat);
      else if (piw.comparison !== null) out += `  ${formatVerdict(piw.comparison)}\n`;
    }
    out += `answer: ${v.pageInit.answer}\n\n`;
    const pd = v.parallelDrain;
    const star = pd.freebsd.drainScaled ? '*' : '';
    out += textTable(
      ['threads', 'boot ms', 'drain ms (from SMP)', 'all init at ms', 'boot thread max wait ns'],
      pd.freebsd.cases.map((c) => [`${c.threads}${star}`, ms(c.bootNs), ms(c.drainNs, 1), ms(c.allInitialisedAtNs, 1), c.bootThreadMaxWaitNs.toFixed(0)]),
      `Variant: several drain threads, FreeBSD model (${pd.freebsd.machine}, ${pd.freebsd.cpus} vCPUs, simulated)`,
    );
    out += pd.freebsd.drainScaled ? `* drain work ${pd.freebsd.drainWorkFrom}, not run on a Vm of this size\n` : `drain work counted on a real Vm of this size\n`;
    for (const m of pd.linux.machines.filter((x) => x.restOfBootNs !== null)) {
      const t = linuxTable(r, m.machine);
      out += textTable(
        ['threads/node', 'model deferred ms', 'published deferred ms', 'model boot ms', 'published boot ms'],
        t.map((x) => [x.threads, x.modelDeferred.toFixed(1), x.pubDeferred, x.modelBoot, x.pubBoot]),
        `Linux deferred init, ${m.description} (profile ${pd.linux.profile}, simulated; page_init calibrated on ${pd.linux.calibration})`,
      );
    }
    out += '(threads 0: the kernel without the series, modelled as one thread per node)\n\n';
    if (r.linuxProfile !== null) out += constantsTable(r.linuxProfile, `Profile ${r.linuxProfile.name}: every constant (sources in --json and report.html)`) + '\n';
    out += `answer: ${pd.answer}\n`;
  }
  return out;
}

/*
 * The Linux model beside the published rows for one machine: one row per
 * thread count the model ran or the table has (threads 0 is the kernel
 * without the series; the model stands for it with one thread per node).
 */
export function linuxTable(r: LazyInitBootResult, machine: string): Array<{ threads: number; modelDeferred: number; pubDeferred: string; modelBoot: string; pubBoot: string }> {
  const m = r.variants?.parallelDrain.linux.machines.find((x) => x.machine === machine);
  if (m === undefined) return [];
  const find = (measure: string, t: number) => r.published.find((p) => p.linux?.machine === machine && p.linux.measure === measure && p.linux.threadsPerNode === t);
  const pv = (p: PublishedComparison | undefined) => (p === undefined ? '-' : `${fmtValue(p, p.published, p.publishedStdev)} (${relErr(p.model, p.published)})`);
  const rows = [];
  for (const t of [0, ...m.cases.map((c) => c.threadsPerNode)]) {
    const d = find('deferred init', t);
    const b = find('kernel boot', t);
    if (t === 0 && d === undefined) continue;
    const c = m.cases.find((x) => x.threadsPerNode === Math.max(1, t)) as (typeof m.cases)[number];
    rows.push({ threads: t, modelDeferred: c.deferredInitNs / 1e6, pubDeferred: pv(d), modelBoot: m.restOfBootNs === null ? '-' : (c.bootNs / 1e6).toFixed(1), pubBoot: pv(b) });
  }
  return rows;
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => (l === '' ? l : `    ${l}`))
    .join('\n');
}

/* Chrome trace-event JSON: every simulated boot of the run, one process each. */
export function traceOf(r: LazyInitBootResult): ReturnType<typeof chromeTrace> {
  const runs: TraceRun[] = [];
  for (const s of r.sizes) {
    for (const mode of ['eager', 'lazy'] as const) {
      const b = s[mode];
      runs.push({
        label: `${s.size} ${mode} (vm.lazy_page_init=${mode === 'lazy' ? 1 : 0})`,
        phases: b.phases,
        intervals: b.intervals,
        threadNames: new Map(Object.entries(b.threadNames).map(([k, v]) => [Number(k), v])),
      });
    }
  }
  return chromeTrace(runs);
}

export const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function htmlTable(headers: string[], rows: Array<Array<string | number>>): string {
  return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(String(c))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/* The self-contained HTML report. */
export async function renderHtml(r: LazyInitBootResult): Promise<string> {
  // Vega is big: loaded only when a page is drawn.
  const { bootVsSizeSpec, linuxThreadsSpec, renderSvg, timelineSpec } = await import('./plots.js');
  const parts: string[] = [];
  const scaled = r.sizes.filter((s) => s.scaled);
  parts.push(`<h1>lazy-init-boot</h1><p>Page-structure initialisation at boot, eager vs lazy (FreeBSD review D40403). Profile <b>${esc(r.profile.name)}</b>: ${esc(r.profile.description)}. All times are <b>simulated</b> unless a section says it is pagelab's measured wall time.</p>`);
  parts.push(
    `<h2>Boot time against memory size</h2>${await renderSvg(bootVsSizeSpec(r))}<p>Diamonds: figures published in D40403.${scaled.length > 0 ? ` Sizes marked * (${esc(scaled.map((s) => s.size).join(', '))}) are not run on a Vm: their eager work is derived and their drain work scaled per page; their points are hollow.` : ''}</p>`,
  );
  parts.push(
    `<h2>Simulated boots</h2>` +
      htmlTable(
        ['size', 'machine', 'mode', 'boot ms', 'vm_page_startup ms', 'share', 'all init at ms', 'pages init on boot path', 'pages init by drain', 'work source'],
        r.sizes.flatMap((s) =>
          (['eager', 'lazy'] as const).map((m) => [
            `${s.size}${s.scaled ? '*' : ''}`,
            s.machine,
            m,
            ms(s[m].bootNs),
            ms(s[m].vmPageStartupNs, 3),
            pct(s[m].vmPageStartupShare),
            ms(s[m].allInitialisedAtNs),
            count(s[m].pagesInitBootPath),
            count(s[m].pagesInitDrain),
            `${s[m].workSource.bootPath}; drain: ${s[m].workSource.drain}`,
          ]),
        ),
      ),
  );
  const pub = publishedRows(r.published);
  parts.push(`<h2>Published figures beside the model</h2><p>${esc(PUBLISHED_TITLE)}.</p>` + htmlTable(PUBLISHED_HEADERS, pub.rows) + `<ol>${pub.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ol>`);
  if (r.sizes.length > 0) {
    const ti = timelineSize(r);
    parts.push(`<h2>Timeline, ${esc(r.sizes[ti].size)}</h2>${await renderSvg(timelineSpec(r, ti))}<p>The full trace of every boot is in the trace-event JSON next to this file (load it in ui.perfetto.dev or chrome://tracing).</p>`);
  }
  if (r.wallTime.samples.length > 0) {
    parts.push(
      `<h2>pagelab's measured wall time (host, not simulated), ms</h2><p>${esc(r.wallTime.what)}; ${esc(r.wallTime.host)}. Samples: ${esc(r.wallTime.method)}. Outliers (outside the quartiles ∓ 1.5 × IQR) are listed and kept in every statistic.</p>` +
        htmlTable(WALL_HEADERS, r.wallTime.samples.map(wallRow)) +
        r.wallTime.samples.map((w) => (w.ministat !== null ? `<pre>${esc(w.ministat)}</pre>` : '')).join(''),
    );
  }
  if (r.variants !== null) {
    const v = r.variants;
    const pd = v.parallelDrain;
    const star = pd.freebsd.drainScaled ? '*' : '';
    parts.push(
      `<h2>Reviewers' questions</h2><h3>Standing cost of the extra pool</h3>` +
        htmlTable(
          ['kernel', 'index', 'heads/alloc', 'fallbacks', 'heads/fallback', 'heads/contig'],
          v.queueHeads.cases.map((c) => [c.name, c.defaultFreepool, c.headsPerAllocation.toFixed(4), c.fallbacks, c.headsPerFallback.toFixed(2), c.headsPerContig === null ? '-' : c.headsPerContig.toFixed(2)]),
        ) +
        `<p>${esc(v.queueHeads.answer)}</p><h3>Field by field vs bzero then set</h3><p>${esc(v.pageInit.answer)}</p>${v.pageInit.wall?.ministat != null ? `<pre>${esc(v.pageInit.wall.ministat)}</pre>` : ''}` +
        `<h3>Several drain threads: FreeBSD model (${esc(pd.freebsd.machine)}, ${pd.freebsd.cpus} vCPUs)</h3>` +
        htmlTable(
          ['threads', 'boot ms', 'drain ms', 'all init at ms'],
          pd.freebsd.cases.map((c) => [`${c.threads}${star}`, ms(c.bootNs), ms(c.drainNs, 1), ms(c.allInitialisedAtNs, 1)]),
        ) +
        `<p>${pd.freebsd.drainScaled ? `* Drain work ${esc(pd.freebsd.drainWorkFrom)}, not run on a Vm of this size.` : 'Drain work counted on a real Vm of this size.'}</p>` +
        `<h3>Several drain threads: Linux padata</h3>${await renderSvg(linuxThreadsSpec(r))}<p>Lines: the model (profile ${esc(pd.linux.profile)}, page_init calibrated on ${esc(pd.linux.calibration)}). Diamonds: every point Jordan published, with his standard deviation as a bar; at x = 0 the kernel without the series. Open diamonds are calibration points; all others are predictions.</p>` +
        pd.linux.machines
          .filter((m) => m.restOfBootNs !== null)
          .map(
            (m) =>
              `<h4>${esc(m.description)}</h4>` +
              htmlTable(
                ['threads/node', 'model deferred ms', 'published deferred ms (error)', 'model boot ms', 'published boot ms (error)'],
                linuxTable(r, m.machine).map((x) => [x.threads, x.modelDeferred.toFixed(1), x.pubDeferred, x.modelBoot, x.pubBoot]),
              ),
          )
          .join('') +
        `<p>${esc(pd.answer)}</p>`,
    );
  }
  const constants = (p: LazyInitBootResult['profile']) =>
    `<h3>${esc(p.name)}</h3>` +
    htmlTable(
      ['constant', 'value', 'unit', 'basis', 'source'],
      p.constants.map((c) => [c.name, c.value, c.unit, c.basis + (c.calibratedOn !== undefined ? ` (on: ${c.calibratedOn})` : ''), c.source]),
    );
  parts.push(`<h2>Profile constants</h2>${constants(r.profile)}${r.linuxProfile !== null ? constants(r.linuxProfile) : ''}`);
  return htmlPage('lazy-init-boot', parts);
}

const REPORT_CSS =
  'body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 7px;text-align:left;font-size:13px;vertical-align:top}th{background:#f3f3f3}pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:12px}svg{max-width:100%;height:auto}';

/* A self-contained report page of an experiment's sections. */
export function htmlPage(experiment: string, parts: readonly string[]): string {
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>pagelab lab: ${esc(experiment)}</title><style>${REPORT_CSS}</style></head><body>${parts.join('\n')}</body></html>\n`;
}
