/*
 * util/read-bounded.ts: every file a user names is read to a cap, never
 * to the end of whatever it turns out to be.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readBytesBounded, readTextBounded } from '../src/util/read-bounded.js';
import { code } from './helpers/errors.js';

describe('readTextBounded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pagelab-read-'));

  it('reads a file up to and including the cap', () => {
    const f = join(dir, 'ten');
    writeFileSync(f, '0123456789');
    assert.equal(readTextBounded(f, { maxBytes: 10 }), '0123456789');
    assert.equal(readTextBounded(f, { maxBytes: 1 << 20 }), '0123456789');
  });

  it('refuses one byte over the cap, naming the file and the cap', () => {
    const f = join(dir, 'eleven');
    writeFileSync(f, '0123456789A');
    assert.equal(code(() => readTextBounded(f, { maxBytes: 10, what: 'a trace' })), `EFBIG: ${f}: more than 10 (10 bytes), the limit for a trace`);
  });

  it('stops an endless device at the cap', () => {
    assert.match(code(() => readTextBounded('/dev/zero', { maxBytes: 1 << 20, label: '--memmap /dev/zero' })), /^EFBIG: --memmap \/dev\/zero: more than 1M \(1048576 bytes\)/);
  });

  it('reads a descriptor in chunks and leaves it open', () => {
    const fd = openSync('/dev/zero', 'r');
    try {
      assert.match(code(() => readBytesBounded(fd, { maxBytes: 200_000 })), /^EFBIG: descriptor \d+: more than 195\.3K \(200000 bytes\)/);
      assert.match(code(() => readBytesBounded(fd, { maxBytes: 200_000 })), /^EFBIG/); // still open
    } finally {
      closeSync(fd);
    }
  });

  it('says "is a directory" and "no such file" with the caller\'s code', () => {
    assert.equal(code(() => readTextBounded(dir, { maxBytes: 10, code: 'EMEMMAP' })), `EMEMMAP: ${dir}: is a directory`);
    assert.equal(code(() => readTextBounded(join(dir, 'nope'), { maxBytes: 10, label: 'replay: nope' })), 'EUSAGE: replay: nope: cannot open: no such file or directory');
  });

  it('decodes UTF-8, replacing malformed bytes', () => {
    const f = join(dir, 'utf8');
    writeFileSync(f, Buffer.from([0x68, 0xc3, 0xa9, 0xff, 0x21]));
    assert.equal(readTextBounded(f, { maxBytes: 5 }), 'h\u00e9\ufffd!');
  });

  it('refuses a cap that is not a positive integer', () => {
    for (const maxBytes of [0, -1, NaN, 1.5, 2 ** 60]) assert.match(code(() => readTextBounded('/dev/null', { maxBytes })), /^EINVAL: readBytesBounded: maxBytes/);
  });
});
