/**
 * The kstack-pindex experiment: deterministic, back to its starting state,
 * the seed's figures reproduced as predictions, FFFF from the aligned
 * setting, and its command line (options, errors, --json, --out).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PagelabError } from '../src/errors.js';
import { labCommand as labMain } from '../src/cli/lab.js';
import { runKstackPindex } from '../src/lab/kstack-pindex.js';

function io() {
  const out: string[] = [];
  return { out, io: { stdout: (s: string) => void out.push(s), stderr: () => undefined, isTTY: false } };
}

const small = { threads: 1100, churn: 300, sweep: [] as Array<[number, number]>, runs: 0 };

test('kstack-pindex: deterministic, every setting back to its start, the seed\'s figures as predictions, FFFF when aligned chunks are full', () => {
  const a = runKstackPindex({ ...small, sweep: [[2, 1]] });
  const b = runKstackPindex(small);
  assert.deepEqual(a.settings, b.settings);
  for (const s of a.settings) assert.equal(s.returnedToStart, true, s.setting);
  const by = (n: string) => a.settings.find((s) => s.setting === n)!;
  // The 25%: reservation pages over stack pages of fully used linear chunks, G/K plus the chunk's last partial window.
  const lin = by('linear').afterRampUp.fullChunkOverhead;
  assert.ok(lin !== null && Math.abs(lin - 0.25) < 0.01, `linear full-chunk overhead ${lin}`);
  assert.ok(by('nonlinear').afterRampUp.overhead <= by('linear').afterRampUp.overhead);
  assert.ok(by('aligned').afterRampUp.overhead <= by('nonlinear').afterRampUp.overhead);
  for (const [p] of Object.entries(by('aligned').afterRampUp.fullChunkPatterns ?? {})) assert.equal(p, 'FFFF');
  assert.ok(Object.keys(by('nonlinear').afterRampUp.fullChunkPatterns ?? {}).every((p) => /^E?FFFB$/.test(p)), JSON.stringify(by('nonlinear').afterRampUp.fullChunkPatterns));
  assert.equal(a.seed.length, 2);
  for (const c of a.seed) assert.equal(c.role, 'prediction');
  assert.equal(a.seed[1].published, 'EFFFB');
  assert.equal(by('ilp32').afterRampUp.chunkPatterns, null);
  assert.equal(a.sweep[0].analyticLinear, 0.5);
  assert.equal(by('linear').simulatedRampUp.events.vmemAllocs, 1100, 'every ramp-up create misses the empty cache');
});

test('kstack-pindex: stacks are mapped in the kernel pmap with a hole per guard page; only without guards can a 2 MiB mapping cover them', () => {
  const guarded = runKstackPindex(small);
  for (const s of guarded.settings) {
    const x = s.afterChurn;
    assert.equal(x.kernelPtes, x.stackPages, `${s.setting}: one PTE per stack page`);
    assert.equal(x.guardHoles, (x.liveStacks + x.cachedStacks) * s.G, `${s.setting}: every guard page is a hole`);
    assert.equal(x.stackKvaPromotable, 0, `${s.setting}: holes in every 2 MiB of stacks`);
    assert.ok(x.kernelPtPages > 1);
  }
  const bare = runKstackPindex({ ...small, G: 0 });
  const by = (n: string) => bare.settings.find((s) => s.setting === n)!.afterChurn;
  assert.equal(by('aligned').guardHoles, 0);
  assert.ok(by('aligned').stackKvaPromotable > 0, 'aligned chunks of guardless stacks fill whole 2 MiB runs');
  assert.ok(by('aligned').stackKvaPromotable >= by('nonlinear').stackKvaPromotable);
});

test('pagelab lab kstack-pindex: options, --json, --out report.html with the picture; bad options are one EUSAGE', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pagelab-kstack-'));
  try {
    const x = io();
    const rc = await labMain(['kstack-pindex', '--threads', '1100', '--churn', '100', '--sweep', 'none', '--runs', '0', '--kstack', '4:1', '--json', '--out', dir], x.io);
    assert.equal(rc, 0);
    const doc = JSON.parse(x.out.join(''));
    assert.equal(doc.experiments['kstack-pindex'].workload.threads, 1100);
    assert.deepEqual(doc.experiments['kstack-pindex'].sweep, []);
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    assert.match(html, /<svg/);
    assert.match(html, /Reservation strings/);
    assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')).experiments['kstack-pindex'].settings.length, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const bad: Array<[string[], RegExp]> = [
    [['kstack-pindex', '--kstack', '0:1'], /--kstack "0:1" is not K:G/],
    [['kstack-pindex', '--sweep', '4-1'], /--sweep "4-1" is not K:G/],
    [['kstack-pindex', '--threads', 'many'], /--threads "many" is not a non-negative integer/],
    [['kstack-pindex', '--threads', '0', '--runs', '0'], /--threads 0 is not an integer from 1/],
  ];
  for (const [argv, re] of bad) {
    await assert.rejects(labMain(argv, io().io), (e: unknown) => e instanceof PagelabError && e.code === 'EUSAGE' && re.test(e.message));
  }
});
