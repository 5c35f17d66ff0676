/**
 * `pagelab replay TRACE`: run a trace file (docs/trace-format.md).
 */
import { writeFileSync } from 'node:fs';
import { PagelabError } from '../errors.js';
import { parseTrace, replayTrace, type ReplayResult } from '../lab/replay.js';
import { resolveMachine } from '../machine/index.js';
import { textTable } from '../util/table.js';
import { formatFreeQueueTable } from '../vm/buddyinfo.js';
import { parseArgs } from './args.js';
import { pageHtml, preloadFor, readTraceFile } from './web.js';

function truncate(s: string, n: number): string {
  return s.length <= n ? s || '-' : `${s.slice(0, n)}... (${s.length} reservations)`;
}

/* One line of vm.reserv.* counters. */
export function reservSummary(r: ReplayResult['reserv']): string {
  if (!r.enabled) return 'reservations: off (vm.reserv.enable=0, or vm.nfreeorder too small for the geometry)';
  return (
    `reservations (${r.npages} pages each): active ${r.active.join('/')}, fully populated ${r.fullpop}, on partpopq ${r.partpopq.join('/')}, ` +
    `free inside ${r.free.join('/')} pages; started ${r.started}, freed ${r.freed}, broken ${r.broken}, reclaimed ${r.reclaimed}`
  );
}

export function replayCommand(argv: string[], out: (s: string) => void): number {
  const a = parseArgs(argv, ['--json', '--check', '--events'], 'replay', { values: ['--html'] });
  if (a.positional.length !== 1) throw new PagelabError('EUSAGE', 'replay: expected exactly one TRACE file');
  const file = a.positional[0];
  const text = readTraceFile(file, 'replay');
  const trace = parseTrace(text, file);
  const result = replayTrace(trace, {
    check: a.flags.has('--check'),
    events: a.flags.has('--events'),
    overrides: a.tunables,
    machine: a.machineGiven ? resolveMachine(a.machine) : undefined,
  });
  const html = a.values.get('--html');
  if (html !== undefined) {
    const preload = preloadFor({ ...a, positional: [] }, 'replay', undefined);
    preload.trace = { name: file.split(/[\\/]/).pop() ?? file, text };
    try {
      writeFileSync(html, pageHtml(preload, true));
    } catch (e) {
      throw new PagelabError('EUSAGE', `replay: cannot write --html ${html}: ${(e as Error).message}`);
    }
  }
  if (a.flags.has('--json')) {
    out(JSON.stringify(result, null, 2) + '\n');
    return 0;
  }
  out(`replayed ${file} on ${result.machine}: ${trace.ops.length} operations${a.flags.has('--check') ? ', checker after each' : ''}\n`);
  if (result.events) {
    out(textTable(['line', 'op', 'tag', 'pa', 'pages', 'outcome'], result.events.map((e) => [String(e.line), e.op, e.tag ?? '', e.pa ?? '', e.pages === undefined ? '' : String(e.pages), e.ok ? 'ok' : `FAILED${e.note ? ': ' + e.note : ''}`])));
  }
  if (result.failed.length) out(`allocations that could not be satisfied: line ${result.failed.join(', ')}\n`);
  if (result.skipped_frees.length) out(`frees skipped (their allocation failed): line ${result.skipped_frees.join(', ')}\n`);
  out(`still allocated: ${Object.keys(result.allocations).length} tags; free pages ${result.free_pages}; lazy pending ${result.lazy_pending_pages}\n\n`);
  const objects = Object.entries(result.objects);
  if (objects.length > 0) {
    out('objects (reservations: F full, E populated to the end, B from the beginning, P other partial, - none; one letter per reservation)\n');
    out(textTable(['object', 'type', 'size (pages)', 'color', 'resident', 'reservations'], objects.map(([name, o]) => [name, o.type, o.size === null ? 'unbounded' : String(o.size), o.color === null ? 'none' : String(o.color), String(o.resident_pages), truncate(o.reservations, 96)])) + '\n');
  }
  if (result.map !== undefined) {
    const m = result.map;
    out(`address space (vm.wire.fast=${m.wire_path}): ${m.entries.length} entries; pmap ${m.pmap.ptes} PTEs, ${m.pmap.pdes} 2 MiB PDEs, ${m.pmap.ptpages} page-table pages, ${m.pmap.promotions} promotions, ${m.pmap.demotions} demotions; ${m.pmap.wired} pages wired\n`);
    out(textTable(['start', 'end', 'tag', 'object', 'offset', 'prot', 'wired'], m.entries.map((e) => [e.start, e.end, e.name ?? '', e.objectName ?? (e.object === 0 ? '-' : String(e.object)), String(e.offset), String(e.prot), String(e.wiredCount)])) + '\n');
  }
  out(reservSummary(result.reserv) + '\n\n');
  out(formatFreeQueueTable(result.buddyinfo) + '\n');
  return 0;
}
