/**
 * ministat's arithmetic: summary statistics of one sample (computed from
 * running sums, as ministat does, so the last digit matches) and the
 * two-sample Student's t comparison with its verdict text.
 */
import { PagelabError } from '../errors.js';
import { formatG, sprintf } from './printf.js';
import { studentT } from './ttable.js';

/** Which ministat to reproduce; see the module comment. */
export type MinistatFlavor = 'freebsd' | 'debian';

export const DEFAULT_MINISTAT_FLAVOR: MinistatFlavor = 'freebsd';

/* A NaN with the sign bit set: what x86-64 produces for sqrt of a negative, which glibc prints as "-nan". */
export const NEGATIVE_NAN = new Float64Array(new BigUint64Array([0xfff8000000000000n]).buffer)[0];

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
export function compareDoubles(a: number, b: number): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/*
 * An ascending sorted copy made the way glibc's qsort sorts (Debian's
 * ministat calls qsort): a top-down merge sort taking from the left run on
 * ties. Being stable, it decides whether -0 or 0 comes first among equal
 * values, which %g shows; following glibc's exact merge order also gives
 * NaNs, which compare equal to everything, the same places.
 */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
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
export function summarizeSorted(values: ArrayLike<number>, sorted: Float64Array, flavor: MinistatFlavor): Summary {
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

