import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { formatDouble, formatG, parseCDouble, parseCLongToInt, signBit, sprintf } from '../src/stats/printf.js';
import { repoRoot } from './helpers/root.js';
import { runs } from './helpers/runs.js';


const tables = join(repoRoot(), 'test', 'fixtures', 'ministat', 'printf');

function fromBits(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setBigUint64(0, BigInt('0x' + hex));
  return view.getFloat64(0);
}

function toBits(x: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  return view.getBigUint64(0).toString(16).padStart(16, '0');
}

function rows(file: string): string[][] {
  return readFileSync(join(tables, file), 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('\t'));
}

// format.tsv was written by glibc's printf (generate.c): thousands of values,
// ties, boundaries of the %g notation switch, subnormals, inf/nan, flags.
test('sprintf matches glibc printf on the golden table', () => {
  const table = rows('format.tsv');
  assert.ok(table.length > 5000, 'the golden table is complete');
  const mismatches: string[] = [];
  for (const [format, bits, expected] of table) {
    const actual = sprintf(format, fromBits(bits));
    if (actual !== expected) mismatches.push(`${format} of ${bits}: got ${JSON.stringify(actual)}, C says ${JSON.stringify(expected)}`);
  }
  assert.deepEqual(mismatches.slice(0, 20), []);
});

test('%g rounds exact ties half to even, unlike toPrecision', () => {
  assert.equal(formatG(2.5, 1), '2');
  assert.equal(formatG(3.5, 1), '4');
  assert.equal(formatG(0.125, 2), '0.12');
  assert.equal(formatG(0.375, 2), '0.38');
  assert.equal(sprintf('%.0e', 2.5), '2e+00');
  assert.equal(sprintf('%.0f', 0.5), '0');
  assert.equal(sprintf('%.0f', 1.5), '2');
  assert.equal(sprintf('%.1f', 99.5), '99.5');
  // Not a tie: 2.675 is really 2.67499999999999982236431605997495353221893310546875.
  assert.equal(sprintf('%.2f', 2.675), '2.67');
});

test('%g switches notation on the exponent after rounding', () => {
  assert.equal(formatG(999999.5), '1e+06');
  assert.equal(formatG(999999.4), '999999');
  assert.equal(formatG(0.0001), '0.0001');
  assert.equal(formatG(0.00009999995), '0.0001');
  assert.equal(formatG(0.0000999994), '9.99994e-05');
  assert.equal(formatG(1e100), '1e+100');
  assert.equal(formatG(5e-324), '4.94066e-324');
  assert.equal(formatG(1.7976931348623157e308, 17), '1.7976931348623157e+308');
  assert.equal(formatG(123456789, 8, 13), '1.2345679e+08');
  assert.equal(formatG(12345678, 8, 13), '     12345678');
  assert.equal(sprintf('%#g|%#.3g|%#.3g', 999999.5, 999.95, 99.95), '1.e+06|1.e+03|100.');
  assert.equal(formatG(0, 0), '0');
});

test('signs: negative zero, infinities and NaN with its sign bit', () => {
  assert.equal(formatG(-0), '-0');
  assert.equal(formatG(-0, 8, 13), '           -0');
  assert.equal(formatG(-Infinity), '-inf');
  assert.equal(formatDouble(Infinity, 'G'), 'INF');
  assert.equal(formatG(NaN), 'nan');
  assert.equal(formatG(fromBits('fff8000000000000'), 8, 13), '         -nan');
  assert.equal(sprintf('%013.8g', Infinity), '          inf');
  assert.equal(sprintf('%+g|% g', 1, 1), '+1| 1');
  assert.equal(signBit(-0), true);
  assert.equal(signBit(0), false);
});

test('sprintf handles integers, strings, characters, * and %%', () => {
  assert.equal(sprintf('%c %3d %s', 'x', 10, 'name'), 'x  10 name');
  assert.equal(sprintf('%-5d|%05d|%+d|%.3d', 42, -42, 7, 5), '42   |-0042|+7|005');
  assert.equal(sprintf('%*.*g|%-*s|', 10, 3, Math.PI, 4, 'ab'), '      3.14|ab  |');
  assert.equal(sprintf('%.1f%% confidence', 95), '95.0% confidence');
  assert.equal(sprintf('%lu %lld %zd', 1, 2n, 3), '1 2 3');
  assert.throws(() => sprintf('%q', 1), RangeError);
  assert.throws(() => sprintf('%d %d', 1), RangeError);
});

test('parseCDouble matches glibc strtod on the golden table', () => {
  const table = rows('strtod.tsv');
  assert.ok(table.length > 50);
  for (const [json, bits, consumed] of table) {
    const input = JSON.parse(json) as string;
    const parsed = parseCDouble(input);
    assert.equal(parsed.end, Number(consumed), `characters consumed of ${json}`);
    const expected = fromBits(bits);
    if (Number.isNaN(expected)) {
      assert.ok(Number.isNaN(parsed.value), `${json} is NaN`);
    } else {
      assert.equal(toBits(parsed.value), bits, `value of ${json}`);
    }
  }
});

test('parseCLongToInt matches strtol stored in an int', () => {
  for (const [json, value, consumed] of rows('strtol.tsv')) {
    const parsed = parseCLongToInt(JSON.parse(json) as string);
    assert.equal(parsed.value, Number(value), `value of ${json}`);
    assert.equal(parsed.end, Number(consumed), `characters consumed of ${json}`);
  }
});

test('formatting then parsing %.17g round-trips every finite double', () => {
  fc.assert(
    fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (x) => {
      const text = formatG(x, 17);
      const back = parseCDouble(text);
      assert.equal(back.end, text.length);
      assert.equal(toBits(back.value), toBits(x));
    }),
    { numRuns: runs(2000) },
  );
});
