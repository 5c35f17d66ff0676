import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseTrace, replayTrace, Replayer } from '../src/lab/replay.js';
import { PagelabError } from '../src/errors.js';
import { repoRoot } from './helpers/root.js';

const BASIC = readFileSync(path.join(repoRoot(), 'test/fixtures/traces/basic.trace'), 'utf8');

test('the basic trace: failures are outcomes, frees of failed tags are skipped, checker holds', () => {
  for (const lazy of ['0', '1']) {
    const r = replayTrace(parseTrace(BASIC, 'basic.trace'), { check: true, events: true, tunables: { 'vm.lazy_page_init': lazy } });
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

test('a second free of a tag is EDOUBLEFREE naming the tag, the line that freed it and the address', () => {
  const t = parseTrace('machine tiny-16m\nalloc a 0\nfree a\nfree a\n', 't');
  assert.throws(
    () => replayTrace(t),
    (e: unknown) => e instanceof PagelabError && e.code === 'EDOUBLEFREE' && /^t:4: free: tag "a" is already free \(freed at line 3, where it held 0x[0-9a-f]+\)$/.test(e.message),
  );
  // write/verify of a freed tag say so too (ETRACE: not a free).
  assert.throws(() => replayTrace(parseTrace('machine tiny-16m\nset vm.backed=1\nalloc a 0\nfree a\nverify a\n', 't')), /t:5: verify: tag "a" is not allocated \(freed at line 4/);
  // A tag never allocated is still "never allocated".
  assert.throws(() => replayTrace(parseTrace('machine tiny-16m\nfree b\n', 't')), (e: unknown) => e instanceof PagelabError && e.code === 'ETRACE' && /never allocated/.test(e.message));
});

test('numbers too large for their field are refused at parse time, naming the field', () => {
  const cases: Array<[string, RegExp]> = [
    ['contig x 99999999999999999999', /:1: contig: npages 99999999999999999999 is larger than 4294967295/],
    ['contig x 4294967296', /:1: contig: npages 4294967296 is larger than/],
    ['alloc a 99999999999999999999', /:1: alloc: order 99999999999999999999 is larger than/],
    ['alloc a 0 domain=123456789012345678901', /:1: alloc: domain 123456789012345678901 is larger than/],
    ['contig x 4 low=99999999999999999999', /:1: low: "99999999999999999999" is not a whole number of bytes within 2\^53/],
    ['write a 0x100000000', /:1: write: pattern 0x100000000 is wider than 32 bits/],
    ['zeroidle pages=99999999999999999999', /:1: zeroidle: pages 99999999999999999999 is larger than/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseTrace(text, 't'), (e: unknown) => e instanceof PagelabError && e.code === 'ETRACE' && re.test(e.message), `${text}`);
  }
  // The largest npages parses; replay finds it cannot be satisfied.
  const r = replayTrace(parseTrace('machine tiny-16m\ncontig x 4294967295', 't'));
  assert.deepEqual(r.failed, [2]);
});

test('hostile lines: one error line, the offending text escaped and truncated', () => {
  const esc = '\x1b[31mred\x1b[0m';
  const cases: Array<[string, RegExp]> = [
    [`alloc ${esc} 0`, /^t:1: tag "\\x1b\[31mred\\x1b\[0m" has characters outside/],
    [`frob\x07\x00 x`, /^t:1: unknown operation "frob\\x07\\x00"/],
    ['alloc a 0 pool=\xe2\x80\xae', /^t:1: alloc: pool "(\\x[0-9a-f]{2})+" is not default or direct$/],
    [`alloc ${'x'.repeat(5000)} 0`, /^t:1: line is longer than 4096 bytes: "alloc x{58}…\(5008 bytes\)"$/],
    [`alloc a${'\u00e9'.repeat(100)} 0`, /^t:1: tag "a(\\x[0-9a-f]{2}){63}…\(201 bytes\)" has characters/],
    ['alloc a 0 ' + 'zero '.repeat(20), /^t:1: (alloc: zero given twice|more than 16 words)/],
    ['machine tiny-16m\nset vm.backed=\x1b]0;pwned\x07', /^t:2: set: "vm.backed=\\x1b\]0;pwned\\x07" has bytes outside printable ASCII$/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseTrace(text, 't'),
      (e: unknown) => e instanceof PagelabError && re.test(e.message) && !/[\x00-\x1f\x7f-\x9f]/.test(e.message) && e.message.length < 400,
      JSON.stringify(text),
    );
  }
});

test('the trace size limit names the file and the cap', () => {
  const is = (msg: string) => (e: unknown) => e instanceof PagelabError && e.message === msg;
  assert.throws(() => parseTrace('alloc a 0\n'.repeat(100), 'big.trace', { maxBytes: 512 }), is('big.trace: larger than the trace limit of 512'));
});

test('parse once, step one operation at a time: the same events and state as a whole replay', () => {
  const trace = parseTrace(BASIC, 'basic.trace');
  const whole = replayTrace(trace, { events: true });
  const r = new Replayer(trace);
  assert.equal(r.done, false);
  const events = [];
  while (r.step()) events.push(r.event());
  assert.deepEqual(events, whole.events);
  const { events: _e, ...rest } = whole;
  assert.deepEqual(r.result(), rest);
  // Stopping at a line: the state after line 8 (the contig), before line 9.
  const s = new Replayer(trace).runThroughLine(8);
  assert.equal(trace.opLine[s.next], 9);
  assert.deepEqual(Object.keys(s.result().allocations), ['a', 'b', 'dma']);
  assert.equal(s.event().op, 'contig');
});

test('decoded operations keep the documented shape', () => {
  const t = parseTrace('machine tiny-16m\nalloc a 3 zero pool=DIRECT domain=0 # c\ncontig d 16 low=1M align=64K\nwrite d\nverify d 0xff\nzeroidle pages=8\nunfree 0x5000\ndrain domain=0\nfree a zero\n', 't');
  assert.deepEqual(t.machine, { preset: 'tiny-16m' });
  assert.deepEqual(t.decodeAll(), [
    { op: 'alloc', line: 2, tag: 'a', order: 3, zero: true, pool: 2, domain: 0 },
    { op: 'contig', line: 3, tag: 'd', npages: 16, zero: false, low: 0x100000, high: Number.MAX_SAFE_INTEGER, align: 0x10000, boundary: 0, domain: 0 },
    { op: 'write', line: 4, tag: 'd', pattern: null },
    { op: 'verify', line: 5, tag: 'd', pattern: 0xff },
    { op: 'zeroidle', line: 6, domain: null, pages: 8 },
    { op: 'unfree', line: 7, pa: 0x5000 },
    { op: 'drain', line: 8, domain: 0 },
    { op: 'free', line: 9, tag: 'a', zero: true },
  ]);
  // Tags are interned: one id per distinct tag; lines sharing fields share a tuple.
  const c = parseTrace('alloc a 0\nalloc b 0\nfree a\nalloc a 0\nfree b\n', 't');
  assert.equal(c.tagCount, 2);
  assert.equal(c.tupleCount, 2);
  assert.deepEqual([...c.opTag], [0, 1, 0, 0, 1]);
});
