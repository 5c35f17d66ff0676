/**
 * The mapping operations of a trace (docs/trace-format.md): one process's
 * address space (vm_map + pmap) with mmap, touch (page faults), wire and
 * unwire (mlock/munlock on vm.wire.fast's path), munmap, shadow (make a
 * mapping copy-on-write) and collapse. Their syntax is in the operation
 * table (trace-ops.ts), whose entries run them here; `unwire` of a mapping
 * tag comes here too (munlock), of a page tag to replay-objects.ts.
 */
import { PagelabError } from '../errors.js';
import { formatSize, hex } from '../util/units.js';
import { mapWorkToObject } from '../vm/map-counters.js';
import { VmMaps, VMFS_SUPER_SPACE, type MapEntryInfo, type VmMap } from '../vm/map.js';
import { PAGE_SIZE } from '../vm/param.js';
import { KERN_NAMES, KERN_SUCCESS, NBPDR, VM_PROT_EXECUTE, VM_PROT_READ, VM_PROT_WRITE, type PmapCounters } from '../vm/pmap.js';
import type { Vm } from '../vm/vm.js';
import type { WirePath } from '../vm/wire.js';

export type MapTraceOp =
  | { op: 'mmap'; line: number; tag: string; size: number; align: number; object: string | null; prot: number }
  | { op: 'touch'; line: number; tag: string; offset: number; len: number | null; write: boolean }
  | { op: 'wire'; line: number; tag: string; race: 'collapse' | null; path: WirePath | null }
  | { op: 'munmap'; line: number; tag: string }
  | { op: 'shadow'; line: number; tag: string }
  | { op: 'collapse'; line: number; tag: string };


export interface MapEvent {
  tag?: string;
  pa?: string;
  pages?: number;
  ok: boolean;
  note?: string;
}

export interface MapReport {
  /** Present when the trace used a mapping operation. */
  map?: {
    wire_path: string;
    entries: Array<Omit<MapEntryInfo, 'start' | 'end'> & { start: string; end: string }>;
    pmap: PmapCounters;
    user_wired_pages: number;
    /** Mapping-layer work of the whole trace. */
    work: Record<string, number>;
    /** Each wire line's own mapping-layer work, and the path it took. */
    wiring: Array<{ line: number; tag: string; path: string; result: string; work: Record<string, number> }>;
  };
}

/* The protection a `prot=` word names: r, rw, rx, rwx or none. */
export function protBits(s: string): number {
  if (s === 'none') return 0;
  return VM_PROT_READ | (s.includes('w') ? VM_PROT_WRITE : 0) | (s.includes('x') ? VM_PROT_EXECUTE : 0);
}

export class MapReplay {
  private readonly vm: Vm;
  private readonly file: string;
  private maps: VmMaps | null = null;
  private map: VmMap | null = null;
  private readonly tags = new Map<string, { va: number; size: number }>();
  private readonly wiring: NonNullable<MapReport['map']>['wiring'] = [];

  constructor(vm: Vm, file: string) {
    this.vm = vm;
    this.file = file;
  }

  /** How many tags name a live mapping (0: no tag can). */
  get mapped(): number {
    return this.tags.size;
  }

  /** Does `tag` name a live mapping? */
  owns(tag: string): boolean {
    return this.tags.has(tag);
  }

  private fail(line: number, msg: string): never {
    throw new PagelabError('ETRACE', `${this.file}:${line}: ${msg}`);
  }

  /* The process's map, made at the first mapping operation. */
  private space(): { maps: VmMaps; map: VmMap } {
    if (this.maps === null || this.map === null) {
      this.maps = new VmMaps(this.vm);
      this.map = this.maps.create();
    }
    return { maps: this.maps, map: this.map };
  }

  private mapping(op: { op: string; line: number; tag: string }): { va: number; size: number } {
    const t = this.tags.get(op.tag);
    if (t === undefined) this.fail(op.line, `${op.op}: tag "${op.tag}" is not mapped`);
    return t;
  }

  /*
   * Runs one mapping operation (or `unwire` of a mapping tag). `tagTaken`
   * says whether another layer holds the tag. Failures the kernel reports
   * (KERN_* codes) are outcomes; misuse is ETRACE naming the line.
   */
  run(op: MapTraceOp | { op: 'unwire'; line: number; tag: string }, tagTaken: (tag: string) => boolean, objectByName: (name: string) => number): MapEvent & { failed?: boolean } {
    const { maps, map } = this.space();
    const kern = (rv: number): MapEvent & { failed?: boolean } => ({ ok: rv === KERN_SUCCESS, failed: rv !== KERN_SUCCESS, note: rv === KERN_SUCCESS ? undefined : KERN_NAMES[rv] });
    switch (op.op) {
      case 'mmap': {
        if (this.tags.has(op.tag) || tagTaken(op.tag)) this.fail(op.line, `mmap: tag "${op.tag}" is in use`);
        let obj = 0;
        if (op.object !== null) {
          obj = objectByName(op.object);
          if (obj < 0) this.fail(op.line, `mmap: object "${op.object}" does not exist`);
          this.vm.object.reference(obj);
        }
        const va = map.find(op.size, { align: op.align, findSpace: op.size >= NBPDR ? VMFS_SUPER_SPACE : undefined, object: obj, prot: op.prot, name: op.tag });
        if (va < 0) {
          if (obj !== 0) maps.shadow.deallocate(obj);
          return { tag: op.tag, ok: false, failed: true, note: 'KERN_NO_SPACE' };
        }
        this.tags.set(op.tag, { va, size: op.size });
        return { tag: op.tag, pa: hex(va), pages: op.size / PAGE_SIZE, ok: true, note: `mapped at ${hex(va)}` };
      }
      case 'touch': {
        const t = this.mapping(op);
        const len = op.len ?? t.size - op.offset;
        if (op.offset % PAGE_SIZE !== 0 || op.offset + len > t.size || len <= 0) this.fail(op.line, `touch: [${op.offset}, ${op.offset + len}) is not inside the ${formatSize(t.size)} mapping ${op.tag} at page boundaries`);
        const start = t.va + op.offset;
        const end = start + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
        return { tag: op.tag, pages: (end - start) / PAGE_SIZE, ...kern(map.touch(start, end, op.write ? VM_PROT_WRITE : VM_PROT_READ)) };
      }
      case 'wire': {
        const t = this.mapping(op);
        if (op.path !== null) maps.wirePath = op.path;
        const before = maps.work.slice();
        const window = op.race === 'collapse' ? (m: VmMap, s: number) => void m.collapse(m.start[s]) : undefined;
        let rv: number;
        try {
          rv = map.wire(t.va, t.va + t.size, window);
        } catch (e) {
          if (!(e instanceof PagelabError)) throw e;
          // The kernel would panic here; the trace reports it as this line's failure, state unchanged.
          this.wiring.push({ line: op.line, tag: op.tag, path: maps.wirePath, result: `${e.code}: ${e.message}`, work: mapWorkToObject(maps.work.map((x, i) => x - before[i])) });
          return { tag: op.tag, ok: false, failed: true, note: `${e.code}: ${e.message}` };
        }
        this.wiring.push({ line: op.line, tag: op.tag, path: maps.wirePath, result: KERN_NAMES[rv], work: mapWorkToObject(maps.work.map((x, i) => x - before[i])) });
        return { tag: op.tag, pages: t.size / PAGE_SIZE, ...kern(rv) };
      }
      case 'unwire': {
        const t = this.mapping(op);
        return { tag: op.tag, pages: t.size / PAGE_SIZE, ...kern(map.unwire(t.va, t.va + t.size)) };
      }
      case 'munmap': {
        const t = this.mapping(op);
        const rv = map.remove(t.va, t.va + t.size);
        this.tags.delete(op.tag);
        return { tag: op.tag, pages: t.size / PAGE_SIZE, ...kern(rv) };
      }
      case 'shadow': {
        const t = this.mapping(op);
        return { tag: op.tag, ...kern(map.markCopyOnWrite(t.va, t.va + t.size)) };
      }
      case 'collapse': {
        const t = this.mapping(op);
        const r = map.collapse(t.va);
        return { tag: op.tag, ok: true, note: r.collapsed ? `collapsed: ${r.moved} pages moved, ${r.freed} freed` : `not collapsed: ${r.reason}` };
      }
    }
  }

  /** The map's entries, pmap counters and wiring work, when the trace mapped anything. */
  report(): MapReport {
    if (this.maps === null || this.map === null) return {};
    const map = this.map;
    return {
      map: {
        wire_path: this.maps.wirePath,
        entries: map.entries().map((e) => ({ ...e, start: hex(e.start), end: hex(e.end) })),
        pmap: { ...map.pmap.stats },
        user_wired_pages: this.maps.userWired,
        work: mapWorkToObject(this.maps.work),
        wiring: this.wiring,
      },
    };
  }

  /** The map's checker, for replay --check. */
  check(): void {
    this.map?.check();
  }
}
