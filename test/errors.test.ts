/*
 * errors.ts: every PagelabError message is one bounded, escaped line,
 * whatever input it quotes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_MESSAGE_CHARS, PagelabError, safeMessage } from '../src/errors.js';
import { runs } from './helpers/runs.js';

/* What may not reach a terminal; the complement of what safeMessage lets through. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

describe('PagelabError messages', () => {
  it('keeps a short, safe message exactly', () => {
    const m = 'ram[1] [0x80000, 0x180000): overlaps ram[0] [0x0, 0x100000)';
    assert.equal(new PagelabError('EMEMMAP', m).message, m);
    assert.equal(safeMessage('naïve 💾 ok'), 'naïve 💾 ok');
  });

  it('escapes terminal controls, newlines, bidi overrides and lone surrogates', () => {
    assert.equal(new PagelabError('EINVAL', 'a\x1b[2Jb\nc\rd\te\x00\x7f\x9b').message, 'a\\x1b[2Jb\\nc\\rd\\te\\x00\\x7f\\x9b');
    assert.equal(safeMessage('x\u202ey\u2028z\ud800w\udc00'), 'x\\u{202e}y\\u{2028}z\\u{d800}w\\u{dc00}');
  });

  it('cuts megabytes to their head and tail, keeping the reason at the end', () => {
    const huge = 'tag "' + 'x'.repeat(10e6) + '": was never allocated';
    const m = new PagelabError('ETRACE', huge).message;
    assert.ok(m.length <= MAX_MESSAGE_CHARS, String(m.length));
    assert.match(m, /^tag "x+ \.\.\.\[\d+ characters cut\]\.\.\. x+": was never allocated$/);
  });

  it('any text becomes one safe line of at most MAX_MESSAGE_CHARS, and a second pass changes nothing', () => {
    const anyText = fc.oneof(
      // any UTF-16 code units, lone surrogates included (fc's 'binary' unit is slow to generate)
      fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 1200 }).map((units) => String.fromCharCode(...units)),
      fc.string({ unit: fc.constantFrom('\x1b', '\n', '\ud83d', '\udcbe', '\u202e', 'a', '\\'), maxLength: 1200 }),
    );
    fc.assert(
      fc.property(anyText, (s) => {
        const m = safeMessage(s);
        assert.ok(m.length <= MAX_MESSAGE_CHARS, `${m.length}`);
        assert.doesNotMatch(m, UNSAFE);
        assert.equal(safeMessage(m), m);
        if (s.length <= MAX_MESSAGE_CHARS && !UNSAFE.test(s)) assert.equal(m, s);
      }),
      { numRuns: runs(200) },
    );
  });
});
