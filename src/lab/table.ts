export { textTable } from '../util/table.js';

/** Milliseconds from ns with a sensible number of digits. */
export function ms(ns: number, digits = 2): string {
  if (!Number.isFinite(ns)) return '-';
  const v = ns / 1e6;
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  return v.toFixed(digits);
}

export function pct(x: number, digits = 1): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : '-';
}

/** Signed relative error as a percentage. */
export function relErr(model: number, published: number): string {
  const e = (model - published) / published;
  return `${e >= 0 ? '+' : ''}${(e * 100).toFixed(1)}%`;
}

export function count(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-';
}
