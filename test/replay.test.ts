import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseTrace, replayTrace } from '../src/lab/replay.js';
import { PagelabError } from '../src/errors.js';
import { repoRoot } from './helpers/root.js';

const BASIC = readFileSync(path.join(repoRoot(), 'test/fixtures/traces/basic.trace'), 'utf8');

test('the basic trace: failures are outcomes, frees of failed tags are skipped, checker holds', () => {
  for (const lazy of ['0', '1']) {
    const r = replayTrace(parseTrace(BASIC, 'basic.trace'), { check: true, events: true, overrides: [`vm.lazy_page_init=${lazy}`] });
    assert.deepEqual(r.failed, [7]);
    assert.deepEqual(r.skipped_frees, [11]);
    assert.deepEqual(Object.keys(r.allocations).sort(), ['b', 'c', 'dma']);
    assert.equal(r.allocations.dma.pages, 16);
    const dma = parseInt(r.allocations.dma.pa, 16);
    assert.ok(dma >= 0x100000 && dma % 0x10000 === 0 && Math.floor(dma / 0x100000) === Math.floor((dma + 16 * 4096 - 1) / 0x100000));
    assert.equal(r.events?.length, 9);
    assert.equal(r.events?.[4].ok, false, 'unfree of a kernel page fails');
    assert.equal(r.lazy_pending_pages, 0);
    const pagesHeld = 8 + 16 + 4;
    assert.equal(r.free_pages, 2914 - pagesHeld);
  }
});

test('malformed lines are ETRACE errors naming the line', () => {
  const cases: Array<[string, RegExp]> = [
    ['alloc a', /:1: alloc: expected/],
    ['frob x', /:1: unknown operation "frob"/],
    ['alloc a 0 colour=red', /:1: alloc: unknown option "colour"/],
    ['alloc a 0\nmachine tiny-16m', /:2: machine must come before/],
    ['contig x 0', /:1: contig: npages must be at least 1/],
    ['contig x 4 low=12Q', /:1: low: cannot parse "12Q"/],
    ['unfree', /:1: unfree: expected/],
    ['alloc a 0 pool=lazy', /:1: alloc: pool "lazy"/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseTrace(text, 't'), (e: unknown) => e instanceof PagelabError && e.code === 'ETRACE' && re.test(e.message), text);
  }
});

test('replay errors: unknown tag, live tag reused, bad tunable, domain out of range', () => {
  const run = (text: string): unknown => replayTrace(parseTrace(`machine tiny-16m\n${text}`, 't'));
  assert.throws(() => run('free ghost'), /t:2: free: tag "ghost" was never allocated/);
  assert.throws(() => run('alloc a 0\nalloc a 0'), /t:3: alloc: tag "a" is still allocated/);
  assert.throws(() => run('alloc a 0 domain=1'), /t:2: domain 1 is out of range/);
  assert.throws(() => replayTrace(parseTrace('set vm.lazy_page_init=maybe\nalloc a 0', 't')), /t:1: tunable vm.lazy_page_init: bad value "maybe"/);
  assert.throws(() => run('alloc a 13'), /t:2: alloc: order 13 is out of range/);
});

test('a tag can be reused once freed, and a failed tag once allocated is live again', () => {
  const r = replayTrace(parseTrace('machine tiny-16m\nalloc a 12\nalloc a 0\nfree a\nalloc a 1', 't'));
  assert.deepEqual(r.failed, [2]);
  assert.equal(r.allocations.a.pages, 2);
});
