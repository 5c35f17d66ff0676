import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPrezeroVmStart } from '../src/lab/prezero-vm-start.js';
import { renderPrezeroHtml, renderPrezeroText, prezeroTrace } from '../src/lab/prezero-report.js';
import { PGZERO_PUBLISHED } from '../src/sim/profiles/linux-pgzero-2020.js';
import { PagelabError } from '../src/errors.js';

test('prezero-vm-start: every published point compared and labelled, the model ordered as the seed, reports render', { timeout: 120_000 }, async () => {
  const r = await runPrezeroVmStart({ scale: 256, runs: 2, guest: '8M', host: '16M' });
  assert.equal(r.published.length, 12);
  const published = [...PGZERO_PUBLISHED.before4k, ...PGZERO_PUBLISHED.after4k, ...PGZERO_PUBLISHED.beforeThp, ...PGZERO_PUBLISHED.afterThp].sort();
  assert.deepEqual(r.published.map((p) => p.published).sort(), published);
  for (const p of r.published) {
    assert.ok(p.role === 'calibration' || p.role === 'prediction');
    assert.equal(p.miss, p.role === 'prediction' && Math.abs(p.relativeError) > 0.25);
    assert.equal(p.role === 'prediction', p.figure.includes('w/o patch'), 'the "before" rounds are the predictions');
  }
  const get = (policy: string, ps: string) => r.model.cases.find((c) => c.policy === policy && c.pageSize === ps)!;
  for (const ps of ['4k', 'thp']) {
    assert.ok(get('report', ps).startNs < get('alloc', ps).startNs / 2, `report beats alloc with ${ps}`);
    assert.equal(get('alloc', ps).counters.allocPathBytes, 64 * 2 ** 30, 'alloc zeroes the whole guest on the start path');
    assert.equal(get('free', ps).counters.allocPathBytes < 2 ** 30, true);
    const b = get('idle', ps).breakdown;
    assert.ok(Math.abs(b.fixedNs + b.allocNs + b.zeroNs + b.pinNs - get('idle', ps).startNs) < 1);
  }
  assert.ok(get('free', '4k').counters.freePathBytes > 0 && get('report', '4k').counters.backgroundBytes > 0);
  assert.equal(r.measured!.cases.length, 12);
  assert.ok(r.measured!.cases.every((c) => c.startMs.length === 2));
  assert.equal(r.cacheWarmth!.hotWriteNs.length, 2);
  const text = renderPrezeroText(r);
  assert.match(text, /Published figures beside the model/);
  assert.match(text, /prediction/);
  const html = await renderPrezeroHtml(r);
  assert.equal((html.match(/<svg/g) ?? []).length, 3, 'three plots');
  assert.ok(JSON.stringify(prezeroTrace(r)).includes('pin and map'));
  await assert.rejects(runPrezeroVmStart({ scale: 3, runs: 0 }), (e: unknown) => e instanceof PagelabError && /--scale/.test(e.message));
  await assert.rejects(runPrezeroVmStart({ runs: 0, guest: '64M', host: '64M' }), (e: unknown) => e instanceof PagelabError && /--host/.test(e.message));
});
