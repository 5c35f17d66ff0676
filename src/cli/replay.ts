/**
 * `pagelab replay TRACE`: run a trace file (docs/trace-format.md).
 * Exit status: 0 when every operation ran and every data check passed; 1
 * when a data check failed (a `verify`, or a zeroed allocation that did
 * not read zero: a result, reported); 2 for bad input (the trace, the
 * options, a file too large).
 */
import { writeFileSync } from 'node:fs';
import { PagelabError } from '../errors.js';
import { parseTrace, Replayer, TRACE_MAX_BYTES, type ReplayResult } from '../lab/replay.js';
import { resolveMachine } from '../machine/index.js';
import { readBytesBounded, STDIN } from '../util/read-bounded.js';
import { textTable } from '../util/table.js';
import { formatFreeQueueTable, freeQueueTable } from '../vm/buddyinfo.js';
import { parseArgs, tunableAssignments } from './args.js';
import { pageHtml, preloadFor } from './web.js';

/* One line per failed data check, for the terminal. */
function dataCheckLines(r: Replayer): string[] {
  return [
    ...r.verifyFailures.map((f) => `verify failed: line ${f.line}, tag ${f.tag}: differs from the pattern at ${f.pa}`),
    ...r.zeroFailures.map((f) => `zero check failed: line ${f.line}, tag ${f.tag}: not zero at ${f.pa}`),
  ];
}

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
  const bytes = readBytesBounded(file === '-' ? STDIN : file, { maxBytes: TRACE_MAX_BYTES, label: file === '-' ? 'replay: standard input' : `replay: ${file}`, what: 'a trace' });
  const trace = parseTrace(bytes, file);
  const r = new Replayer(trace, {
    check: a.flags.has('--check'),
    events: a.flags.has('--events'),
    tunables: tunableAssignments(a, 'replay'),
    machine: a.machineGiven ? resolveMachine(a.machine) : undefined,
  });
  try {
    r.run();
    const html = a.values.get('--html');
    if (html !== undefined) {
      const preload = preloadFor({ ...a, positional: [] }, 'replay', undefined);
      preload.trace = { name: file.split(/[\\/]/).pop() ?? file, text: bytes.toString('utf8') };
      try {
        writeFileSync(html, pageHtml(preload, true));
      } catch (e) {
        throw new PagelabError('EUSAGE', `replay: cannot write --html ${html}: ${(e as Error).message}`);
      }
    }
    const failures = dataCheckLines(r);
    const status = failures.length > 0 ? 1 : 0;
    if (a.flags.has('--json')) {
      out(JSON.stringify(r.result(), null, 2) + '\n');
      return status;
    }
    // The text report reads the replayer: no per-tag result is built.
    out(`replayed ${file} on ${r.map.name}: ${trace.length} operation${trace.length === 1 ? '' : 's'}${a.flags.has('--check') ? ', checker after each' : ''}\n`);
    if (r.events !== null) {
      out(textTable(['line', 'op', 'tag', 'pa', 'pages', 'outcome'], r.events.map((e) => [String(e.line), e.op, e.tag ?? '', e.pa ?? '', e.pages === undefined ? '' : String(e.pages), e.ok ? 'ok' : `FAILED${e.note ? ': ' + e.note : ''}`])));
    }
    if (r.failed.length) out(`allocations that could not be satisfied: line ${r.failed.join(', ')}\n`);
    if (r.skipped.length) out(`frees skipped (their allocation failed): line ${r.skipped.join(', ')}\n`);
    out(`still allocated: ${r.liveCount()} tags; free pages ${r.phys.totalFree()}; lazy pending ${r.phys.lazyPending()}\n\n`);
    const layer = r.objects.report();
    const objects = Object.entries(layer.objects);
    if (objects.length > 0) {
      out('objects (reservations: F full, E populated to the end, B from the beginning, P other partial, - none; one letter per reservation)\n');
      out(textTable(['object', 'type', 'size (pages)', 'color', 'resident', 'reservations'], objects.map(([name, o]) => [name, o.type, o.size === null ? 'unbounded' : String(o.size), o.color === null ? 'none' : String(o.color), String(o.resident_pages), truncate(o.reservations, 96)])) + '\n');
    }
    const space = r.maps.report().map;
    if (space !== undefined) {
      out(`address space (vm.wire.fast=${space.wire_path}): ${space.entries.length} entries; pmap ${space.pmap.ptes} PTEs, ${space.pmap.pdes} 2 MiB PDEs, ${space.pmap.ptpages} page-table pages, ${space.pmap.promotions} promotions, ${space.pmap.demotions} demotions; ${space.pmap.wired} pages wired\n`);
      out(textTable(['start', 'end', 'tag', 'object', 'offset', 'prot', 'wired'], space.entries.map((e) => [e.start, e.end, e.name ?? '', e.objectName ?? (e.object === 0 ? '-' : String(e.object)), String(e.offset), String(e.prot), String(e.wiredCount)])) + '\n');
    }
    out(reservSummary(layer.reserv) + '\n\n');
    out(formatFreeQueueTable(freeQueueTable(r.phys)) + '\n');
    if (failures.length > 0) out(`\n${failures.join('\n')}\n${failures.length} data check${failures.length === 1 ? '' : 's'} failed\n`);
    return status;
  } finally {
    void r.vm.shutdown();
  }
}
