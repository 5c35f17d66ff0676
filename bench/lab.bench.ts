/**
 * Benchmark suite "lab": the lazy-init-boot experiment at full default scale
 * (128M, 1G, 64G, 1T with the 1T eager boot derived and its drain scaled),
 * as a Markdown section: the simulated figures (deterministic) and pagelab's
 * own wall time for booting each machine (this host, not simulated).
 */
import { runLazyInitBoot } from '../src/lab/lazy-init-boot.js';
import { relErr } from '../src/lab/table.js';
import { markdownTable } from './harness.js';

export default async function run(): Promise<string> {
  const t0 = process.hrtime.bigint();
  // Eager boots are timed up to 64 GiB here (the default run stops at 1 GiB to stay fast).
  const r = runLazyInitBoot({ wallEagerMax: 64 * 2 ** 30 });
  const totalS = Number(process.hrtime.bigint() - t0) / 1e9;
  const ms = (ns: number) => (ns / 1e6).toFixed(ns >= 1e9 ? 0 : 2);
  const sim = markdownTable(
    ['size', 'eager boot ms', 'lazy boot ms', 'eager vm_page_startup share', 'lazy: all pages initialised at ms', 'source'],
    r.sizes.map((s) => [s.size, ms(s.eager.bootNs), ms(s.lazy.bootNs), `${(s.eager.vmPageStartupShare * 100).toFixed(1)}%`, ms(s.lazy.allInitialisedAtNs), s.scaled ? 'eager derived, drain scaled' : 'Vm']),
  );
  const pub = markdownTable(
    ['source', 'figure', 'published', 'model', 'rel. error', 'role'],
    r.published.map((p) => [p.group, p.figure, p.published.toFixed(2), p.model.toFixed(2), relErr(p.model, p.published), p.role]),
  );
  const wall = markdownTable(
    ['size', 'eager boot median ms', 'eager outliers', 'lazy boot median ms', 'lazy outliers', 'lazy vs eager (ministat 95%)'],
    r.wallTime.samples.map((w) => [
      w.size,
      w.eager?.median.toFixed(3) ?? '-',
      w.eagerOutliers.map((x) => x.toFixed(2)).join(' ') || '-',
      w.lazy?.median.toFixed(3) ?? '-',
      w.lazyOutliers.map((x) => x.toFixed(2)).join(' ') || '-',
      w.comparison === null ? 'not measured' : w.comparison.significant ? `${w.comparison.percent.toFixed(1)}% ± ${w.comparison.percentHalfWidth.toFixed(1)}%` : 'no difference proven',
    ]),
  );
  return [
    '## lab: lazy-init-boot (profile ' + r.profile.name + ')',
    '',
    'Simulated time (deterministic):',
    '',
    sim,
    '',
    pub,
    '',
    `pagelab's own wall time to boot each machine (\`new Vm\`; ${r.wallTime.method}; outliers outside the quartiles ∓ 1.5 IQR, kept):`,
    '',
    wall,
    '',
    `Whole experiment: ${totalS.toFixed(1)} s.`,
  ].join('\n');
}
