/**
 * Kernel-stack benchmark: vm_thread_dispose + vm_thread_new pairs per second
 * through the kstack cache and without it (vm.kstack_cache_size=0), per
 * pindex scheme, side by side (interleaved in one compare()).
 *
 * Machine: the kstack-pindex experiment's two 512 MiB domains, reservations
 * on. 1000 threads are alive; each pair disposes of a random live thread's
 * stack and creates a new one on a random CPU domain. Through the cache the
 * pair is two cache operations; without it, a dispose (pages freed into
 * their reservation, KVA back to the kstack arena) and a create (KVA, four
 * vm_page_alloc_domain from a reservation).
 */
import os from 'node:os';
import { compare, sink, rng, markdownTable, fmtRate, type BenchCase } from './harness.js';
import { Vm } from '../src/vm/vm.js';
import { newKThread, type KThread, type Kstacks } from '../src/vm/kstack.js';
import { kstacksForVm } from '../src/vm/kstack_pages.js';
import { kstackMachine } from '../src/lab/kstack-pindex.js';

const LIVE = 1000;
const PAIRS = 5000;

function setup(scheme: string, cache: boolean): { ks: Kstacks; live: KThread[]; r: () => number } {
  const vm = new Vm(kstackMachine(), { 'vm.kstack.pindex': scheme, 'vm.kstack_cache_size': cache ? -1 : 0 });
  const { kstacks: ks } = kstacksForVm(vm, { ncpu: 16 });
  const r = rng(38852);
  const live: KThread[] = [];
  for (let i = 0; i < LIVE; i++) {
    const td = newKThread();
    ks.vm_thread_new(td, i & 1);
    live.push(td);
  }
  return { ks, live, r };
}

function pairs(s: { ks: Kstacks; live: KThread[]; r: () => number }): number {
  const { ks, live, r } = s;
  let acc = 0;
  for (let i = 0; i < PAIRS; i++) {
    const j = Math.floor(r() * LIVE);
    const td = live[j];
    ks.vm_thread_dispose(td);
    ks.vm_thread_new(td, r() < 0.5 ? 0 : 1);
    acc += td.td_kstack_domain;
  }
  sink(acc);
  return PAIRS;
}

export default async function run(): Promise<string> {
  const cases: BenchCase[] = [];
  const settings: Array<[string, boolean]> = [
    ['nonlinear', true],
    ['nonlinear', false],
    ['linear', false],
    ['aligned', false],
  ];
  for (const [scheme, cache] of settings) {
    const s = setup(scheme, cache);
    cases.push({ name: `${scheme}, ${cache ? 'through the cache' : 'no cache'}`, run: () => pairs(s) });
  }
  const res = compare(cases, 9, 2);
  const base = res[1];
  const rows = res.map((x) => [x.name, fmtRate(x.opsPerSec), (x.nsPerOp / 1000).toFixed(2), (base.nsPerOp / x.nsPerOp).toFixed(2)]);
  return [
    '## Kernel stacks: create + dispose pairs',
    '',
    `${LIVE} threads alive on two 512 MiB domains (reservations on); a pair disposes of a random thread's stack and creates a new one on a random domain. ${PAIRS} pairs per run, 9 runs interleaved after 2 warm-ups; medians.`,
    '',
    markdownTable(['case', 'pairs/s', 'µs/pair', 'speed vs nonlinear without cache'], rows),
    '',
    `Wall time, with the host's 1-minute load average at ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores while this ran: trust the ratios. Without the cache a pair is four vm_page_alloc_domain, four pmap_qenter, one pmap_qremove and four vm_page_free (the page layer's cost, see the objects section) plus a vmem_alloc and a vmem_free; through the cache none of these runs. The schemes differ by less than this host's run-to-run noise.`,
  ].join('\n');
}
