import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runWire, renderWireText, SEED_FIGURES, wireTrace } from '../src/lab/index.js';
import { code } from './helpers/errors.js';
import { parseLabArgs } from '../src/cli/lab.js';

test('lab wire: calibration reproduces the seed\'s before, the after is a labelled prediction, the objections hold', () => {
  const r = runWire({ runs: 0, simBytes: 16 * 2 ** 20 });
  const before = r.published.find((p) => p.role === 'calibration')!;
  assert.ok(Math.abs(before.modelMs - SEED_FIGURES.before.mean) / SEED_FIGURES.before.mean < 0.01, `before ${before.modelMs}`);
  assert.equal(r.published.filter((p) => p.role === 'calibration').length, 1);
  assert.equal(r.published.length, 9);
  const after = r.published.find((p) => p.role === 'prediction' && p.figure.startsWith('after'))!;
  assert.equal(after.path, 'proposed');
  // Zeroing is what separates the paths: proposed and 1+PG_ZERO zero nothing, the others all 10 GiB.
  const byLabel = (i: number) => r.sim[i];
  assert.ok(byLabel(1).byCategoryMs.zeroing < 1 && byLabel(4).byCategoryMs.zeroing < 1);
  assert.ok(byLabel(0).byCategoryMs.zeroing > 300 && byLabel(3).byCategoryMs.zeroing > 300);
  assert.ok(byLabel(3).ms > r.zeroFloorMs && byLabel(4).ms < byLabel(3).ms);
  assert.equal(r.review.exposedBytes.proposed, r.review.bytes);
  for (const p of ['0', 'revised', '1']) assert.equal(r.review.exposedBytes[p], 0);
  assert.match(r.review.revisedCollapse, /^EWIRED: .*page 0x[0-9a-f]+ .* is wired/);
  assert.match(r.review.oneCollapse, /KERN_SUCCESS; data intact/);
  assert.equal(r.wall, null);
  const text = renderWireText(r);
  assert.match(text, /prediction {3}MISS/);
  assert.ok(wireTrace(r).traceEvents.length > 10);
});

test('lab wire: sizes are checked before anything runs', () => {
  assert.match(code(() => runWire({ simBytes: 3 * 2 ** 20 })), /^ESIZE: lab wire: simulated size 3M must be a multiple of 2 MiB/);
  assert.match(code(() => runWire({ wallBytes: 2 ** 40 })), /^ESIZE: lab wire: measured size/);
});

test('pagelab lab wire: the sizes and the experiment name parse; bad sizes are ESIZE naming the flag', () => {
  const { experiment, opts } = parseLabArgs(['wire', '--wire-size', '64M', '--wire-sim-size', '10g', '--runs', '2']);
  assert.equal(experiment?.name, 'wire');
  assert.equal(opts.wireSize, 64 * 2 ** 20);
  assert.equal(opts.wireSimSize, 10 * 2 ** 30);
  assert.match(code(() => parseLabArgs(['wire', '--wire-size', '3M'])), /^ESIZE: lab: --wire-size 3M: must be a multiple of 2 MiB/);
  assert.match(code(() => parseLabArgs(['wire', '--wire-sim-size', '20g'])), /^ESIZE: lab: --wire-sim-size 20g/);
});
