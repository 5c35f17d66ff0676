/**
 * The replay fuzzer, bounded to seconds (FUZZ_RUNS=n runs it longer):
 * - random lines against a reference parser written the plain way (split
 *   into words, regular expressions), over the same operation table: the
 *   byte scanner accepts exactly what it accepts and decodes the same fields;
 * - random bytes: a trace either parses or fails with one safe line;
 * - random operation sequences against a model of the tags (live, failed,
 *   freed), with the consistency checker after every step: the right
 *   outcome, skip or error (ETRACE, EDOUBLEFREE) at the right line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PagelabError } from '../src/errors.js';
import { parseTrace, Replayer } from '../src/lab/replay.js';
import { OPS } from '../src/lab/trace-ops.js';
import type { FieldSpec } from '../src/lab/trace-parse.js';
import { parseSize } from '../src/util/units.js';
import { runs } from './helpers/runs.js';

const RUNS = runs(Number(process.env.FUZZ_RUNS ?? 300));

type Ref = { kind: 'blank' } | { kind: 'header' } | { kind: 'error' } | { kind: 'op'; op: Record<string, unknown> };

/* A field's value as trace.op decodes it, or undefined when the text is refused. */
function refField(f: FieldSpec, text: string): number | string | null | undefined {
  if (f.none !== undefined && text === f.none) return null;
  if (f.kind === 'tag') return /^[A-Za-z0-9_.:@/-]+$/.test(text) ? text : undefined;
  if (f.kind === 'enum') return (f.words ?? []).includes(text) ? text : undefined;
  if (f.kind === 'decimal') return /^[0-9]+(\.[0-9]+)?$/.test(text) && Number(text) <= (f.max ?? Infinity) ? Number(text) : undefined;
  if (f.kind === 'string') return undefined;
  const v = refNumber(f, text);
  if (v === null || (f.valid !== undefined && !f.valid(v))) return undefined;
  return v;
}

function refNumber(f: FieldSpec, text: string): number | null {
  let v: number;
  if (f.kind === 'int') {
    if (!/^[0-9]+$/.test(text)) return null;
    if (BigInt(text) > BigInt(f.max ?? Number.MAX_SAFE_INTEGER)) return null;
    v = Number(text);
  } else if (f.kind === 'pool') {
    const p = text.toLowerCase();
    if (p !== 'default' && p !== 'direct') return null;
    v = p === 'default' ? 1 : 2;
  } else {
    try {
      v = parseSize(text, f.name);
    } catch {
      return null;
    }
    if (f.max !== undefined && v > f.max) return null;
  }
  if (f.min !== undefined && v < f.min) return null;
  return v;
}

/* The trace format read the obvious way, one line at a time. */
function refLine(line: string): Ref {
  if (Buffer.byteLength(line) > 4096) return { kind: 'error' };
  const words = line.split('#')[0].split(/[ \t\r\f\v]+/).filter((w) => w !== '');
  if (words.length === 0) return { kind: 'blank' };
  if (words.length > 16) return { kind: 'error' };
  const [verb, ...rest] = words;
  if (verb === 'machine' || verb === 'set') {
    if (!rest.every((w) => /^[\x21-\x7e]{1,256}$/.test(w))) return { kind: 'error' };
    if (verb === 'machine') return rest.length === 1 && (rest[0].startsWith('mem=') || !rest[0].includes('=')) ? { kind: 'header' } : { kind: 'error' };
    return rest.length === 1 && rest[0].includes('=') ? { kind: 'header' } : { kind: 'error' };
  }
  const def = OPS.find((d) => d.verb === verb);
  if (def === undefined) return { kind: 'error' };
  const op: Record<string, unknown> = { op: verb, line: 1 };
  const positional: string[] = [];
  const opts = new Map<string, string>();
  const kws = new Set<string>();
  for (const w of rest) {
    const eq = w.indexOf('=');
    if (eq > 0) {
      if (opts.has(w.slice(0, eq))) return { kind: 'error' };
      opts.set(w.slice(0, eq), w.slice(eq + 1));
    } else if ((def.keywords ?? []).includes(w)) {
      if (kws.has(w)) return { kind: 'error' };
      kws.add(w);
    } else positional.push(w);
  }
  const required = (def.tag ? 1 : 0) + def.args.filter((f) => !f.optional).length;
  if (positional.length < required || positional.length > (def.tag ? 1 : 0) + def.args.length) return { kind: 'error' };
  if (def.tag) {
    const tag = positional.shift() as string;
    if (!/^[A-Za-z0-9_.:@/-]+$/.test(tag)) return { kind: 'error' };
    op.tag = tag;
  }
  for (let i = 0; i < def.args.length; i++) {
    const f = def.args[i];
    if (i >= positional.length) op[f.name] = f.dflt === undefined ? 0 : f.dflt;
    else {
      const v = refField(f, positional[i]);
      if (v === undefined) return { kind: 'error' };
      op[f.name] = v;
    }
  }
  for (const k of def.keywords ?? []) op[k] = kws.has(k);
  for (const name of opts.keys()) if (!(def.options ?? []).some((f) => f.name === name)) return { kind: 'error' };
  for (const f of def.options ?? []) {
    const text = opts.get(f.name);
    if (text === undefined) op[f.name] = f.dflt === undefined ? 0 : f.kind === 'enum' && f.dflt !== null ? (f.words ?? [])[f.dflt] : f.dflt;
    else {
      const v = refField(f, text);
      if (v === undefined) return { kind: 'error' };
      op[f.name] = v;
    }
  }
  if (def.check !== undefined) {
    // The cross-field condition reads the stored values: enums as indexes, nulls as -1.
    const fields = [...def.args, ...(def.keywords ?? []).map((k) => ({ name: k, kind: 'int' }) as FieldSpec), ...(def.options ?? [])];
    const stored = Float64Array.from(fields, (f) => {
      const x = op[f.name];
      return x === null ? -1 : typeof x === 'boolean' ? Number(x) : f.kind === 'enum' ? (f.words ?? []).indexOf(x as string) : (x as number);
    });
    if (def.check(stored, 0) !== null) return { kind: 'error' };
  }
  return { kind: 'op', op };
}

/* An error message fit for a terminal: one line, printable, short, naming the file and line. */
function assertSafe(e: unknown, text: string): void {
  assert.ok(e instanceof PagelabError, `not a PagelabError: ${String(e)} for ${JSON.stringify(text)}`);
  assert.equal(e.code, 'ETRACE');
  assert.match(e.message, /^t:\d+: /);
  assert.doesNotMatch(e.message, /[\x00-\x1f\x7f-\x9f]/, e.message);
  assert.ok(e.message.length < 400, e.message);
}

const VERBS = ['alloc', 'free', 'contig', 'write', 'verify', 'zeroidle', 'unfree', 'drain', 'idle', 'object', 'page', 'unwire', 'terminate', 'reclaim', 'machine', 'set', 'frob', 'ALLOC', 'allocx'];
const VALUES = ['0', '1', '12', '3', '4294967295', '4294967296', '99999999999999999999', '0x10', '0xffffffff', '0x100000000', '4K', '1M', '2m', '-1', '1.5', '', 'default', 'DIRECT', 'lazy', 'tiny-16m', 'vm.backed=1', 'none', 'anon', 'phys', 'system'];
const WORDS = ['a', 'b', 't1', 'x.y:z@w/q-r_s', 'zero', 'é', '\x1b[1m', 'a\x00', '=x', '#', '#c', ...VALUES];
const OPTION_NAMES = ['pool', 'domain', 'low', 'high', 'align', 'boundary', 'pages', 'mem', 'colour', 'type', 'size', 'color', 'n', 'class', ''];
const SEPARATORS = [' ', '\t', '  ', '\r', ' \f'];

const wordArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...WORDS) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...OPTION_NAMES), fc.constantFrom(...VALUES)).map(([k, v]) => `${k}=${v}`) },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);
const soupArb = fc
  .tuple(fc.constantFrom(...VERBS), fc.array(fc.tuple(fc.constantFrom(...SEPARATORS), wordArb), { maxLength: 8, size: 'max' }), fc.constantFrom('', ' ', '\t# note', '#x'), fc.constantFrom('', ' '))
  .map(([verb, words, tail, lead]) => lead + verb + words.map(([s, w]) => s + w).join('') + tail);
const GOOD: Record<Exclude<FieldSpec['kind'], 'enum' | 'string'>, string[]> = {
  int: ['0', '1', '3', '12', '007'],
  size: ['0', '4096', '0x1000', '64K', '1M', '1G'],
  pool: ['default', 'direct', 'Direct'],
  tag: ['o', 'heap', 'x.y'],
  decimal: ['0', '1.5', '1000', '007'],
};
const good = (f: FieldSpec): string[] => (f.kind === 'enum' ? [...(f.words ?? [])] : f.kind === 'string' ? [] : GOOD[f.kind]);
/* A line built from an operation's own syntax, then perhaps damaged: most are accepted. */
const specArb = fc
  .tuple(fc.constantFrom(...OPS.filter((d) => d.verb !== 'set')), fc.nat(), fc.subarray([0, 1, 2, 3, 4]), fc.boolean(), fc.option(fc.tuple(fc.nat(), wordArb), { freq: 3 }), fc.constantFrom(...SEPARATORS))
  .map(([def, pick, optIdx, kw, damage, sep]) => {
    const words: string[] = [def.verb];
    if (def.tag) words.push(['a', 'b2', 'x.y', 'q/r-s'][pick % 4]);
    for (const f of def.args) if (!f.optional || pick % 2 === 0) words.push(good(f)[pick % good(f).length]);
    if (kw) words.push(...(def.keywords ?? []));
    for (const i of optIdx) {
      const f = (def.options ?? [])[i];
      if (f !== undefined) words.push(`${f.name}=${good(f)[(pick >> 3) % good(f).length]}`);
    }
    if (damage !== null) words.splice(1 + (damage[0] % words.length), damage[0] % 3 === 0 ? 1 : 0, damage[1]);
    return words.join(sep);
  });
const lineArb = fc.oneof(soupArb, specArb);

test('fuzz: the byte scanner agrees with a plain reference parser, line by line', () => {
  const kinds: Record<Ref['kind'], number> = { blank: 0, header: 0, error: 0, op: 0 };
  fc.assert(
    fc.property(lineArb, (line) => {
      const ref = refLine(line);
      kinds[ref.kind]++;
      let trace;
      try {
        trace = parseTrace(line, 't');
      } catch (e) {
        assertSafe(e, line);
        assert.equal(ref.kind, 'error', `scanner refused ${JSON.stringify(line)}: ${(e as Error).message}`);
        return;
      }
      assert.notEqual(ref.kind, 'error', `scanner accepted ${JSON.stringify(line)}`);
      if (ref.kind === 'op') assert.deepEqual(trace.op(0), ref.op, JSON.stringify(line));
      else assert.equal(trace.length, 0);
    }),
    { numRuns: RUNS * 10 },
  );
  // The generator reaches both sides: lines accepted and lines refused.
  const total = kinds.error + kinds.op + kinds.header + kinds.blank;
  assert.ok(kinds.op > total / 10 && kinds.error > total / 10 && kinds.header > 0, JSON.stringify(kinds));
});

/*
 * Many lines at once: the scanner's shortcut (a line whose text after the tag
 * repeats the last line of its operation reuses that line's fields) must
 * decode every line as the reference parser decodes it alone, and fail on
 * the first line the reference refuses. Lines are drawn from a few verbs,
 * tags and tails so that repeats, near-repeats and keywords in the tag's
 * place all occur.
 */
const TAILS = ['', ' 0', ' 1', ' 0 zero', ' zero', ' 0  zero', ' 3 pool=direct', ' 0 domain=0', ' o 1', ' o 1 n=2', ' 12', ' 0x', ' x', ' 5 # c', '\t0'];
const GOOD_TAILS: Record<string, string[]> = {
  alloc: [' 0', ' 0', ' 1', ' 0 zero', ' 0  zero', ' 3 pool=direct', ' 0 domain=0', ' zero 0', ' 5 # c', '\t0'],
  free: ['', '', ' zero', ' # c', '  zero'],
  unwire: [''],
  terminate: [''],
};
const repeatLineArb = fc
  .tuple(fc.constantFrom('alloc', 'alloc', 'free', 'free', 'unwire', 'terminate'), fc.nat(), fc.oneof({ weight: 8, arbitrary: fc.constantFrom('t1', 't2', 't33') }, { weight: 1, arbitrary: fc.constantFrom('zero', 'pool=direct', 'a/b', 't\x01') }), fc.nat(), fc.integer({ min: 0, max: 9 }))
  .map(([verb, pick, tag, tailPick, odd]) => `${verb} ${tag}${odd === 0 ? TAILS[tailPick % TAILS.length] : GOOD_TAILS[verb][tailPick % GOOD_TAILS[verb].length]}`);

test('fuzz: a trace of many lines decodes each line as the reference decodes it alone', () => {
  let accepted = 0;
  fc.assert(
    fc.property(fc.array(repeatLineArb, { minLength: 1, maxLength: 12, size: 'max' }), (lines) => {
      const refs = lines.map(refLine);
      const bad = refs.findIndex((r) => r.kind === 'error');
      let trace;
      try {
        trace = parseTrace(lines.join('\n'), 't');
      } catch (e) {
        assertSafe(e, lines.join('\n'));
        assert.ok(bad >= 0, `scanner refused ${JSON.stringify(lines)}: ${(e as Error).message}`);
        assert.match((e as Error).message, new RegExp(`^t:${bad + 1}: `), `the error names line ${bad + 1}`);
        return;
      }
      assert.equal(bad, -1, `scanner accepted line ${bad + 1} of ${JSON.stringify(lines)}`);
      accepted++;
      assert.equal(trace.length, lines.length);
      refs.forEach((r, i) => assert.deepEqual(trace.op(i), { ...(r as { op: Record<string, unknown> }).op, line: i + 1 }, `line ${i + 1}: ${lines[i]}`));
    }),
    { numRuns: RUNS * 2 },
  );
  assert.ok(accepted > RUNS / 20, `only ${accepted} traces were accepted: the generator no longer reaches the shortcut`);
});

test('fuzz: random bytes parse or fail with one safe line', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300, size: 'max' }), fc.boolean(), (bytes, ops) => {
      // Half the cases start from a valid line so the scanner gets past the verb.
      const input = ops ? Buffer.concat([Buffer.from('alloc a 0\nfree '), bytes]) : bytes;
      try {
        parseTrace(input, 't');
      } catch (e) {
        assertSafe(e, input.toString('latin1'));
      }
    }),
    { numRuns: RUNS * 3 },
  );
});

type Op = { k: 'alloc'; tag: number; order: number } | { k: 'contig'; tag: number; npages: number } | { k: 'free'; tag: number } | { k: 'unfree'; page: number } | { k: 'drain' };
const TAGS = 6;
const seqOpArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('alloc' as const), tag: fc.nat(TAGS - 1), order: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(12)) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('contig' as const), tag: fc.nat(TAGS - 1), npages: fc.integer({ min: 1, max: 5000 }) }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('free' as const), tag: fc.nat(TAGS - 1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unfree' as const), page: fc.nat(4095) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('drain' as const) }) },
);
const opLine = (op: Op): string => {
  switch (op.k) {
    case 'alloc':
      return `alloc t${op.tag} ${op.order}`;
    case 'contig':
      return `contig t${op.tag} ${op.npages}`;
    case 'free':
      return `free t${op.tag}`;
    case 'unfree':
      return `unfree ${op.page * 4096}`;
    case 'drain':
      return 'drain';
  }
};

test('fuzz: replay follows a model of the tags, checker after every step', () => {
  fc.assert(
    fc.property(fc.array(seqOpArb, { maxLength: 40, size: 'max' }), fc.boolean(), (ops, lazy) => {
      const header = ['machine tiny-16m', `set vm.lazy_page_init=${lazy ? 1 : 0}`];
      const trace = parseTrace([...header, ...ops.map(opLine)].join('\n'), 't');
      const r = new Replayer(trace, { check: true });
      // The model: tag -> state, and the live tags in allocation order.
      const state = new Map<number, 'live' | 'failed' | 'freed'>();
      const live = new Map<number, true>();
      const failed: number[] = [];
      const skipped: number[] = [];
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i];
        const line = header.length + i + 1;
        const s = op.k === 'alloc' || op.k === 'contig' || op.k === 'free' ? state.get(op.tag) : undefined;
        let expectError: string | null = null;
        if ((op.k === 'alloc' || op.k === 'contig') && s === 'live') expectError = 'ETRACE';
        if (op.k === 'free' && s === undefined) expectError = 'ETRACE';
        if (op.k === 'free' && s === 'freed') expectError = 'EDOUBLEFREE';
        // tiny-16m has no RAM at [0x9f000, 0x100000).
        if (op.k === 'unfree' && op.page >= 0x9f && op.page < 0x100) expectError = 'ETRACE';
        if (expectError !== null) {
          assert.throws(
            () => r.step(),
            (e: unknown) => e instanceof PagelabError && e.code === expectError && e.message.startsWith(`t:${line}: `),
          );
          return;
        }
        assert.equal(r.step(), true);
        const ev = r.event();
        assert.equal(ev.line, line);
        if (op.k === 'alloc' || op.k === 'contig') {
          state.set(op.tag, ev.ok ? 'live' : 'failed');
          if (ev.ok) live.set(op.tag, true);
          else failed.push(line);
          assert.equal(ev.pages, op.k === 'alloc' ? 2 ** op.order : op.npages);
        } else if (op.k === 'free') {
          if (s === 'failed') {
            skipped.push(line);
            assert.equal(ev.ok, false);
          } else {
            state.set(op.tag, 'freed');
            live.delete(op.tag);
            assert.equal(ev.ok, true);
          }
        }
      }
      assert.equal(r.done, true);
      const res = r.result();
      assert.deepEqual(Object.keys(res.allocations), [...live.keys()].map((t) => `t${t}`));
      assert.deepEqual(res.failed, failed);
      assert.deepEqual(res.skipped_frees, skipped);
    }),
    { numRuns: Math.ceil(RUNS / 5) },
  );
});

type MixedOp = { k: 'alloc' | 'free' | 'write' | 'mmap' | 'munmap'; tag: number } | { k: 'page'; tag: number; pindex: number; n: number };
const mixedOpArb: fc.Arbitrary<MixedOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constantFrom('alloc' as const, 'free' as const, 'write' as const), tag: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constantFrom('mmap' as const, 'munmap' as const), tag: fc.nat(4) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('page' as const), tag: fc.nat(4), pindex: fc.nat(7), n: fc.integer({ min: 1, max: 2 }) }) },
);

test('fuzz: alloc, page and mapping tags share one name space, checker after every step', () => {
  fc.assert(
    fc.property(fc.array(mixedOpArb, { maxLength: 30, size: 'max' }), (ops) => {
      const header = ['machine tiny-16m', 'set vm.backed=1', 'object o'];
      const lines = ops.map((op) => (op.k === 'page' ? `page t${op.tag} o ${op.pindex} n=${op.n}` : op.k === 'alloc' ? `alloc t${op.tag} 0` : op.k === 'mmap' ? `mmap t${op.tag} 8k` : `${op.k} t${op.tag}`));
      const r = new Replayer(parseTrace([...header, ...lines].join('\n'), 't'), { check: true });
      assert.equal(r.step(), true); // object o
      // The model: what each tag holds, and the object's resident pindexes.
      const held = new Map<number, { kind: 'phys' | 'map' } | { kind: 'pages'; from: number; n: number }>();
      const resident = new Set<number>();
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i];
        const line = header.length + i + 1;
        const h = held.get(op.tag);
        let error = false;
        if (op.k === 'alloc' || op.k === 'page' || op.k === 'mmap') error = h !== undefined;
        if (op.k === 'munmap') error = h === undefined || h.kind !== 'map';
        if (op.k === 'page') for (let p = op.pindex; p < op.pindex + op.n; p++) error ||= resident.has(p);
        if (op.k === 'free' || op.k === 'write') error = h === undefined || h.kind === 'map' || (op.k === 'write' && h.kind === 'pages');
        if (error) {
          assert.throws(
            () => r.step(),
            (e: unknown) => e instanceof PagelabError && (e.code === 'ETRACE' || e.code === 'EDOUBLEFREE') && e.message.startsWith(`t:${line}: `),
            lines[i],
          );
          return;
        }
        assert.equal(r.step(), true);
        assert.equal(r.event().ok, true, lines[i]);
        if (op.k === 'alloc') held.set(op.tag, { kind: 'phys' });
        else if (op.k === 'mmap') held.set(op.tag, { kind: 'map' });
        else if (op.k === 'munmap') held.delete(op.tag);
        else if (op.k === 'page') {
          held.set(op.tag, { kind: 'pages', from: op.pindex, n: op.n });
          for (let p = op.pindex; p < op.pindex + op.n; p++) resident.add(p);
        } else if (op.k === 'free') {
          held.delete(op.tag);
          if (h !== undefined && h.kind === 'pages') for (let p = h.from; p < h.from + h.n; p++) resident.delete(p);
        }
      }
      const res = r.result();
      assert.deepEqual(Object.keys(res.allocations).sort(), [...held].filter(([, x]) => x.kind === 'phys').map(([t]) => `t${t}`).sort());
      assert.equal(res.objects.o.resident_pages, resident.size);
      assert.deepEqual((res.map?.entries ?? []).map((e) => e.name).sort(), [...held].filter(([, x]) => x.kind === 'map').map(([t]) => `t${t}`).sort());
      assert.deepEqual(res.failed, []);
    }),
    { numRuns: Math.ceil(RUNS / 5) },
  );
});
