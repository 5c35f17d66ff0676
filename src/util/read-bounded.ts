/*
 * The one way pagelab reads a file a user named: at most `maxBytes`, never
 * the whole of whatever the path turns out to be. `--memmap /dev/zero`,
 * `replay /dev/zero` and `ministat /dev/zero` would otherwise read until the
 * host runs out of memory; a 100 GB trace would be read into one string
 * before the first line is parsed.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { PagelabError, type ErrorCode } from '../errors.js';
import { formatSize } from './units.js';

/* The file descriptor of standard input, for `readTextBounded(STDIN, …)`. */
export const STDIN = 0;

export interface BoundedReadOptions {
  /** The most bytes accepted; a file with more is an EFBIG error that names it and this cap. */
  maxBytes: number;
  /** How messages name the file, e.g. `--memmap lab.json`; default: the path, or "standard input". */
  label?: string;
  /** What the input is, for the EFBIG message: "a memory map", "a trace". Default "input". */
  what?: string;
  /** Code for a file that cannot be opened or read, or is a directory. Default EUSAGE. */
  code?: ErrorCode;
}

const READ_CHUNK = 64 * 1024;

/* A few errno texts worth saying plainly; others keep Node's message. */
const ERRNO_TEXT: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'file name too long',
};

function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return (err.code !== undefined && ERRNO_TEXT[err.code]) || err.message || String(e);
}

/* Sleeps `ms` without spinning: standard input may be a non-blocking pipe (EAGAIN). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/*
 * Reads `file` (a path, or a descriptor such as STDIN) as bytes.
 * Requires: opts.maxBytes a positive safe integer.
 * Guarantees: the file's bytes, at most opts.maxBytes of them, and no more
 * than maxBytes + 64 KiB ever held in memory; or one PagelabError naming the
 * file: EFBIG when it holds more than maxBytes (a regular file is refused
 * from its size without reading it), opts.code when it cannot be opened or
 * read or is a directory. A descriptor passed in is left open.
 */
export function readBytesBounded(file: string | number, opts: BoundedReadOptions): Buffer {
  const { maxBytes } = opts;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw new PagelabError('EINVAL', `readBytesBounded: maxBytes ${maxBytes} must be a positive integer`);
  }
  const label = opts.label ?? (typeof file === 'number' ? (file === STDIN ? 'standard input' : `descriptor ${file}`) : file);
  const code = opts.code ?? 'EUSAGE';
  const tooBig = (): PagelabError =>
    new PagelabError('EFBIG', `${label}: more than ${formatSize(maxBytes)} (${maxBytes} bytes), the limit for ${opts.what ?? 'input'}`);
  let fd: number;
  try {
    fd = typeof file === 'number' ? file : openSync(file, 'r');
  } catch (e) {
    throw new PagelabError(code, `${label}: cannot open: ${errnoText(e)}`);
  }
  try {
    let size = -1;
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw new PagelabError(code, `${label}: is a directory`);
      if (st.isFile()) size = st.size;
    } catch (e) {
      if (e instanceof PagelabError) throw e;
      throw new PagelabError(code, `${label}: cannot read: ${errnoText(e)}`);
    }
    if (size > maxBytes) throw tooBig();
    // A regular file is read into one buffer of its size (plus one byte, to
    // notice a file that grew); anything else (a pipe, a device, a file in
    // /proc that reports size 0) in chunks until end of file or the cap.
    const chunks: Buffer[] = [];
    let total = 0;
    let buf = Buffer.allocUnsafe(size >= 0 ? Math.min(size + 1, maxBytes + 1) : Math.min(READ_CHUNK, maxBytes + 1));
    let used = 0;
    for (;;) {
      if (used === buf.length) {
        chunks.push(buf);
        buf = Buffer.allocUnsafe(Math.min(READ_CHUNK, maxBytes + 1 - total));
        used = 0;
      }
      let n: number;
      try {
        n = readSync(fd, buf, used, buf.length - used, null);
      } catch (e) {
        const errno = (e as NodeJS.ErrnoException).code;
        if (errno === 'EAGAIN') {
          pause(1);
          continue;
        }
        if (errno === 'EOF') break; // Windows console end of input
        throw new PagelabError(code, `${label}: cannot read: ${errnoText(e)}`);
      }
      if (n === 0) break;
      used += n;
      total += n;
      if (total > maxBytes) throw tooBig();
    }
    chunks.push(buf.subarray(0, used));
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
  } finally {
    if (typeof file !== 'number') closeSync(fd);
  }
}

/*
 * readBytesBounded, decoded as UTF-8 (malformed sequences become U+FFFD, as
 * readFileSync(path, 'utf8') does).
 */
export function readTextBounded(file: string | number, opts: BoundedReadOptions): string {
  return readBytesBounded(file, opts).toString('utf8');
}
