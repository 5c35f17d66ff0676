/**
 * The bookkeeping cost of each vm.zero.policy on the order-0 fast path:
 * alloc+free pairs through ZeroPolicy on an unbacked 1 GiB machine (so no
 * byte is zeroed: what is measured is flags, the dirty list, the reporting
 * checks), interleaved, against the alloc policy. Target (issue 12): <= 5%.
 */
import { compare, markdownTable, sink, type BenchCase } from './harness.js';
import { memoryMapForSize } from '../src/machine/index.js';
import { Vm } from '../src/vm/vm.js';
import { ZERO_POLICIES } from '../src/vm/zeropolicy.js';

export default async function run(): Promise<string> {
  const map = memoryMapForSize(2 ** 30);
  const pairs = 200_000;
  const held = 4096;
  const cases: BenchCase[] = ZERO_POLICIES.map((policy) => {
    const vm = new Vm(map, { 'vm.lazy_page_init': 0, 'vm.zero.policy': policy });
    const zp = vm.zeroPolicy;
    // Background state as a running system has it: the dirty list on, reporting marks set.
    zp.idle(30e9, Infinity);
    const ring = new Int32Array(held);
    for (let i = 0; i < held; i++) ring[i] = zp.alloc(0, 0, false);
    let k = 0;
    return {
      name: policy,
      run: () => {
        let acc = 0;
        for (let i = 0; i < pairs; i++) {
          zp.free(ring[k], 0);
          const m = zp.alloc(0, 0, false);
          ring[k] = m;
          acc += m;
          k = (k + 1) & (held - 1);
        }
        sink(acc);
        return pairs;
      },
    };
  });
  const res = compare(cases, 9, 2);
  const base = res[0].nsPerOp;
  const rows = res.map((r) => [r.name, r.nsPerOp.toFixed(1), `${((r.nsPerOp / base - 1) * 100).toFixed(1)}%`]);
  return [
    '## Pre-zeroing policies: bookkeeping on the order-0 path',
    '',
    `Order-0 free+alloc pairs through \`ZeroPolicy\` (${pairs} per run, ${held} pages held, FIFO reuse) on an unbacked 1 GiB machine after 30 s of background work, so nothing is zeroed: the cost is each policy's flags and lists. Median of 9 interleaved runs; target: at most 5% over \`alloc\`.`,
    '',
    markdownTable(['policy', 'ns per pair', 'over alloc'], rows),
    '',
  ].join('\n');
}
