/**
 * Property tests: random xalloc/xfree sequences with random constraints
 * against a reference model (a plain list of allocated intervals), with
 * the arena's checker run after every step.
 *
 * The oracles are brute force and share no code with vmem: feasibility is
 * found by stepping through every aligned candidate of every free gap.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PagelabError } from '../src/errors.js';
import { Vmem, M_BESTFIT, M_INSTANTFIT, M_NEXTFIT, VMEM_ADDR_MAX, VMEM_ALLOC, VMEM_FREE, VMEM_FAILED } from '../src/kern/vmem.js';
import { runs } from './helpers/runs.js';

const FITS = [M_INSTANTFIT, M_BESTFIT, M_NEXTFIT];

type Iv = { start: number; end: number }; // [start, end)

/** Union of intervals, sorted, with touching ones joined. */
function union(ivs: Iv[]): Iv[] {
  const s = [...ivs].sort((a, b) => a.start - b.start);
  const out: Iv[] = [];
  for (const iv of s) {
    const last = out[out.length - 1];
    if (last !== undefined && last.end >= iv.start) last.end = Math.max(last.end, iv.end);
    else out.push({ ...iv });
  }
  return out;
}

/** Free gaps: spans minus allocations. */
function gaps(spans: Iv[], allocs: Map<number, number>): Iv[] {
  const busy = [...allocs].map(([a, s]) => ({ start: a, end: a + s })).sort((x, y) => x.start - y.start);
  const out: Iv[] = [];
  for (const sp of union(spans)) {
    let cur = sp.start;
    for (const b of busy) {
      if (b.end <= sp.start || b.start >= sp.end) continue;
      if (b.start > cur) out.push({ start: cur, end: b.start });
      cur = Math.max(cur, b.end);
    }
    if (cur < sp.end) out.push({ start: cur, end: sp.end });
  }
  return out;
}

interface Req {
  size: number;
  align: number;
  phase: number;
  nocross: number;
  min: number;
  max: number;
}

const isPow2 = (x: number) => x > 0 && Number.isInteger(Math.log2(x));
const crosses = (a: number, size: number, nocross: number) =>
  nocross !== 0 && Math.floor(a / nocross) !== Math.floor((a + size - 1) / nocross);

/** Lowest address in [lo, hi) (and in [min, max]) meeting the request, by stepping; -1 if none. */
function lowestIn(lo: number, hi: number, r: Req, q: number): number {
  const rsize = Math.ceil(r.size / q) * q;
  const A = r.align || q;
  const from = Math.max(lo, r.min);
  let x = from - ((((from - r.phase) % A) + A) % A);
  if (x < from) x += A;
  for (; x + rsize <= hi && x + rsize - 1 <= r.max; x += A) {
    if (!crosses(x, rsize, r.nocross)) return x;
  }
  return -1;
}

/** The error class the spec demands for this request, from its arguments alone; null if none. */
function expectedError(r: Req, q: number): string | null {
  const rsize = Math.ceil(r.size / q) * q;
  const A = r.align || q;
  if (!isPow2(A) || A % q !== 0) return 'ENOSPC';
  if (r.phase % q !== 0 || r.phase >= A) return 'ENOSPC';
  if (r.nocross !== 0) {
    if (!isPow2(r.nocross) || r.nocross % q !== 0 || rsize > r.nocross) return 'ENOSPC';
    if (crosses(r.phase, rsize, r.nocross)) return 'ENOSPC';
  }
  if (r.min > r.max) return 'ENOSPC';
  // The window itself must hold a candidate; windows are small or open-ended.
  const hi = r.max === VMEM_ADDR_MAX ? r.min + 4 * (rsize + A + (r.nocross || 0)) : r.max + 1;
  if (lowestIn(r.min, hi, r, q) < 0) return 'ENOSPC';
  return null;
}

/** Every constraint the request puts on a result at `a`. */
function assertSatisfies(a: number, r: Req, q: number, where: string): void {
  const rsize = Math.ceil(r.size / q) * q;
  const A = r.align || q;
  assert.equal(((a - r.phase) % A + A) % A, 0, `${where}: ${a} is not ${r.phase} mod ${A}`);
  assert.ok(!crosses(a, rsize, r.nocross), `${where}: [${a}, ${a + rsize}) crosses a multiple of ${r.nocross}`);
  assert.ok(a >= r.min && a + rsize - 1 <= r.max, `${where}: [${a}, ${a + rsize}) is outside [${r.min}, ${r.max}]`);
}

const order = (qsize: number) => (qsize <= 32 ? qsize - 1 : Math.floor(Math.log2(qsize)) + 26);

/** Arbitrary xalloc request for an arena of quantum q whose spans end below `end`. */
function reqArb(q: number, end: number): fc.Arbitrary<Req & { fit: number }> {
  return fc
    .record({
      sizeQ: fc.integer({ min: 1, max: 40 }),
      sub: fc.integer({ min: 0, max: q - 1 }),
      alignK: fc.integer({ min: -1, max: 7 }),
      phaseQ: fc.nat(127),
      nocrossK: fc.integer({ min: -3, max: 8 }),
      window: fc.integer({ min: 0, max: 3 }),
      a: fc.nat(end + 64 * q),
      b: fc.nat(end + 64 * q),
      fit: fc.constantFrom(...FITS),
      junk: fc.integer({ min: 0, max: 39 }),
      plain: fc.integer({ min: 0, max: 2 }),
    })
    .map((g) => {
      if (g.plain === 0) return { size: Math.max(1, g.sizeQ * q - g.sub), align: 0, phase: 0, nocross: 0, min: 0, max: VMEM_ADDR_MAX, fit: g.fit };
      const size = Math.max(1, g.sizeQ * q - g.sub);
      let align = g.alignK < 0 ? 0 : q * 2 ** g.alignK;
      let phase = (g.phaseQ * q) % (align || q);
      let nocross = g.nocrossK < 0 ? 0 : q * 2 ** g.nocrossK;
      let min = 0;
      let max = VMEM_ADDR_MAX;
      if (g.window === 1) min = g.a;
      else if (g.window >= 2) {
        min = Math.min(g.a, g.b);
        max = Math.max(g.a, g.b);
      }
      // now and then, an argument that can never work
      if (g.junk === 0) align = 3 * q;
      else if (g.junk === 1) phase = align || q;
      else if (g.junk === 2 && q > 1) phase = q / 2;
      else if (g.junk === 3) nocross = 3 * q;
      else if (g.junk === 4) [min, max] = [max === VMEM_ADDR_MAX ? min + 1 : max + 1, min];
      else if (g.junk === 5 && q > 1) align = q / 2;
      return { size, align, phase, nocross, min, max, fit: g.fit };
    });
}

type Op =
  | { k: 'alloc'; r: Req & { fit: number } }
  | { k: 'free'; pick: number }
  | { k: 'bad'; addr: number; sizeQ: number }
  | { k: 'again'; pick: number };

function opsArb(q: number, end: number): fc.Arbitrary<Op[]> {
  return fc.array(
    fc.oneof(
      { weight: 6, arbitrary: reqArb(q, end).map((r): Op => ({ k: 'alloc', r })) },
      { weight: 4, arbitrary: fc.nat().map((pick): Op => ({ k: 'free', pick })) },
      {
        weight: 1,
        arbitrary: fc
          .record({ addr: fc.oneof(fc.nat(end + 32 * q), fc.constant(-q), fc.constant(0.5)), sizeQ: fc.integer({ min: 1, max: 40 }) })
          .map((x): Op => ({ k: 'bad', ...x })),
      },
      { weight: 1, arbitrary: fc.nat().map((pick): Op => ({ k: 'again', pick })) },
    ),
    { maxLength: 60, size: 'max' },
  );
}

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    if (e instanceof PagelabError) return e.code;
    throw e;
  }
}

/** The arena's busy segments must be exactly the model's allocations. */
function assertMatchesModel(vm: Vmem, model: Map<number, number>): void {
  const busy = vm.segments().filter((s) => s.type === 'busy');
  assert.equal(busy.length, model.size, 'busy segment count');
  for (const s of busy) assert.equal(model.get(s.start), s.size, `busy segment at ${s.start}`);
  assert.equal(vm.size(VMEM_ALLOC), [...model.values()].reduce((a, b) => a + b, 0));
}

/** Expected error class for freeing (addr, size) given the model; 'ok' if it is a valid free. */
function expectedFreeError(addr: number, size: number, q: number, spans: Iv[], model: Map<number, number>): string {
  if (!Number.isSafeInteger(addr) || addr < 0) return 'EINVAL';
  if (!spans.some((s) => addr >= s.start && addr < s.end)) return 'EWRONGARENA';
  for (const [a, s] of model) {
    if (addr === a) return Math.ceil(size / q) * q === s ? 'ok' : 'ENOTALLOC';
    if (addr > a && addr < a + s) return 'ENOTALLOC';
  }
  return 'EDOUBLEFREE';
}

describe('vmem against an interval-set model', () => {
  const arenaArb = fc
    .record({
      q: fc.constantFrom(1, 16),
      spans: fc.array(fc.record({ gapQ: fc.integer({ min: 0, max: 40 }), sizeQ: fc.integer({ min: 8, max: 160 }) }), {
        minLength: 1,
        maxLength: 3,
      }),
    })
    .map(({ q, spans }) => {
      let at = 0x10000 * q; // spans start well above 0
      const out: Iv[] = [];
      for (const s of spans) {
        at += s.gapQ * q; // a gap of 0 makes adjacent spans, which merge
        out.push({ start: at, end: at + s.sizeQ * q });
        at += s.sizeQ * q;
      }
      return { q, spans: out, end: at };
    });

  test('random xalloc/xfree with random constraints: results satisfy them, nothing overlaps, failures are exact', () => {
    fc.assert(
      fc.property(
        arenaArb.chain((a) => opsArb(a.q, a.end).map((ops) => ({ ...a, ops }))),
        ({ q, spans, ops }) => {
          const vm = new Vmem('model', 0, 0, q);
          for (const s of [...spans].reverse()) vm.add(s.start, s.end - s.start);
          vm.check();
          const model = new Map<number, number>();
          const freed: number[] = [];
          let cursor = 0; // the model's next-fit cursor
          for (const op of ops) {
            if (op.k === 'alloc') {
              const { r } = op;
              const want = expectedError(r, q);
              const before = gaps(spans, model);
              let got: number | string;
              try {
                got = vm.xalloc(r.size, r.align, r.phase, r.nocross, r.min, r.max, r.fit);
              } catch (e) {
                if (!(e instanceof PagelabError)) throw e;
                got = e.code;
              }
              if (want !== null) {
                assert.equal(got, want, `request ${JSON.stringify(r)}`);
              } else {
                assert.equal(typeof got, 'number', `request ${JSON.stringify(r)} threw ${String(got)}`);
                const a = got as number;
                const rsize = Math.ceil(r.size / q) * q;
                const lowest = before.map((g) => ({ g, x: lowestIn(g.start, g.end, r, q) })).filter((c) => c.x >= 0);
                if (a === VMEM_FAILED) {
                  assert.equal(lowest.length, 0, `failed although ${lowest[0]?.x} fits ${JSON.stringify(r)}`);
                } else {
                  assertSatisfies(a, r, q, JSON.stringify(r));
                  const gap = before.find((g) => a >= g.start && a + rsize <= g.end);
                  assert.ok(gap !== undefined, `[${a}, ${a + rsize}) is not inside free space`);
                  if (r.fit !== M_NEXTFIT) assert.equal(a, lowestIn(gap.start, gap.end, r, q), 'the lowest fitting address of its segment');
                  if (r.fit === M_NEXTFIT) {
                    const after = lowest.map((c) => lowestIn(Math.max(c.g.start, cursor), c.g.end, r, q)).filter((x) => x >= 0);
                    const expect = after.length > 0 ? Math.min(...after) : Math.min(...lowest.map((c) => c.x));
                    assert.equal(a, expect, `next fit from cursor ${cursor}`);
                    cursor = a + rsize;
                  } else if (r.fit === M_INSTANTFIT && r.align <= q && r.nocross === 0 && r.min === 0 && r.max === VMEM_ADDR_MAX) {
                    // unconstrained: the head of the first list whose every segment fits
                    const qs = rsize / q;
                    const first = order(qs) + (qs > 32 && !isPow2(qs) ? 1 : 0);
                    const roomy = before.map((g) => order((g.end - g.start) / q)).filter((o) => o >= first);
                    const expect = roomy.length > 0 ? Math.min(...roomy) : Math.min(...lowest.map((c) => order((c.g.end - c.g.start) / q)));
                    assert.equal(order((gap.end - gap.start) / q), expect, 'instant fit takes the first list whose sizes all fit');
                  } else if (r.fit === M_BESTFIT) {
                    const best = Math.min(...lowest.map((c) => order((c.g.end - c.g.start) / q)));
                    assert.equal(order((gap.end - gap.start) / q), best, 'best fit takes the smallest list that fits');
                  }
                  model.set(a, rsize);
                }
              }
            } else if (op.k === 'free' || op.k === 'again') {
              if (op.k === 'free') {
                if (model.size === 0) continue;
                const [a, s] = [...model][op.pick % model.size];
                vm.xfree(a, s);
                model.delete(a);
                freed.push(a, s);
              } else {
                if (freed.length === 0) continue;
                const i = (op.pick % (freed.length / 2)) * 2;
                const [a, s] = [freed[i], freed[i + 1]];
                const want = expectedFreeError(a, s, q, spans, model);
                if (want === 'ok') continue; // reallocated since: a valid free
                const snap = JSON.stringify(vm.segments());
                assert.equal(codeOf(() => vm.xfree(a, s)), want, `second free of ${a}`);
                assert.equal(JSON.stringify(vm.segments()), snap, 'a failed free changes nothing');
              }
            } else {
              const size = op.sizeQ * q;
              const want = expectedFreeError(op.addr, size, q, spans, model);
              if (want === 'ok') continue;
              const snap = JSON.stringify(vm.segments());
              assert.equal(codeOf(() => vm.xfree(op.addr, size)), want, `bad free of ${op.addr}+${size}`);
              assert.equal(JSON.stringify(vm.segments()), snap, 'a failed free changes nothing');
            }
            vm.check();
            assertMatchesModel(vm, model);
          }
          for (const [a, s] of model) vm.xfree(a, s);
          vm.check();
          assert.equal(vm.size(VMEM_ALLOC), 0);
          // everything freed comes back: one free segment per (merged) span
          const segs = vm.segments();
          assert.deepEqual(
            segs.filter((s) => s.type === 'free').map((s) => [s.start, s.start + s.size]),
            union(spans).map((s) => [s.start, s.end]),
          );
        },
      ),
      { numRuns: runs(500) },
    );
  });
});

describe('stacked arenas against the model', () => {
  test('a child importing from a parent: spans come and go, the parent holds exactly the child spans', () => {
    const q = 16;
    const PBASE = 0x40000 * q;
    const PSIZE = 1024 * q;
    fc.assert(
      fc.property(
        fc.record({
          iq: fc.integer({ min: 1, max: 48 }),
          importAlignK: fc.integer({ min: -1, max: 5 }),
          ops: opsArb(q, PBASE + PSIZE),
        }),
        ({ iq, importAlignK, ops }) => {
          const parent = new Vmem('parent', PBASE, PSIZE, q);
          const child = new Vmem('child', 0, 0, q);
          const importAlign = importAlignK < 0 ? 0 : q * 2 ** importAlignK;
          child.setImport(
            (p: Vmem, size: number, flags: number) => p.xalloc(size, importAlign, 0, 0, 0, VMEM_ADDR_MAX, flags),
            (p: Vmem, addr: number, size: number) => p.xfree(addr, size),
            parent,
            iq * q,
          );
          const model = new Map<number, number>();
          const check = (): void => {
            child.check();
            parent.check();
            assertMatchesModel(child, model);
            const childSpans = child.segments().filter((s) => s.type === 'span');
            const parentBusy = parent.segments().filter((s) => s.type === 'busy');
            assert.deepEqual(
              childSpans.map((s) => [s.start, s.size]),
              parentBusy.map((s) => [s.start, s.size]),
              'the parent lends exactly the child spans',
            );
            if (importAlign !== 0) for (const s of childSpans) assert.equal(s.start % importAlign, 0);
            assert.equal(parent.size(VMEM_ALLOC), child.size(VMEM_ALLOC | VMEM_FREE));
            // no span may be left wholly free (the checker also insists)
            for (const s of childSpans) {
              const used = [...model].some(([a, z]) => a < s.start + s.size && a + z > s.start);
              assert.ok(used, `span at ${s.start} is unused but was not released`);
            }
          };
          for (const op of ops) {
            if (op.k === 'alloc') {
              const { r } = op;
              const want = expectedError(r, q);
              let got: number | string;
              try {
                got = child.xalloc(r.size, r.align, r.phase, r.nocross, r.min, r.max, r.fit);
              } catch (e) {
                if (!(e instanceof PagelabError)) throw e;
                got = e.code;
              }
              if (want !== null) assert.equal(got, want);
              else if (got !== VMEM_FAILED) {
                assert.equal(typeof got, 'number');
                const a = got as number;
                assertSatisfies(a, r, q, JSON.stringify(r));
                const rsize = Math.ceil(r.size / q) * q;
                for (const [b, s] of model) assert.ok(a + rsize <= b || b + s <= a, `[${a}, ${a + rsize}) overlaps [${b}, ${b + s})`);
                model.set(a, rsize);
              }
            } else if (op.k === 'free') {
              if (model.size === 0) continue;
              const [a, s] = [...model][op.pick % model.size];
              child.xfree(a, s);
              model.delete(a);
            } else if (op.k === 'bad') {
              // freeing to the parent what the child owns is always refused
              if (model.size === 0) continue;
              const [a, s] = [...model][Math.floor(Math.abs(op.addr)) % model.size];
              const code = codeOf(() => parent.xfree(a, s));
              assert.ok(code === 'EWRONGARENA' || code === 'ENOTALLOC', `parent accepted ${a}: ${code}`);
            }
            check();
          }
          for (const [a, s] of model) child.xfree(a, s);
          model.clear();
          check();
          assert.equal(child.size(VMEM_ALLOC | VMEM_FREE), 0, 'every imported span went back');
          assert.equal(parent.size(VMEM_ALLOC), 0);
        },
      ),
      { numRuns: runs(300) },
    );
  });
});

describe('quantum caches against the model', () => {
  test('vmem_alloc/vmem_free through the caches: no overlap, double frees caught, all comes back after a drain', () => {
    const q = 16;
    fc.assert(
      fc.property(
        fc.record({
          qcQ: fc.integer({ min: 1, max: 20 }),
          sizeQ: fc.integer({ min: 16, max: 400 }),
          ops: fc.array(
            fc.oneof(
              fc.record({ k: fc.constant('alloc' as const), size: fc.integer({ min: 1, max: 24 * q }), fit: fc.constantFrom(...FITS) }),
              fc.record({ k: fc.constant('free' as const), pick: fc.nat() }),
              fc.record({ k: fc.constant('again' as const), pick: fc.nat() }),
            ),
            { maxLength: 80, size: 'max' },
          ),
        }),
        ({ qcQ, sizeQ, ops }) => {
          const vm = new Vmem('qc', 0x1000 * q, sizeQ * q, q, qcQ * q);
          const model = new Map<number, number>(); // addr -> requested size
          const freed: [number, number][] = [];
          for (const op of ops) {
            if (op.k === 'alloc') {
              const a = vm.alloc(op.size, op.fit);
              if (a === VMEM_FAILED) {
                // a failure drains the caches first, and is then exact
                assert.equal(vm.stats().cached, 0, 'caches drained before failing');
                const rsize = Math.ceil(op.size / q) * q;
                const rounded = new Map([...model].map(([b, z]) => [b, Math.ceil(z / q) * q]));
                const free = gaps([{ start: 0x1000 * q, end: 0x1000 * q + sizeQ * q }], rounded);
                assert.ok(free.every((g) => g.end - g.start < rsize), `failed with a free gap of ${rsize}`);
                vm.check();
                continue;
              }
              const rsize = Math.ceil(op.size / q) * q;
              for (const [b, s] of model) {
                const bs = Math.ceil(s / q) * q;
                assert.ok(a + rsize <= b || b + bs <= a, `[${a}, ${a + rsize}) overlaps [${b}, ${b + bs})`);
              }
              assert.ok(a >= 0x1000 * q && a + rsize <= 0x1000 * q + sizeQ * q);
              model.set(a, op.size);
            } else if (op.k === 'free') {
              if (model.size === 0) continue;
              const [a, s] = [...model][op.pick % model.size];
              vm.free(a, s);
              model.delete(a);
              freed.push([a, s]);
            } else {
              if (freed.length === 0) continue;
              const [a, s] = freed[op.pick % freed.length];
              if (model.has(a)) continue;
              // inside a live allocation, or inside a segment a cache holds
              const cachedSegs = vm.segments().filter((x) => x.type === 'qcache').map((x): [number, number] => [x.start, x.size]);
              const inside = [...[...model].map(([b, z]): [number, number] => [b, Math.ceil(z / q) * q]), ...cachedSegs].some(
                ([b, z]) => a > b && a < b + z,
              );
              const code = codeOf(() => vm.free(a, s));
              assert.equal(code, inside ? 'ENOTALLOC' : 'EDOUBLEFREE', `second free of ${a}`);
            }
            vm.check();
            const busy = vm.segments().filter((s) => s.type === 'busy');
            assert.deepEqual(
              busy.map((s) => [s.start, s.size]).sort((x, y) => x[0] - y[0]),
              [...model].map(([a, s]) => [a, Math.ceil(s / q) * q]).sort((x, y) => x[0] - y[0]),
            );
            const st = vm.stats();
            assert.equal(st.inuse - st.cached, [...model.values()].reduce((x, s) => x + Math.ceil(s / q) * q, 0));
          }
          for (const [a, s] of model) vm.free(a, s);
          vm.qcDrain();
          vm.check();
          assert.equal(vm.size(VMEM_ALLOC), 0);
          assert.equal(vm.size(VMEM_FREE), sizeQ * q);
          assert.equal(vm.segments().length, 2);
        },
      ),
      { numRuns: runs(300) },
    );
  });
});
