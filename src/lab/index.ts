/**
 * The laboratory's library face: each experiment is a function that takes
 * options and returns a plain JSON-able result, and each result renders as
 * a terminal report, a Chrome trace and a self-contained HTML page. No argv,
 * no files, no progress bar here: `pagelab lab` (src/cli/lab.ts) does those.
 */
import { runLazyInitBoot, type LazyInitBootOptions, type LazyInitBootResult } from './lazy-init-boot.js';
import { renderHtml, renderText, traceOf } from './report.js';

export { runLazyInitBoot, parseSizes, DEFAULT_RUNS, DEFAULT_SIZES, DEFAULT_SCALE_ABOVE, DEFAULT_WALL_EAGER_MAX } from './lazy-init-boot.js';
export type { LazyInitBootOptions, LazyInitBootResult, PublishedComparison, WallSample } from './lazy-init-boot.js';
export { renderHtml, renderText, traceOf } from './report.js';

export interface Experiment {
  name: 'lazy-init-boot';
  /** One line for usage texts. */
  description: string;
  run: (opts: LazyInitBootOptions) => LazyInitBootResult;
  renderText: (r: LazyInitBootResult) => string;
  renderHtml: (r: LazyInitBootResult) => Promise<string>;
  trace: (r: LazyInitBootResult) => unknown;
}

export const EXPERIMENTS: readonly Experiment[] = [
  {
    name: 'lazy-init-boot',
    description: 'page-structure initialisation at boot, eager vs lazy (D40403)',
    run: runLazyInitBoot,
    renderText,
    renderHtml,
    trace: traceOf,
  },
];

export type ExperimentName = Experiment['name'];
export const EXPERIMENT_NAMES: readonly string[] = EXPERIMENTS.map((e) => e.name);

/** The results document of `--json` and results.json (docs/lab.md). */
export function labDocument(results: Record<string, LazyInitBootResult>): { pagelab: 'lab'; schema: 2; experiments: Record<string, LazyInitBootResult> } {
  return { pagelab: 'lab', schema: 2, experiments: results };
}
