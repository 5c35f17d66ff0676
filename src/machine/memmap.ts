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
import { PagelabError } from '../errors.js';
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

/* Index of the RAM range containing all of `r`, or -1. */
function containingRam(ram: readonly RamRange[], r: PhysRange): number {
  for (let i = 0; i < ram.length; i++) {
    if (ram[i].start <= r.start && r.end <= ram[i].end) return i;
  }
  return -1;
}

/* Whether the union of RAM ranges (which may touch) covers all of `r`. */
function coveredByRam(ram: readonly RamRange[], r: PhysRange): boolean {
  let at = r.start;
  for (const m of ram) {
    if (m.end <= at) continue;
    if (m.start > at) return false;
    at = m.end;
    if (at >= r.end) return true;
  }
  return false;
}

/*
 * Checks every invariant documented on MemoryMap.
 * Requires: nothing; `map` may come straight from a user.
 * Guarantees: returns only if ram is non-empty, sorted, non-overlapping,
 * page-aligned, with every domain below ndomains; phys_avail is non-empty,
 * sorted, non-overlapping, page-aligned, each range inside one RAM range;
 * reserved is sorted, non-overlapping, page-aligned and covered by RAM.
 * Otherwise throws one EMEMMAP error naming the first offending range; RAM is
 * checked before phys_avail so that the root cause is the one reported.
 */
export function validateMemoryMap(map: MemoryMap): void {
  validateWithPrefix(map, map.name ? `memory map "${map.name}": ` : '');
}

/* validateMemoryMap with messages prefixed by `prefix` (a file's parser uses its file name instead). */
function validateWithPrefix(map: MemoryMap, prefix: string): void {
  if (!Number.isInteger(map.ndomains) || map.ndomains < 1 || map.ndomains > MAX_DOMAINS) {
    fail(`${prefix}ndomains ${map.ndomains} must be an integer from 1 to ${MAX_DOMAINS}`);
  }
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
  for (const m of ram) {
    let at = m.start;
    for (const r of reserved) {
      if (r.end <= at || r.start >= m.end) continue;
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
  const reserved = [...spec.reserved].sort((a, b) => a.start - b.start);
  const map: MemoryMap = {
    name: spec.name,
    source: spec.source,
    ndomains: spec.ndomains,
    ram: spec.ram,
    physAvail: subtractReserved(spec.ram, reserved),
    reserved,
  };
  if (messagePrefix === undefined) validateMemoryMap(map);
  else validateWithPrefix(map, messagePrefix);
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

/*
 * Offset of the first JSON syntax error in `text`, found by a small
 * recursive-descent scan. Only called after JSON.parse has failed: V8's
 * messages carry a position for some errors and not for others, and a person
 * fixing a file wants a line and column either way.
 * Guarantees: an offset in [0, text.length].
 */
function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const bad = (): never => {
    throw i;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') bad();
        string();
        ws();
        if (text[i] !== ':') bad();
        i++;
        value();
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
      for (;;) {
        value();
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
      const m = /^(?:-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null)/.exec(text.slice(i));
      if (m === null) bad();
      i += m![0].length;
    }
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
  try {
    value();
    ws();
    return i; // trailing garbage starts here
  } catch (at) {
    return Math.min(at as number, text.length);
  }
}

/* " at line L, column C" of the first syntax error in `text`. */
function jsonErrorLocation(text: string): string {
  const pos = jsonErrorOffset(text);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return ` at line ${line}, column ${column}`;
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
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const e = err as Error;
    // V8 quotes the text around the error; the line and column say where
    // without echoing a possibly long file back.
    const why = e.message.replace(/, ".*" is not valid JSON$/s, '').replace(/ (?:in JSON )?at position \d+.*$/s, '');
    fail(`invalid JSON${jsonErrorLocation(text)}: ${why}`);
  }
  if (!isPlainObject(doc)) fail('expected a JSON object with a "ram" list');
  checkKeys(doc, TOP_KEYS, 'memory map');
  if (doc.name !== undefined && typeof doc.name !== 'string') fail('"name" must be a string');
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
          if (obj.what !== undefined && typeof obj.what !== 'string') {
            fail(`reserved[${i}] ${rangeText(range)}: "what" must be a string`);
          }
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
