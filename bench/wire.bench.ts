/**
 * The mapping layer: faults per second (soft faults of resident pages with
 * 4 KiB mappings, soft faults mapping 2 MiB at once, zero-fill faults), and
 * wiring PAGELAB_WIRE_BENCH_MIB (default 1024) MiB of backed memory on each
 * vm.wire.fast path against a C memset of the same size, in the same run.
 * Cases interleaved (A B A B), medians; set-up (unmapping the last run,
 * pre-zeroing for 1+PG_ZERO) is untimed.
 */
import os from 'node:os';
import { compare, fmtRate, markdownTable, median, type BenchCase } from './harness.js';
import { buildMemset, runMemset, CALL_SIZES } from './zero.bench.js';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { memoryMapForSize } from '../src/machine/presets.js';
import { VmMaps, VMFS_SUPER_SPACE, type VmMap } from '../src/vm/map.js';
import { KERN_SUCCESS, VM_PROT_READ, VM_PROT_WRITE } from '../src/vm/pmap.js';
import { PAGE_SIZE } from '../src/vm/param.js';
import { Vm } from '../src/vm/vm.js';
import type { WirePath } from '../src/vm/wire.js';

const MiB = 2 ** 20;

function must(rv: number, what: string): void {
  if (rv !== KERN_SUCCESS) throw new Error(`${what}: KERN ${rv}`);
}

/* Soft faults: a populated range whose mappings are removed before each run. */
function softCase(name: string, superpages: boolean, bytes: number): BenchCase {
  const vm = new Vm(memoryMapForSize(bytes + 64 * MiB), { 'vm.lazy_page_init': 0 });
  const maps = new VmMaps(vm, { superpages });
  const map = maps.create();
  const va = map.find(bytes, { findSpace: VMFS_SUPER_SPACE });
  must(map.touch(va, va + bytes, VM_PROT_WRITE), 'populate');
  return {
    name,
    setup: () => map.pmap.remove(va, va + bytes),
    run: () => {
      const c0 = process.cpuUsage();
      must(map.touch(va, va + bytes, VM_PROT_READ), name);
      const c = process.cpuUsage(c0);
      cpuNs.set(name, [...(cpuNs.get(name) ?? []), ((c.user + c.system) * 1e3) / (bytes / PAGE_SIZE)]);
      return bytes / PAGE_SIZE;
    },
  };
}

/* CPU ns per page of each soft-fault run (the host is shared: wall time includes waiting for a CPU). */
const cpuNs = new Map<string, number[]>();

/* The range each map's last run mapped: the next set-up unmaps it, whichever case made it. */
const lastRange = new Map<VmMap, number>();

/* A case that maps a fresh range each run (the last run's range unmapped, untimed) and does `what` to it. */
function freshCase(name: string, map: VmMap, bytes: number, what: (va: number) => number, setup?: () => void): BenchCase {
  let va = -1;
  return {
    name,
    setup: () => {
      const last = lastRange.get(map);
      if (last !== undefined) map.remove(last, last + bytes);
      setup?.();
      va = map.find(bytes, { findSpace: VMFS_SUPER_SPACE });
      lastRange.set(map, va);
    },
    run: () => {
      must(what(va), name);
      return bytes / PAGE_SIZE;
    },
  };
}

export default async function wireBench(): Promise<string> {
  const mib = Number(process.env.PAGELAB_WIRE_BENCH_MIB ?? 1024);
  const bytes = mib * MiB;
  const out: string[] = [];

  const faultBytes = 256 * MiB;
  const fvm = new Vm(memoryMapForSize(faultBytes + 64 * MiB), { 'vm.lazy_page_init': 0 });
  const fmaps = new VmMaps(fvm, { superpages: false });
  const fmap = fmaps.create();
  const faults = compare(
    [
      softCase('soft fault, resident page, 4 KiB mapping (vm_fault_soft_fast)', false, faultBytes),
      softCase('soft fault, full reservation: one fault maps 2 MiB', true, faultBytes),
      freshCase('zero-fill fault (slow path: allocate, zero, map), unbacked', fmap, faultBytes, (va) => fmap.touch(va, va + faultBytes, VM_PROT_WRITE)),
    ],
    5,
    1,
  );
  out.push(`### Faults per second\n\n${faultBytes / MiB} MiB per run, every 4 KiB page faulted once; medians of 5 interleaved runs.\n`);
  out.push(
    markdownTable(
      ['fault', 'wall ns per 4 KiB page', 'pages per second (wall)', 'CPU ns per page (median)', 'pages per CPU second'],
      faults.map((r) => {
        const cpu = cpuNs.get(r.name);
        const m = cpu === undefined ? NaN : median(cpu.slice(-r.runs));
        return [r.name, r.nsPerOp.toFixed(1), fmtRate(r.opsPerSec), Number.isFinite(m) ? m.toFixed(1) : '-', Number.isFinite(m) ? fmtRate(1e9 / m) : '-'];
      }),
    ),
  );
  out.push(`
Host load average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} cores (shared with other work: trust ratios and CPU time over wall time).`);

  const vm = new Vm(memoryMapForSize(bytes + 256 * MiB), { 'vm.backed': 1, 'vm.lazy_page_init': 0 });
  const maps = new VmMaps(vm, { maxUserWired: Number.MAX_SAFE_INTEGER });
  const map = maps.create();
  const paths: Array<[WirePath, boolean]> = [['0', false], ['proposed', false], ['revised', false], ['1', false], ['1', true]];
  const wires = compare(
    paths.map(([p, z]) =>
      freshCase(`wire, vm.wire.fast=${p}${z ? ', free pages pre-zeroed (PG_ZERO)' : ''}`, map, bytes, (va) => map.wire(va, va + bytes), () => {
        maps.wirePath = p;
        if (z) vm.prezero.runToCompletion(0);
      }),
    ),
    5,
    1,
  );
  // C memset of the same size, 5 runs right after the wiring cases, medians per call size.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pagelab-wire-memset-'));
  let c: { memset: number[] } | string;
  try {
    const built = buildMemset(dir);
    if (typeof built === 'string') c = built;
    else {
      const runs = [...Array(5)].map(() => runMemset(built.exe, mib)).filter((x) => x !== null);
      c = runs.length === 0 ? 'memset probe failed' : { memset: CALL_SIZES.map((_, i) => median(runs.map((x) => x!.memset[i]))) };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const memsetMs = typeof c === 'string' ? NaN : (mib / 1024 / c.memset[CALL_SIZES.findIndex((s) => s.bytes === 4096)]) * 1e3;
  const memsetWholeMs = typeof c === 'string' ? NaN : (mib / 1024 / c.memset[0]) * 1e3;
  out.push(`\n### Wiring ${mib} MiB of backed memory, per path, against C memset\n\nThe wiring cases interleaved, medians of 5 runs; the C memset (gcc -O2, pre-touched buffer) right after, in the same bench run.\n`);
  out.push(
    markdownTable(
      ['case', 'median ms', 'ns per 4 KiB page', 'vs C memset (4 KiB calls)'],
      [
        ...wires.map((r) => [r.name, (r.medianNs / 1e6).toFixed(1), r.nsPerOp.toFixed(0), Number.isFinite(memsetMs) ? `${(r.medianNs / 1e6 / memsetMs).toFixed(1)}x` : '-']),
        ['C memset, 4 KiB calls', Number.isFinite(memsetMs) ? memsetMs.toFixed(1) : String(c), '-', '1.0x'],
        ['C memset, one call', Number.isFinite(memsetWholeMs) ? memsetWholeMs.toFixed(1) : String(c), '-', Number.isFinite(memsetMs) ? `${(memsetWholeMs / memsetMs).toFixed(1)}x` : '-'],
      ],
    ),
  );
  return out.join('\n');
}
