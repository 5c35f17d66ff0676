/**
 * vm_phys benchmarks: boot time against memory size (eager and lazy, with the
 * resident memory each costs), eager initialisation per page after first
 * touch (field by field and bzero-then-set), random order-0 alloc+free pairs
 * with many pages held, and 2 MiB contiguous allocations.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolveMachine } from '../src/machine/index.js';
import { BYTES_PER_PAGE, PageArray } from '../src/vm/page.js';
import { PageCache } from '../src/vm/pgcache.js';
import { Work } from '../src/vm/counters.js';
import { VM_ALLOC_ZERO, VM_FREEPOOL_DEFAULT } from '../src/vm/param.js';
import { Vm } from '../src/vm/vm.js';
import { LeanBuddy } from './lean-buddy.js';
import { compare, fmtRate, markdownTable, median, rng, sink, type BenchResult } from './harness.js';

/*
 * The bare reference for the vm_phys pairs: a binary buddy allocator over
 * one range of pages and nothing else. No segments, pools, free lists, work
 * counters or checks: int32 links with -1 as NIL, an int8 order per page (-1
 * when the page heads no free block), one queue per order. Frees go to the
 * tail and allocations come from the head, as vm_phys does, so the same
 * operation sequence touches the same kind of memory.
 */
class BareBuddy {
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  private readonly order: Int8Array;
  private readonly head: Int32Array;
  private readonly tail: Int32Array;

  /* Requires: npages a multiple of 2^(nfreeorder - 1). Everything starts free. */
  constructor(npages: number, private readonly nfreeorder: number) {
    this.next = new Int32Array(npages);
    this.prev = new Int32Array(npages);
    this.order = new Int8Array(npages).fill(-1);
    this.head = new Int32Array(nfreeorder).fill(-1);
    this.tail = new Int32Array(nfreeorder).fill(-1);
    for (let m = 0; m < npages; m += 2 ** (nfreeorder - 1)) this.add(m, nfreeorder - 1);
  }

  private add(m: number, o: number): void {
    const t = this.tail[o];
    this.order[m] = o;
    this.prev[m] = t;
    this.next[m] = -1;
    if (t === -1) this.head[o] = m;
    else this.next[t] = m;
    this.tail[o] = m;
  }

  private rem(m: number, o: number): void {
    const n = this.next[m];
    const p = this.prev[m];
    if (p === -1) this.head[o] = n;
    else this.next[p] = n;
    if (n === -1) this.tail[o] = p;
    else this.prev[n] = p;
    this.order[m] = -1;
  }

  /* A block of 2^order pages, or -1. */
  alloc(order: number): number {
    for (let o = order; o < this.nfreeorder; o++) {
      const m = this.head[o];
      if (m === -1) continue;
      this.rem(m, o);
      while (o > order) this.add(m + (1 << --o), o);
      return m;
    }
    return -1;
  }

  /* Requires: [m, m + 2^order) was allocated. */
  free(m: number, order: number): void {
    while (order < this.nfreeorder - 1) {
      const b = m ^ (1 << order);
      if (this.order[b] !== order) break;
      this.rem(b, order);
      m &= ~(1 << order);
      order++;
    }
    this.add(m, order);
  }
}

/* Median over rounds of a case's time divided by the reference's in the same round. */
function pairedRatio(c: BenchResult, ref: BenchResult): number {
  return median(c.samplesNs.map((ns, i) => ns / c.opsPerRun / (ref.samplesNs[i] / ref.opsPerRun)));
}

/*
 * `new Vm` of a lazily booted `size` machine timed inside fresh processes
 * (what a one-shot `pagelab boot` pays): the JIT is cold and the page array's
 * reservation is the first large one the process makes.
 */
function oneShotBootMs(size: string, runs: number): number[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const src = (f: string) => JSON.stringify(pathToFileURL(path.resolve(here, '../src', f)).href);
  const script =
    `const { Vm } = await import(${src('vm/vm.js')}); const { resolveMachine } = await import(${src('machine/index.js')});` +
    `const map = resolveMachine({ mem: ${JSON.stringify(size)} }); const t = performance.now(); new Vm(map);` +
    'process.stdout.write(String(performance.now() - t));';
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    const p = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    if (p.status !== 0) throw new Error(`one-shot boot of ${size} failed: ${p.stderr}`);
    ms.push(Number(p.stdout));
  }
  return ms;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function bootTimes(size: string, lazy: number, runs: number): { ms: number[]; rssMiB: number; coldMs: number } {
  const map = resolveMachine({ mem: size });
  const ms: number[] = [];
  let rssMiB = 0;
  let coldMs = 0;
  for (let r = 0; r < runs + 1; r++) {
    gc();
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const vm = new Vm(map, { 'vm.lazy_page_init': lazy });
    const dt = performance.now() - t0;
    sink(vm.phys.npages);
    if (r === 0) coldMs = dt;
    else ms.push(dt);
    rssMiB = Math.max(rssMiB, (process.memoryUsage().rss - rss0) / 2 ** 20);
  }
  return { ms, rssMiB, coldMs };
}

export default async function run(): Promise<string> {
  const out: string[] = ['## vm_phys'];

  // Boot time against memory size.
  const rows: string[][] = [];
  const eagerLimitPages = 2 ** 24; // 64 GiB; larger eager boots need multi-GiB page arrays
  for (const size of ['128M', '1G', '64G', '1T']) {
    const pages = resolveMachine({ mem: size }).ram.reduce((s, r) => s + (r.end - r.start) / 4096, 0);
    const lazy = bootTimes(size, 1, 7);
    const eager = pages <= eagerLimitPages ? bootTimes(size, 0, pages > 2 ** 20 ? 2 : 5) : null;
    rows.push([
      size,
      eager ? median(eager.ms).toFixed(2) : 'not run',
      eager ? ((median(eager.ms) * 1e6) / pages).toFixed(1) : '-',
      median(lazy.ms).toFixed(2),
      lazy.coldMs.toFixed(1),
      eager ? (median(eager.ms) / median(lazy.ms)).toFixed(0) + 'x' : '-',
      lazy.rssMiB.toFixed(1),
    ]);
  }
  out.push('### Boot (`new Vm`: vm_phys_init + vm_page_startup), median wall ms');
  out.push(
    markdownTable(['RAM', 'eager ms', 'eager ns/page', 'lazy ms', 'lazy first run ms (cold JIT)', 'eager/lazy', 'lazy RSS growth MiB'], rows),
  );
  out.push(`Eager includes first touch of the page array (${BYTES_PER_PAGE} B/page); the 1 TiB eager boot needs ${(2 ** 28 * BYTES_PER_PAGE / 2 ** 30).toFixed(1)} GiB resident and is not run by default.`);
  const oneShot = oneShotBootMs('1T', 11);
  out.push(
    `One-shot lazy boot of 1 TiB (\`new Vm\` timed inside 11 fresh processes, as \`pagelab boot --mem 1T\` pays it): ` +
      `median ${median(oneShot).toFixed(1)} ms, min ${Math.min(...oneShot).toFixed(1)} ms, max ${Math.max(...oneShot).toFixed(1)} ms ` +
      `(load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs when it ran).`,
  );

  // Eager initialisation after first touch.
  const n = 2 ** 22;
  const pa = new PageArray(n, 13);
  pa.initRange(0, n, 0); // first touch
  const init = compare([
    { name: 'field by field (vm_page_init_page loop)', run: () => (pa.initRange(0, n, 0), n) },
    { name: 'zero-fill, then set non-zero fields', run: () => (pa.initRangeBulk(0, n, 0), n) },
  ]);
  out.push('### Eager page-record initialisation after first touch (4 Mi records)');
  out.push(markdownTable(['method', 'ns/page', 'pages/s'], init.map((r) => [r.name, r.nsPerOp.toFixed(2), fmtRate(r.opsPerSec)])));

  // Random order-0 alloc+free pairs with many pages held, beside the bare
  // reference running the same sequence on the same number of pages.
  const vm = new Vm(resolveMachine({ mem: '4G' }), { 'vm.lazy_page_init': 0 });
  const phys = vm.phys;
  const held = new Uint32Array(2 ** 19);
  for (let i = 0; i < held.length; i++) held[i] = phys.allocPages(0, VM_FREEPOOL_DEFAULT, 0);
  const bare = new BareBuddy(Math.ceil(phys.npages / 2 ** phys.maxOrder) * 2 ** phys.maxOrder, phys.nfreeorder);
  const bareHeld = new Int32Array(held.length);
  for (let i = 0; i < held.length; i++) bareHeld[i] = bare.alloc(0);
  const leanPages = Math.ceil(phys.npages / 2 ** phys.maxOrder) * 2 ** phys.maxOrder;
  const lean = new LeanBuddy(leanPages, phys.nfreeorder, 3, true, VM_FREEPOOL_DEFAULT);
  const leanUncounted = new LeanBuddy(leanPages, phys.nfreeorder, 3, false, VM_FREEPOOL_DEFAULT);
  const leanHeld = new Int32Array(held.length);
  const leanUncountedHeld = new Int32Array(held.length);
  for (let i = 0; i < held.length; i++) {
    leanHeld[i] = lean.alloc(VM_FREEPOOL_DEFAULT, 0);
    leanUncountedHeld[i] = leanUncounted.alloc(VM_FREEPOOL_DEFAULT, 0);
  }
  const rand = rng(42);
  const pairs = 2 ** 18;
  const idx = new Uint32Array(pairs);
  for (let i = 0; i < idx.length; i++) idx[i] = Math.floor(rand() * held.length);
  const bareCase = {
    name: 'bare JS buddy (the reference): free a random held page + alloc',
    run: () => {
      let s = 0;
      for (let i = 0; i < pairs; i++) {
        const j = idx[i];
        bare.free(bareHeld[j], 0);
        const m = bare.alloc(0);
        bareHeld[j] = m;
        s += m;
      }
      sink(s);
      return pairs;
    },
  };
  const leanCase = (name: string, b: LeanBuddy, bHeld: Int32Array) => ({
    name,
    run: () => {
      let s = 0;
      for (let i = 0; i < pairs; i++) {
        const j = idx[i];
        b.free(bHeld[j], 0, VM_FREEPOOL_DEFAULT);
        const m = b.alloc(VM_FREEPOOL_DEFAULT, 0);
        bHeld[j] = m;
        s += m;
      }
      sink(s);
      return pairs;
    },
  });
  const churnCase = (name: string, checked: boolean) => ({
    name,
    run: () => {
      let s = 0;
      for (let i = 0; i < pairs; i++) {
        const j = idx[i];
        let m: number;
        if (checked) {
          phys.freePages(held[j], 0);
          m = phys.allocPages(0, VM_FREEPOOL_DEFAULT, 0);
        } else {
          phys.freePagesFast(held[j], 0);
          m = phys.allocPagesUnsafe(0, VM_FREEPOOL_DEFAULT, 0);
        }
        held[j] = m;
        s += m;
      }
      sink(s);
      return pairs;
    },
  });
  const cache = new PageCache(phys, 0, VM_FREEPOOL_DEFAULT, 512, 256);
  const cached = {
    name: 'PageCache free + alloc (vmd_pgcache in front of vm_phys, checked)',
    run: () => {
      let s = 0;
      for (let i = 0; i < pairs; i++) {
        const j = idx[i];
        cache.free(held[j]);
        const m = cache.alloc();
        held[j] = m;
        s += m;
      }
      sink(s);
      return pairs;
    },
  };
  const allocThenFree = {
    name: 'vm_phys allocPages then freePages of that page (checked; 512 Ki held around it)',
    run: () => {
      let s = 0;
      for (let i = 0; i < pairs; i++) {
        const m = phys.allocPages(0, VM_FREEPOOL_DEFAULT, 0);
        phys.freePages(m, 0);
        s += m;
      }
      sink(s);
      return pairs;
    },
  };
  const churn = compare(
    [
      bareCase,
      leanCase('lean buddy: the bare one + vm_phys page state (allocation state, PG_ZERO, pool), no counters', leanUncounted, leanUncountedHeld),
      leanCase('lean buddy: + vm_phys counters (blocks per queue, free pages per domain, work counts)', lean, leanHeld),
      churnCase('vm_phys freePages of a random held page + allocPages (checked)', true),
      churnCase('vm_phys the same, unchecked twins (freePagesFast + allocPagesUnsafe)', false),
      cached,
      allocThenFree,
    ],
    15,
    2,
  );
  vm.check();
  out.push('### Random order-0 alloc+free pairs (4 GiB machine, 512 Ki pages held), beside a bare JS buddy');
  out.push(
    markdownTable(
      ['case', 'ns/pair', 'pairs/s', 'time / bare buddy (median of per-round ratios)'],
      churn.map((r, i) => [r.name, r.nsPerOp.toFixed(1), fmtRate(r.opsPerSec), i < 6 ? pairedRatio(r, churn[0]).toFixed(2) : '-']),
    ),
  );
  out.push(
    'The bare buddy (in this file) has one segment, one pool, no counters and no checks: int32 links, ' +
      'an int8 order per page, FIFO queues as vm_phys. The lean buddies (bench/lean-buddy.ts) add to it only what vm_phys ' +
      'keeps per operation, first its page state, then its counters as well, and none of its generality (segments, domains, ' +
      'free lists, the lazy pool, checks): they split the gap between the bare buddy and vm_phys into what the bookkeeping ' +
      'costs and what the implementation costs. Rows 2-6 are compared with row 1 (the same operation sequence); ' +
      'the 15 rounds ran interleaved, and each ratio is the median of the 15 per-round ratios.',
  );

  // PG_ZERO: a zeroed allocation of a page already known zero against a plain one.
  const vz = new Vm(resolveMachine({ mem: '1G' }), { 'vm.lazy_page_init': 0, 'vm.backed': 1 });
  vz.prezero.runToCompletion(0);
  const pz = vz.phys;
  const zbatch = 2 ** 16;
  const zheld = new Int32Array(zbatch);
  const zeroCase = (name: string, req: number) => ({
    name,
    run: () => {
      for (let i = 0; i < zbatch; i++) zheld[i] = pz.allocPages(0, VM_FREEPOOL_DEFAULT, 0, req);
      // Freed as known zero (nothing wrote them), so every round finds PG_ZERO pages.
      for (let i = 0; i < zbatch; i++) pz.freePages(zheld[i], 0, VM_FREEPOOL_DEFAULT, true);
      return zbatch;
    },
  });
  const zero = compare([zeroCase('allocPages, plain', 0), zeroCase('allocPages, VM_ALLOC_ZERO on PG_ZERO pages', VM_ALLOC_ZERO)]);
  await vz.shutdown();
  out.push('### Zeroed allocation of PG_ZERO pages vs plain allocation (1 GiB backed machine, alloc+free pairs)');
  out.push(markdownTable(['case', 'ns/pair', 'pairs/s'], zero.map((r) => [r.name, r.nsPerOp.toFixed(1), fmtRate(r.opsPerSec)])));
  out.push(`Ratio zeroed/plain: ${(zero[1].nsPerOp / zero[0].nsPerOp).toFixed(3)}; zeroing skipped for ${pz.work[Work.ZeroSkipped]} pages, ${pz.work[Work.ZeroBytesSync]} bytes zeroed on the allocation path.`);

  // 2 MiB contiguous allocations.
  const vm2 = new Vm(resolveMachine({ mem: '4G' }), { 'vm.lazy_page_init': 0 });
  const p2 = vm2.phys;
  const runs = new Int32Array(1024);
  const contig = compare([
    {
      name: 'allocContig 512 pages aligned 2 MiB, then freeContig (1024 live)',
      run: () => {
        let k = 0;
        for (let i = 0; i < runs.length; i++) {
          runs[i] = p2.allocContig(0, 512, 0, 2 ** 40, 2 ** 21, 0);
          if (runs[i] >= 0) k++;
        }
        for (let i = 0; i < runs.length; i++) if (runs[i] >= 0) p2.freeContig(runs[i], 512);
        sink(k);
        return runs.length;
      },
    },
    {
      name: 'allocPages order 9 (2 MiB), then freePages (1024 live)',
      run: () => {
        for (let i = 0; i < runs.length; i++) runs[i] = p2.allocPages(0, VM_FREEPOOL_DEFAULT, 9);
        for (let i = 0; i < runs.length; i++) if (runs[i] >= 0) p2.freePages(runs[i], 9);
        return runs.length;
      },
    },
  ]);
  out.push('### 2 MiB allocations (4 GiB machine), alloc+free pairs');
  out.push(markdownTable(['case', 'ns/pair', 'pairs/s'], contig.map((r) => [r.name, r.nsPerOp.toFixed(0), fmtRate(r.opsPerSec)])));
  out.push(`Ratio contig/buddy: ${(contig[0].nsPerOp / contig[1].nsPerOp).toFixed(2)}x.`);
  return out.join('\n\n');
}
