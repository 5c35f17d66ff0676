import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseTrace, replayTrace } from '../src/lab/replay.js';
import { code } from './helpers/errors.js';

const fixture = () => parseTrace(readFileSync('test/fixtures/traces/wire.trace', 'utf8'), 'wire.trace');

test('replay: mapping operations, the review\'s collapse as a failed line, the map in the JSON', () => {
  const r = replayTrace(fixture(), { check: true, events: true });
  assert.deepEqual(r.failed, [10]);
  const ev = r.events!.find((e) => e.line === 10)!;
  assert.match(ev.note ?? '', /^EWIRED: vm_object_collapse: vm_page_free_prep: page 0x[0-9a-f]+ \(pindex 0 of object guest\.shadow/);
  const m = r.map!;
  assert.equal(m.wire_path, '1');
  assert.deepEqual(m.entries.map((e) => [e.name, e.wiredCount]), [['last', 1]]);
  assert.equal(m.pmap.pdes, 3);
  assert.equal(m.pmap.wired, 1536);
  assert.equal(m.user_wired_pages, 1536);
  assert.deepEqual(m.wiring.map((w) => [w.line, w.path, w.result.split(':')[0]]), [[10, 'revised', 'EWIRED'], [13, 'revised', 'KERN_SUCCESS'], [19, '1', 'KERN_SUCCESS']]);
  assert.equal(m.wiring[2].work.fault, 0);
  assert.equal(m.wiring[2].work.pde_write, 3);
  assert.equal(r.map!.work.fault > 0, true);
});

test('replay: mapping lines that are wrong are ETRACE naming the line', () => {
  const run = (text: string) => code(() => replayTrace(parseTrace(`machine mem=32m\n${text}`, 't.trace')));
  assert.match(run('wire nothere'), /^ETRACE: t\.trace:2: wire: tag "nothere" is not mapped/);
  assert.match(run('mmap a 3000'), /^ETRACE: t\.trace:2: mmap: size 3000 is not a positive multiple of 4 KiB/);
  assert.match(run('mmap a 8k\nmmap a 8k'), /^ETRACE: t\.trace:3: mmap: tag "a" is in use/);
  assert.match(run('mmap a 8k\ntouch a offset=4k len=8k'), /^ETRACE: t\.trace:3: touch: \[4096, 12288\) is not inside/);
  assert.match(run('mmap a 8k\nwire a path=fast'), /^ETRACE: t\.trace:3: wire: path "fast" is not one of 0, proposed, revised, 1/);
  assert.match(run('alloc a 0\nmmap a 8k'), /^ETRACE: t\.trace:3: mmap: tag "a" is in use/);
  assert.match(run('mmap a 8k prot=q'), /^ETRACE: t\.trace:2: mmap: prot "q"/);
});

test('replay: over vm.max_user_wired a wire is a failed line, not an error', () => {
  const r = replayTrace(parseTrace('machine mem=32m\nset vm.max_user_wired=100\nmmap a 1m\nwire a\n', 't'), { events: true });
  assert.deepEqual(r.failed, [4]);
  assert.equal(r.events!.at(-1)!.note, 'KERN_RESOURCE_SHORTAGE');
  assert.equal(r.map!.pmap.wired, 0);
});
