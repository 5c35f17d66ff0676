/**
 * ministat's output: the ASCII plot, the N/Min/Max/Median/Avg/Stddev table
 * and the verdicts, byte for byte (C's %g through printf.ts).
 */
import { PagelabError } from '../errors.js';
import { formatG, sprintf } from './printf.js';
import { confidenceIndex } from './ttable.js';
import { DEFAULT_MINISTAT_FLAVOR, type FlavorOption, type Summary, compareSummaries, formatVerdict, sortedCopy, summarizeSorted } from './summary.js';
import { type MinistatDataset } from './dataset.js';

/** At most this many data sets are compared at once (one plot symbol each). */
export const MAX_DATASETS = 7;

/** Default plot width when standard output is not a terminal. */
export const DEFAULT_PLOT_WIDTH = 74;

export const SYMBOLS = ' x+*%#@O';

/** What to print; each field mirrors a ministat flag. */
export interface RenderOptions extends FlavorOption {
  /** -c: confidence level of the comparisons, one of CONFIDENCE_LEVELS; default 95. */
  confidence?: number;
  /** -w: plot width in characters between the borders; default 74. */
  width?: number;
  /** -A: no plot, but the statistics and the comparisons. */
  suppressPlot?: boolean;
  /** -n: the statistics only: no plot, no comparisons. */
  summaryOnly?: boolean;
  /** -s: one avg/median/stddev bar line per data set instead of a shared one. */
  separateBars?: boolean;
  /** -q: no data set names and no statistics header. */
  quiet?: boolean;
}

/* A data set ready to print: its values sorted and its statistics. */
interface PreparedSet {
  name: string;
  sorted: Float64Array;
  summary: Summary;
}

/* Plot widths beyond this would only exhaust memory. */
const MAX_PLOT_WIDTH = 10000;

/*
 * The ASCII plot, ministat's SetupPlot/DimPlot/PlotSet/DumpPlot.
 * Requires: width >= 2 (narrower plots index outside ministat's buffers);
 * every plotted position finite (checked by the caller).
 * Guarantees: ministat's characters, quirks included: a later data set with
 * shorter stacks of equal positions lowers the plot's height, hiding the
 * top of earlier stacks, exactly as ministat's reused buffer does.
 */
function renderPlot(sets: readonly PreparedSet[], width: number, separateBars: boolean): string {
  // The bounds start where ministat's do, so values beyond ±999e99 misplace the plot the same way.
  let min = 999e99;
  let max = -999e99;
  let span = 0;
  let dx = 0;
  let x0 = 0;
  const widen = (a: number): void => {
    if (a < min) min = a;
    if (a > max) max = a;
    span = max - min;
    dx = span / (width - 1.0);
    x0 = min - 0.5 * dx;
  };
  for (const { summary } of sets) {
    widen(summary.min);
    widen(summary.max);
    widen(summary.mean - summary.stddev);
    widen(summary.mean + summary.stddev);
  }
  if (span === 0) return '[no plot, span is zero width]\n';

  // C converts the scaled position to int by truncation.
  const column = (a: number): number => Math.trunc((a - x0) / dx);
  const rows: Uint8Array[] = [];
  let height = 0;
  const bars: (Uint8Array | undefined)[] = new Array(sets.length).fill(undefined);
  sets.forEach(({ sorted, summary }, index) => {
    const setNumber = index + 1;
    const barIndex = separateBars ? index : 0;
    const bar = (bars[barIndex] ??= new Uint8Array(width));
    let tallest = 1;
    let previous = -1;
    let stack = 0;
    for (const a of sorted) {
      const x = column(a);
      if (x === previous) {
        stack++;
        if (stack > tallest) tallest = stack;
      } else {
        stack = 1;
        previous = x;
      }
    }
    const needed = tallest + 1;
    if (needed > height) {
      for (let r = height; r < needed; r++) rows[r] = new Uint8Array(width);
    }
    height = needed;
    previous = -1;
    for (const a of sorted) {
      const x = column(a);
      if (x === previous) {
        stack++;
      } else {
        stack = 1;
        previous = x;
      }
      rows[stack][x] |= setNumber;
    }
    if (!Number.isNaN(summary.stddev)) {
      const left = column(summary.mean - summary.stddev);
      const right = column(summary.mean + summary.stddev);
      bar[right] = 0x7c; // '|'
      bar[left] = 0x7c;
      for (let i = left + 1; i < right; i++) if (bar[i] === 0) bar[i] = 0x5f; // '_'
    }
    bar[column(summary.median)] = 0x4d; // 'M'
    bar[column(summary.mean)] = 0x41; // 'A'
  });

  const border = `+${'-'.repeat(width)}+\n`;
  let out = border;
  for (let i = 1; i < height; i++) {
    const row = rows[height - i];
    let line = '|';
    for (let x = 0; x < width; x++) line += SYMBOLS[row[x]];
    out += `${line}|\n`;
  }
  for (const bar of bars) {
    if (bar === undefined) continue;
    let line = '|';
    for (let x = 0; x < width; x++) line += bar[x] === 0 ? ' ' : String.fromCharCode(bar[x]);
    out += `${line}|\n`;
  }
  return out + border;
}

/* The statistics line of one data set: "%c %3d %13.8g %13.8g %13.8g %13.8g %13.8g". */
function vitalsLine(symbol: string, s: Summary): string {
  // Each number goes straight to formatG: a NaN parked in a JS array may lose its sign bit.
  return `${symbol} ${sprintf('%3d', s.n)} ${formatG(s.min, 8, 13)} ${formatG(s.max, 8, 13)} ${formatG(s.median, 8, 13)} ${formatG(s.mean, 8, 13)} ${formatG(s.stddev, 8, 13)}\n`;
}

const VITALS_HEADER = '    N           Min           Max        Median           Avg        Stddev\n';

/**
 * The full text ministat prints for these data sets: names with their plot
 * symbols (x + * % # @ O), the plot, the statistics table, and each later
 * set's verdict against the first.
 * Requires: 1 to 7 data sets of at least 3 values each; confidence one of
 * CONFIDENCE_LEVELS; width an integer, at least 2 when a plot is drawn and
 * at most 10000; plotted values finite. Throws EINVAL otherwise (ministat
 * would crash or print garbage there).
 * Guarantees: byte-identical to ministat of the chosen flavour given the
 * same values in the same order and the same flags.
 */
export function renderMinistat(datasets: readonly MinistatDataset[], options: RenderOptions = {}): string {
  const flavor = options.flavor ?? DEFAULT_MINISTAT_FLAVOR;
  const confidence = options.confidence ?? 95;
  const width = options.width ?? DEFAULT_PLOT_WIDTH;
  confidenceIndex(confidence);
  if (datasets.length < 1 || datasets.length > MAX_DATASETS) {
    throw new PagelabError('EINVAL', `ministat compares 1 to ${MAX_DATASETS} data sets, got ${datasets.length}`);
  }
  const sets: PreparedSet[] = datasets.map(({ name, values }) => {
    if (values.length < 3) throw new PagelabError('EINVAL', `Dataset ${name} must contain at least 3 data points`);
    const sorted = sortedCopy(values);
    return { name, sorted, summary: summarizeSorted(values, sorted, flavor) };
  });
  const drawPlot = !options.summaryOnly && !options.suppressPlot;
  if (drawPlot) {
    if (!Number.isInteger(width) || width < 2 || width > MAX_PLOT_WIDTH) {
      throw new PagelabError('EINVAL', `Plot width ${width} is out of range: use 2 to ${MAX_PLOT_WIDTH} columns, or -A/-n to omit the plot`);
    }
    for (const { name, summary: s } of sets) {
      const stddevOk = Number.isNaN(s.stddev) || Number.isFinite(s.stddev);
      if (![s.min, s.max, s.median, s.mean].every(Number.isFinite) || !stddevOk) {
        throw new PagelabError('EINVAL', `Cannot plot ${name}: it has values or statistics that are not finite (use -A or -n)`);
      }
    }
  }

  let out = '';
  if (!options.quiet) sets.forEach((set, i) => (out += `${SYMBOLS[i + 1]} ${set.name}\n`));
  if (drawPlot) out += renderPlot(sets, width, options.separateBars === true);
  if (!options.quiet) out += VITALS_HEADER;
  out += vitalsLine(SYMBOLS[1], sets[0].summary);
  for (let i = 1; i < sets.length; i++) {
    out += vitalsLine(SYMBOLS[i + 1], sets[i].summary);
    if (!options.summaryOnly) {
      out += formatVerdict(compareSummaries(sets[0].summary, sets[i].summary, confidence, { flavor })) + '\n';
    }
  }
  return out;
}

