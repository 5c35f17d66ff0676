/*
 * The fuzzers (fuzz/, docs/fuzzing.md) as tests: a few hundred cases each
 * from fixed seeds, a few seconds in all. `npm run fuzz` is the long run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fuzzCli } from '../fuzz/cli.fuzz.js';
import { fuzzMemoryMaps } from '../fuzz/memmap.fuzz.js';
import { errorProblem, lineProblem } from '../fuzz/oracle.js';
import { PagelabError } from '../src/errors.js';

describe('fuzzers', () => {
  it('the oracle refuses what it should', () => {
    assert.match(errorProblem(new RangeError('x')) ?? '', /not a PagelabError/);
    assert.match(errorProblem(new PagelabError('ETRACE', 'x'), ['EMEMMAP']) ?? '', /unexpected code ETRACE/);
    assert.equal(errorProblem(new PagelabError('EMEMMAP', 'x\ny'), ['EMEMMAP']), null, 'the constructor escapes it');
    assert.match(lineProblem('a\u001b[2J', 100) ?? '', /raw U\+001b/);
    assert.match(lineProblem('a'.repeat(101), 100) ?? '', /101 characters/);
  });

  it('memory maps: 60 damaged maps are refused cleanly or valid, round-trip and boot', () => {
    const r = fuzzMemoryMaps(60, 20261129);
    assert.deepEqual(r.findings, []);
    assert.equal(r.iterations, 60);
    // The generator reaches both sides: refusals and maps that boot.
    assert.ok((r.outcomes.EMEMMAP ?? 0) > 0 && (r.outcomes.ESIZE ?? 0) > 0 && (r.outcomes.booted ?? 0) > 0, JSON.stringify(r.outcomes));
  });

  it('command line: 200 hostile argument vectors exit 0 or 2 with one safe line', async () => {
    const r = await fuzzCli(200, 20261129);
    assert.deepEqual(r.findings, []);
    assert.ok((r.outcomes['exit 0'] ?? 0) > 0 && (r.outcomes['exit 2'] ?? 0) > 0, JSON.stringify(r.outcomes));
  });
});
