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
  | 'EUSAGE'; // CLI usage

export class PagelabError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'PagelabError';
    this.code = code;
  }
}

/** Throws EINVARIANT with `message` when `cond` is false; the KASSERT of pagelab. */
export function kassert(cond: boolean, message: string | (() => string)): asserts cond {
  if (!cond) throw new PagelabError('EINVARIANT', typeof message === 'string' ? message : message());
}
