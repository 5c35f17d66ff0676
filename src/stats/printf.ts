/**
 * C printf(3) number formatting and strtod(3)/strtol(3) parsing, exact to
 * the digit, for tools whose output must match a C program byte for byte
 * (ministat prints with `%g`, `%13.8g`, `%.1f` and `%3d`).
 *
 * JavaScript's own conversions are not usable for that: `toPrecision` and
 * `toExponential` break exact ties upward where glibc rounds half to even
 * (`%.0e` of 2.5 is `2e+00`), `%g` needs C's choice between fixed and
 * exponential notation and its trailing-zero removal, and C prints `-nan`.
 * So the formatter expands the double into its exact decimal value with
 * BigInt and rounds that, as glibc does in the default rounding mode.
 */

/** The exact decimal value of a finite non-negative double: digits d0.d1d2... × 10^exponent. */
interface Decimal {
  /** Significant digits without leading or trailing zeros ("0" for zero). */
  digits: string;
  /** Power of ten of the first digit. */
  exponent: number;
}

const scratch = new DataView(new ArrayBuffer(8));

/*
 * Reports whether the sign bit of `x` is set, NaN and -0 included.
 * Requires nothing; guarantees C's signbit() semantics as far as the engine
 * preserves the NaN's bits.
 */
export function signBit(x: number): boolean {
  scratch.setFloat64(0, x);
  return (scratch.getUint8(0) & 0x80) !== 0;
}

/*
 * Expands a finite non-negative double into its exact decimal digits.
 * Requires: Number.isFinite(x) and x >= 0 (-0 is treated as 0).
 * Guarantees: the returned digits are the complete, exact expansion, since
 * every double is m × 2^e and 2^-k = 5^k / 10^k has a finite decimal form.
 */
function exactDecimal(x: number): Decimal {
  if (x === 0) return { digits: '0', exponent: 0 };
  scratch.setFloat64(0, x);
  const high = scratch.getUint32(0);
  const low = scratch.getUint32(4);
  const biased = (high >>> 20) & 0x7ff;
  let mantissa = (BigInt(high & 0xfffff) << 32n) | BigInt(low);
  let binaryExponent: number;
  if (biased === 0) {
    binaryExponent = -1074;
  } else {
    mantissa |= 1n << 52n;
    binaryExponent = biased - 1075;
  }
  let text: string;
  let exponent: number;
  if (binaryExponent >= 0) {
    text = (mantissa << BigInt(binaryExponent)).toString();
    exponent = text.length - 1;
  } else {
    text = (mantissa * 5n ** BigInt(-binaryExponent)).toString();
    exponent = text.length - 1 + binaryExponent;
  }
  return { digits: stripTrailingZeros(text), exponent };
}

function stripTrailingZeros(text: string): string {
  let end = text.length;
  while (end > 1 && text.charCodeAt(end - 1) === 48) end--;
  return text.slice(0, end);
}

/*
 * Rounds `value` to keep `keep` leading digits, half to even on exact ties.
 * Requires: value.digits has no trailing zeros (so any digit past a '5'
 * means "more than half"). `keep` may be zero or negative: the rounding
 * position then lies above the first digit, as %f asks of small numbers.
 * Guarantees: the result has at most max(keep, 1) digits, without trailing
 * zeros, and `exponent` accounts for a carry out of the top digit.
 */
function roundToDigits(value: Decimal, keep: number): Decimal {
  const { digits, exponent } = value;
  if (digits === '0' || keep >= digits.length) return value;
  if (keep < 0) return { digits: '0', exponent: 0 };
  const first = digits.charCodeAt(keep) - 48;
  const moreThanHalf = first > 5 || (first === 5 && digits.length > keep + 1);
  const exactHalf = first === 5 && digits.length === keep + 1;
  const lastKeptIsOdd = keep > 0 && (digits.charCodeAt(keep - 1) - 48) % 2 === 1;
  const roundUp = moreThanHalf || (exactHalf && lastKeptIsOdd);
  if (keep === 0) {
    return roundUp ? { digits: '1', exponent: exponent + 1 } : { digits: '0', exponent: 0 };
  }
  if (!roundUp) return { digits: stripTrailingZeros(digits.slice(0, keep)), exponent };
  const kept = digits.slice(0, keep).split('').map((c) => c.charCodeAt(0) - 48);
  let i = kept.length - 1;
  while (i >= 0 && kept[i] === 9) {
    kept[i] = 0;
    i--;
  }
  if (i < 0) return { digits: '1', exponent: exponent + 1 };
  kept[i]++;
  return { digits: stripTrailingZeros(kept.join('')), exponent };
}

/* Digit `position` (power of ten) of a decimal, '0' outside its digits. */
function digitAt(value: Decimal, position: number): string {
  const index = value.exponent - position;
  return index >= 0 && index < value.digits.length ? value.digits[index] : '0';
}

/* Fixed notation of an already rounded decimal with `fractionDigits` after the point. */
function fixedText(value: Decimal, fractionDigits: number, alternate: boolean): string {
  let integer = '';
  for (let p = Math.max(value.exponent, 0); p >= 0; p--) integer += digitAt(value, p);
  let fraction = '';
  for (let p = -1; p >= -fractionDigits; p--) fraction += digitAt(value, p);
  return fractionDigits > 0 || alternate ? `${integer}.${fraction}` : integer;
}

/* Exponential notation of an already rounded decimal with `fractionDigits` after the point. */
function exponentialText(value: Decimal, fractionDigits: number, alternate: boolean, upper: boolean): string {
  const exponent = value.digits === '0' ? 0 : value.exponent;
  let mantissa = value.digits[0];
  if (fractionDigits > 0 || alternate) mantissa += '.';
  for (let i = 1; i <= fractionDigits; i++) mantissa += value.digits[i] ?? '0';
  const magnitude = String(Math.abs(exponent)).padStart(2, '0');
  return `${mantissa}${upper ? 'E' : 'e'}${exponent < 0 ? '-' : '+'}${magnitude}`;
}

/* Drops trailing fraction zeros and a bare point, as %g does without '#'. */
function trimFraction(text: string): string {
  const ePos = text.search(/[eE]/);
  const mantissa = ePos < 0 ? text : text.slice(0, ePos);
  const suffix = ePos < 0 ? '' : text.slice(ePos);
  if (!mantissa.includes('.')) return text;
  return mantissa.replace(/0+$/, '').replace(/\.$/, '') + suffix;
}

/** Flags and sizes of one printf conversion, as in `%-+ #0width.precision`. */
export interface ConversionSpec {
  /** `-`: pad on the right. */
  leftJustify?: boolean;
  /** `+`: always print a sign. */
  forceSign?: boolean;
  /** ` `: print a space where a plus sign would go. */
  spaceSign?: boolean;
  /** `#`: keep the point and, for %g, the trailing zeros. */
  alternate?: boolean;
  /** `0`: pad with zeros after the sign (numbers only, ignored with `-`). */
  zeroPad?: boolean;
  /** Minimum field width. */
  width?: number;
  /** Precision; undefined means the conversion's default. */
  precision?: number;
}

/* Applies sign, zero padding and width to a formatted magnitude. */
function pad(body: string, negative: boolean, spec: ConversionSpec, zeroPadAllowed: boolean): string {
  const sign = negative ? '-' : spec.forceSign ? '+' : spec.spaceSign ? ' ' : '';
  const width = spec.width ?? 0;
  const length = sign.length + body.length;
  if (length >= width) return sign + body;
  if (spec.leftJustify) return sign + body + ' '.repeat(width - length);
  if (spec.zeroPad && zeroPadAllowed) return sign + '0'.repeat(width - length) + body;
  return ' '.repeat(width - length) + sign + body;
}

/**
 * Formats a double as C's printf does with conversion `e`, `E`, `f`, `F`,
 * `g` or `G` and the given flags, width and precision (default 6).
 * Requires: precision, if given, is a non-negative integer.
 * Guarantees: the same characters glibc prints in the default rounding
 * mode: exact ties round half to even, `inf`/`nan` (upper case for E, F, G),
 * `-nan` when the NaN's sign bit is set, `-0` for negative zero.
 */
export function formatDouble(value: number, conversion: 'e' | 'E' | 'f' | 'F' | 'g' | 'G', spec: ConversionSpec = {}): string {
  const upper = conversion === 'E' || conversion === 'F' || conversion === 'G';
  const negative = signBit(value);
  if (!Number.isFinite(value)) {
    const word = Number.isNaN(value) ? 'nan' : 'inf';
    return pad(upper ? word.toUpperCase() : word, negative, spec, false);
  }
  const exact = exactDecimal(Math.abs(value));
  const alternate = spec.alternate === true;
  let precision = spec.precision ?? 6;
  let body: string;
  switch (conversion) {
    case 'f':
    case 'F': {
      const rounded = roundToDigits(exact, exact.exponent + 1 + precision);
      body = fixedText(rounded, precision, alternate);
      break;
    }
    case 'e':
    case 'E': {
      const rounded = roundToDigits(exact, precision + 1);
      body = exponentialText(rounded, precision, alternate, upper);
      break;
    }
    default: {
      if (precision === 0) precision = 1;
      const rounded = roundToDigits(exact, precision);
      // C decides between the notations on the exponent after rounding.
      const exponent = rounded.digits === '0' ? 0 : rounded.exponent;
      if (exponent < precision && exponent >= -4) {
        body = fixedText(rounded, precision - 1 - exponent, alternate);
      } else if (alternate && exponent === precision && exact.exponent === precision - 1) {
        // glibc quirk: when rounding carries a fixed-notation candidate into
        // exponential notation, '#' keeps the fixed form's zero fraction digits.
        body = exponentialText(rounded, 0, true, upper);
      } else {
        body = exponentialText(rounded, precision - 1, alternate, upper);
      }
      if (!alternate) body = trimFraction(body);
    }
  }
  return pad(body, negative, spec, true);
}

/**
 * `%.*g`: the shortest of C's fixed or exponential forms with `precision`
 * significant digits, trailing zeros removed.
 * Requires: precision is a non-negative integer (0 behaves as 1).
 * Guarantees: formatDouble(value, 'g', { precision, width }).
 */
export function formatG(value: number, precision = 6, width = 0): string {
  return formatDouble(value, 'g', { precision, width });
}

/*
 * Formats an integer for %d/%i/%u with C's flags; precision is the minimum
 * digit count. Requires: value is an integer (number or bigint).
 */
function formatInteger(value: number | bigint, spec: ConversionSpec): string {
  const big = typeof value === 'bigint' ? value : BigInt(Math.trunc(value));
  const negative = big < 0n;
  let digits = (negative ? -big : big).toString();
  if (spec.precision !== undefined) {
    digits = spec.precision === 0 && big === 0n ? '' : digits.padStart(spec.precision, '0');
  }
  return pad(digits, negative, spec, spec.precision === undefined);
}

/**
 * A small sprintf for the conversions C tools use to print numbers and
 * text: %d %i %u %e %E %f %F %g %G %s %c %%, with flags `-+ #0`, width and
 * precision (`*` takes them from the arguments) and length modifiers
 * (h, l, ll, L, z, j, t), which are accepted and ignored.
 * Requires: arguments match their conversions (numbers for numeric ones).
 * Guarantees: the characters C's printf writes for the same format and
 * values; an unknown conversion throws, rather than print something else.
 */
export function sprintf(format: string, ...args: ReadonlyArray<number | bigint | string>): string {
  let out = '';
  let next = 0;
  const take = (): number | bigint | string => {
    if (next >= args.length) throw new RangeError(`sprintf: too few arguments for "${format}"`);
    return args[next++];
  };
  const pattern = /%([-+ #0]*)(\*|\d+)?(?:\.(\*|\d*))?(hh|h|ll|l|L|z|j|t)?([diueEfFgGsc%])/gy;
  let i = 0;
  while (i < format.length) {
    const percent = format.indexOf('%', i);
    if (percent < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, percent);
    pattern.lastIndex = percent;
    const m = pattern.exec(format);
    if (m === null) throw new RangeError(`sprintf: unsupported conversion at ${percent} in "${format}"`);
    i = pattern.lastIndex;
    const [, flags, widthText, precisionText, , conversion] = m;
    if (conversion === '%') {
      out += '%';
      continue;
    }
    const spec: ConversionSpec = {
      leftJustify: flags.includes('-'),
      forceSign: flags.includes('+'),
      spaceSign: flags.includes(' '),
      alternate: flags.includes('#'),
      zeroPad: flags.includes('0'),
    };
    if (widthText === '*') {
      const w = Number(take());
      if (w < 0) spec.leftJustify = true;
      spec.width = Math.abs(w);
    } else if (widthText !== undefined) {
      spec.width = Number(widthText);
    }
    if (precisionText !== undefined) {
      const p = precisionText === '*' ? Number(take()) : Number(precisionText || '0');
      // A negative precision taken from the arguments counts as omitted.
      if (p >= 0) spec.precision = p;
    }
    const arg = take();
    switch (conversion) {
      case 'd':
      case 'i':
      case 'u':
        out += formatInteger(arg as number | bigint, spec);
        break;
      case 's': {
        const text = String(arg);
        const cut = spec.precision === undefined ? text : text.slice(0, spec.precision);
        out += pad(cut, false, { ...spec, forceSign: false, spaceSign: false }, false);
        break;
      }
      case 'c': {
        const ch = typeof arg === 'string' ? arg.slice(0, 1) : String.fromCharCode(Number(arg));
        out += pad(ch, false, { ...spec, forceSign: false, spaceSign: false }, false);
        break;
      }
      default:
        out += formatDouble(Number(arg), conversion as 'e' | 'E' | 'f' | 'F' | 'g' | 'G', spec);
    }
  }
  return out;
}

/** The result of a C-style parse: the value and the index just past what was consumed. */
export interface ParsedNumber {
  value: number;
  /** Index after the last character used; equals the start index when nothing was converted. */
  end: number;
}

/* C's isspace() in the "C" locale. */
export function isCSpace(code: number): boolean {
  return code === 32 || (code >= 9 && code <= 13);
}

/*
 * Converts m × 2^e to the nearest double, ties to even, with gradual
 * underflow and overflow to Infinity. Requires: m >= 0.
 */
function scaleBinary(mantissa: bigint, exponent: number): number {
  if (mantissa === 0n) return 0;
  const bitLength = mantissa.toString(2).length;
  let shift = bitLength - 53;
  // Subnormals have fewer significant bits: never keep bits below 2^-1074.
  if (exponent + shift < -1074) shift = -1074 - exponent;
  let q: bigint;
  if (shift > 0) {
    const big = BigInt(shift);
    q = mantissa >> big;
    const remainder = mantissa - (q << big);
    const half = 1n << (big - 1n);
    if (remainder > half || (remainder === half && (q & 1n) === 1n)) q += 1n;
  } else {
    q = mantissa << BigInt(-shift);
  }
  const unit = exponent + shift;
  if (unit > 1023) return Infinity;
  // q < 2^54 is exact as a double, and so is the power of two; so is the product unless it overflows.
  return unit < -1022 ? Number(q) * 2 ** -1022 * 2 ** (unit + 1022) : Number(q) * 2 ** unit;
}

/**
 * Parses a number the way glibc's strtod(3) does in the "C" locale,
 * starting at `start`: leading isspace() characters, an optional sign, then
 * a decimal number with optional exponent, a hexadecimal `0x` number with
 * optional binary `p` exponent, `inf`/`infinity` or `nan`/`nan(chars)`,
 * all letters in either case.
 * Requires: 0 <= start <= text.length.
 * Guarantees: the correctly rounded value (ties to even) and the end of the
 * longest valid prefix; `end === start` when no number was found, as strtod
 * then reports the original pointer.
 */
export function parseCDouble(text: string, start = 0): ParsedNumber {
  let i = start;
  while (i < text.length && isCSpace(text.charCodeAt(i))) i++;
  let negative = false;
  if (text[i] === '+' || text[i] === '-') {
    negative = text[i] === '-';
    i++;
  }
  const signed = (v: number): number => (negative ? -v : v);
  const rest = text.slice(i);
  const special = /^(inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)/i.exec(rest);
  if (special !== null) {
    const isNaN = special[1][0].toLowerCase() === 'n';
    return { value: signed(isNaN ? NaN : Infinity), end: i + special[1].length };
  }
  const hex = /^0[xX](?=\.?[0-9A-Fa-f])([0-9A-Fa-f]*)(?:\.([0-9A-Fa-f]*))?(?:[pP]([+-]?[0-9]+))?/.exec(rest);
  if (hex !== null) {
    const whole = hex[1];
    const fraction = hex[2] ?? '';
    const digits = (whole + fraction).replace(/^0+/, '') || '0';
    // Clamp huge exponents: beyond ±100000 the result is 0 or Infinity anyway.
    const exponent = Math.max(-100000, Math.min(100000, Number(hex[3] ?? '0')));
    const value = scaleBinary(BigInt('0x' + digits), exponent - 4 * fraction.length);
    return { value: signed(value), end: i + hex[0].length };
  }
  const decimal = /^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/.exec(rest);
  if (decimal !== null) {
    return { value: signed(Number(decimal[0])), end: i + decimal[0].length };
  }
  return { value: 0, end: start };
}

/**
 * Parses an integer the way strtol(3) does with base 10 and then stores it
 * in a C `int`, as `int x = strtol(...)` does: leading isspace(), optional
 * sign, digits; out-of-range values saturate at the `long` limits and then
 * keep their low 32 bits.
 * Requires: 0 <= start <= text.length.
 * Guarantees: `end === start` when there are no digits (and value 0).
 */
export function parseCLongToInt(text: string, start = 0): ParsedNumber {
  const m = /^[\t\n\v\f\r ]*([+-]?)([0-9]+)/.exec(text.slice(start));
  if (m === null) return { value: 0, end: start };
  let big = BigInt(m[2]);
  if (m[1] === '-') big = -big;
  const longMax = (1n << 63n) - 1n;
  const longMin = -(1n << 63n);
  if (big > longMax) big = longMax;
  if (big < longMin) big = longMin;
  return { value: Number(BigInt.asIntN(32, big)), end: start + m[0].length };
}
