/**
 * Trace operations of the page layer: object, page, unwire, free of page
 * groups, terminate, reclaim; their JSON and their one-line errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseTrace, replayTrace } from '../src/lab/replay.js';
import { PagelabError } from '../src/errors.js';
import { repoRoot } from './helpers/root.js';

const OBJECTS = readFileSync(path.join(repoRoot(), 'test/fixtures/traces/objects.trace'), 'utf8');

test('objects.trace: reservation strings, counters, page groups, checker after every line', () => {
  const r = replayTrace(parseTrace(OBJECTS, 'objects.trace'), { check: true, events: true });
  assert.deepEqual(r.failed, []);
  assert.deepEqual(Object.keys(r.objects).sort(), ['heap', 'stack']);
  assert.equal(r.objects.heap.reservations, 'F-', 'h2 freed (its reservation went back whole), reclaim broke the E one');
  assert.equal(r.objects.heap.resident_pages, 512 + 324);
  assert.equal(r.objects.stack.resident_pages, 0);
  assert.equal(r.objects.stack.size, 256);
  assert.ok(r.reserv.enabled);
  if (r.reserv.enabled) {
    assert.equal(r.reserv.fullpop, 1);
    assert.equal(r.reserv.reclaimed, 1, 'reclaim broke the E reservation');
    assert.equal(r.reserv.started, 3);
  }
  const ev = (line: number) => r.events?.find((e) => e.line === line);
  assert.equal(ev(6)?.pages, 512);
  assert.equal(ev(16)?.note, '1 reservation broken');
  assert.deepEqual(JSON.parse(JSON.stringify(r)).objects.heap, { type: 'anon', size: null, color: 0, resident_pages: 836, reservations: 'F-' });
});

test('page-layer trace errors: one line naming the file, line and offending thing', () => {
  const run = (text: string): unknown => replayTrace(parseTrace(`machine tiny-16m\n${text}`, 't'));
  const cases: Array<[string, RegExp]> = [
    ['page a nope 0', /^t:2: page: unknown object "nope"$/],
    ['object o type=phys size=8K\npage a o 2', /^t:3: page: pindex 2 is beyond object o's size of 2 pages$/],
    ['object o\npage a o 0 wired\nfree a', /^t:4: free a: page 0x[0-9a-f]+ is wired \(unwire it first\)$/],
    ['object o\npage a o 0\npage b o 0', /^t:4: page: object o already has a page at pindex 0$/],
    ['object o\npage a o 0\nalloc a 0', /^t:4: alloc: tag "a" is still allocated$/],
    ['object o\nobject o', /^t:3: object: "o" exists already$/],
    ['object o\npage a o 0\nterminate o\nfree a', /^t:5: free: tag "a" names no pages \(its pages went with object o, terminated at line 4\)$/],
    ['object o\npage a o 0\nunwire a', /^t:4: unwire: pages of "a" are not wired$/],
    ['object o\npage a o 0\nwrite a', /^t:4: write: tag "a" names pages of an object; write acts on alloc and contig tags$/],
    ['reclaim domain=3', /^t:2: reclaim: domain 3 is out of range \(machine has 1\)$/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => run(text), (e: unknown) => e instanceof PagelabError && e.code === 'ETRACE' && re.test(e.message), text);
  }
  const parse: Array<[string, RegExp]> = [
    ['object o type=swap', /object: type "swap" is not anon or phys/],
    ['object o type=phys', /an OBJT_PHYS object needs size=SIZE/],
    ['object o size=5000', /size 5000 is not a positive multiple of 4 KiB/],
    ['page a o 0 class=urgent', /class "urgent" is not normal, system or interrupt/],
    ['page a o x', /pindex "x" is not an integer/],
    ['page a o 0 n=0', /n must be at least 1/],
    ['frob', /unknown operation "frob" \(.*object, page, unwire, terminate, reclaim, mmap, touch, wire, munmap, shadow, collapse\)/],
  ];
  for (const [text, re] of parse) assert.throws(() => parseTrace(text, 't'), (e: unknown) => e instanceof PagelabError && e.code === 'ETRACE' && re.test(e.message), text);
});

test('a page line that cannot be satisfied takes nothing and is listed as failed; its free is skipped', () => {
  const r = replayTrace(parseTrace('machine tiny-16m\nobject o\npage big o 0 n=100000\nfree big\npage ok o 0 n=10', 't'), { check: true });
  assert.deepEqual(r.failed, [3]);
  assert.deepEqual(r.skipped_frees, [4]);
  assert.equal(r.objects.o.resident_pages, 10);
});
