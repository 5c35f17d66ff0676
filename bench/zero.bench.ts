/**
 * Zeroing bandwidth: C memset (the machine's limit, built and run here),
 * WebAssembly memory.fill on one thread, TypedArray.fill on the same
 * SharedArrayBuffer and on a plain ArrayBuffer, and the zeroing engine with
 * 0..(cores + 1) workers; then the other bulk operations of the backing, and
 * the RSS cost of a large untouched backing.
 *
 * Sizes: PAGELAB_ZERO_BENCH_MIB (default 512) MiB region, pre-touched before
 * timing; first touch is timed separately.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compare, markdownTable, sink, type BenchCase } from './harness.js';
import { BackingStore } from '../src/machine/backing.js';
import { ZeroEngine } from '../src/vm/zeroidle.js';
import type { MemoryMap } from '../src/machine/types.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;

function ramMap(bytes: number): MemoryMap {
  return {
    name: 'bench',
    source: 'bench',
    ndomains: 1,
    ram: [{ start: 0, end: bytes, domain: 0 }],
    physAvail: [{ start: 0, end: bytes }],
    reserved: [],
  };
}

/** Chunk sizes compared: one call for the whole region, 4 MiB calls, 4 KiB (page) calls. */
export const CALL_SIZES: Array<{ label: string; bytes: number }> = [
  { label: 'one call', bytes: 0 },
  { label: '4 MiB calls', bytes: 4 * MiB },
  { label: '4 KiB calls', bytes: 4096 },
];

const MEMSET_C = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
/* usage: memset MIB REPS CHUNK...; CHUNK 0 means one call for the whole region */
int main(int argc, char **argv) {
  size_t n = (size_t)atol(argv[1]) << 20;
  int reps = atoi(argv[2]);
  if (reps > 64) reps = 64;
  unsigned char *p = aligned_alloc(4096, n);
  if (p == NULL) return 1;
  double t0 = now();
  memset(p, 1, n);
  __asm__ volatile("" : : "r"(p) : "memory");
  printf("touch %.3f\n", n / (now() - t0) / 1073741824.0);
  double s[64][16];
  int nchunks = argc - 3 > 16 ? 16 : argc - 3;
  for (int r = 0; r < reps; r++) {
    for (int c = 0; c < nchunks; c++) { /* interleaved, like the JS side */
      size_t chunk = (size_t)atol(argv[3 + c]);
      if (chunk == 0) chunk = n;
      t0 = now();
      for (size_t off = 0; off < n; off += chunk) {
        memset(p + off, 0, chunk);
        __asm__ volatile("" : : "r"(p) : "memory");
      }
      s[r][c] = now() - t0;
    }
  }
  for (int c = 0; c < nchunks; c++) {
    double v[64];
    for (int r = 0; r < reps; r++) v[r] = s[r][c];
    qsort(v, reps, sizeof v[0], cmp);
    double med = reps % 2 ? v[reps / 2] : (v[reps / 2 - 1] + v[reps / 2]) / 2;
    printf("memset %s %.3f\n", argv[3 + c], n / med / 1073741824.0);
  }
  return p[n / 2];
}
`;

/** Builds the C memset probe at run time; its path, or why it could not be built (the bench then skips the C column). */
export function buildMemset(dir: string): { exe: string } | string {
  writeFileSync(path.join(dir, 'memset.c'), MEMSET_C);
  const exe = path.join(dir, 'memset');
  let why = '';
  for (const compiler of ['cc', 'gcc', 'clang']) {
    const r = spawnSync(compiler, ['-O2', '-o', exe, path.join(dir, 'memset.c')], { encoding: 'utf8' });
    if (r.status === 0) return { exe };
    why = r.error ? String(r.error.message) : r.stderr.trim().split('\n')[0];
  }
  return `no C compiler (${why})`;
}

/* One run of the probe (one rep per call size): GiB/s of first touch and per call size, or null if it failed. */
export function runMemset(exe: string, mib: number): { touch: number; memset: number[] } | null {
  const r = spawnSync(exe, [String(mib), '1', ...CALL_SIZES.map((c) => String(c.bytes))], { encoding: 'utf8' });
  const touch = /touch ([0-9.]+)/.exec(r.stdout);
  const memset = CALL_SIZES.map((c) => new RegExp(`memset ${c.bytes} ([0-9.]+)`).exec(r.stdout));
  if (r.status !== 0 || touch === null || memset.some((m) => m === null)) return null;
  return { touch: Number(touch[1]), memset: memset.map((m) => Number(m![1])) };
}

const gibs = (bytesPerSec: number): string => (bytesPerSec / GiB).toFixed(2);
const rssMiB = (): number => process.memoryUsage().rss / MiB;
function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** RSS of a 64 GiB backing: laid out, every memory created, 1 GiB read. */
function untouchedRss(): string[][] {
  const size = 64 * GiB;
  gc();
  const r0 = rssMiB();
  const b = new BackingStore(ramMap(size), { hostLimitBytes: Infinity });
  const r1 = rssMiB();
  let created = 0;
  let failure = '';
  try {
    for (let k = 0; k < b.memoryCount; k++) {
      b.memory(k, true);
      created++;
    }
  } catch (e) {
    failure = ` (stopped: ${(e as Error).message})`;
  }
  const r2 = rssMiB();
  const t0 = performance.now();
  const zero = created > 0 ? b.isZero(0, GiB) : true;
  const readMs = performance.now() - t0;
  const r3 = rssMiB();
  sink(zero ? 1 : 0);
  return [
    ['64 GiB backing laid out (no memory created)', (r1 - r0).toFixed(1)],
    [`all ${created} memories of 4 GiB created, untouched${failure}`, (r2 - r0).toFixed(1)],
    [`1 GiB of it scanned by isZero (${(GiB / MiB / readMs).toFixed(2)} GiB/s; reads map the zero page)`, (r3 - r0).toFixed(1)],
  ];
}

export default async function run(): Promise<string> {
  const mib = Number(process.env.PAGELAB_ZERO_BENCH_MIB ?? 512);
  const size = mib * MiB;
  const cores = ZeroEngine.cpuCount();
  const runs = 5;
  const out: string[] = ['## Zeroing', ''];

  const rss = untouchedRss();
  gc();

  // The C memset runs in its own process, but inside each round of the JS cases (A B A B), not before them.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pagelab-memset-'));
  const built = buildMemset(dir);
  const cRuns: Array<{ touch: number; memset: number[] }> = [];
  const memsetRound = (round: number): void => {
    if (typeof built === 'string') return;
    const r = runMemset(built.exe, mib);
    if (r !== null && round >= 1) cRuns.push(r);
  };
  const pct = (bps: number, ref: number): string => (Number.isNaN(ref) ? '–' : `${((bps / ref) * 100).toFixed(0)}%`);

  // First touch: page faults, not bandwidth.
  const backing = new BackingStore(ramMap(size), { hostLimitBytes: Infinity });
  let t0 = performance.now();
  backing.fill(0, size, 1);
  const wasmTouch = size / ((performance.now() - t0) / 1000);
  const plain = new Uint8Array(size);
  t0 = performance.now();
  plain.fill(1);
  const plainTouch = size / ((performance.now() - t0) / 1000);
  const sabView = backing.view(0, Math.min(size, 4 * GiB));

  // ---- one thread ----
  const wasmCases: BenchCase[] = CALL_SIZES.map(({ label, bytes }) => ({
    name: `Wasm memory.fill, ${label}`,
    run: () => {
      if (bytes === 0) backing.zero(0, size);
      else for (let pa = 0; pa < size; pa += bytes) backing.zeroUnsafe(pa, bytes);
      return size;
    },
  }));
  let round = 0;
  const one = compare(
    [
      { name: 'C memset round', run: () => (memsetRound(round++), 1) },
      ...wasmCases,
      { name: 'Uint8Array.fill(0) on the SharedArrayBuffer', run: () => (sabView.fill(0), sabView.length) },
      { name: 'Uint8Array.fill(0) on a plain ArrayBuffer', run: () => (plain.fill(0), size) },
    ],
    runs,
    1,
  ).slice(1);
  const medianOf = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const c: { touch: number; memset: number[] } | string =
    typeof built === 'string' ? built : cRuns.length === 0 ? 'memset probe failed' : { touch: medianOf(cRuns.map((x) => x.touch)), memset: CALL_SIZES.map((_, i) => medianOf(cRuns.map((x) => x.memset[i]))) };
  const memset = typeof c === 'string' ? CALL_SIZES.map(() => NaN) : c.memset.map((x) => x * GiB);
  const oneRows: Array<Array<string | number>> = [];
  if (typeof c === 'string') oneRows.push(['C memset', c, '', '']);
  else oneRows.push([`C memset (cc -O2, a process per round, interleaved; median of ${cRuns.length})`, ...c.memset.map((x) => x.toFixed(2))]);
  oneRows.push(['Wasm memory.fill (BackingStore.zero / zeroUnsafe)', ...one.slice(0, 3).map((r, i) => `${gibs(r.opsPerSec)} (${pct(r.opsPerSec, memset[i])})`)]);
  oneRows.push(['Uint8Array.fill(0) on the SharedArrayBuffer', `${gibs(one[3].opsPerSec)} (${pct(one[3].opsPerSec, memset[0])})`, '', '']);
  oneRows.push(['Uint8Array.fill(0) on a plain ArrayBuffer', `${gibs(one[4].opsPerSec)} (${pct(one[4].opsPerSec, memset[0])})`, '', '']);
  out.push(
    `One thread zeroing a resident ${mib} MiB region, GiB/s (percent of C memset with the same call size); median of ${runs} interleaved runs. ${cores} CPUs.`,
    '',
    markdownTable(['method', ...CALL_SIZES.map((x) => x.label)], oneRows),
    '',
  );
  if (typeof c !== 'string') {
    out.push(
      `Wasm memory.fill is ${(one[0].opsPerSec / one[3].opsPerSec).toFixed(1)}× TypedArray.fill on the same SharedArrayBuffer ` +
        `and reaches ${pct(one[0].opsPerSec, memset[0])} of memset in one call (target: 80%). ` +
        'Smaller calls are slower in C too: glibc switches to non-temporal stores only above 3/4 of the L3 cache.',
      '',
    );
  }

  // ---- the engine ----
  const requestSizes = [4 * MiB, 4096];
  const tags = new Int32Array(4096);
  const engines: ZeroEngine[] = [];
  for (let w = 0; w <= cores + 1; w++) {
    const engine = new ZeroEngine(backing, { workers: w, ringSlots: 4096 });
    await engine.ready();
    engines.push(engine);
  }
  const engineCase = (engine: ZeroEngine, req: number): BenchCase => ({
    name: `${engine.workerCount} workers, ${req} B requests`,
    run: () => {
      let got = 0;
      let tag = 0;
      for (let pa = 0; pa < size; pa += req) {
        while (!engine.submit(pa, req, tag)) got += engine.poll(tags);
        tag++;
      }
      if (!engine.waitAll(60_000)) throw new Error('engine timed out');
      while (got < tag) got += engine.poll(tags);
      return size;
    },
  });
  const cBefore = cRuns.length;
  const eng = compare([{ name: 'C memset round', run: () => (memsetRound(1), 1) }, ...engines.flatMap((e) => requestSizes.map((r) => engineCase(e, r)))], runs, 1).slice(1);
  rmSync(dir, { recursive: true, force: true });
  // The engine's reference: memset in one call, from the rounds interleaved with the engine cases.
  const engMemset = cRuns.length > cBefore ? medianOf(cRuns.slice(cBefore).map((x) => x.memset[0])) * GiB : memset[0];
  for (const e of engines) await e.shutdown();
  const engRows = engines.map((e, i) => [
    e.workerCount === 0 ? '0 (inline in submit)' : String(e.workerCount),
    ...requestSizes.map((_, j) => {
      const r = eng[i * requestSizes.length + j];
      return `${gibs(r.opsPerSec)} (${pct(r.opsPerSec, engMemset)})`;
    }),
  ]);
  out.push(
    `The zeroing engine: submit the whole ${mib} MiB region as requests in address order (polling when the ring of 4096 runs is full), ` +
      `waitAll, poll the rest. GiB/s (percent of C memset in one call, ${Number.isNaN(engMemset) ? 'not measured' : `${gibs(engMemset)} GiB/s`} in the rounds interleaved with these cases: the physical limit of one thread). ` +
      'submit() gathers requests that continue each other into one slot (up to 4096 requests, 4 MiB; a request continuing the open run costs a few stores); workers zero runs of slots (up to 64, 64 MiB) in one memory.fill.',
    '',
    markdownTable(['workers', '4 MiB requests', '4 KiB requests'], engRows),
    '',
  );

  out.push('First touch of fresh memory (page faults dominate):', '');
  const touchRows: Array<Array<string | number>> = [];
  if (typeof c !== 'string') touchRows.push(['C memset on fresh aligned_alloc', c.touch.toFixed(2)]);
  touchRows.push(['Wasm memory.fill on a fresh shared memory', gibs(wasmTouch)], ['Uint8Array.fill on a fresh ArrayBuffer', gibs(plainTouch)]);
  out.push(markdownTable(['method', 'GiB/s'], touchRows), '');

  // Other bulk operations, each on its own quarter so that interleaving
  // keeps every case's precondition (all zero, all pattern).
  const q = Math.floor(size / 4 / 4096) * 4096;
  const pattern = 0x5ca1ab1e;
  backing.zero(0, size);
  backing.fillPattern(q, q, pattern);
  const other = compare(
    [
      { name: 'isZero (v128 scan), all zero', run: () => (sink(backing.isZero(0, q) ? 1 : 0), q) },
      { name: 'fillPattern (v128 stores)', run: () => (backing.fillPattern(q, q, pattern), q) },
      { name: 'checkPattern (v128 scan), all match', run: () => (sink(backing.checkPattern(q, q, pattern)), q) },
      { name: 'copy (memory.copy), between quarters', run: () => (backing.copy(3 * q, 2 * q, q), q) },
    ],
    runs,
    1,
  );
  out.push(`Other operations of the backing store on ${q / MiB} MiB (bytes processed per second):`, '');
  out.push(markdownTable(['operation', 'GiB/s'], other.map((r) => [r.name, gibs(r.opsPerSec)])), '');

  out.push('RSS of a large untouched backing (this process, MiB above the start):', '');
  out.push(markdownTable(['state', 'RSS delta, MiB'], rss), '');
  return out.join('\n');
}
