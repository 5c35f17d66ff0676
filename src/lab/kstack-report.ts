/**
 * How kstack-pindex reports itself: terminal tables and a self-contained
 * report.html with a picture of the reservation strings per setting
 * (Vega-Lite, rendered to SVG as plots.ts does). Simulated time and
 * pagelab's measured wall time are in separate tables, labelled.
 */
import type * as vl from 'vega-lite';
import { formatVerdict } from '../stats/ministat.js';
import type { KstackPindexResult, SettingResult, Snapshot } from './kstack-pindex.js';
import { renderSvg } from './plots.js';
import { esc, htmlPage, htmlTable } from './report.js';
import { count, pct, textTable } from './table.js';

const tallyText = (t: Record<string, number> | null): string =>
  t === null
    ? 'n/a'
    : Object.entries(t)
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .map(([k, v]) => `${k} x${v}`)
        .join(', ') || '-';

const letters = (t: Record<string, number> | null): string => (t === null ? 'n/a' : ['F', 'E', 'B', 'P', '-'].map((k) => `${k}:${t[k] ?? 0}`).join(' '));

function snapshotRows(r: KstackPindexResult, pick: (s: SettingResult) => Snapshot): string[][] {
  return r.settings.map((s) => {
    const x = pick(s);
    return [
      s.setting,
      count(x.liveStacks),
      count(x.cachedStacks),
      count(x.stackPages),
      count(x.reservations),
      count(x.heldPages),
      pct(x.overhead),
      x.fullChunkOverhead === null ? '-' : pct(x.fullChunkOverhead),
      letters(x.chunkLetters),
      letters(x.reservLetters),
      `${x.otherSuperpages} / ${x.stackKvaSuperpages}`,
    ];
  });
}

const SNAP_HEAD = ['setting', 'live', 'cached', 'stack pages', 'reservations', 'pages held', 'overhead', 'overhead (full chunks)', 'chunk letters', 'reservations by letter', '2M pages: other KVA / stacks'];

/* Terminal report. */
export function renderKstackText(r: KstackPindexResult): string {
  let out = `kstack-pindex: kernel stacks in superpage reservations, per kstack_object pindex scheme (D38852)\n`;
  out += `machine ${r.machine.name}: ${r.machine.ndomains} domains, ${r.machine.cpus} CPUs, reservations of ${r.machine.reservationPages} pages; K=${r.settings[0].K}, G=${r.settings[0].G}\n`;
  out += `workload: ${r.workload.description}; seed ${r.workload.seed}\n\n`;
  out += textTable(SNAP_HEAD, snapshotRows(r, (s) => s.afterRampUp), 'After the ramp-up (counts measured on the VM)');
  out += '\n';
  out += textTable(
    ['setting', 'chunks', 'chunk strings (all)', 'fully used chunks'],
    r.settings.map((s) => [s.setting, s.afterRampUp.chunks, tallyText(s.afterRampUp.chunkPatterns), tallyText(s.afterRampUp.fullChunkPatterns)]),
    'Reservation strings of the import chunks after the ramp-up (each chunk seen through its own pindex range)',
  );
  out += '\n';
  out += textTable(SNAP_HEAD, snapshotRows(r, (s) => s.afterChurn), 'After the churn (steady state)');
  out += '\n';
  out += textTable(
    ['setting', 'PTEs', 'page-table pages', 'guard holes', '2M stack KVA pages', 'of them mappable by one 2M PDE'],
    r.settings.map((s) => {
      const x = s.afterChurn;
      return [s.setting, count(x.kernelPtes), count(x.kernelPtPages), count(x.guardHoles), count(x.stackKvaSuperpages), count(x.stackKvaPromotable)];
    }),
    'The stacks in the kernel pmap after the churn (pmap_qenter of each stack page; guard pages left unmapped)',
  );
  out += '\n';
  out += textTable(
    ['setting', 'pages squeezed', 'reservations broken', 'reclaimed', 'cache drained', 'overhead after', 'back to start'],
    r.settings.map((s) => [s.setting, count(s.pressure.pagesTaken), s.pressure.reservBroken, s.pressure.reservReclaimed, s.pressure.cacheDrained, pct(s.pressure.after.overhead), s.returnedToStart ? 'yes' : 'NO']),
    `Memory pressure on domain ${r.settings[0].pressure.domain}, then lowmem (vm_reserv_reclaim_inactive, kstack cache drain)`,
  );
  out += '\n';
  for (const [what, pick] of [
    ['ramp-up: every vm_thread_new a cache miss', (s: SettingResult) => s.simulatedRampUp],
    ['churn: mostly served by the kstack cache', (s: SettingResult) => s.simulated],
  ] as const) {
    out += textTable(
      ['setting', 'operations', 'ns/op', 'cache ops', 'KVA allocs', 'imports', 'pages from reservations', 'new reservations', 'pages elsewhere', 'pages freed', 'unmaps'],
      r.settings.map((s) => {
        const p = pick(s);
        const e = p.events;
        return [s.setting, count(p.operations), p.nsPerOperation.toFixed(1), count(e.cacheOps), count(e.vmemAllocs), e.imports, count(e.pagesFromReserv), e.reservsNew, count(e.pagesFromPhys), count(e.pagesFreed), count(e.unmaps)];
      }),
      `Simulated time per vm_thread_new / vm_thread_dispose, ${what} (profile ${r.profile.name}; every constant an assumption or independent figure, see --json)`,
    );
    out += '\n';
  }
  out += textTable(
    ['published figure', 'published', 'model', 'rel. error / match', 'role'],
    r.seed.map((c) => [c.figure, c.published, c.model, c.relativeError !== null ? `${c.relativeError >= 0 ? '+' : ''}${(c.relativeError * 100).toFixed(1)}%` : c.match === null ? '-' : c.match ? 'match' : 'MISS', c.role]),
    'The seed\'s figures beside the model (predictions: nothing is fitted to them; derivation in docs/lab.md)',
  );
  out += `\nFFFF: ${r.ffff}\n\n`;
  if (r.sweep.length > 0) {
    out += textTable(
      ['K', 'G', 'linear G/K', ...r.sweep[0].settings.flatMap((x) => [`${x.setting} overhead`, `${x.setting} full chunk`])],
      r.sweep.map((w) => [w.K, w.G, pct(w.analyticLinear), ...w.settings.flatMap((x) => [pct(x.overhead), x.fullChunkPattern === null ? '-' : `${x.fullChunkPattern} (${pct(x.fullChunkShare, 0)})`])]),
      'Sweep of K and G (ramp-up only): overhead of all stacks, and the most common string of a fully used chunk',
    );
    out += '\n';
  }
  if (r.wallTime !== null) {
    out += textTable(
      ['setting', 'median ms', 'runs'],
      r.wallTime.samples.map((w) => [w.setting, w.summary.median.toFixed(2), w.ms.length]),
      `pagelab's measured wall time on this host (${r.wallTime.host}): ${r.wallTime.what}`,
    );
    for (const c of r.wallTime.comparisons) out += `\n${c.candidate} against ${c.baseline}:\n${c.ministat ?? formatVerdict(c.comparison)}\n`;
  }
  return out;
}

const LETTER_COLORS = { domain: ['F', 'E', 'B', 'P', '-'], range: ['#2e7d32', '#f9a825', '#ef6c00', '#c62828', '#d0d0d0'] };

/* The reservation strings as coloured cells: one row per import chunk, one panel per setting and snapshot. */
export function reservationStringsSpec(r: KstackPindexResult): vl.TopLevelSpec {
  const rows: Array<Record<string, unknown>> = [];
  for (const s of r.settings) {
    for (const [when, snap] of [
      ['after ramp-up', s.afterRampUp],
      ['after churn', s.afterChurn],
    ] as const) {
      const lines = snap.chunkStrings.length > 0 ? snap.chunkStrings.map((c, i) => ({ label: `chunk ${i}`, str: c })) : chunkRows(snap.reservString, 8).map((c, i) => ({ label: `reservations ${i * 8}-${i * 8 + c.length - 1}`, str: c }));
      for (const { label, str } of lines) {
        for (let i = 0; i < str.length; i++) rows.push({ setting: s.setting, when, line: label, window: i, letter: str[i] });
      }
    }
  }
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Reservation strings of kstack_object per setting (K=${r.settings[0].K}, G=${r.settings[0].G})`,
    data: { values: rows },
    facet: { row: { field: 'setting', type: 'nominal', title: null, sort: r.settings.map((s) => s.setting) }, column: { field: 'when', type: 'nominal', title: null, sort: ['after ramp-up', 'after churn'] } },
    spec: {
      width: 240,
      height: { step: 14 },
      mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
      encoding: {
        x: { field: 'window', type: 'ordinal', title: 'reservation (2 MiB) in the chunk' },
        y: { field: 'line', type: 'nominal', title: null, sort: null },
        color: { field: 'letter', type: 'nominal', scale: LETTER_COLORS, legend: { title: 'F full, E to the end, B from the start, P other partial, - none', titleLimit: 600, orient: 'bottom' } },
        tooltip: [{ field: 'setting' }, { field: 'line' }, { field: 'window' }, { field: 'letter' }],
      },
    },
    resolve: { scale: { y: 'independent' } },
  } as vl.TopLevelSpec;
}

function chunkRows(s: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n));
  return out;
}

/* The self-contained HTML report. */
export async function renderKstackHtml(r: KstackPindexResult): Promise<string> {
  const parts: string[] = [];
  const K = r.settings[0].K;
  const G = r.settings[0].G;
  parts.push(
    `<h1>kstack-pindex</h1><p>Kernel stacks in superpage reservations under three kstack_object pindex schemes and the 32-bit layout (FreeBSD review D38852), K=${K} stack pages, G=${G} guard pages, on ${esc(r.machine.name)} (${r.machine.ndomains} domains, ${r.machine.cpus} CPUs). Workload: ${esc(r.workload.description)}; seed ${r.workload.seed}.</p>`,
  );
  parts.push(`<h2>Reservation strings</h2>${await renderSvg(reservationStringsSpec(r))}<p>Each row is one import chunk of a kstack arena seen through its own pindex range (ilp32 has no chunks: its rows are the object's reservations in pindex order). Green cells are full reservations; the seed's non-linear chunk is EFFFB, the aligned setting's full chunk FFFF.</p>`);
  parts.push(`<h2>The seed's figures beside the model</h2>` + htmlTable(['figure', 'published', 'model', 'rel. error / match', 'role', 'note'], r.seed.map((c) => [c.figure, c.published, c.model, c.relativeError !== null ? `${(c.relativeError * 100).toFixed(1)}%` : c.match === null ? '-' : c.match ? 'match' : 'MISS', c.role, c.note])));
  parts.push(`<p><b>FFFF.</b> ${esc(r.ffff)}</p>`);
  parts.push(`<h2>After the ramp-up</h2>` + htmlTable(SNAP_HEAD, snapshotRows(r, (s) => s.afterRampUp)));
  parts.push(htmlTable(['setting', 'chunk strings', 'fully used chunks'], r.settings.map((s) => [s.setting, tallyText(s.afterRampUp.chunkPatterns), tallyText(s.afterRampUp.fullChunkPatterns)])));
  parts.push(`<h2>After the churn</h2>` + htmlTable(SNAP_HEAD, snapshotRows(r, (s) => s.afterChurn)));
  parts.push(
    `<h2>Memory pressure</h2>` +
      htmlTable(
        ['setting', 'pages squeezed', 'reservations broken', 'reclaimed', 'cache drained', 'overhead after', 'back to start'],
        r.settings.map((s) => [s.setting, count(s.pressure.pagesTaken), s.pressure.reservBroken, s.pressure.reservReclaimed, s.pressure.cacheDrained, pct(s.pressure.after.overhead), s.returnedToStart ? 'yes' : 'NO']),
      ),
  );
  parts.push(
    `<h2>Simulated time per operation</h2>` +
      htmlTable(
        ['setting', 'phase', 'operations', 'ns/op', 'breakdown (ns per operation)'],
        r.settings.flatMap((s) =>
          ([['ramp-up', s.simulatedRampUp], ['churn', s.simulated]] as const).map(([ph, p]) => [s.setting, ph, count(p.operations), p.nsPerOperation.toFixed(1), Object.entries(p.breakdown).map(([k, v]) => `${k} ${(v / Math.max(1, p.operations)).toFixed(1)}`).join(', ')]),
        ),
      ),
  );
  if (r.sweep.length > 0) {
    parts.push(
      `<h2>Sweep of K and G</h2>` +
        htmlTable(
          ['K', 'G', 'linear G/K', ...r.sweep[0].settings.flatMap((x) => [`${x.setting} overhead`, `${x.setting} full chunk`])],
          r.sweep.map((w) => [w.K, w.G, pct(w.analyticLinear), ...w.settings.flatMap((x) => [pct(x.overhead), x.fullChunkPattern ?? '-'])]),
        ),
    );
  }
  if (r.wallTime !== null) {
    parts.push(
      `<h2>pagelab's measured wall time (host, not simulated)</h2><p>${esc(r.wallTime.what)}; ${esc(r.wallTime.host)}.</p>` +
        r.wallTime.comparisons.map((c) => `<pre>${esc(c.ministat ?? formatVerdict(c.comparison))}</pre>`).join(''),
    );
  }
  parts.push(`<h2>Profile constants (${esc(r.profile.name)})</h2>` + htmlTable(['constant', 'value', 'unit', 'basis', 'source'], r.profile.constants.map((c) => [c.name, c.value, c.unit, c.basis, c.source])));
  return htmlPage('kstack-pindex', parts);
}
