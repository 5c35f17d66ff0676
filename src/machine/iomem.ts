/*
 * `--from-host`: the memory map of the Linux machine pagelab runs on.
 *
 * Linux publishes the firmware's RAM ranges in two places:
 *   /proc/iomem            "00100000-bfffffff : System RAM", nested
 *                          resources indented below; addresses read as zero
 *                          unless the reader has CAP_SYS_ADMIN.
 *   /sys/firmware/memmap/N/{start,end,type}
 *                          the raw e820 table as firmware passed it (x86
 *                          only), usually root-readable only too.
 * Both give inclusive end addresses. The parsers take text, not paths, so
 * they can be tested on captured copies (test/fixtures/machine/).
 */
import { host } from '../host/node.js';
import { PagelabError } from '../errors.js';
import { hex } from '../util/units.js';
import { buildMemoryMap, PAGE_SIZE } from './memmap.js';
import type { MemoryMap, PhysRange } from './types.js';

/*
 * Caps for the host's files, read like any other input: /proc/iomem is tens
 * of KiB even on large servers; a sysfs attribute is one line.
 */
const IOMEM_MAX_BYTES = 4 << 20;
const SYSFS_BOUND = { maxBytes: 4096, what: 'a sysfs attribute', code: 'EHOST' } as const;

export const PROC_IOMEM = '/proc/iomem';
export const SYS_FIRMWARE_MEMMAP = '/sys/firmware/memmap';

const SYSTEM_RAM = 'System RAM';

function hostError(message: string): never {
  throw new PagelabError('EHOST', message);
}

/*
 * Hex text (with or without 0x) to a number, refusing anything a JS number
 * cannot hold exactly, so that a huge address is an error and not a rounding.
 */
function parseHexAddr(text: string, where: string): number {
  const s = text.trim().replace(/^0x/i, '');
  if (!/^[0-9a-f]+$/i.test(s)) hostError(`${where}: "${text.trim()}" is not a hex address`);
  const v = BigInt('0x' + s);
  if (v >= BigInt(Number.MAX_SAFE_INTEGER)) hostError(`${where}: address 0x${s} is beyond 2^53`);
  return Number(v);
}

/*
 * The top-level "System RAM" ranges of a /proc/iomem text.
 * Requires: nothing about the text.
 * Guarantees: byte-exact half-open ranges in file order (not page-rounded;
 * see memoryMapFromRamRanges), or EHOST when the text has no System RAM, a
 * malformed System RAM line, or the all-zero addresses of an unprivileged
 * read.
 */
export function parseProcIomem(text: string): PhysRange[] {
  const out: PhysRange[] = [];
  let sawZeroed = false;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    // Nested resources (kernel code, ACPI tables, PCI BARs) are indented:
    // they subdivide a parent range and would double-count it.
    if (line.trim() === '' || /^\s/.test(line)) continue;
    const m = /^([0-9a-fA-F]+)-([0-9a-fA-F]+)\s*:\s*(.*?)\s*$/.exec(line);
    if (m === null) {
      if (line.includes(SYSTEM_RAM)) hostError(`/proc/iomem line ${i + 1}: cannot parse "${line}"`);
      continue;
    }
    if (m[3] !== SYSTEM_RAM) continue;
    const where = `/proc/iomem line ${i + 1}`;
    const start = parseHexAddr(m[1], where);
    const last = parseHexAddr(m[2], where);
    if (start === 0 && last === 0) {
      sawZeroed = true;
      continue;
    }
    if (last < start) hostError(`${where}: range ${hex(start)}-${hex(last)} ends before it starts`);
    out.push({ start, end: last + 1 });
  }
  if (out.length === 0 && sawZeroed) {
    hostError(
      '/proc/iomem shows all addresses as zero, which Linux does for readers without CAP_SYS_ADMIN: ' +
        'run as root, or read /sys/firmware/memmap (also root-only on most systems), ' +
        'or save the map of this machine with --memmap FILE',
    );
  }
  if (out.length === 0) hostError(`/proc/iomem has no top-level "${SYSTEM_RAM}" ranges`);
  return out;
}

export interface FirmwareMemmapEntry {
  /** Contents of the `start` file, e.g. "0x100000\n". */
  start: string | number;
  /** Contents of the `end` file: the last byte, inclusive. */
  end: string | number;
  /** Contents of the `type` file, e.g. "System RAM\n". */
  type: string;
}

/*
 * The "System RAM" entries of /sys/firmware/memmap/N/{start,end,type}.
 * Requires: entries in directory order (N ascending).
 * Guarantees: byte-exact half-open ranges sorted by start, or EHOST when
 * there are none or an address does not parse.
 */
export function parseSysFirmwareMemmap(entries: readonly FirmwareMemmapEntry[]): PhysRange[] {
  const out: PhysRange[] = [];
  entries.forEach((e, i) => {
    if (e.type.trim() !== SYSTEM_RAM) return;
    const where = `/sys/firmware/memmap entry ${i}`;
    const start = typeof e.start === 'number' ? e.start : parseHexAddr(e.start, where);
    const last = typeof e.end === 'number' ? e.end : parseHexAddr(e.end, where);
    if (last < start) hostError(`${where}: range ${hex(start)}-${hex(last)} ends before it starts`);
    out.push({ start, end: last + 1 });
  });
  if (out.length === 0) hostError(`/sys/firmware/memmap has no "${SYSTEM_RAM}" entries`);
  return out.sort((a, b) => a.start - b.start);
}

/*
 * Reads /sys/firmware/memmap (or a copy of it at `dir`).
 * Guarantees: entries in numeric directory order, or EHOST.
 */
export function readSysFirmwareMemmap(dir = SYS_FIRMWARE_MEMMAP): FirmwareMemmapEntry[] {
  try {
    const names = host.listDirectory(dir)
      .filter((n) => /^\d+$/.test(n))
      .sort((a, b) => Number(a) - Number(b));
    return names.map((n) => ({
      start: host.readTextBounded(joinPath(dir, n, 'start'), SYSFS_BOUND),
      end: host.readTextBounded(joinPath(dir, n, 'end'), SYSFS_BOUND),
      type: host.readTextBounded(joinPath(dir, n, 'type'), SYSFS_BOUND),
    }));
  } catch (err) {
    hostError(`cannot read ${dir}: ${(err as Error).message}`);
  }
}

/*
 * A memory map from byte-exact RAM ranges as the host reported them.
 * Ranges that touch or overlap are merged first (firmware tables may split
 * one bank in two), then rounded inward to whole pages: a partial page is not
 * usable RAM. With `nodes` (see readNodeMemoryBlocks) RAM is split where the
 * owning NUMA node changes; without, the map has one domain. phys_avail is
 * RAM minus page 0, which FreeBSD never allocates.
 * Guarantees: a valid map, or EHOST if no whole page remains.
 */
export function memoryMapFromRamRanges(ranges: readonly PhysRange[], source: string, nodes?: NodeMemoryBlocks): MemoryMap {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  const merged: PhysRange[] = [];
  for (const r of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  const rounded = merged
    .map((r) => ({ start: Math.ceil(r.start / PAGE_SIZE) * PAGE_SIZE, end: Math.floor(r.end / PAGE_SIZE) * PAGE_SIZE }))
    .filter((r) => r.end > r.start);
  if (rounded.length === 0) hostError(`${source}: no whole page of System RAM`);
  const ram = nodes === undefined ? rounded.map((r) => ({ ...r, domain: 0 })) : splitByNode(rounded, nodes);
  const ndomains = nodes === undefined ? 1 : Math.max(1, ...ram.map((r) => r.domain + 1));
  const reserved = ram[0].start === 0 ? [{ start: 0, end: PAGE_SIZE, what: 'BIOS page 0' }] : [];
  return buildMemoryMap({ name: 'host', source, ndomains, ram, reserved });
}

/*
 * Which NUMA node owns each Linux memory block: /sys/devices/system/memory/
 * block_size_bytes (hex) and the memoryN links in each
 * /sys/devices/system/node/nodeK. Block N covers [N * size, (N + 1) * size).
 */
export interface NodeMemoryBlocks {
  blockSize: number;
  /** node number -> block numbers */
  nodes: ReadonlyMap<number, readonly number[]>;
}

/*
 * Splits page-aligned ranges where the owning node changes. Memory blocks
 * are at least 128 MiB, so splits land on page boundaries. An address in no
 * listed block (offline or hot-removed memory) keeps the domain of the
 * address before it, or 0.
 */
function splitByNode(ranges: readonly PhysRange[], nodes: NodeMemoryBlocks): Array<PhysRange & { domain: number }> {
  const owner = new Map<number, number>();
  for (const [node, blocks] of nodes.nodes) for (const b of blocks) owner.set(b, node);
  const out: Array<PhysRange & { domain: number }> = [];
  let domain = 0;
  for (const r of ranges) {
    let at = r.start;
    while (at < r.end) {
      const block = Math.floor(at / nodes.blockSize);
      domain = owner.get(block) ?? domain;
      // Extend over following blocks of the same node.
      let b = block + 1;
      while (b * nodes.blockSize < r.end && (owner.get(b) ?? domain) === domain) b++;
      const end = Math.min(r.end, b * nodes.blockSize);
      out.push({ start: at, end, domain });
      at = end;
    }
  }
  return out;
}

/*
 * Parses the node/block listing as read from sysfs (or captured in a
 * fixture: "block_size_bytes 8000000" then "node0 0 1 2 ...").
 * Guarantees: a NodeMemoryBlocks whose block size is a positive multiple of
 * the page size, or EHOST.
 */
export function parseNodeMemoryBlocks(text: string): NodeMemoryBlocks {
  let blockSize = 0;
  const nodes = new Map<number, number[]>();
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] === '' || words[0].startsWith('#')) continue;
    if (words[0] === 'block_size_bytes') {
      blockSize = parseHexAddr(words[1] ?? '', 'block_size_bytes');
      continue;
    }
    const m = /^node(\d+)$/.exec(words[0]);
    if (m === null) hostError(`node memory listing: unexpected "${line.trim()}"`);
    nodes.set(Number(m![1]), words.slice(1).map(Number).filter(Number.isInteger));
  }
  if (blockSize <= 0 || blockSize % PAGE_SIZE !== 0) hostError(`node memory listing: bad block_size_bytes ${hex(blockSize)}`);
  return { blockSize, nodes };
}

/*
 * Reads the node/block listing from sysfs, or returns undefined when the
 * kernel has no NUMA information (non-NUMA kernels, containers without
 * /sys); the map then has one domain.
 */
export function readNodeMemoryBlocks(
  nodeDir = '/sys/devices/system/node',
  memoryDir = '/sys/devices/system/memory',
): NodeMemoryBlocks | undefined {
  try {
    const lines = [`block_size_bytes ${host.readTextBounded(joinPath(memoryDir, 'block_size_bytes'), SYSFS_BOUND).trim()}`];
    for (const n of host.listDirectory(nodeDir).filter((d) => /^node\d+$/.test(d))) {
      const blocks = host.listDirectory(joinPath(nodeDir, n))
        .filter((d) => /^memory\d+$/.test(d))
        .map((d) => d.slice('memory'.length));
      lines.push(`${n} ${blocks.join(' ')}`);
    }
    const parsed = parseNodeMemoryBlocks(lines.join('\n'));
    return parsed.nodes.size > 0 ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/*
 * The memory map of the machine pagelab runs on.
 * Tries /proc/iomem, then /sys/firmware/memmap (paths overridable for tests);
 * NUMA domains come from /sys/devices/system/node when it is there.
 * Guarantees: a valid map whose source names the file used, or one EHOST
 * error giving the reason each source failed.
 */
export function memoryMapFromHost(
  paths: { procIomem?: string; sysFirmwareMemmap?: string; nodeDir?: string; memoryDir?: string } = {},
): MemoryMap {
  const iomemPath = paths.procIomem ?? PROC_IOMEM;
  const memmapDir = paths.sysFirmwareMemmap ?? SYS_FIRMWARE_MEMMAP;
  const nodes = readNodeMemoryBlocks(paths.nodeDir, paths.memoryDir);
  const reasons: string[] = [];
  try {
    const text = host.readTextBounded(iomemPath, { maxBytes: IOMEM_MAX_BYTES, what: 'a /proc/iomem listing', code: 'EHOST' });
    return memoryMapFromRamRanges(parseProcIomem(text), iomemPath, nodes);
  } catch (err) {
    if (!(err instanceof PagelabError)) throw err;
    reasons.push(err.message);
  }
  try {
    return memoryMapFromRamRanges(parseSysFirmwareMemmap(readSysFirmwareMemmap(memmapDir)), memmapDir, nodes);
  } catch (err) {
    if (!(err instanceof PagelabError)) throw err;
    reasons.push(err.message);
  }
  hostError(`--from-host: cannot read this machine's memory map. ${reasons.join('; then ')}`);
}

/* path.join for the few relative names used here (no '..', no absolute parts). */
function joinPath(...parts: string[]): string {
  return parts.join('/').replace(/\/{2,}/g, '/');
}
