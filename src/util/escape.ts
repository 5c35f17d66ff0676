/**
 * Input echoed in an error message (no Buffer: this runs in the web page too): truncated and escaped, so that one bad
 * line of a 100 MB file prints one short line and never a raw control byte
 * or terminal escape.
 */

/** Longest excerpt of offending input an error message quotes, in bytes. */
export const EXCERPT_MAX = 64;

function escapeByte(c: number): string {
  if (c === 0x5c) return '\\\\';
  if (c === 0x22) return '\\"';
  if (c >= 0x20 && c < 0x7f) return String.fromCharCode(c);
  if (c === 0x0a) return '\\n';
  if (c === 0x0d) return '\\r';
  if (c === 0x09) return '\\t';
  return '\\x' + c.toString(16).padStart(2, '0');
}

/*
 * Bytes [start, end) of `bytes` as printable ASCII: control bytes, DEL and
 * every byte above 0x7e as \xNN (so no UTF-8 sequence, C1 control or escape
 * reaches a terminal), quotes and backslashes escaped, and at most `max`
 * input bytes followed by `…(N bytes)` when there are more.
 */
export function escapeBytes(bytes: Uint8Array, start = 0, end = bytes.length, max = EXCERPT_MAX): string {
  const stop = Math.min(end, start + max);
  let s = '';
  for (let i = start; i < stop; i++) s += escapeByte(bytes[i]);
  return end > stop ? `${s}…(${end - start} bytes)` : s;
}

/* escapeBytes for a string: its UTF-8 bytes, escaped and truncated alike. */
export function escapeText(text: string, max = EXCERPT_MAX): string {
  // Encode no more than could be shown: a huge string is sliced first.
  const utf8 = new TextEncoder();
  const head = utf8.encode(text.length > max ? text.slice(0, max) : text);
  if (text.length <= max && head.length <= max) return escapeBytes(head);
  return `${escapeBytes(head, 0, Math.min(head.length, max))}…(${utf8.encode(text).length} bytes)`;
}
