/**
 * The trace operations: each one table entry holding its syntax (what the
 * scanner in trace-parse.ts accepts) and its semantics (what replay.ts runs).
 * Adding an operation is adding an entry here. A handler reads its fields
 * as `v[o + k]`, k counting the positional fields, then the keywords (0 or
 * 1), then the options, in the order the entry lists them.
 */
import { PagelabError } from '../errors.js';
import { linuxPgzero2020 } from '../sim/profiles/index.js';
import { zeroingRate } from '../sim/vmstart.js';
import { hex } from '../util/units.js';
import { OBJ_MAX_SIZE } from '../vm/object.js';
import { PAGE_SIZE, VM_ALLOC_ZERO, VM_FREEPOOL_DEFAULT } from '../vm/param.js';
import { WIRE_PATHS } from '../vm/wire.js';
import type { Replayer } from './replay.js';
import { protBits } from './replay-map.js';
import type { FieldSpec, OpSyntax } from './trace-parse.js';

export interface TraceOpDef extends OpSyntax {
  /*
   * Runs the operation on `r` at its current line: sets r.ok, r.headPage (or
   * r.pa), r.pages and r.note for the event, or throws a PagelabError naming
   * the line.
   */
  run(r: Replayer, tag: number, v: Float64Array, o: number): void;
}

const INT_MAX = 2 ** 31 - 1;
/** npages and page counts: the largest machine has fewer than 2^32 pages. */
const PAGES_MAX = 2 ** 32 - 1;
const DOMAIN: FieldSpec = { name: 'domain', kind: 'int', dflt: 0, max: INT_MAX };
const EVERY_DOMAIN: FieldSpec = { ...DOMAIN, dflt: null };
const PATTERN: FieldSpec = { name: 'pattern', kind: 'size', dflt: null, max: 0xffffffff, maxWhy: 'wider than 32 bits', optional: true };
const OBJECT_TYPES = ['anon', 'phys'] as const;
const PAGE_CLASSES = ['normal', 'system', 'interrupt'] as const;
const PROTS = ['r', 'rw', 'rx', 'rwx', 'none'] as const;

/* The pattern `write TAG` uses when none is given: FNV-1a of the tag, so `verify TAG` can find it. */
export function tagPattern(tag: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < tag.length; i++) h = Math.imul(h ^ tag.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

/* write and verify: fill or check a live allocation with a 32-bit pattern. */
function writeOrVerify(r: Replayer, tag: number, v: Float64Array, o: number, verb: 'write' | 'verify'): void {
  if (!r.live(tag, verb)) return;
  const backing = r.vm.backing;
  if (backing === null) r.fail(`${verb} needs backing memory (set vm.backed=1)`);
  const pa = r.phys.pageToPa(r.page(tag));
  const pages = r.npages(tag);
  const pattern = v[o] === -1 ? tagPattern(r.trace.tagName(tag)) : v[o];
  r.headPage = r.page(tag);
  r.pages = pages;
  if (verb === 'write') {
    backing.fillPattern(pa, pages * PAGE_SIZE, pattern);
    return;
  }
  const off = backing.checkPattern(pa, pages * PAGE_SIZE, pattern);
  if (off >= 0) r.dataCheckFailed(r.verifyFailures, tag, pa + off, `differs at ${hex(pa + off)}`);
}

/*
 * `alloc` and `free` are most of any trace: named functions, so that the
 * replay loop calls them directly (a call site V8 can inline) instead of
 * through the table's many run handlers.
 */

/* alloc: vm_phys_alloc_pages, through the zeroing policy (vm.zero.policy): its hugepool and counters see every allocation. */
export function runAlloc(r: Replayer, tag: number, v: Float64Array, o: number): void {
  const order = v[o];
  const zero = v[o + 1] !== 0;
  const pool = v[o + 2];
  const domain = v[o + 3];
  r.claim(tag, 'alloc');
  r.domainOk(domain);
  if (order > r.phys.maxOrder) r.fail(`alloc: order ${order} is out of range (0..${r.phys.maxOrder})`);
  r.allocated(tag, r.vm.zeroPolicy.alloc(domain, order, zero, pool), 1 << order, pool, false, zero);
}

/* free: vm_phys_free_pages (through the zeroing policy), vm_phys_free_contig for a contig allocation, vm_page_free for a page tag. */
export function runFree(r: Replayer, tag: number, v: Float64Array, o: number): void {
  const zero = v[o] !== 0;
  if (!r.isLive(tag) && (r.freePageGroup(tag, zero) || !r.live(tag, 'free'))) return;
  const m = r.page(tag);
  const pages = r.npages(tag);
  const backing = r.vm.backing;
  if (zero && backing !== null && !backing.isZero(r.phys.pageToPa(m), pages * PAGE_SIZE)) {
    r.fail(`free ${r.trace.tagName(tag)} zero: the memory at ${hex(r.phys.pageToPa(m))} is not zero`);
  }
  // A contiguous run goes back through vm_phys_free_contig, which keeps no PG_ZERO claim.
  if (r.isContig(tag)) r.phys.freeContig(m, pages);
  else if (zero) r.phys.freePages(m, 31 - Math.clz32(pages), r.tagPool(tag), true);
  else r.vm.zeroPolicy.free(m, 31 - Math.clz32(pages), r.tagPool(tag));
  r.released(tag);
}

export const OPS: readonly TraceOpDef[] = [
  {
    verb: 'alloc',
    usage: 'alloc TAG ORDER [zero] [pool=default|direct] [domain=N]',
    tag: true,
    args: [{ name: 'order', kind: 'int', max: INT_MAX }],
    keywords: ['zero'],
    options: [{ name: 'pool', kind: 'pool', dflt: VM_FREEPOOL_DEFAULT }, DOMAIN],
    run: runAlloc,
  },
  {
    verb: 'free',
    usage: 'free TAG [zero]',
    tag: true,
    args: [],
    keywords: ['zero'],
    run: runFree,
  },
  {
    verb: 'contig',
    usage: 'contig TAG NPAGES [zero] [low=…] [high=…] [align=…] [boundary=…] [domain=…]',
    tag: true,
    args: [{ name: 'npages', kind: 'int', min: 1, max: PAGES_MAX }],
    keywords: ['zero'],
    options: [
      { name: 'low', kind: 'size', dflt: 0 },
      { name: 'high', kind: 'size', dflt: Number.MAX_SAFE_INTEGER },
      { name: 'align', kind: 'size', dflt: PAGE_SIZE },
      { name: 'boundary', kind: 'size', dflt: 0 },
      DOMAIN,
    ],
    // vm_phys_alloc_contig
    run(r, tag, v, o) {
      const npages = v[o];
      const zero = v[o + 1] !== 0;
      r.claim(tag, 'contig');
      r.domainOk(v[o + 6]);
      let m: number;
      try {
        m = r.phys.allocContig(v[o + 6], npages, v[o + 2], v[o + 3], v[o + 4], v[o + 5], zero ? VM_ALLOC_ZERO : 0);
      } catch (e) {
        if (!(e instanceof PagelabError)) throw e;
        return r.fail(e.message);
      }
      r.allocated(tag, m, npages, VM_FREEPOOL_DEFAULT, true, zero);
    },
  },
  {
    verb: 'write',
    usage: 'write TAG [PATTERN]',
    tag: true,
    args: [PATTERN],
    run: (r, tag, v, o) => writeOrVerify(r, tag, v, o, 'write'),
  },
  {
    verb: 'verify',
    usage: 'verify TAG [PATTERN]',
    tag: true,
    args: [PATTERN],
    run: (r, tag, v, o) => writeOrVerify(r, tag, v, o, 'verify'),
  },
  {
    verb: 'zeroidle',
    usage: 'zeroidle [domain=N] [pages=N]',
    tag: false,
    args: [],
    options: [EVERY_DOMAIN, { name: 'pages', kind: 'int', dflt: Infinity, max: PAGES_MAX }],
    // The idle-time pre-zeroing pass: zero free pages not known to be zero.
    run(r, _tag, v, o) {
      const domain = v[o];
      const limit = v[o + 1];
      let pages = 0;
      const first = domain === -1 ? 0 : domain;
      const last = domain === -1 ? r.phys.ndomains - 1 : domain;
      for (let d = first; d <= last; d++) {
        r.domainOk(d);
        pages += limit === Infinity ? r.vm.prezero.runToCompletion(d) : r.vm.prezero.submit(d, limit);
      }
      if (r.vm.zeroEngine !== null) {
        r.vm.zeroEngine.waitAll();
        r.vm.prezero.reap();
      }
      r.pages = pages;
    },
  },
  {
    verb: 'unfree',
    usage: 'unfree PADDR',
    tag: false,
    args: [{ name: 'pa', kind: 'size' }],
    // vm_phys_unfree_page: take one free page out (bad-memory blacklisting)
    run(r, _tag, v, o) {
      let ok: boolean;
      try {
        ok = r.phys.unfreePage(v[o]);
      } catch (e) {
        if (!(e instanceof PagelabError)) throw e;
        return r.fail(e.message);
      }
      r.pa = v[o];
      r.pages = 1;
      r.ok = ok;
      if (!ok) r.note = 'page was not free';
    },
  },
  {
    verb: 'drain',
    usage: 'drain [domain=N]',
    tag: false,
    args: [],
    options: [EVERY_DOMAIN],
    // Drain the LAZYINIT pool: every domain's, or one.
    run(r, _tag, v, o) {
      const domain = v[o];
      if (domain === -1) r.pages = r.phys.lazyInit();
      else {
        r.domainOk(domain);
        r.pages = r.phys.lazyInitDomain(domain);
      }
    },
  },
  {
    verb: 'idle',
    usage: 'idle MS',
    tag: false,
    args: [{ name: 'ms', kind: 'decimal', max: 3.6e6, text: 'a number of milliseconds up to one hour' }],
    /*
     * Simulated time for the background zeroing policy: its threads zero at
     * the linux-pgzero-2020 profile's rate (shared memory bandwidth) for MS.
     */
    run(r, _tag, v, o) {
      const zp = r.vm.zeroPolicy;
      const budget = Math.floor((zeroingRate(linuxPgzero2020, zp.threads) * zp.threads * v[o] * 1e6) / PAGE_SIZE);
      r.pages = zp.idle(v[o] * 1e6, budget);
    },
  },
  {
    // Only after the first operation (before it, `set` is a boot tunable in the header).
    verb: 'set',
    usage: 'set vm.zero.NAME=VALUE',
    tag: false,
    args: [{ name: 'assignment', kind: 'string' }],
    // A sysctl of the zeroing policy: vm.setZeroTunable switches it here.
    run(r, _tag, v, o) {
      const assignment = r.trace.strings[v[o]];
      const eq = assignment.indexOf('=');
      try {
        r.vm.setZeroTunable(assignment.slice(0, eq), assignment.slice(eq + 1));
      } catch (e) {
        if (!(e instanceof PagelabError)) throw e;
        return r.fail(e.message);
      }
      r.note = assignment;
    },
  },
  {
    verb: 'object',
    usage: 'object NAME [type=anon|phys] [size=SIZE] [color=N|none]',
    tag: true,
    args: [],
    options: [
      { name: 'type', kind: 'enum', words: OBJECT_TYPES, dflt: 0 },
      {
        name: 'size',
        kind: 'size',
        dflt: null,
        valid: (b) => b > 0 && b % PAGE_SIZE === 0 && b / PAGE_SIZE <= OBJ_MAX_SIZE,
        invalidWhy: 'not a positive multiple of 4 KiB up to 16 TiB',
      },
      { name: 'color', kind: 'int', dflt: 0, max: 0xffffffff, none: 'none' },
    ],
    check: (v, o) => (v[o] === 1 && v[o + 1] === -1 ? 'object: an OBJT_PHYS object needs size=SIZE' : null),
    // vm_object_allocate
    run(r, tag, v, o) {
      const size = v[o + 1] === -1 ? null : v[o + 1] / PAGE_SIZE;
      r.pageLayer({ op: 'object', line: r.line, name: r.trace.tagName(tag), type: OBJECT_TYPES[v[o]], size, color: v[o + 2] === -1 ? null : v[o + 2] });
    },
  },
  {
    verb: 'page',
    usage: 'page TAG OBJECT PINDEX [n=N] [zero] [wired] [class=normal|system|interrupt]',
    tag: true,
    args: [
      { name: 'object', kind: 'tag' },
      { name: 'pindex', kind: 'int', max: OBJ_MAX_SIZE - 1 },
    ],
    keywords: ['zero', 'wired'],
    options: [
      { name: 'n', kind: 'int', dflt: 1, min: 1, max: 2 ** 26 },
      { name: 'class', kind: 'enum', words: PAGE_CLASSES, dflt: 0 },
    ],
    // vm_page_alloc of n pages at consecutive pindexes, all or nothing
    run(r, tag, v, o) {
      r.pageLayer({
        op: 'page',
        line: r.line,
        tag: r.trace.tagName(tag),
        object: r.trace.tagName(v[o]),
        pindex: v[o + 1],
        n: v[o + 4],
        zero: v[o + 2] !== 0,
        wired: v[o + 3] !== 0,
        cls: PAGE_CLASSES[v[o + 5]],
      }, tag);
    },
  },
  {
    verb: 'unwire',
    usage: 'unwire TAG',
    tag: true,
    args: [],
    // munlock of a mapping tag (replay-map.ts), else vm_page_unwire of each page of a page tag
    run(r, tag) {
      const name = r.trace.tagName(tag);
      if (r.maps.owns(name)) r.mapLayer({ op: 'unwire', line: r.line, tag: name });
      else r.pageLayer({ op: 'unwire', line: r.line, tag: name });
    },
  },
  {
    verb: 'terminate',
    usage: 'terminate OBJECT',
    tag: true,
    args: [],
    // vm_object_terminate
    run: (r, tag) => r.pageLayer({ op: 'terminate', line: r.line, object: r.trace.tagName(tag) }),
  },
  {
    verb: 'reclaim',
    usage: 'reclaim [domain=N]',
    tag: false,
    args: [],
    options: [EVERY_DOMAIN],
    // vm_reserv_reclaim_inactive, in one domain or once in each
    run: (r, _tag, v, o) => r.pageLayer({ op: 'reclaim', line: r.line, domain: v[o] === -1 ? null : v[o] }),
  },
  {
    verb: 'mmap',
    usage: 'mmap TAG SIZE [align=S] [object=NAME] [prot=r|rw|rx|rwx|none]',
    tag: true,
    args: [{ name: 'size', kind: 'size', valid: (b) => b > 0 && b % PAGE_SIZE === 0 && b <= 2 ** 46, invalidWhy: 'not a positive multiple of 4 KiB up to 64 TiB' }],
    options: [
      { name: 'align', kind: 'size', dflt: PAGE_SIZE, valid: (a) => a >= PAGE_SIZE && Number.isInteger(Math.log2(a)) && a <= 2 ** 40, invalidWhy: 'not a power of two from 4K to 1T' },
      { name: 'object', kind: 'tag', dflt: null },
      { name: 'prot', kind: 'enum', words: PROTS, dflt: 1 },
    ],
    // vm_map_find into the process's map, anonymous or of a named object
    run(r, tag, v, o) {
      const object = v[o + 2] === -1 ? null : r.trace.tagName(v[o + 2]);
      r.mapLayer({ op: 'mmap', line: r.line, tag: r.trace.tagName(tag), size: v[o], align: v[o + 1], object, prot: protBits(PROTS[v[o + 3]]) }, tag);
    },
  },
  {
    verb: 'touch',
    usage: 'touch TAG [offset=O] [len=L] [write]',
    tag: true,
    args: [],
    keywords: ['write'],
    options: [
      { name: 'offset', kind: 'size', dflt: 0 },
      { name: 'len', kind: 'size', dflt: null, valid: (l) => l > 0, invalidWhy: 'not positive' },
    ],
    // vm_fault of each page in [offset, offset + len)
    run(r, tag, v, o) {
      r.mapLayer({ op: 'touch', line: r.line, tag: r.trace.tagName(tag), offset: v[o + 1], len: v[o + 2] === -1 ? null : v[o + 2], write: v[o] !== 0 });
    },
  },
  {
    verb: 'wire',
    usage: `wire TAG [path=${WIRE_PATHS.join('|')}] [race=collapse]`,
    tag: true,
    args: [],
    options: [
      { name: 'path', kind: 'enum', words: WIRE_PATHS, dflt: null, text: `one of ${WIRE_PATHS.join(', ')}` },
      { name: 'race', kind: 'enum', words: ['collapse'], dflt: null },
    ],
    // mlock: vm_map_wire on vm.wire.fast's path (path= sets it); race=collapse collapses the object mid-wire
    run(r, tag, v, o) {
      r.mapLayer({ op: 'wire', line: r.line, tag: r.trace.tagName(tag), path: v[o] === -1 ? null : WIRE_PATHS[v[o]], race: v[o + 1] === -1 ? null : 'collapse' });
    },
  },
  ...(['munmap', 'shadow', 'collapse'] as const).map(
    (verb): TraceOpDef => ({
      verb,
      usage: `${verb} TAG`,
      tag: true,
      args: [],
      // vm_map_remove; vm_map's copy-on-write marking (a shadow at the next write fault); vm_object_collapse
      run: (r, tag) => r.mapLayer({ op: verb, line: r.line, tag: r.trace.tagName(tag) }),
    }),
  ),
];

/** The operation names, for messages (`set` is listed with the header lines). */
export const OP_NAMES: readonly string[] = OPS.filter((d) => d.verb !== 'set').map((d) => d.verb);

/** The codes of `alloc` and `free` (their index in OPS), for the replay loop's direct calls. */
export const ALLOC_CODE = OPS.findIndex((d) => d.verb === 'alloc');
export const FREE_CODE = OPS.findIndex((d) => d.verb === 'free');
