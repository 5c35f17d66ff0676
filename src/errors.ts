/**
 * The one error type pagelab throws for bad input and broken invariants.
 *
 * Every error carries a stable `code` (for programs) and a message that names
 * the offending thing (for people): the range, the address, the tunable, the
 * trace line. The CLI prints `message` alone and exits 2; `--debug` adds the
 * stack.
 */
export type ErrorCode =
  | 'EMEMMAP' // malformed or inconsistent physical memory map
  | 'ESIZE' // a size or address that does not parse
  | 'ETUNABLE' // unknown tunable or bad value
  | 'EINVAL' // bad argument to an API call
  | 'ENOTALLOC' // free of something that was never allocated
  | 'EDOUBLEFREE' // free of something already free
  | 'ERESERVED' // checked free of a page reserved at boot (outside phys_avail)
  | 'EWRONGARENA' // vmem: address freed to an arena that does not own it
  | 'ENOSPC' // constraints that can never be met
  | 'ETRACE' // malformed trace line
  | 'EUNINIT' // INVARIANTS: read of a never-initialised page record
  | 'EINVARIANT' // consistency checker found a broken invariant
  | 'ENOTZERO' // INVARIANTS: PG_ZERO page is not zero
  | 'ERANGE' // physical address outside the machine's RAM
  | 'EHOST' // the host cannot provide what was asked (memory, /proc files)
  | 'EFBIG' // an input file larger than pagelab reads (util/read-bounded.ts)
  | 'EEXIST' // an object already has a page at that pindex
  | 'EWIRED' // free of a wired page (the kernel's panic in vm_page_free_prep)
  | 'EBUSY' // a busy page where the operation needs it unbusied
  | 'EUSAGE'; // CLI usage

/** The longest message an error carries; longer ones keep their head and tail. */
export const MAX_MESSAGE_CHARS = 512;
const HEAD_CHARS = 320;
const TAIL_CHARS = 140;

/*
 * What a terminal must not receive raw: C0 and C1 controls and DEL (escape
 * sequences, carriage returns that overwrite the line, newlines that split
 * it), the Unicode line and paragraph separators, bidirectional overrides
 * and isolates (text that reads differently from what it is), the BOM, and
 * lone surrogates.
 */
export const UNSAFE_CHAR = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSAFE = new RegExp(UNSAFE_CHAR.source, 'g');
const NAMED_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeUnsafe(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const named = NAMED_ESCAPES[c];
    if (named !== undefined) return named;
    const cp = c.charCodeAt(0);
    return cp < 0x100 ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u{${cp.toString(16)}}`;
  });
}

/*
 * A message fit for one line of a terminal, whatever input it quotes.
 * Guarantees: no character UNSAFE matches (they are written as \n, \x1b,
 * \u{202e}); at most MAX_MESSAGE_CHARS characters, a longer text keeping its
 * first HEAD_CHARS and last TAIL_CHARS (where the reason usually is) around
 * a note of how much was cut; text already safe and short is returned as
 * is, so applying it twice changes nothing. Work is O(MAX_MESSAGE_CHARS), not
 * O(text): a message quoting 100 MB of input costs two slices.
 */
export function safeMessage(text: string): string {
  if (text.length <= MAX_MESSAGE_CHARS) {
    const escaped = escapeUnsafe(text);
    if (escaped.length <= MAX_MESSAGE_CHARS) return escaped;
    return cut(escaped, escaped.length);
  }
  return cut(text, text.length);
}

function cut(text: string, length: number): string {
  // Cutting an escaped text may split a surrogate pair: drop the half.
  const head = escapeUnsafe(text.slice(0, HEAD_CHARS)).slice(0, HEAD_CHARS).replace(/[\ud800-\udbff]$/, '');
  const tail = escapeUnsafe(text.slice(-TAIL_CHARS)).slice(-TAIL_CHARS).replace(/^[\udc00-\udfff]/, '');
  return `${head} ...[${length - HEAD_CHARS - TAIL_CHARS} characters cut]... ${tail}`;
}

export class PagelabError extends Error {
  readonly code: ErrorCode;
  /*
   * `message` may quote anything a user gave (a trace line, a file name, a
   * JSON value): it is stored through safeMessage, so every error, printed
   * by the CLI or by a program using the library, is one bounded line.
   */
  constructor(code: ErrorCode, message: string) {
    super(safeMessage(message));
    this.name = 'PagelabError';
    this.code = code;
  }
}

/** Throws EINVARIANT with `message` when `cond` is false; the KASSERT of pagelab. */
export function kassert(cond: boolean, message: string | (() => string)): asserts cond {
  if (!cond) throw new PagelabError('EINVARIANT', typeof message === 'string' ? message : message());
}
