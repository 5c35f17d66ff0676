/*
 * What every fuzzer checks of what it provoked: an error is a PagelabError
 * whose message is one bounded, escaped line; a run of the command line exits
 * 0, 1 or 2 and prints an error as one such line; nothing is an "internal
 * error". A violation is a finding: a description and the input that caused it.
 */
import { MAX_MESSAGE_CHARS, PagelabError, type ErrorCode } from '../src/errors.js';

/* Characters no error line may carry raw (errors.ts escapes them). */
export const UNSAFE_IN_LINE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/* The same, but for report output, where newlines and tabs are layout. */
export const UNSAFE_IN_OUTPUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/;

export interface Finding {
  /** Which case of the run, to reproduce it with the same seed. */
  iteration: number;
  problem: string;
  /** The input, shortened for the report. */
  input: string;
}

export interface FuzzReport {
  name: string;
  seed: number;
  iterations: number;
  findings: Finding[];
  /** How many cases ended in each way ("ok", "EMEMMAP", "exit 2", ...), to see that the generator reaches both sides. */
  outcomes: Record<string, number>;
  /** The slowest case: the fuzzers' way of finding work that grows with hostile input. */
  slowest: { ms: number; input: string };
}

export function newReport(name: string, seed: number): FuzzReport {
  return { name, seed, iterations: 0, findings: [], outcomes: {}, slowest: { ms: 0, input: '' } };
}

/* Shortens `text` for a report: escaped, at most `max` characters. */
export function shorten(text: string, max = 300): string {
  const escaped = JSON.stringify(text.length > 4 * max ? text.slice(0, 4 * max) : text);
  return escaped.length > max ? `${escaped.slice(0, max)}... (${text.length} characters)` : escaped;
}

/*
 * Why `e` is not an acceptable error, or null: it must be a PagelabError with
 * one of `codes` (any code when omitted), and its message one safe line of at
 * most MAX_MESSAGE_CHARS.
 */
export function errorProblem(e: unknown, codes?: readonly ErrorCode[]): string | null {
  if (!(e instanceof PagelabError)) return `not a PagelabError: ${String((e as Error)?.stack ?? e).slice(0, 400)}`;
  if (codes !== undefined && !codes.includes(e.code)) return `unexpected code ${e.code}: ${e.message}`;
  return lineProblem(e.message, MAX_MESSAGE_CHARS);
}

/* Why `line` is not one safe line of at most `max` characters, or null. */
export function lineProblem(line: string, max: number): string | null {
  if (line.length > max) return `message of ${line.length} characters (limit ${max})`;
  const m = UNSAFE_IN_LINE.exec(line);
  if (m !== null) return `raw U+${m[0].charCodeAt(0).toString(16).padStart(4, '0')} at ${m.index} in ${shorten(line, 200)}`;
  return null;
}

export function note(report: FuzzReport, outcome: string, ms: number, input: () => string): void {
  report.iterations++;
  report.outcomes[outcome] = (report.outcomes[outcome] ?? 0) + 1;
  if (ms > report.slowest.ms) report.slowest = { ms, input: input() };
}
