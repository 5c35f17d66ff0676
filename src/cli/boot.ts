/**
 * `pagelab boot`: boot a machine and show what boot did.
 */
import { PagelabError } from '../errors.js';
import { TUNABLES, Tunables } from '../kern/tunables.js';
import { describeMemoryMap, PRESETS, resolveMachine } from '../machine/index.js';
import { textTable } from '../util/table.js';
import { formatSize, hex } from '../util/units.js';
import { formatFreeQueueTable, freeQueueTable } from '../vm/buddyinfo.js';
import { workToObject } from '../vm/counters.js';
import { BYTES_PER_PAGE } from '../vm/page.js';
import { FREELIST_NAMES, PAGE_SIZE } from '../vm/param.js';
import { Vm } from '../vm/vm.js';
import { parseArgs } from './args.js';

interface BootRun {
  vm: Vm;
  wallMs: number;
}

function bootOnce(map: ReturnType<typeof resolveMachine>, tunables: Tunables): BootRun {
  const t0 = performance.now();
  const vm = new Vm(map, tunables);
  return { vm, wallMs: performance.now() - t0 };
}

function bootJson(r: BootRun): Record<string, unknown> {
  const { vm } = r;
  return {
    tunables: vm.tunables.snapshot(),
    boot: {
      lazy: vm.boot.lazy,
      pages: vm.phys.npages,
      pages_initialised: vm.boot.pagesInitialised,
      pages_reserved: vm.boot.pagesReserved,
      pages_free: vm.boot.pagesFree,
      blocks_enqueued: vm.boot.blocksEnqueued,
      lazy_blocks: vm.boot.lazyBlocks,
      page_array_bytes: vm.phys.npages * BYTES_PER_PAGE,
      wall_ms: r.wallMs,
      work: workToObject(vm.boot.work),
    },
    free_queues: freeQueueTable(vm.phys),
    reserv: vm.reserv === null ? { enabled: false } : { enabled: true, npages: vm.reserv.npages, ...vm.reserv.counters(), superpages_free: superpagesFree(vm) },
    domains: Array.from({ length: vm.phys.ndomains }, (_, d) => ({ domain: d, page_count: vm.domains.pageCount[d], free_count: vm.domains.freeCount(d), free_reserved: vm.domains.freeReserved[d], free_min: vm.domains.freeMin[d], interrupt_free_min: vm.domains.interruptFreeMin[d] })),
    backing: vm.backing === null ? null : { memories: vm.backing.memories().map((m) => ({ ...m, startPa: hex(m.startPa), endPa: hex(m.endPa) })), materialised_bytes: vm.backing.materialisedBytes() },
  };
}

/* Free blocks per domain that could start a reservation now (order >= the reservation order), counted in reservations. */
function superpagesFree(vm: Vm): number[] {
  const out = new Array<number>(vm.phys.ndomains).fill(0);
  if (vm.reserv === null) return out;
  const order = vm.reserv.order;
  vm.phys.forEachFreeBlock((_m, o, _pool, d) => {
    if (o >= order) out[d] += 2 ** (o - order);
  });
  return out;
}

export function bootCommand(argv: string[], out: (s: string) => void): number {
  const a = parseArgs(argv, ['--json', '--compare', '--backed'], 'boot');
  if (a.positional.length > 0) throw new PagelabError('EUSAGE', `boot: unexpected argument "${a.positional[0]}"`);
  if (a.machine.preset === 'help' || a.machine.preset === 'list') {
    out(textTable(['preset', 'description'], PRESETS.map((p) => [p.name, p.description])));
    return 0;
  }
  const map = resolveMachine(a.machine);
  const tunables = new Tunables();
  if (a.flags.has('--backed')) tunables.set('vm.backed', 1);
  for (const t of a.tunables) tunables.setFromString(t);
  const runs: BootRun[] = [];
  if (a.flags.has('--compare')) {
    runs.push(bootOnce(map, tunables.clone().set('vm.lazy_page_init', 0)));
    runs.push(bootOnce(map, tunables.clone().set('vm.lazy_page_init', 1)));
  } else runs.push(bootOnce(map, tunables));
  const vm0 = runs[0].vm;
  const segments = vm0.phys.segs.map((s) => ({ start: hex(s.start), end: hex(s.end), domain: s.domain, freelist: FREELIST_NAMES[s.freelist], pages: s.npages }));

  if (a.flags.has('--json')) {
    const body = {
      machine: { name: map.name, source: map.source, ndomains: map.ndomains, ram: map.ram.map((r) => ({ start: hex(r.start), end: hex(r.end), domain: r.domain })), phys_avail: map.physAvail.map((r) => ({ start: hex(r.start), end: hex(r.end) })), reserved: map.reserved.map((r) => ({ start: hex(r.start), end: hex(r.end), what: r.what })) },
      segments,
      ...(runs.length === 1 ? bootJson(runs[0]) : { runs: runs.map(bootJson) }),
    };
    out(JSON.stringify(body, null, 2) + '\n');
    return 0;
  }

  const ramBytes = map.ram.reduce((s, r) => s + r.end - r.start, 0);
  out(`machine ${map.name} (${map.source}): ${formatSize(ramBytes)} RAM in ${map.ram.length} ranges, ${map.ndomains} domain${map.ndomains > 1 ? 's' : ''}\n\n`);
  const rows = describeMemoryMap(map).map((r) => [r.start, r.end, r.size, String(r.domain), r.notAvail.join('; ') || '-']);
  out(textTable(['start', 'end', 'size', 'dom', 'outside phys_avail'], rows) + '\n');
  out('physical segments (vm.phys_segs)\n');
  out(textTable(['start', 'end', 'dom', 'freelist', 'pages'], segments.map((s) => [s.start, s.end, String(s.domain), s.freelist, String(s.pages)])) + '\n');
  for (const r of runs) {
    const { vm } = r;
    const changed = vm.tunables.changed();
    const label = Object.keys(changed).length ? Object.entries(changed).map(([k, v]) => `${k}=${v}`).join(' ') : 'defaults';
    out(`free queues after boot (${label}; counts of blocks per order)\n`);
    out(formatFreeQueueTable(freeQueueTable(vm.phys)) + '\n\n');
  }
  for (const r of runs) {
    const b = r.vm.backing;
    if (b === null) continue;
    out('backing memory (vm.backed=1): shared WebAssembly memories, materialised on first touch\n');
    out(textTable(['memory', 'physical start', 'physical end', 'size', 'materialised'], b.memories().map((m) => [String(m.index), hex(m.startPa), hex(m.endPa), formatSize(m.bytes), m.materialised ? 'yes' : 'no'])));
    out(`materialised: ${formatSize(b.materialisedBytes())}\n\n`);
    break;
  }
  const summary = runs.map((r) => {
    const b = r.vm.boot;
    return [
      b.lazy ? 'lazy (vm.lazy_page_init=1)' : 'eager (vm.lazy_page_init=0)',
      `${b.pagesInitialised}`,
      `${((100 * b.pagesInitialised) / r.vm.phys.npages).toFixed(2)}%`,
      `${b.pagesReserved}`,
      `${b.pagesFree}`,
      `${b.blocksEnqueued}`,
      `${b.lazyBlocks}`,
      r.wallMs.toFixed(2),
    ];
  });
  for (const r of runs.slice(0, 1)) {
    const { vm } = r;
    if (vm.reserv === null) out('reservations: off (vm.reserv.enable=0, or vm.nfreeorder too small for the geometry)\n');
    else out(`reservations: level 0, ${vm.reserv.npages} pages (${formatSize(vm.reserv.npages * PAGE_SIZE)}) each; superpage-sized free blocks per domain ${superpagesFree(vm).join('/')}; none active at boot\n`);
    out(textTable(['dom', 'pages', 'free', 'free_reserved', 'free_min', 'interrupt_free_min'], Array.from({ length: vm.phys.ndomains }, (_, d) => [String(d), String(vm.domains.pageCount[d]), String(vm.domains.freeCount(d)), String(vm.domains.freeReserved[d]), String(vm.domains.freeMin[d]), String(vm.domains.interruptFreeMin[d])])) + '\n');
  }
  out('boot (vm_page_startup)\n');
  out(textTable(['mode', 'pages initialised', 'of all', 'reserved', 'free', 'blocks', 'lazy blocks', 'wall ms'], summary));
  out(`\npage array: ${vm0.phys.npages} records x ${BYTES_PER_PAGE} B = ${formatSize(vm0.phys.npages * BYTES_PER_PAGE)} of address space (${formatSize(PAGE_SIZE)} pages); wall time is this host's, not a kernel's.\n`);
  return 0;
}

export function tunablesCommand(argv: string[], out: (s: string) => void): number {
  const a = parseArgs(argv, [], 'tunables', { machine: false });
  if (a.positional.length > 0) throw new PagelabError('EUSAGE', `tunables: unexpected argument "${a.positional[0]}"`);
  const t = new Tunables();
  out(textTable(['name', 'default', 'description'], TUNABLES.map((d) => [d.name, String(t.get(d.name)), d.description])));
  return 0;
}
