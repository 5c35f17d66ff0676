/**
 * vmem benchmark: alloc/free pairs per second, per fit, with 1 thousand and
 * 1 million live allocations, measured side by side (the 1k and 1M arenas
 * of a fit run interleaved in one compare()).
 *
 * Workloads, all in an arena of 2^44 bytes at 0x1000_0000_0000, quantum 4 KB:
 *  - pair: allocate one page and free it at once. The live set was built by
 *    allocating 2N pages and freeing every other one, so the arena holds N
 *    busy pages, N one-page holes and a large free tail.
 *  - churn: free a randomly chosen live allocation and allocate a new one in
 *    its slot (live count constant): page-sized, or mixed sizes from 1 to
 *    256 pages (skewed small). Random slots make every free touch a cold
 *    hash bucket and tag at 1M live, so this one shows cache misses.
 * Each pair is one alloc + one free; ops/s counts pairs.
 */
import { compare, sink, rng, markdownTable, fmtRate, type BenchCase } from './harness.js';
import { Vmem, M_BESTFIT, M_INSTANTFIT, M_NEXTFIT } from '../src/kern/vmem.js';

const PAGE = 4096;
const BASE = 0x1000_0000_0000;
const SPAN = 2 ** 44;
const LIVE = [1_000, 1_000_000];
const RUN_NS = 30e6; // timed runs of about 30 ms: short, so interleaving spreads noise over both cases
const RUNS = 15;

const FITS: [string, number][] = [
  ['instant fit', M_INSTANTFIT],
  ['best fit', M_BESTFIT],
  ['next fit', M_NEXTFIT],
];

/** Mixed sizes in pages: half single pages, a tail to 256 pages. */
function mixedSizes(n: number, seed: number): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = r();
    const pages =
      u < 0.5 ? 1 : u < 0.7 ? 2 : u < 0.8 ? 3 + Math.floor(r() * 2) : u < 0.9 ? 5 + Math.floor(r() * 4) : u < 0.97 ? 9 + Math.floor(r() * 24) : 33 + Math.floor(r() * 224);
    out[i] = pages * PAGE;
  }
  return out;
}

interface Arena {
  vm: Vmem;
  addr: Float64Array; // live allocations (churn workloads)
  size: Float64Array;
}

/** Builds an arena with `live` allocations: 2x allocated, every other one freed. */
function build(live: number, fit: number, qcacheMax: number, sizes: Float64Array | null): Arena {
  const vm = new Vmem('bench', BASE, SPAN, PAGE, qcacheMax);
  const tmpA = new Float64Array(2 * live);
  const tmpS = new Float64Array(2 * live);
  for (let i = 0; i < 2 * live; i++) {
    tmpS[i] = sizes === null ? PAGE : sizes[i % sizes.length];
    tmpA[i] = vm.alloc(tmpS[i], fit);
  }
  const addr = new Float64Array(live);
  const size = new Float64Array(live);
  for (let i = 0; i < live; i++) {
    vm.free(tmpA[2 * i], tmpS[2 * i]);
    addr[i] = tmpA[2 * i + 1];
    size[i] = tmpS[2 * i + 1];
  }
  return { vm, addr, size };
}

/**
 * A case that performs `body(n)` pairs per run, with n calibrated so that
 * a run takes about RUN_NS (slow cases get fewer pairs, not minutes).
 */
function calibrated(name: string, body: (n: number) => number): BenchCase {
  let n = 1000;
  for (;;) {
    const t0 = process.hrtime.bigint();
    sink(body(n));
    const dt = Number(process.hrtime.bigint() - t0);
    if (dt > RUN_NS / 8 || n >= 1 << 24) {
      n = Math.max(1000, Math.min(1 << 24, Math.round((n * RUN_NS) / dt)));
      break;
    }
    n *= 4;
  }
  return {
    name,
    run: () => {
      sink(body(n));
      return n;
    },
  };
}

/** alloc one page, free it; `unsafe` uses the unchecked instant-fit twin and xfree. */
function pairCase(name: string, a: Arena, fit: number, how: 'checked' | 'unsafe' | 'qcache'): BenchCase {
  const vm = a.vm;
  if (how === 'unsafe') {
    return calibrated(name, (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const x = vm.allocUnsafe(PAGE);
        vm.xfree(x, PAGE);
        s += x;
      }
      return s;
    });
  }
  if (how === 'qcache') {
    return calibrated(name, (n) => {
      let s = 0;
      for (let i = 0; i < n; i++) {
        const x = vm.alloc(PAGE, fit);
        vm.free(x, PAGE);
        s += x;
      }
      return s;
    });
  }
  return calibrated(name, (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const x = vm.alloc(PAGE, fit);
      vm.xfree(x, PAGE);
      s += x;
    }
    return s;
  });
}

/** Free a random live allocation, allocate a new size into its slot. */
function churnCase(name: string, a: Arena, fit: number, slots: Int32Array, newSizes: Float64Array): BenchCase {
  const { vm, addr, size } = a;
  let k = 0;
  return calibrated(name, (n) => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const j = slots[k];
      const z = newSizes[k];
      if (++k === slots.length) k = 0;
      vm.xfree(addr[j], size[j]);
      const x = vm.alloc(z, fit);
      addr[j] = x;
      size[j] = z;
      s += x;
    }
    return s;
  });
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

type Row = (string | number)[];

/** Runs the 1k and 1M cases of one configuration side by side; returns two table rows. */
function sideBySide(label: string, make: (live: number) => BenchCase): Row[] {
  const cases = LIVE.map(make);
  gc(); // collect what building the arenas left, not during the timed runs
  const res = compare(cases, RUNS, 3);
  const [small, big] = res;
  gc();
  // Interference only ever adds time, so the best run is the robust estimate of what the code costs.
  const bestNs = (r: (typeof res)[number]) => Math.min(...r.samplesNs) / r.opsPerRun;
  return [
    [label, '1k', fmtRate(small.opsPerSec), fmtRate(1e9 / bestNs(small)), bestNs(small).toFixed(1), ''],
    [label, '1M', fmtRate(big.opsPerSec), fmtRate(1e9 / bestNs(big)), bestNs(big).toFixed(1), (bestNs(big) / bestNs(small)).toFixed(2)],
  ];
}

export default async function run(): Promise<string> {
  const headers = ['workload', 'live', 'pairs/s (median)', 'pairs/s (best run)', 'ns/pair (best run)', '1M / 1k time (best runs)'];
  const pairRows: Row[] = [];
  for (const [fname, fit] of FITS) {
    pairRows.push(...sideBySide(`${fname}, vmem_alloc + vmem_xfree`, (live) => pairCase(fname, build(live, fit, 0, null), fit, 'checked')));
  }
  pairRows.push(
    ...sideBySide('instant fit, allocUnsafe + vmem_xfree', (live) => pairCase('unsafe', build(live, M_INSTANTFIT, 0, null), M_INSTANTFIT, 'unsafe')),
  );
  pairRows.push(
    ...sideBySide('quantum cache (qcache_max 16 pages), vmem_alloc + vmem_free', (live) =>
      pairCase('qcache', build(live, M_INSTANTFIT, 16 * PAGE, null), M_INSTANTFIT, 'qcache'),
    ),
  );

  const churnRows: Row[] = [];
  const r = rng(42);
  const slotsFor = (live: number): Int32Array => {
    const s = new Int32Array(1 << 20);
    for (let i = 0; i < s.length; i++) s[i] = Math.floor(r() * live);
    return s;
  };
  const pages = new Float64Array(1 << 20).fill(PAGE);
  const mixed = mixedSizes(1 << 20, 7);
  for (const [fname, fit] of FITS) {
    churnRows.push(
      ...sideBySide(`${fname}, page-sized`, (live) => churnCase(fname, build(live, fit, 0, null), fit, slotsFor(live), pages)),
    );
  }
  for (const [fname, fit] of FITS) {
    churnRows.push(
      ...sideBySide(`${fname}, mixed 1-256 pages`, (live) => churnCase(fname, build(live, fit, 0, mixed), fit, slotsFor(live), mixed)),
    );
  }

  return [
    '## vmem',
    '',
    'Alloc+free pairs per second in one arena (2^44 bytes, 4 KB quantum), with 1 thousand and 1 million live',
    'allocations. The 1k and 1M runs of each row pair ran interleaved: 15 runs of about 30 ms each, median and best.',
    'Other work on the machine makes single runs vary up to 2x, and interference only adds time, so ns/pair and',
    'the ratio come from the best run of each case; medians are shown beside them.',
    'The live set was built by allocating twice as many and freeing every other one, so it is fragmented.',
    '',
    '### Page-sized pairs: allocate one page, free it at once',
    '',
    markdownTable(headers, pairRows),
    '',
    '### Churn: free a random live allocation, allocate a new one in its slot',
    '',
    'Random slots touch a cold hash bucket and tag on every free at 1M live, so this shows cache misses,',
    'not algorithmic cost. Mixed sizes: 50% 1 page, 20% 2, 10% 3-4, 10% 5-8, 7% 9-32, 3% 33-256.',
    '',
    markdownTable(headers, churnRows),
  ].join('\n');
}
