/**
 * Property-test run counts. PAGELAB_PROP_SCALE=k multiplies every property
 * test's numRuns (`npm run soak` sets 20 unless given), so that a long run
 * meets the seeds a default `npm test` meets once in a hundred; fast-check
 * prints a failing seed and path to replay it.
 */
const raw = process.env.PAGELAB_PROP_SCALE;
const SCALE = raw === undefined || raw === '' ? 1 : Number(raw);
if (!(Number.isFinite(SCALE) && SCALE > 0)) throw new Error(`PAGELAB_PROP_SCALE=${JSON.stringify(raw)} is not a positive number`);

/** `n` runs, scaled by PAGELAB_PROP_SCALE (at least 1). */
export function runs(n: number): number {
  return Math.max(1, Math.round(n * SCALE));
}
