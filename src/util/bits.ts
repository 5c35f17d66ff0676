/**
 * Bit arithmetic on JavaScript numbers, beyond the 32 bits the bitwise
 * operators see.
 */

/** True when `x` is a positive integer power of two (1, 2, 4, ..., 2^60, ...). */
export function isPow2(x: number): boolean {
  return Number.isInteger(x) && x > 0 && 2 ** Math.round(Math.log2(x)) === x;
}
