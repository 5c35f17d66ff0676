/**
 * The laboratory's library face: each experiment is a function that takes
 * options and returns a plain JSON-able result, and each result renders as
 * a terminal report, a Chrome trace and a self-contained HTML page. No argv,
 * no files, no progress bar here: `pagelab lab` (src/cli/lab.ts) does those.
 */
import { runLazyInitBoot, type LazyInitBootOptions, type LazyInitBootResult } from './lazy-init-boot.js';
import { renderHtml, renderText, traceOf } from './report.js';
import { runPrezeroVmStart, type PrezeroOptions, type PrezeroResult } from './prezero-vm-start.js';
import { renderPrezeroHtml, renderPrezeroText, prezeroTrace } from './prezero-report.js';
import { runWire, type WireResult } from './wire.js';
import { renderWireHtml, renderWireText, wireTrace } from './wire-report.js';
import { runKstackPindex, type KstackPindexOptions, type KstackPindexResult } from './kstack-pindex.js';
import { renderKstackHtml, renderKstackText } from './kstack-report.js';

export { runLazyInitBoot, parseSizes, DEFAULT_RUNS, DEFAULT_SIZES, DEFAULT_SCALE_ABOVE, DEFAULT_WALL_EAGER_MAX } from './lazy-init-boot.js';
export type { LazyInitBootOptions, LazyInitBootResult, PublishedComparison, WallSample } from './lazy-init-boot.js';
export { renderHtml, renderText, traceOf } from './report.js';
export { runPrezeroVmStart, DEFAULT_SCALE, DEFAULT_MEASURED_GUEST, DEFAULT_MEASURED_HOST, DEFAULT_PREZERO_RUNS, POLICY_CASES } from './prezero-vm-start.js';
export type { PrezeroOptions, PrezeroResult } from './prezero-vm-start.js';
export { renderPrezeroHtml, renderPrezeroText, prezeroTrace } from './prezero-report.js';
export { runWire, reviewScenarios, SEED_FIGURES, DEFAULT_WIRE_WALL_BYTES, DEFAULT_WIRE_SIM_BYTES } from './wire.js';
export type { WireOptions, WireResult } from './wire.js';
export { renderWireHtml, renderWireText, wireTrace } from './wire-report.js';
export { runKstackPindex, checkKstackPindexOptions, DEFAULT_CHURN, DEFAULT_SEED, DEFAULT_SWEEP, DEFAULT_THREADS } from './kstack-pindex.js';
export type { KstackPindexOptions, KstackPindexResult } from './kstack-pindex.js';
export { renderKstackHtml, renderKstackText } from './kstack-report.js';

/** The wire experiment's fields of the bag (its own WireOptions names them differently). */
export interface WireLabOptions {
  /** wire: backed bytes wired per measured run. */
  wireBytes?: number;
  /** wire: bytes wired to count the simulated work (scaled to the 10 GiB guest). */
  wireSimBytes?: number;
}

/** Every experiment's options in one bag: each takes the fields it knows. */
export type LabRunOptions = LazyInitBootOptions & PrezeroOptions & WireLabOptions & KstackPindexOptions;

/* One experiment, typed by its result. */
export interface ExperimentOf<R> {
  name: ExperimentName;
  /** One line for usage texts. */
  description: string;
  run: (opts: LabRunOptions) => R | Promise<R>;
  renderText: (r: R) => string;
  renderHtml: (r: R) => Promise<string>;
  /** Chrome trace-event JSON of the simulated runs; null when the experiment has no timeline. */
  trace: ((r: R) => unknown) | null;
}

export type ExperimentName = 'lazy-init-boot' | 'prezero-vm-start' | 'wire' | 'kstack-pindex';
export type LabResult = LazyInitBootResult | PrezeroResult | WireResult | KstackPindexResult;
/** An experiment whose result the caller only passes back to its own renderers. */
export type Experiment = ExperimentOf<LabResult>;

const erase = <R extends LabResult>(e: ExperimentOf<R>): Experiment => e as unknown as Experiment;

export const EXPERIMENTS: readonly Experiment[] = [
  erase<LazyInitBootResult>({
    name: 'lazy-init-boot',
    description: 'page-structure initialisation at boot, eager vs lazy (D40403)',
    run: runLazyInitBoot,
    renderText,
    renderHtml,
    trace: traceOf,
  }),
  erase<PrezeroResult>({
    name: 'prezero-vm-start',
    description: 'pre-zeroing policies (vm.zero.policy) on a VFIO guest start (PG_zero RFC, seed 003)',
    run: runPrezeroVmStart,
    renderText: renderPrezeroText,
    renderHtml: renderPrezeroHtml,
    trace: prezeroTrace,
  }),
  erase<WireResult>({
    name: 'wire',
    description: 'wiring 10 GiB of bhyve guest memory on each vm.wire.fast path (seed 001)',
    run: (o) =>
      runWire({
        ...(o.runs !== undefined ? { runs: o.runs } : {}),
        ...(o.wireBytes !== undefined ? { wallBytes: o.wireBytes } : {}),
        ...(o.wireSimBytes !== undefined ? { simBytes: o.wireSimBytes } : {}),
        ...(o.onProgress !== undefined ? { onProgress: o.onProgress } : {}),
      }),
    renderText: renderWireText,
    renderHtml: renderWireHtml,
    trace: wireTrace,
  }),
  erase<KstackPindexResult>({
    name: 'kstack-pindex',
    description: 'kernel stacks in superpage reservations: linear, non-linear, aligned pindex (D38852)',
    run: runKstackPindex,
    renderText: renderKstackText,
    renderHtml: renderKstackHtml,
    trace: null,
  }),
];

export const EXPERIMENT_NAMES: readonly string[] = EXPERIMENTS.map((e) => e.name);

/** The results document of `--json` and results.json (docs/lab.md). */
export function labDocument(results: Record<string, LabResult>): { pagelab: 'lab'; schema: 2; experiments: Record<string, LabResult> } {
  return { pagelab: 'lab', schema: 2, experiments: results };
}
