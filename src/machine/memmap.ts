/*
 * Physical memory maps: the invariants every map must satisfy before the VM
 * layer sees it, the arithmetic that derives phys_avail from RAM and the
 * reserved ranges, and the JSON file format behind `--memmap FILE`
 * (documented in docs/memmap-format.md).
 *
 * Every bad map gets exactly one PagelabError, and its message names the
 * offending range by list and index (`ram[2]`) and by address in hex, because
 * a person editing a 40-line JSON file needs to know which line to fix.
 */
import { PagelabError, UNSAFE_CHAR } from '../errors.js';
import { formatSize, hex, parseSize } from '../util/units.js';
import type { MemoryMap, PhysRange, RamRange } from './types.js';

export const PAGE_SIZE = 4096;

/*
 * amd64 long mode with 4-level or 5-level paging addresses at most 52 bits of
 * physical memory; anything above cannot be RAM.
 */
export const MAX_PHYS_ADDR = 2 ** 52;

/*
 * MAXMEMDOM is 8 on amd64 today; allow some headroom for experiments but keep
 * a bound so a typo like `"ndomains": 1000000` is caught.
 */
export const MAX_DOMAINS = 64;

/*
 * The most ranges in any one list (ram, phys_avail, reserved). Firmware
 * tables are far smaller (Linux sizes its e820 table at 128 entries plus 3
 * per NUMA node); the bound is checked before any per-range work, so a
 * 20 000-range map is refused at once instead of validated first.
 */
export const MAX_MAP_RANGES = 4096;

/*
 * The most separate runs of RAM (ranges that do not touch the one before).
 * Each run becomes at least one vm_phys segment, and FreeBSD amd64 has
 * VM_PHYSSEG_MAX = 63 of them; the VM makes the exact check on its segments
 * (which the 16 MiB and 4 GiB free-list boundaries may split further), this
 * one only refuses, early and in O(n), a map that can never fit. Equal to
 * vm/param.ts VM_PHYSSEG_MAX (a test ties the two; machine/ does not import
 * the VM).
 */
export const MAX_RAM_RUNS = 63;

/*
 * The most RAM a map may have: the page array numbers every page of RAM
 * with a 32-bit index, 0xffffffff is NIL and 0xfffffffe pages is
 * vm/param.ts MAX_PAGES, so 2^32 - 2 pages of 4 KiB: 16 TiB - 8 KiB.
 */
export const MAX_RAM_BYTES = (2 ** 32 - 2) * 4096;
/* MAX_RAM_BYTES as people write it (formatSize would say 17179869176K). */
export const MAX_RAM_TEXT = '16T - 8K';

/* `[0x100000, 0x200000)`: the one way ranges are printed in messages. */
export function rangeText(r: PhysRange): string {
  return `[${hex(r.start)}, ${hex(r.end)})`;
}

function isPageAligned(addr: number): boolean {
  return addr % PAGE_SIZE === 0;
}

function fail(message: string): never {
  throw new PagelabError('EMEMMAP', message);
}

/*
 * Checks one list of ranges for the properties shared by ram, phys_avail and
 * reserved: integer addresses, non-empty, page-aligned, below the physical
 * address limit, sorted and non-overlapping (adjacent is fine).
 * Guarantees: returns only if all hold; otherwise throws EMEMMAP naming
 * `list[i]` and its range.
 */
function checkRangeList(list: readonly PhysRange[], listName: string, prefix: string): void {
  for (let i = 0; i < list.length; i++) {
    const r = list[i];
    const where = `${prefix}${listName}[${i}] ${rangeText(r)}`;
    if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.end) || r.start < 0) {
      fail(`${where}: addresses must be non-negative integers`);
    }
    if (r.end <= r.start) {
      fail(`${where}: empty range (end must be above start)`);
    }
    if (!isPageAligned(r.start) || !isPageAligned(r.end)) {
      const bad = !isPageAligned(r.start) ? `start ${hex(r.start)}` : `end ${hex(r.end)}`;
      fail(`${where}: ${bad} is not aligned to the ${PAGE_SIZE}-byte page size`);
    }
    if (r.end > MAX_PHYS_ADDR) {
      fail(`${where}: ends above the 52-bit physical address limit ${hex(MAX_PHYS_ADDR)}`);
    }
    if (i > 0) {
      const prev = list[i - 1];
      if (r.start < prev.end) {
        const how = r.start < prev.start ? 'is not sorted: it starts below' : 'overlaps';
        fail(`${where}: ${how} ${listName}[${i - 1}] ${rangeText(prev)}`);
      }
    }
  }
}

/*
 * Index of the first RAM range that ends above `addr`, or ram.length.
 * Requires: ram sorted and non-overlapping (checkRangeList), so ends ascend.
 */
function firstRamEndingAbove(ram: readonly RamRange[], addr: number): number {
  let lo = 0;
  let hi = ram.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ram[mid].end <= addr) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Index of the RAM range containing all of `r`, or -1. O(log n). */
function containingRam(ram: readonly RamRange[], r: PhysRange): number {
  const i = firstRamEndingAbove(ram, r.start);
  return i < ram.length && ram[i].start <= r.start && r.end <= ram[i].end ? i : -1;
}

/*
 * Whether the union of RAM ranges (which may touch) covers all of `r`.
 * O(log n + the RAM ranges `r` spans).
 */
function coveredByRam(ram: readonly RamRange[], r: PhysRange): boolean {
  let at = r.start;
  for (let i = firstRamEndingAbove(ram, at); i < ram.length; i++) {
    const m = ram[i];
    if (m.start > at) return false;
    at = m.end;
    if (at >= r.end) return true;
  }
  return false;
}

/*
 * The limits that bound all later work, checked first and in O(1): list
 * lengths. Guarantees: returns only if every list has at most
 * MAX_MAP_RANGES ranges; otherwise EMEMMAP naming the list.
 */
function checkListSizes(lists: Record<string, readonly unknown[]>, prefix: string): void {
  for (const [name, list] of Object.entries(lists)) {
    if (list.length > MAX_MAP_RANGES) {
      fail(`${prefix}${name} has ${list.length} ranges; a map has at most ${MAX_MAP_RANGES} in each list`);
    }
  }
}

/*
 * The VM's limits that RAM alone decides, in O(n): runs of touching ranges
 * against MAX_RAM_RUNS, and total RAM against MAX_RAM_BYTES.
 * Requires: ram passed checkRangeList.
 */
function checkRamLimits(ram: readonly RamRange[], prefix: string): void {
  let runs = 0;
  let bytes = 0;
  for (let i = 0; i < ram.length; i++) {
    if (i === 0 || ram[i].start !== ram[i - 1].end) {
      runs++;
      if (runs > MAX_RAM_RUNS) {
        fail(
          `${prefix}ram[${i}] ${rangeText(ram[i])} starts run ${runs} of separate RAM ranges; ` +
            `each run is at least one vm_phys segment and VM_PHYSSEG_MAX is ${MAX_RAM_RUNS}`,
        );
      }
    }
    bytes += ram[i].end - ram[i].start;
  }
  if (bytes > MAX_RAM_BYTES) {
    fail(
      `${prefix}${formatSize(bytes)} of RAM (${bytes / PAGE_SIZE} pages) is more than the ${MAX_RAM_TEXT} ` +
        `(${MAX_RAM_BYTES / PAGE_SIZE} pages) the page array's 32-bit page indices can number`,
    );
  }
}

/*
 * Checks every invariant documented on MemoryMap.
 * Requires: nothing; `map` may come straight from a user.
 * Guarantees: returns only if no list has more than MAX_MAP_RANGES ranges
 * (checked first, before any per-range work); ram is non-empty, sorted,
 * non-overlapping, page-aligned, with every domain below ndomains, in at
 * most MAX_RAM_RUNS separate runs, adding up to at most MAX_RAM_BYTES;
 * phys_avail is non-empty,
 * sorted, non-overlapping, page-aligned, each range inside one RAM range;
 * reserved is sorted, non-overlapping, page-aligned and covered by RAM.
 * Otherwise throws one EMEMMAP error naming the first offending range; RAM is
 * checked before phys_avail so that the root cause is the one reported.
 * O(n log n) in the number of ranges.
 */
export function validateMemoryMap(map: MemoryMap): void {
  validateWithPrefix(map, map.name ? `memory map "${map.name}": ` : '');
}

/* validateMemoryMap with messages prefixed by `prefix` (a file's parser uses its file name instead). */
function validateWithPrefix(map: MemoryMap, prefix: string): void {
  if (!Number.isInteger(map.ndomains) || map.ndomains < 1 || map.ndomains > MAX_DOMAINS) {
    fail(`${prefix}ndomains ${map.ndomains} must be an integer from 1 to ${MAX_DOMAINS}`);
  }
  checkListSizes({ ram: map.ram, phys_avail: map.physAvail, reserved: map.reserved }, prefix);
  if (map.ram.length === 0) fail(`${prefix}no RAM ranges`);
  checkRangeList(map.ram, 'ram', prefix);
  map.ram.forEach((r, i) => {
    if (!Number.isInteger(r.domain) || r.domain < 0 || r.domain >= map.ndomains) {
      fail(
        `${prefix}ram[${i}] ${rangeText(r)}: domain ${r.domain} is out of range ` +
          `(ndomains is ${map.ndomains}, so domains are 0..${map.ndomains - 1})`,
      );
    }
  });
  checkRamLimits(map.ram, prefix);
  if (map.physAvail.length === 0) fail(`${prefix}phys_avail is empty: no page would be free`);
  checkRangeList(map.physAvail, 'phys_avail', prefix);
  map.physAvail.forEach((r, i) => {
    if (containingRam(map.ram, r) < 0) {
      fail(`${prefix}phys_avail[${i}] ${rangeText(r)}: is not inside a single RAM range`);
    }
  });
  checkRangeList(map.reserved, 'reserved', prefix);
  map.reserved.forEach((r, i) => {
    if (!coveredByRam(map.ram, r)) {
      fail(`${prefix}reserved[${i}] ${rangeText(r)} (${r.what}): is not inside RAM`);
    }
  });
}

/*
 * phys_avail as FreeBSD's getmemsize() builds it: each RAM range minus the
 * reserved ranges, split at RAM range boundaries so that every piece lies in
 * one RAM range (and so in one domain).
 * Requires: ram and reserved sorted and non-overlapping.
 * Guarantees: sorted, non-overlapping, non-empty pieces.
 */
export function subtractReserved(ram: readonly PhysRange[], reserved: readonly PhysRange[]): PhysRange[] {
  const out: PhysRange[] = [];
  // One walk over both lists: O(ram + reserved). A reserved range that
  // spans several RAM ranges is revisited for each, so `j` only moves past
  // ranges that end at or below the current RAM range's start.
  let j = 0;
  for (const m of ram) {
    while (j < reserved.length && reserved[j].end <= m.start) j++;
    let at = m.start;
    for (let k = j; k < reserved.length && reserved[k].start < m.end; k++) {
      const r = reserved[k];
      if (r.end <= at) continue;
      if (r.start > at) out.push({ start: at, end: r.start });
      at = Math.max(at, r.end);
    }
    if (at < m.end) out.push({ start: at, end: m.end });
  }
  return out;
}

/*
 * Assembles and validates a map whose phys_avail is RAM minus reserved.
 * Guarantees: a valid MemoryMap (reserved sorted by start), or EMEMMAP.
 */
export function buildMemoryMap(
  spec: {
    name: string;
    source: string;
    ndomains: number;
    ram: RamRange[];
    reserved: Array<PhysRange & { what: string }>;
  },
  messagePrefix?: string,
): MemoryMap {
  const prefix = messagePrefix ?? (spec.name ? `memory map "${spec.name}": ` : '');
  checkListSizes({ ram: spec.ram, reserved: spec.reserved }, prefix);
  const reserved = [...spec.reserved].sort((a, b) => a.start - b.start);
  const map: MemoryMap = {
    name: spec.name,
    source: spec.source,
    ndomains: spec.ndomains,
    ram: spec.ram,
    physAvail: subtractReserved(spec.ram, reserved),
    reserved,
  };
  validateWithPrefix(map, prefix);
  return map;
}

/* Total bytes of RAM and of phys_avail. */
export function memoryMapTotals(map: MemoryMap): { ramBytes: number; availBytes: number; reservedBytes: number } {
  const sum = (l: readonly PhysRange[]) => l.reduce((s, r) => s + (r.end - r.start), 0);
  const ramBytes = sum(map.ram);
  const availBytes = sum(map.physAvail);
  return { ramBytes, availBytes, reservedBytes: ramBytes - availBytes };
}

/* ---------------------------------------------------------------------------
 * The JSON format.
 */

const TOP_KEYS = new Set(['name', 'ndomains', 'ram', 'reserved', 'phys_avail', 'comment']);
const RAM_KEYS = new Set(['start', 'end', 'size', 'domain', 'comment']);
const RESERVED_KEYS = new Set(['start', 'end', 'size', 'what', 'comment']);
const AVAIL_KEYS = new Set(['start', 'end', 'size', 'comment']);

/* How deep a memory map's JSON may nest; the format itself needs three levels. */
const MAX_JSON_DEPTH = 32;

/* What scanJson found first. `at` is an offset in the text. */
type JsonScan =
  | { kind: 'ok' }
  | { kind: 'syntax'; at: number }
  | { kind: 'duplicate'; at: number; where: string; key: string }
  | { kind: 'deep'; at: number };

class ScanStop {
  constructor(readonly found: JsonScan) {}
}

/*
 * A small recursive-descent scan of JSON text for what JSON.parse does not
 * say: where a syntax error is (V8 gives a position for some errors and not
 * for others, and a person fixing a file wants a line and column either
 * way), and which key an object repeats (JSON.parse silently keeps the last,
 * so a range with two "end"s would lose one without a word).
 * Guarantees: O(text) time, recursion at most MAX_JSON_DEPTH deep, offsets
 * in [0, text.length]; `where` names an object as messages do: "memory map"
 * for the top level, then "ram", "ram[2]", "ram[2].comment".
 */
function scanJson(text: string): JsonScan {
  let i = 0;
  const literal = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null/y;
  const ws = (): void => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const bad = (): never => {
    throw new ScanStop({ kind: 'syntax', at: Math.min(i, text.length) });
  };
  const string = (): void => {
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      else if (text.charCodeAt(i) < 0x20) bad();
      i++;
    }
    if (i >= text.length) bad();
    i++;
  };
  const value = (where: string, depth: number): void => {
    ws();
    const c = text[i];
    if ((c === '{' || c === '[') && depth >= MAX_JSON_DEPTH) throw new ScanStop({ kind: 'deep', at: i });
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      const keys = new Set<string>();
      for (;;) {
        ws();
        if (text[i] !== '"') bad();
        const keyAt = i;
        string();
        let key: string;
        try {
          key = JSON.parse(text.slice(keyAt, i)) as string;
        } catch {
          i = keyAt;
          return bad();
        }
        if (keys.has(key)) throw new ScanStop({ kind: 'duplicate', at: keyAt, where, key });
        keys.add(key);
        ws();
        if (text[i] !== ':') bad();
        i++;
        value(depth === 0 ? key : `${where}.${key}`, depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else bad();
      }
    } else if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value(`${where}[${n}]`, depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else bad();
      }
    } else if (c === '"') {
      string();
    } else {
      literal.lastIndex = i;
      if (!literal.test(text)) bad();
      i = literal.lastIndex;
    }
  };
  try {
    value('memory map', 0);
    ws();
    return i < text.length ? { kind: 'syntax', at: i } : { kind: 'ok' };
  } catch (stop) {
    if (stop instanceof ScanStop) return stop.found;
    throw stop;
  }
}

/* "line L, column C" of offset `pos` in `text`. */
function lineAndColumn(text: string, pos: number): string {
  let line = 1;
  let lineStart = 0;
  for (let nl = text.indexOf('\n'); nl >= 0 && nl < pos; nl = text.indexOf('\n', nl + 1)) {
    line++;
    lineStart = nl + 1;
  }
  return `line ${line}, column ${pos - lineStart + 1}`;
}

/*
 * The one error for JSON that is not a memory map's JSON, or undefined when
 * the scan finds nothing wrong. `parseError` is JSON.parse's, if it failed.
 */
function jsonProblem(text: string, parseError: Error | undefined): string | undefined {
  const found = scanJson(text);
  switch (found.kind) {
    case 'duplicate':
      return `${found.where}: duplicate key "${found.key}" at ${lineAndColumn(text, found.at)} (JSON.parse would keep only the last)`;
    case 'deep':
      return `invalid JSON at ${lineAndColumn(text, found.at)}: nested more than ${MAX_JSON_DEPTH} levels deep`;
    case 'syntax':
    case 'ok': {
      if (parseError === undefined) return found.kind === 'ok' ? undefined : `invalid JSON at ${lineAndColumn(text, found.at)}`;
      // V8 quotes the text around the error; the line and column say where
      // without echoing a possibly long file back.
      const why = parseError.message.replace(/, ".*" is not valid JSON$/s, '').replace(/ (?:in JSON )?at position \d+.*$/s, '');
      return found.kind === 'syntax' ? `invalid JSON at ${lineAndColumn(text, found.at)}: ${why}` : `invalid JSON: ${why}`;
    }
  }
}

/* The longest "name" or "what": they are printed in every report's tables. */
const MAX_LABEL_CHARS = 200;

/*
 * A "name" or "what" is printed as it is in reports, so it must be a short
 * string of printable characters: no escape sequences, newlines or bidi
 * overrides smuggled into a terminal through a map file.
 */
function checkLabel(v: unknown, where: string): void {
  if (typeof v !== 'string') fail(`${where} must be a string, got ${JSON.stringify(v)}`);
  if (v.length > MAX_LABEL_CHARS) fail(`${where} is ${v.length} characters long; at most ${MAX_LABEL_CHARS}`);
  const bad = UNSAFE_CHAR.exec(v);
  if (bad !== null) fail(`${where} "${v}" holds the control character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(obj: Record<string, unknown>, allowed: Set<string>, where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.has(key)) {
      fail(`${where}: unknown key "${key}" (allowed: ${[...allowed].join(', ')})`);
    }
  }
}

function parseAddr(v: unknown, what: string): number {
  if (typeof v !== 'number' && typeof v !== 'string') {
    throw new PagelabError('ESIZE', `${what}: expected a number or a string like "0x1000" or "4G", got ${JSON.stringify(v)}`);
  }
  return parseSize(v, what);
}

/*
 * One `{start, end | size, ...}` object to a range.
 * Guarantees: exactly one of end/size was given; start+size does not overflow.
 * The range itself is not yet checked for alignment or emptiness; that is
 * validateMemoryMap's job, so that both entry paths report alike.
 */
function parseRangeObject(v: unknown, allowed: Set<string>, where: string): { range: PhysRange; obj: Record<string, unknown> } {
  if (!isPlainObject(v)) fail(`${where}: expected an object like {"start": "1M", "size": "64M"}`);
  checkKeys(v, allowed, where);
  if (v.start === undefined) fail(`${where}: missing "start"`);
  const hasEnd = v.end !== undefined;
  const hasSize = v.size !== undefined;
  if (hasEnd === hasSize) fail(`${where}: give exactly one of "end" and "size"`);
  const start = parseAddr(v.start, `${where}.start`);
  let end: number;
  if (hasEnd) {
    end = parseAddr(v.end, `${where}.end`);
  } else {
    end = start + parseAddr(v.size, `${where}.size`);
    if (!Number.isSafeInteger(end)) {
      throw new PagelabError('ESIZE', `${where}: start + size is beyond 2^53`);
    }
  }
  return { range: { start, end }, obj: v };
}

function parseRangeList(v: unknown, allowed: Set<string>, where: string): Array<{ range: PhysRange; obj: Record<string, unknown> }> {
  if (!Array.isArray(v)) fail(`${where}: expected an array of ranges`);
  checkListSizes({ [where]: v }, '');
  return v.map((item, i) => parseRangeObject(item, allowed, `${where}[${i}]`));
}

/*
 * Parses the `--memmap FILE` JSON format (docs/memmap-format.md).
 * Requires: `sourceName` names the file, for messages and MemoryMap.source.
 * Guarantees: a valid MemoryMap, or one PagelabError prefixed with the
 * source name: EMEMMAP for syntax (with line and column), unknown keys, and
 * broken invariants; ESIZE for sizes and addresses that do not parse.
 * Ranges are taken in file order; an unsorted file is an error rather than
 * silently sorted, since it usually means a typo in an address.
 */
export function parseMemoryMapJson(text: string, sourceName: string): MemoryMap {
  try {
    return parseMemoryMapJsonUnprefixed(text, sourceName);
  } catch (err) {
    if (err instanceof PagelabError) throw new PagelabError(err.code, `${sourceName}: ${err.message}`);
    throw err;
  }
}

function parseMemoryMapJsonUnprefixed(text: string, sourceName: string): MemoryMap {
  let doc: unknown;
  let parseError: Error | undefined;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    parseError = err as Error;
  }
  const problem = jsonProblem(text, parseError);
  if (problem !== undefined) fail(problem);
  if (!isPlainObject(doc)) fail('expected a JSON object with a "ram" list');
  checkKeys(doc, TOP_KEYS, 'memory map');
  if (doc.name !== undefined) checkLabel(doc.name, '"name"');
  let ndomains = 1;
  if (doc.ndomains !== undefined) {
    if (typeof doc.ndomains !== 'number' || !Number.isInteger(doc.ndomains)) {
      fail(`"ndomains" must be an integer, got ${JSON.stringify(doc.ndomains)}`);
    }
    ndomains = doc.ndomains;
  }
  if (doc.ram === undefined) fail('missing "ram" list');
  const ram: RamRange[] = parseRangeList(doc.ram, RAM_KEYS, 'ram').map(({ range, obj }, i) => {
    let domain = 0;
    if (obj.domain !== undefined) {
      if (typeof obj.domain !== 'number' || !Number.isInteger(obj.domain)) {
        fail(`ram[${i}] ${rangeText(range)}: "domain" must be an integer, got ${JSON.stringify(obj.domain)}`);
      }
      domain = obj.domain;
    }
    return { ...range, domain };
  });
  const reserved =
    doc.reserved === undefined
      ? []
      : parseRangeList(doc.reserved, RESERVED_KEYS, 'reserved').map(({ range, obj }, i) => {
          if (obj.what !== undefined) checkLabel(obj.what, `reserved[${i}] ${rangeText(range)}: "what"`);
          return { ...range, what: (obj.what as string | undefined) ?? 'reserved' };
        });
  const name = (doc.name as string | undefined) ?? sourceName.replace(/^.*[\\/]/, '').replace(/\.json$/i, '');
  if (doc.phys_avail === undefined) {
    // Check the lists in file order before buildMemoryMap sorts reserved, so
    // that messages use the indices the user sees in the file.
    checkRangeList(ram, 'ram', '');
    checkRangeList(reserved, 'reserved', '');
    return buildMemoryMap({ name, source: sourceName, ndomains, ram, reserved }, '');
  }
  const physAvail = parseRangeList(doc.phys_avail, AVAIL_KEYS, 'phys_avail').map(({ range }) => range);
  const map: MemoryMap = { name, source: sourceName, ndomains, ram, physAvail, reserved };
  validateWithPrefix(map, '');
  return map;
}

/*
 * The inverse of parseMemoryMapJson: a file that parses back to the same map.
 * phys_avail is written out explicitly, so maps whose phys_avail is not RAM
 * minus reserved survive the trip too. Addresses are hex strings, which is
 * how firmware tables and /proc/iomem show them.
 */
export function memoryMapToJson(map: MemoryMap): string {
  const doc = {
    name: map.name,
    ndomains: map.ndomains,
    ram: map.ram.map((r) => ({ start: hex(r.start), end: hex(r.end), domain: r.domain, comment: formatSize(r.end - r.start) })),
    reserved: map.reserved.map((r) => ({ start: hex(r.start), end: hex(r.end), what: r.what })),
    phys_avail: map.physAvail.map((r) => ({ start: hex(r.start), end: hex(r.end) })),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}
