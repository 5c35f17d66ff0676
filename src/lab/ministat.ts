/**
 * ministat: FreeBSD's tool for telling whether two sets of measurements
 * differ, as a library for the lab's experiments and as the `pagelab
 * ministat` command.
 *
 * It reproduces ministat's output to the byte: the ASCII plot, the
 * N/Min/Max/Median/Avg/Stddev table and Student's t verdicts, with C's %g
 * formatting (src/util/printf.ts). Two flavours exist because ministat
 * changed after 2015 and the only reference we can run here is the older one:
 *
 *   'freebsd' (default): today's FreeBSD usr.bin/ministat, the one FreeBSD
 *     developers paste into reviews. The median of an even count is the mean
 *     of the two middle values, a variance that rounding makes negative is
 *     clamped to 0, the relative half-width propagates the uncertainty of
 *     both means, and -q exists.
 *   'debian': ministat 20150715 as packaged by Debian (FreeBSD's 2015 code).
 *     Median is the upper middle value, no clamp (sqrt of a negative prints
 *     -nan), the relative half-width is the absolute one over the baseline
 *     mean, and there is no -q. The golden tests run this flavour against
 *     the real binary.
 */
import { PagelabError } from '../errors.js';
import { formatG, isCSpace, parseCDouble, parseCLongToInt, sprintf } from '../util/printf.js';

/** Which ministat to reproduce; see the module comment. */
export type MinistatFlavor = 'freebsd' | 'debian';

export const DEFAULT_MINISTAT_FLAVOR: MinistatFlavor = 'freebsd';

/** The confidence levels ministat knows, in percent: the columns of its t table. */
export const CONFIDENCE_LEVELS: readonly number[] = Object.freeze([80, 90, 95, 98, 99, 99.5]);

/** At most this many data sets are compared at once (one plot symbol each). */
export const MAX_DATASETS = 7;

/** Default plot width when standard output is not a terminal. */
export const DEFAULT_PLOT_WIDTH = 74;

/*
 * Two-sided Student's t critical values, ministat's own table to three
 * decimals (the figures it prints depend on these exact numbers).
 * Row = degrees of freedom; row 0 stands for every df above 100.
 * Columns follow CONFIDENCE_LEVELS.
 */
const STUDENT_T: readonly (readonly number[])[] = [
  [1.282, 1.645, 1.960, 2.326, 2.576, 3.090], // df > 100 (the normal distribution)
  [3.078, 6.314, 12.706, 31.821, 63.657, 318.313], // df = 1
  [1.886, 2.920, 4.303, 6.965, 9.925, 22.327], // df = 2
  [1.638, 2.353, 3.182, 4.541, 5.841, 10.215], // df = 3
  [1.533, 2.132, 2.776, 3.747, 4.604, 7.173], // df = 4
  [1.476, 2.015, 2.571, 3.365, 4.032, 5.893], // df = 5
  [1.440, 1.943, 2.447, 3.143, 3.707, 5.208], // df = 6
  [1.415, 1.895, 2.365, 2.998, 3.499, 4.782], // df = 7
  [1.397, 1.860, 2.306, 2.896, 3.355, 4.499], // df = 8
  [1.383, 1.833, 2.262, 2.821, 3.250, 4.296], // df = 9
  [1.372, 1.812, 2.228, 2.764, 3.169, 4.143], // df = 10
  [1.363, 1.796, 2.201, 2.718, 3.106, 4.024], // df = 11
  [1.356, 1.782, 2.179, 2.681, 3.055, 3.929], // df = 12
  [1.350, 1.771, 2.160, 2.650, 3.012, 3.852], // df = 13
  [1.345, 1.761, 2.145, 2.624, 2.977, 3.787], // df = 14
  [1.341, 1.753, 2.131, 2.602, 2.947, 3.733], // df = 15
  [1.337, 1.746, 2.120, 2.583, 2.921, 3.686], // df = 16
  [1.333, 1.740, 2.110, 2.567, 2.898, 3.646], // df = 17
  [1.330, 1.734, 2.101, 2.552, 2.878, 3.610], // df = 18
  [1.328, 1.729, 2.093, 2.539, 2.861, 3.579], // df = 19
  [1.325, 1.725, 2.086, 2.528, 2.845, 3.552], // df = 20
  [1.323, 1.721, 2.080, 2.518, 2.831, 3.527], // df = 21
  [1.321, 1.717, 2.074, 2.508, 2.819, 3.505], // df = 22
  [1.319, 1.714, 2.069, 2.500, 2.807, 3.485], // df = 23
  [1.318, 1.711, 2.064, 2.492, 2.797, 3.467], // df = 24
  [1.316, 1.708, 2.060, 2.485, 2.787, 3.450], // df = 25
  [1.315, 1.706, 2.056, 2.479, 2.779, 3.435], // df = 26
  [1.314, 1.703, 2.052, 2.473, 2.771, 3.421], // df = 27
  [1.313, 1.701, 2.048, 2.467, 2.763, 3.408], // df = 28
  [1.311, 1.699, 2.045, 2.462, 2.756, 3.396], // df = 29
  [1.310, 1.697, 2.042, 2.457, 2.750, 3.385], // df = 30
  [1.309, 1.696, 2.040, 2.453, 2.744, 3.375], // df = 31
  [1.309, 1.694, 2.037, 2.449, 2.738, 3.365], // df = 32
  [1.308, 1.692, 2.035, 2.445, 2.733, 3.356], // df = 33
  [1.307, 1.691, 2.032, 2.441, 2.728, 3.348], // df = 34
  [1.306, 1.690, 2.030, 2.438, 2.724, 3.340], // df = 35
  [1.306, 1.688, 2.028, 2.434, 2.719, 3.333], // df = 36
  [1.305, 1.687, 2.026, 2.431, 2.715, 3.326], // df = 37
  [1.304, 1.686, 2.024, 2.429, 2.712, 3.319], // df = 38
  [1.304, 1.685, 2.023, 2.426, 2.708, 3.313], // df = 39
  [1.303, 1.684, 2.021, 2.423, 2.704, 3.307], // df = 40
  [1.303, 1.683, 2.020, 2.421, 2.701, 3.301], // df = 41
  [1.302, 1.682, 2.018, 2.418, 2.698, 3.296], // df = 42
  [1.302, 1.681, 2.017, 2.416, 2.695, 3.291], // df = 43
  [1.301, 1.680, 2.015, 2.414, 2.692, 3.286], // df = 44
  [1.301, 1.679, 2.014, 2.412, 2.690, 3.281], // df = 45
  [1.300, 1.679, 2.013, 2.410, 2.687, 3.277], // df = 46
  [1.300, 1.678, 2.012, 2.408, 2.685, 3.273], // df = 47
  [1.299, 1.677, 2.011, 2.407, 2.682, 3.269], // df = 48
  [1.299, 1.677, 2.010, 2.405, 2.680, 3.265], // df = 49
  [1.299, 1.676, 2.009, 2.403, 2.678, 3.261], // df = 50
  [1.298, 1.675, 2.008, 2.402, 2.676, 3.258], // df = 51
  [1.298, 1.675, 2.007, 2.400, 2.674, 3.255], // df = 52
  [1.298, 1.674, 2.006, 2.399, 2.672, 3.251], // df = 53
  [1.297, 1.674, 2.005, 2.397, 2.670, 3.248], // df = 54
  [1.297, 1.673, 2.004, 2.396, 2.668, 3.245], // df = 55
  [1.297, 1.673, 2.003, 2.395, 2.667, 3.242], // df = 56
  [1.297, 1.672, 2.002, 2.394, 2.665, 3.239], // df = 57
  [1.296, 1.672, 2.002, 2.392, 2.663, 3.237], // df = 58
  [1.296, 1.671, 2.001, 2.391, 2.662, 3.234], // df = 59
  [1.296, 1.671, 2.000, 2.390, 2.660, 3.232], // df = 60
  [1.296, 1.670, 2.000, 2.389, 2.659, 3.229], // df = 61
  [1.295, 1.670, 1.999, 2.388, 2.657, 3.227], // df = 62
  [1.295, 1.669, 1.998, 2.387, 2.656, 3.225], // df = 63
  [1.295, 1.669, 1.998, 2.386, 2.655, 3.223], // df = 64
  [1.295, 1.669, 1.997, 2.385, 2.654, 3.220], // df = 65
  [1.295, 1.668, 1.997, 2.384, 2.652, 3.218], // df = 66
  [1.294, 1.668, 1.996, 2.383, 2.651, 3.216], // df = 67
  [1.294, 1.668, 1.995, 2.382, 2.650, 3.214], // df = 68
  [1.294, 1.667, 1.995, 2.382, 2.649, 3.213], // df = 69
  [1.294, 1.667, 1.994, 2.381, 2.648, 3.211], // df = 70
  [1.294, 1.667, 1.994, 2.380, 2.647, 3.209], // df = 71
  [1.293, 1.666, 1.993, 2.379, 2.646, 3.207], // df = 72
  [1.293, 1.666, 1.993, 2.379, 2.645, 3.206], // df = 73
  [1.293, 1.666, 1.993, 2.378, 2.644, 3.204], // df = 74
  [1.293, 1.665, 1.992, 2.377, 2.643, 3.202], // df = 75
  [1.293, 1.665, 1.992, 2.376, 2.642, 3.201], // df = 76
  [1.293, 1.665, 1.991, 2.376, 2.641, 3.199], // df = 77
  [1.292, 1.665, 1.991, 2.375, 2.640, 3.198], // df = 78
  [1.292, 1.664, 1.990, 2.374, 2.640, 3.197], // df = 79
  [1.292, 1.664, 1.990, 2.374, 2.639, 3.195], // df = 80
  [1.292, 1.664, 1.990, 2.373, 2.638, 3.194], // df = 81
  [1.292, 1.664, 1.989, 2.373, 2.637, 3.193], // df = 82
  [1.292, 1.663, 1.989, 2.372, 2.636, 3.191], // df = 83
  [1.292, 1.663, 1.989, 2.372, 2.636, 3.190], // df = 84
  [1.292, 1.663, 1.988, 2.371, 2.635, 3.189], // df = 85
  [1.291, 1.663, 1.988, 2.370, 2.634, 3.188], // df = 86
  [1.291, 1.663, 1.988, 2.370, 2.634, 3.187], // df = 87
  [1.291, 1.662, 1.987, 2.369, 2.633, 3.185], // df = 88
  [1.291, 1.662, 1.987, 2.369, 2.632, 3.184], // df = 89
  [1.291, 1.662, 1.987, 2.368, 2.632, 3.183], // df = 90
  [1.291, 1.662, 1.986, 2.368, 2.631, 3.182], // df = 91
  [1.291, 1.662, 1.986, 2.368, 2.630, 3.181], // df = 92
  [1.291, 1.661, 1.986, 2.367, 2.630, 3.180], // df = 93
  [1.291, 1.661, 1.986, 2.367, 2.629, 3.179], // df = 94
  [1.291, 1.661, 1.985, 2.366, 2.629, 3.178], // df = 95
  [1.290, 1.661, 1.985, 2.366, 2.628, 3.177], // df = 96
  [1.290, 1.661, 1.985, 2.365, 2.627, 3.176], // df = 97
  [1.290, 1.661, 1.984, 2.365, 2.627, 3.175], // df = 98
  [1.290, 1.660, 1.984, 2.365, 2.626, 3.175], // df = 99
  [1.290, 1.660, 1.984, 2.364, 2.626, 3.174], // df = 100
];

/* Plot symbols by data set number (1-based); a cell shared by sets shows the OR of their numbers. */
const SYMBOLS = ' x+*%#@O';

/* A NaN with the sign bit set: what x86-64 produces for sqrt of a negative, which glibc prints as "-nan". */
const NEGATIVE_NAN = new Float64Array(new BigUint64Array([0xfff8000000000000n]).buffer)[0];

/*
 * Column of the t table for a confidence level.
 * Requires nothing. Guarantees: the index into CONFIDENCE_LEVELS, or throws
 * EINVAL naming the level and the supported ones.
 */
function confidenceIndex(confidence: number): number {
  const index = CONFIDENCE_LEVELS.indexOf(confidence);
  if (index < 0) {
    throw new PagelabError(
      'EINVAL',
      `No support for confidence level ${confidence}% (ministat knows ${CONFIDENCE_LEVELS.join(', ')})`,
    );
  }
  return index;
}

/**
 * The two-sided Student's t critical value ministat uses for `degreesOfFreedom`
 * at `confidence` percent: its table row for df <= 100, the normal
 * distribution's value beyond.
 * Requires: degreesOfFreedom is a positive integer; confidence is one of
 * CONFIDENCE_LEVELS. Throws EINVAL otherwise.
 */
export function studentT(degreesOfFreedom: number, confidence: number): number {
  if (!Number.isInteger(degreesOfFreedom) || degreesOfFreedom < 1) {
    throw new PagelabError('EINVAL', `Student's t: degrees of freedom must be a positive integer, got ${degreesOfFreedom}`);
  }
  const column = confidenceIndex(confidence);
  return STUDENT_T[degreesOfFreedom > 100 ? 0 : degreesOfFreedom][column];
}

/** Summary statistics of one sample, as ministat prints them. */
export interface Summary {
  n: number;
  min: number;
  max: number;
  median: number;
  mean: number;
  stddev: number;
  /**
   * The sample variance exactly as ministat computes it from running sums;
   * comparisons use it rather than stddev² so that they match ministat's
   * last digit (and, in the Debian flavour, stay finite when rounding made
   * it slightly negative).
   */
  variance: number;
}

/** What a comparison needs of each sample. `variance`, when present, is preferred over stddev². */
export interface SummaryStatistics {
  n: number;
  mean: number;
  stddev: number;
  variance?: number;
}

export interface FlavorOption {
  /** Which ministat to reproduce; default 'freebsd'. */
  flavor?: MinistatFlavor;
}

/* ministat's comparator: NaN compares equal to everything, like its dbl_cmp. */
function compareDoubles(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/*
 * An ascending sorted copy made the way glibc's qsort sorts (Debian's
 * ministat calls qsort): a top-down merge sort taking from the left run on
 * ties. Being stable, it decides whether -0 or 0 comes first among equal
 * values, which %g shows; following glibc's exact merge order also gives
 * NaNs, which compare equal to everything, the same places.
 */
function sortedCopy(values: ArrayLike<number>): Float64Array {
  const sorted = Float64Array.from(values);
  const scratchRun = new Float64Array(sorted.length);
  const mergeSort = (start: number, count: number): void => {
    if (count <= 1) return;
    const leftCount = Math.floor(count / 2);
    const rightCount = count - leftCount;
    mergeSort(start, leftCount);
    mergeSort(start + leftCount, rightCount);
    let left = start;
    let right = start + leftCount;
    const leftEnd = right;
    const end = start + count;
    let out = 0;
    while (left < leftEnd && right < end) {
      scratchRun[out++] = compareDoubles(sorted[left], sorted[right]) <= 0 ? sorted[left++] : sorted[right++];
    }
    while (left < leftEnd) scratchRun[out++] = sorted[left++];
    // What is left of the right run is already in place.
    sorted.set(scratchRun.subarray(0, out), start);
  };
  mergeSort(0, sorted.length);
  return sorted;
}

/*
 * Sum and sum of squares in input order, as ministat accumulates them while
 * reading: the order changes the last bits, and so sometimes a printed digit.
 */
function runningSums(values: ArrayLike<number>): { sum: number; sumOfSquares: number } {
  let sum = 0;
  let sumOfSquares = 0;
  for (let i = 0; i < values.length; i++) {
    const a = values[i];
    sum += a;
    sumOfSquares += a * a;
  }
  return { sum, sumOfSquares };
}

/*
 * Summary of a sample whose sorted copy is at hand.
 * Requires: sorted is `values` in ascending order, length >= 1.
 */
function summarizeSorted(values: ArrayLike<number>, sorted: Float64Array, flavor: MinistatFlavor): Summary {
  const n = sorted.length;
  const { sum, sumOfSquares } = runningSums(values);
  const half = Math.floor(n / 2);
  const median = flavor === 'freebsd' && n % 2 === 0 ? (sorted[half] + sorted[half - 1]) / 2 : sorted[half];
  const correction = (sum * sum) / n;
  let variance = (sumOfSquares - correction) / (n - 1.0);
  if (flavor === 'freebsd' && sumOfSquares <= correction) variance = 0;
  const stddev = variance < 0 ? NEGATIVE_NAN : Math.sqrt(variance);
  return { n, min: sorted[0], max: sorted[n - 1], median, mean: sum / n, stddev, variance };
}

/**
 * ministat's statistics of a sample: count, minimum, maximum, median (upper
 * middle value for an even count in the Debian flavour, mean of the two
 * middle values in today's FreeBSD), mean, and sample standard deviation
 * from running sums, (Σa² − (Σa)²/n)/(n − 1).
 * Requires: at least one value. Does not modify `values` (sorts a copy).
 * Guarantees: the numbers ministat prints for the same values in the same
 * order, to the last bit.
 */
export function summarize(values: ArrayLike<number>, options: FlavorOption = {}): Summary {
  if (values.length < 1) throw new PagelabError('EINVAL', 'summarize: the sample is empty');
  return summarizeSorted(values, sortedCopy(values), options.flavor ?? DEFAULT_MINISTAT_FLAVOR);
}

/** The outcome of comparing a candidate sample with a baseline, as ministat's Student's t test. */
export interface Comparison {
  /** Whether |difference| exceeds halfWidth: "Difference at …" rather than "No difference proven …". */
  significant: boolean;
  /** candidate mean − baseline mean. */
  difference: number;
  /** Half-width of the confidence interval of the difference: t × s_pooled × √(1/n₁ + 1/n₂). */
  halfWidth: number;
  /** difference as a percentage of the baseline mean. */
  percent: number;
  /** Half-width of the percentage, per the flavour (see the module comment). */
  percentHalfWidth: number;
  /** Pooled standard deviation. */
  pooledStddev: number;
  /** The t value used. */
  t: number;
  /** Degrees of freedom, n₁ + n₂ − 2. */
  df: number;
  /** Confidence level in percent. */
  confidence: number;
}

/* Rejects a sample too small for a pooled variance; `role` names it in the message. */
function checkSummary(s: SummaryStatistics, role: string): void {
  if (!Number.isInteger(s.n) || s.n < 2) {
    throw new PagelabError('EINVAL', `${role}: a comparison needs at least 2 values per sample, got n = ${s.n}`);
  }
}

/**
 * Student's t comparison of `candidate` against `baseline`, ministat's
 * Relative(): pooled standard deviation, t from ministat's table at
 * n₁ + n₂ − 2 degrees of freedom, difference = candidate − baseline.
 * Works from summary statistics alone (n, mean, stddev), e.g. numbers
 * copied from a ministat report; pass `variance` (as summarize() returns)
 * to reproduce ministat on raw data to the last digit.
 * Requires: n >= 2 in each; confidence in CONFIDENCE_LEVELS (default 95).
 * Guarantees: swapping the samples negates difference and keeps
 * `significant`; throws EINVAL on bad input.
 */
export function compareSummaries(
  baseline: SummaryStatistics,
  candidate: SummaryStatistics,
  confidence = 95,
  options: FlavorOption = {},
): Comparison {
  checkSummary(baseline, 'baseline');
  checkSummary(candidate, 'candidate');
  const flavor = options.flavor ?? DEFAULT_MINISTAT_FLAVOR;
  // ministat's names: ds is the set being compared, rs the reference.
  const ds = candidate;
  const rs = baseline;
  const varDs = ds.variance ?? ds.stddev * ds.stddev;
  const varRs = rs.variance ?? rs.stddev * rs.stddev;
  const df = ds.n + rs.n - 2;
  const t = studentT(df, confidence);
  const pooledStddev = Math.sqrt(((ds.n - 1) * varDs + (rs.n - 1) * varRs) / df);
  const s = pooledStddev * Math.sqrt(1.0 / ds.n + 1.0 / rs.n);
  const difference = ds.mean - rs.mean;
  const halfWidth = t * s;
  let percentHalfWidth: number;
  if (flavor === 'freebsd') {
    // Today's FreeBSD also carries the baseline mean's uncertainty into the
    // ratio. The C code multiplies the two unsigned counts in 32 bits.
    let re = (ds.n - 1) * varDs + ((((rs.n - 1) * varRs) * (ds.mean * ds.mean)) / (rs.mean * rs.mean));
    re *= (ds.n + rs.n) / ((Math.imul(ds.n, rs.n) >>> 0) * (ds.n + rs.n - 2.0));
    percentHalfWidth = ((t * Math.sqrt(re)) * 100) / rs.mean;
  } else {
    percentHalfWidth = (halfWidth * 100) / rs.mean;
  }
  return {
    significant: Math.abs(difference) > halfWidth,
    difference,
    halfWidth,
    percent: (difference * 100) / rs.mean,
    percentHalfWidth,
    pooledStddev,
    t,
    df,
    confidence,
  };
}

/**
 * compareSummaries on raw samples: summarize() both (same flavour) and compare.
 * Requires: at least 2 values in each.
 */
export function compareSamples(
  baseline: ArrayLike<number>,
  candidate: ArrayLike<number>,
  confidence = 95,
  options: FlavorOption = {},
): Comparison {
  if (baseline.length < 2 || candidate.length < 2) {
    throw new PagelabError('EINVAL', `compareSamples: each sample needs at least 2 values (got ${baseline.length} and ${candidate.length})`);
  }
  return compareSummaries(summarize(baseline, options), summarize(candidate, options), confidence, options);
}

/**
 * The verdict lines ministat prints for a comparison, without a final newline:
 *   Difference at 95.0% confidence
 *   <TAB>782.534 +/- 55.0727
 *   <TAB>846.087% +/- 138.817%
 *   <TAB>(Student's t, pooled s = 58.6132)
 * or the single line "No difference proven at 95.0% confidence".
 */
export function formatVerdict(result: Comparison): string {
  const level = sprintf('%.1f', result.confidence);
  if (!result.significant) return `No difference proven at ${level}% confidence`;
  return [
    `Difference at ${level}% confidence`,
    `\t${formatG(result.difference)} +/- ${formatG(result.halfWidth)}`,
    `\t${formatG(result.percent)}% +/- ${formatG(result.percentHalfWidth)}%`,
    `\t(Student's t, pooled s = ${formatG(result.pooledStddev)})`,
  ].join('\n');
}

/** One named sample, values in the order they were measured. */
export interface MinistatDataset {
  name: string;
  values: ArrayLike<number>;
}

/** How to read a data file. */
export interface ReadOptions {
  /** 1-based column to take (-C); default 1. */
  column?: number;
  /** Characters that separate columns, any run of them counting as one (-d); default " \t". */
  delimiters?: string;
}

/* fgets(buf, BUFSIZ) hands lines to ministat in pieces of at most BUFSIZ - 1 = 8191 characters. */
const FGETS_CHUNK = 8191;

/*
 * Splits text into the strings successive fgets() calls would return.
 * Requires nothing. Guarantees: each piece ends at a newline (included) or
 * after FGETS_CHUNK characters or at the end of the text; none is empty.
 */
function fgetsLines(text: string): string[] {
  const lines: string[] = [];
  let i = 0;
  while (i < text.length) {
    const newline = text.indexOf('\n', i);
    const lineEnd = newline < 0 ? text.length : newline + 1;
    const end = Math.min(lineEnd, i + FGETS_CHUNK);
    lines.push(text.slice(i, end));
    i = end;
  }
  return lines;
}

/* strtok(): the maximal runs of characters not in `delimiters`. */
function tokens(line: string, delimiters: string): string[] {
  const found: string[] = [];
  let start = -1;
  for (let i = 0; i <= line.length; i++) {
    const isDelimiter = i === line.length || delimiters.includes(line[i]);
    if (isDelimiter) {
      if (start >= 0) found.push(line.slice(start, i));
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  return found;
}

/**
 * Reads a data file as ministat does: per line, trailing white space
 * dropped, columns split on any run of `delimiters`, the `column`-th taken;
 * lines that are empty, too short, or reach a field starting with `#` are
 * skipped; the field must be a whole C number (strtod: decimal, hex, inf,
 * nan). Lines are counted as fgets() returns them.
 * Requires: column >= 1; delimiters non-empty.
 * Guarantees: the values in file order; throws EINVAL
 * "Invalid data on line N in NAME" or
 * "Dataset NAME must contain at least 3 data points".
 */
export function readDataset(text: string, name: string, options: ReadOptions = {}): MinistatDataset {
  const column = options.column ?? 1;
  const delimiters = options.delimiters ?? ' \t';
  if (!Number.isInteger(column) || column < 1) throw new PagelabError('EINVAL', `Column number should be positive, got ${column}`);
  if (delimiters === '') throw new PagelabError('EINVAL', "Can't use empty delimiter string");
  const values: number[] = [];
  let lineNumber = 0;
  for (const piece of fgetsLines(text)) {
    lineNumber++;
    // C string functions stop at a NUL byte.
    const nul = piece.indexOf('\0');
    let line = nul < 0 ? piece : piece.slice(0, nul);
    let end = line.length;
    while (end > 0 && isCSpace(line.charCodeAt(end - 1))) end--;
    line = line.slice(0, end);
    let field: string | undefined;
    const fields = tokens(line, delimiters);
    for (let i = 0; i < fields.length && !fields[i].startsWith('#'); i++) {
      if (i + 1 === column) {
        field = fields[i];
        break;
      }
    }
    if (field === undefined) continue;
    const parsed = parseCDouble(field);
    if (parsed.end !== field.length) {
      throw new PagelabError('EINVAL', `Invalid data on line ${lineNumber} in ${name}`);
    }
    values.push(parsed.value);
  }
  if (values.length < 3) {
    throw new PagelabError('EINVAL', `Dataset ${name} must contain at least 3 data points`);
  }
  return { name, values: Float64Array.from(values) };
}

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

/** What ministatMain may touch of the outside world. */
export interface MinistatIO {
  /** Contents of a file; throws (as fs.readFileSync does) when it cannot be read. */
  readFile(path: string): string;
  /** All of standard input; called at most once. */
  stdin(): string;
  /**
   * Present when standard output is a terminal; ministat then sizes the
   * plot to it: $COLUMNS if set and non-empty, else the window width − 2.
   */
  terminal?: { columnsEnv?: string; windowColumns?: number };
}

/** What a run of the command produced. */
export interface MinistatRun {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/* The one-line synopsis appended to option errors, listing the flavour's flags. */
function usageSynopsis(flavor: MinistatFlavor): string {
  const flags = flavor === 'freebsd' ? '-Anqs' : '-Ans';
  return `usage: ministat [${flags}] [-C column] [-c confidence] [-d delimiters] [-w width] [file ...]`;
}

/* A command-line error: exit status 2, like ministat's usage(). */
function usageError(message: string): PagelabError {
  return new PagelabError('EUSAGE', message);
}

/* Quotes an argument for an error message when it would otherwise be invisible. */
function shown(arg: string): string {
  return arg === '' || /\s/.test(arg) ? JSON.stringify(arg) : arg;
}

/*
 * getopt(3) over `args` for `optionLetters` (a letter followed by ':' takes
 * an argument), calling `onOption` in command-line order so that errors come
 * out in ministat's order. POSIX getopt, as on FreeBSD, stops at the first
 * operand; GNU getopt, as in Debian's build, permutes and keeps looking.
 * "--" ends the options; "-" alone is an operand.
 * Guarantees: the operands in order; throws EUSAGE for an unknown option or
 * a missing argument.
 */
function getopt(
  args: readonly string[],
  optionLetters: string,
  permute: boolean,
  onOption: (letter: string, argument: string | undefined) => void,
  flavor: MinistatFlavor,
): string[] {
  const operands: string[] = [];
  let i = 0;
  while (i < args.length) {
    const arg = args[i++];
    if (arg === '--') {
      operands.push(...args.slice(i));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      operands.push(arg);
      if (!permute) {
        operands.push(...args.slice(i));
        break;
      }
      continue;
    }
    for (let k = 1; k < arg.length; k++) {
      const letter = arg[k];
      const at = letter === ':' ? -1 : optionLetters.indexOf(letter);
      if (at < 0) throw usageError(`Unknown option -${letter} (${usageSynopsis(flavor)})`);
      if (optionLetters[at + 1] !== ':') {
        onOption(letter, undefined);
        continue;
      }
      let argument: string;
      if (k + 1 < arg.length) {
        argument = arg.slice(k + 1);
      } else if (i < args.length) {
        argument = args[i++];
      } else {
        throw usageError(`option requires an argument -- '${letter}' (${usageSynopsis(flavor)})`);
      }
      onOption(letter, argument);
      break;
    }
  }
  return operands;
}

/* strerror() wording for the errors fopen() reports most. */
function openFailure(error: unknown): string {
  const code = (error as { code?: string }).code;
  switch (code) {
    case 'ENOENT':
      return 'No such file or directory';
    case 'EACCES':
      return 'Permission denied';
    case 'ENOTDIR':
      return 'Not a directory';
    case 'ELOOP':
      return 'Too many levels of symbolic links';
    case 'ENAMETOOLONG':
      return 'File name too long';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

/**
 * `pagelab ministat [-Anqs] [-C column] [-c confidence] [-d delimiters]
 * [-w width] [file ...]`: parses `args` (the words after the command name)
 * as ministat's getopt loop does (combined flags, -c95 or -c 95), reads the
 * files (none, or "-", means standard input, named "<stdin>"), and returns
 * what ministat would print.
 * Differences, all on failure: every error is one line on stderr prefixed
 * "ministat: ", naming the offending option, file or line, and exits 2
 * (ministat prints its usage text, and exits 1 when it cannot open a file);
 * plot widths below 2 and non-finite plotted values are refused instead of
 * crashing. The Debian flavour rejects -q, as that ministat does.
 * Requires nothing; never throws PagelabError (other exceptions are bugs).
 */
export function ministatMain(args: readonly string[], io: MinistatIO, options: FlavorOption = {}): MinistatRun {
  const flavor = options.flavor ?? DEFAULT_MINISTAT_FLAVOR;
  try {
    return { stdout: runMinistat(args, io, flavor), stderr: '', exitCode: 0 };
  } catch (error) {
    if (error instanceof PagelabError) return { stdout: '', stderr: `ministat: ${error.message}\n`, exitCode: 2 };
    throw error;
  }
}

/* The body of ministatMain; throws PagelabError for every user error. */
function runMinistat(args: readonly string[], io: MinistatIO, flavor: MinistatFlavor): string {
  let width = DEFAULT_PLOT_WIDTH;
  if (io.terminal !== undefined) {
    const { columnsEnv, windowColumns } = io.terminal;
    if (columnsEnv !== undefined && columnsEnv !== '') width = parseCLongToInt(columnsEnv).value;
    else if (windowColumns !== undefined && windowColumns > 0) width = windowColumns - 2;
  }
  const render: RenderOptions = { flavor };
  let column = 1;
  let delimiters = ' \t';
  // ministat keeps the last recognised level: "-c 80 -c 97" runs at 80%.
  let confidenceColumn = -1;
  const letters = flavor === 'freebsd' ? 'AC:c:d:nqsw:' : 'AC:c:d:snw:';
  const operands = getopt(
    args,
    letters,
    flavor === 'debian',
    (letter, argument = '') => {
      switch (letter) {
        case 'A':
          render.suppressPlot = true;
          break;
        case 'C': {
          const parsed = parseCLongToInt(argument);
          if (parsed.end !== argument.length) throw usageError(`Invalid column number: -C ${shown(argument)}`);
          if (parsed.value <= 0) throw usageError(`Column number should be positive: -C ${shown(argument)}`);
          column = parsed.value;
          break;
        }
        case 'c': {
          const parsed = parseCDouble(argument);
          if (parsed.end !== argument.length) throw usageError(`Not a floating point number: -c ${shown(argument)}`);
          const index = CONFIDENCE_LEVELS.indexOf(parsed.value);
          if (index >= 0) confidenceColumn = index;
          if (confidenceColumn < 0) {
            throw usageError(`No support for confidence level: -c ${shown(argument)} (use one of ${CONFIDENCE_LEVELS.join(', ')})`);
          }
          break;
        }
        case 'd':
          if (argument === '') throw usageError(`Can't use empty delimiter string: -d ""`);
          delimiters = argument;
          break;
        case 'n':
          render.summaryOnly = true;
          break;
        case 'q':
          render.quiet = true;
          break;
        case 's':
          render.separateBars = true;
          break;
        case 'w': {
          const parsed = parseCLongToInt(argument);
          if (parsed.end !== argument.length) throw usageError(`Invalid width, not a number: -w ${shown(argument)}`);
          if (parsed.value < 0) throw usageError(`Unable to move beyond left margin: -w ${shown(argument)}`);
          width = parsed.value;
          break;
        }
      }
    },
    flavor,
  );
  render.confidence = CONFIDENCE_LEVELS[confidenceColumn < 0 ? 2 : confidenceColumn];
  render.width = width;

  const names = operands.length === 0 ? ['-'] : operands;
  if (names.length > MAX_DATASETS) {
    throw usageError(`Too many datasets: ${names.length} files given, ministat compares at most ${MAX_DATASETS}`);
  }
  let stdinTaken = false;
  const open = (name: string): { label: string; text: string } => {
    if (name === '-') {
      // A second "-" finds standard input at its end, as in C.
      const text = stdinTaken ? '' : io.stdin();
      stdinTaken = true;
      return { label: '<stdin>', text };
    }
    try {
      return { label: name, text: io.readFile(name) };
    } catch (error) {
      // fopen() succeeds on a directory and reading it yields nothing.
      if ((error as { code?: string }).code === 'EISDIR') return { label: name, text: '' };
      throw new PagelabError('EINVAL', `Cannot open ${name}: ${openFailure(error)}`);
    }
  };
  const read = (file: { label: string; text: string }): MinistatDataset =>
    readDataset(file.text, file.label, { column, delimiters });
  let datasets: MinistatDataset[];
  if (flavor === 'freebsd') {
    // Today's ministat opens every file before reading any (then enters its sandbox).
    datasets = names.map(open).map(read);
  } else {
    datasets = names.map((name) => read(open(name)));
  }
  return renderMinistat(datasets, render);
}
