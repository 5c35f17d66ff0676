/**
 * How lazy-init-boot reports itself: terminal tables, the Chrome trace, and
 * a self-contained report.html (plots inline as SVG, no external assets).
 * Simulated time and pagelab's measured wall time are always in separate
 * tables, labelled as what they are.
 */
import { chromeTrace, type TraceRun } from '../sim/timeline.js';
import { formatVerdict } from '../stats/ministat.js';
import { linuxComparisons, type LazyInitBootResult, type PublishedComparison } from './lazy-init-boot.js';
import { bootVsSizeSpec, parallelDrainSpec, renderSvg, timelineSpec } from './plots.js';
import { count, ms, pct, textTable } from './table.js';

function fmtPublished(p: PublishedComparison): string[] {
  const v = (x: number) => (p.unit === '%' ? `${x.toFixed(1)}%` : p.unit === 'ms' ? x.toFixed(x >= 100 ? 0 : 2) : x.toFixed(2));
  const e = p.relativeError;
  return [p.figure, v(p.published), v(p.model), `${e >= 0 ? '+' : ''}${(e * 100).toFixed(1)}%`, p.role];
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

  const pubs = [...r.published, ...(r.variants !== null ? linuxComparisons(r.variants.parallelDrain) : [])];
  out += textTable(['published figure', 'published', 'model', 'rel. error', 'role'], pubs.map(fmtPublished), 'Published figures beside the model (calibration: fitted to it; prediction: not used to fit anything)');
  out += '\n';

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
    out += textTable(
      ['size', 'machine', 'eager median ms', 'lazy median ms', 'runs', 'lazy vs eager (ministat, 95%)'],
      r.wallTime.samples.map((w) => [
        w.size,
        w.machine,
        w.eager === null ? '-' : w.eager.median.toFixed(3),
        w.lazy === null ? '-' : w.lazy.median.toFixed(3),
        w.lazyMs.length,
        w.comparison === null ? (w.note ?? '-') : w.comparison.significant ? `${w.comparison.percent.toFixed(1)}% ± ${w.comparison.percentHalfWidth.toFixed(1)}%` : 'no difference proven',
      ]),
      `pagelab's measured wall time on this host (${r.wallTime.host}): ${r.wallTime.what}`,
    );
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
    if (v.pageInit.wall?.ministat != null) out += `  measured wall time of eager boots on this host:\n${indent(v.pageInit.wall.ministat)}`;
    else if (v.pageInit.wall?.comparison != null) out += `  measured wall time: ${formatVerdict(v.pageInit.wall.comparison)}\n`;
    out += `answer: ${v.pageInit.answer}\n\n`;
    const pd = v.parallelDrain;
    out += textTable(
      ['threads', 'boot ms', 'drain ms (from SMP)', 'all init at ms', 'boot thread max wait ns'],
      pd.freebsd.cases.map((c) => [c.threads, ms(c.bootNs), ms(c.drainNs, 1), ms(c.allInitialisedAtNs, 1), c.bootThreadMaxWaitNs.toFixed(0)]),
      `Variant: several drain threads, FreeBSD model (${pd.freebsd.machine}, ${pd.freebsd.cpus} vCPUs; drain work ${pd.freebsd.drainWorkFrom})`,
    );
    out += textTable(
      ['threads/node', 'deferred init ms', 'boot ms'],
      pd.linux.prediction.cases.map((c) => [c.threadsPerNode, ms(c.deferredInitNs, 1), ms(c.bootNs, 0)]),
      `Linux deferred init, ${pd.linux.prediction.machine} (profile ${pd.linux.profile}, calibrated on ${pd.linux.calibration.machine})`,
    );
    out += `answer: ${pd.answer}\n`;
  }
  return out;
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

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function htmlTable(headers: string[], rows: Array<Array<string | number>>): string {
  return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(String(c))}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

/* The self-contained HTML report. */
export async function renderHtml(r: LazyInitBootResult): Promise<string> {
  const parts: string[] = [];
  parts.push(`<h1>lazy-init-boot</h1><p>Page-structure initialisation at boot, eager vs lazy (FreeBSD review D40403). Profile <b>${esc(r.profile.name)}</b>: ${esc(r.profile.description)}. All times are <b>simulated</b> unless a section says it is pagelab's measured wall time.</p>`);
  parts.push(`<h2>Boot time against memory size</h2>${await renderSvg(bootVsSizeSpec(r))}<p>Diamonds: figures published in D40403.${r.sizes.some((s) => s.scaled) ? ' Sizes above the scale limit use derived eager work and scaled drain work.' : ''}</p>`);
  parts.push(
    `<h2>Simulated boots</h2>` +
      htmlTable(
        ['size', 'machine', 'mode', 'boot ms', 'vm_page_startup ms', 'share', 'all init at ms', 'pages init on boot path', 'pages init by drain', 'work source'],
        r.sizes.flatMap((s) =>
          (['eager', 'lazy'] as const).map((m) => [
            s.size,
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
  const pubs = [...r.published, ...(r.variants !== null ? linuxComparisons(r.variants.parallelDrain) : [])];
  parts.push(`<h2>Published figures beside the model</h2>` + htmlTable(['figure', 'published', 'model', 'relative error', 'role'], pubs.map(fmtPublished)));
  if (r.sizes.length > 0) {
    const ti = timelineSize(r);
    parts.push(`<h2>Timeline, ${esc(r.sizes[ti].size)}</h2>${await renderSvg(timelineSpec(r, ti))}<p>The full trace of every boot is in the trace-event JSON next to this file (load it in ui.perfetto.dev or chrome://tracing).</p>`);
  }
  if (r.wallTime.samples.length > 0) {
    parts.push(
      `<h2>pagelab's measured wall time (host, not simulated)</h2><p>${esc(r.wallTime.what)}; ${esc(r.wallTime.host)}.</p>` +
        r.wallTime.samples.map((w) => (w.ministat !== null ? `<pre>${esc(w.ministat)}</pre>` : `<p>${esc(w.size)}: lazy median ${w.lazy?.median.toFixed(3) ?? '-'} ms${w.note !== undefined ? ` (${esc(w.note)})` : ''}</p>`)).join(''),
    );
  }
  if (r.variants !== null) {
    const v = r.variants;
    parts.push(
      `<h2>Reviewers' questions</h2><h3>Standing cost of the extra pool</h3>` +
        htmlTable(
          ['kernel', 'index', 'heads/alloc', 'fallbacks', 'heads/fallback', 'heads/contig'],
          v.queueHeads.cases.map((c) => [c.name, c.defaultFreepool, c.headsPerAllocation.toFixed(4), c.fallbacks, c.headsPerFallback.toFixed(2), c.headsPerContig === null ? '-' : c.headsPerContig.toFixed(2)]),
        ) +
        `<p>${esc(v.queueHeads.answer)}</p><h3>Field by field vs bzero then set</h3><p>${esc(v.pageInit.answer)}</p>${v.pageInit.wall?.ministat != null ? `<pre>${esc(v.pageInit.wall.ministat)}</pre>` : ''}` +
        `<h3>Several drain threads</h3>` +
        htmlTable(
          ['threads', 'boot ms', 'drain ms', 'all init at ms'],
          v.parallelDrain.freebsd.cases.map((c) => [c.threads, ms(c.bootNs), ms(c.drainNs, 1), ms(c.allInitialisedAtNs, 1)]),
        ),
    );
    const pdSpec = parallelDrainSpec(r);
    if (pdSpec !== null) parts.push(await renderSvg(pdSpec));
    parts.push(`<p>${esc(v.parallelDrain.answer)}</p>`);
  }
  parts.push(
    `<h2>Profile constants</h2>` +
      htmlTable(
        ['constant', 'value', 'unit', 'basis', 'source'],
        r.profile.constants.map((c) => [c.name, c.value, c.unit, c.basis + (c.calibratedOn !== undefined ? ` (on: ${c.calibratedOn})` : ''), c.source]),
      ),
  );
  const css =
    'body{font:14px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 7px;text-align:left;font-size:13px;vertical-align:top}th{background:#f3f3f3}pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:12px}svg{max-width:100%;height:auto}';
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>pagelab lab: lazy-init-boot</title><style>${css}</style></head><body>${parts.join('\n')}</body></html>\n`;
}
