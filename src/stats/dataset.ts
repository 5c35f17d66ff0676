/**
 * ministat's reader: a column of numbers from text, as its fgets/strtok/
 * strtod loop reads it (line limits, delimiters, comments, C number syntax).
 */
import { PagelabError } from '../errors.js';
import { isCSpace, parseCDouble } from './printf.js';

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

