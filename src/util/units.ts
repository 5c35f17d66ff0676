import { PagelabError } from '../errors.js';

const SUFFIX: Record<string, number> = {
  '': 1,
  B: 1,
  K: 2 ** 10,
  KB: 2 ** 10,
  KIB: 2 ** 10,
  M: 2 ** 20,
  MB: 2 ** 20,
  MIB: 2 ** 20,
  G: 2 ** 30,
  GB: 2 ** 30,
  GIB: 2 ** 30,
  T: 2 ** 40,
  TB: 2 ** 40,
  TIB: 2 ** 40,
  P: 2 ** 50,
  PB: 2 ** 50,
  PIB: 2 ** 50,
};

/**
 * Parses a byte size or physical address: a decimal integer, `0x` hex, or a
 * number with a binary suffix (`4K`, `2M`, `1.5G`, `1T`; KiB-style accepted).
 * Requires: the result is a non-negative integer no larger than 2^53.
 * `what` names the thing being parsed in the error message.
 */
export function parseSize(text: string | number, what = 'size'): number {
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text) || text < 0) {
      throw new PagelabError('ESIZE', `${what}: ${text} is not a non-negative integer`);
    }
    return text;
  }
  const s = String(text).trim();
  if (s.startsWith('-')) throw new PagelabError('ESIZE', `${what}: "${text}" is negative; sizes and addresses are never below 0`);
  let value: number;
  if (/^0x[0-9a-f]+$/i.test(s)) {
    value = Number.parseInt(s.slice(2), 16);
    if (s.length > 2 + 14) value = NaN; // beyond 2^53 precision
  } else {
    const m = /^([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)$/i.exec(s);
    if (m === null || !(m[2].toUpperCase() in SUFFIX)) {
      throw new PagelabError('ESIZE', `${what}: cannot parse "${text}" (expected e.g. 4096, 0x1000, 4K, 2M, 1G, 1T)`);
    }
    value = Number(m[1]) * SUFFIX[m[2].toUpperCase()];
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new PagelabError('ESIZE', `${what}: "${text}" is not a whole number of bytes within 2^53`);
  }
  return value;
}

/** Formats a byte count with the largest binary suffix that divides it exactly (else one decimal). */
export function formatSize(bytes: number): string {
  const units = ['', 'K', 'M', 'G', 'T', 'P'];
  let u = 0;
  let v = bytes;
  while (u < units.length - 1 && v >= 1024 && v % 1024 === 0) {
    v /= 1024;
    u++;
  }
  if (v >= 1024 && u < units.length - 1) {
    while (u < units.length - 1 && v >= 1024) {
      v /= 1024;
      u++;
    }
    return `${v.toFixed(1)}${units[u]}`;
  }
  return `${v}${units[u]}`;
}

/** `0x`-prefixed lower-case hex of a physical address. */
export function hex(n: number): string {
  return '0x' + n.toString(16);
}
