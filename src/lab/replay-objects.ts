/**
 * The page-layer operations of a trace (docs/trace-format.md): objects,
 * pages allocated into them through vm_page_alloc, wiring, frees,
 * termination and reservation reclaim. Their syntax is in the operation
 * table (trace-ops.ts), whose entries run them here; replay.ts keeps one
 * ObjectReplay per Replayer and adds its report to the result.
 */
import { PagelabError } from '../errors.js';
import { hex } from '../util/units.js';
import { OBJ_MAX_SIZE, OBJT_PHYS } from '../vm/object.js';
import { NIL, VM_ALLOC_INTERRUPT, VM_ALLOC_NOBUSY, VM_ALLOC_NORMAL, VM_ALLOC_SYSTEM, VM_ALLOC_WIRED, VM_ALLOC_ZERO } from '../vm/param.js';
import type { ReservCounters } from '../vm/reserv.js';
import type { Vm } from '../vm/vm.js';

export type ObjectTraceOp =
  | { op: 'object'; line: number; name: string; type: 'anon' | 'phys'; size: number | null; color: number | null }
  | { op: 'page'; line: number; tag: string; object: string; pindex: number; n: number; zero: boolean; wired: boolean; cls: 'normal' | 'system' | 'interrupt' }
  | { op: 'unwire'; line: number; tag: string }
  | { op: 'terminate'; line: number; object: string }
  | { op: 'reclaim'; line: number; domain: number | null };

export interface ObjectReport {
  type: 'anon' | 'phys';
  /** Size in pages; null for an unbounded anonymous object. */
  size: number | null;
  color: number | null;
  resident_pages: number;
  /** One letter per reservation window up to the last resident pindex: F, E, B, P, or - (docs/objects.md). */
  reservations: string;
}

export interface PageLayerReport {
  objects: Record<string, ObjectReport>;
  reserv: (ReservCounters & { enabled: true; npages: number }) | { enabled: false };
  page_stats: Record<string, number>;
}

/** The outcome of one op, for the replay's event list. */
export interface ObjectEvent {
  tag?: string;
  pa?: string;
  pages?: number;
  ok: boolean;
  note?: string;
}

interface PageGroup {
  object: number;
  pages: Uint32Array;
  wired: boolean;
}

/** Runs the page-layer operations of one replay on its Vm. */
export class ObjectReplay {
  private readonly vm: Vm;
  private readonly file: string;
  private readonly groups = new Map<string, PageGroup>();
  private readonly failedTags = new Set<string>();
  /** Lines of page lines that could not be satisfied, and of operations skipped for it (the replay's own lists). */
  readonly failed: number[];
  readonly skipped: number[];
  private readonly names = new Map<string, number>();
  /** Page tags whose pages went with a terminated object: tag -> why, for messages. */
  private readonly gone = new Map<string, string>();

  constructor(vm: Vm, file: string, failed: number[] = [], skipped: number[] = []) {
    this.vm = vm;
    this.file = file;
    this.failed = failed;
    this.skipped = skipped;
  }

  /** How many page groups are live (0: no tag can name one). */
  get liveGroups(): number {
    return this.groups.size;
  }

  private fail(line: number, msg: string): never {
    throw new PagelabError('ETRACE', `${this.file}:${line}: ${msg}`);
  }

  /** True when `tag` names a page group, live or failed (so `free TAG` is a vm_page_free). */
  owns(tag: string): boolean {
    return this.groups.has(tag) || this.failedTags.has(tag) || this.gone.has(tag);
  }

  /** True when `tag` names a live page group. */
  isLive(tag: string): boolean {
    return this.groups.has(tag);
  }

  private object(name: string, line: number, verb: string): number {
    const id = this.names.get(name);
    if (id === undefined) this.fail(line, `${verb}: unknown object "${name}"`);
    return id;
  }

  /* Runs `op`; `liveTag` says whether a vm_phys tag of that name is live. */
  run(op: ObjectTraceOp, liveTag: (tag: string) => boolean): ObjectEvent {
    const vm = this.vm;
    switch (op.op) {
      case 'object': {
        if (this.names.has(op.name)) this.fail(op.line, `object: "${op.name}" exists already`);
        const id = vm.object.allocate(op.type, { size: op.size ?? undefined, color: op.color, name: op.name });
        this.names.set(op.name, id);
        return { tag: op.name, ok: true };
      }
      case 'page': {
        if (this.groups.has(op.tag) || liveTag(op.tag)) this.fail(op.line, `page: tag "${op.tag}" is still allocated`);
        const obj = this.object(op.object, op.line, 'page');
        const size = vm.object.size[obj];
        if (op.pindex + op.n > size) this.fail(op.line, `page: pindex ${op.pindex}${op.n > 1 ? ` + ${op.n} pages` : ''} is beyond object ${op.object}'s size of ${size} pages`);
        const radix = vm.object.radix;
        if (radix.lookupGe(obj, op.pindex) !== NIL && radix.foundKey < op.pindex + op.n) this.fail(op.line, `page: object ${op.object} already has a page at pindex ${radix.foundKey}`);
        const req = VM_ALLOC_NOBUSY | (op.zero ? VM_ALLOC_ZERO : 0) | (op.wired ? VM_ALLOC_WIRED : 0) | (op.cls === 'system' ? VM_ALLOC_SYSTEM : op.cls === 'interrupt' ? VM_ALLOC_INTERRUPT : VM_ALLOC_NORMAL);
        const pages = new Uint32Array(op.n);
        for (let i = 0; i < op.n; i++) {
          const m = vm.page.allocUnsafe(obj, op.pindex + i, req);
          if (m < 0) {
            // All or nothing: give back what this line took.
            for (let j = 0; j < i; j++) {
              if (op.wired) vm.page.unwireNoq(pages[j]);
              vm.page.freeUnsafe(pages[j]);
            }
            this.failed.push(op.line);
            this.failedTags.add(op.tag);
            return { tag: op.tag, pages: op.n, ok: false, note: `cannot be satisfied (page ${i + 1} of ${op.n})` };
          }
          pages[i] = m;
        }
        this.failedTags.delete(op.tag);
        this.gone.delete(op.tag);
        this.groups.set(op.tag, { object: obj, pages, wired: op.wired });
        return { tag: op.tag, pa: hex(vm.phys.pageToPa(pages[0])), pages: op.n, ok: true };
      }
      case 'unwire': {
        const g = this.group(op.line, op.tag, 'unwire');
        if (g === undefined) return { tag: op.tag, ok: false, note: 'skipped: its allocation failed' };
        if (!g.wired) this.fail(op.line, `unwire: pages of "${op.tag}" are not wired`);
        let freed = 0;
        for (const m of g.pages) if (vm.page.unwire(m)) freed++;
        g.wired = false;
        // Pages freed by their last unwiring (their object is gone) leave the group.
        if (freed === g.pages.length) this.groups.delete(op.tag);
        return { tag: op.tag, pages: g.pages.length, ok: true, note: freed > 0 ? `${freed} pages freed (no object held them)` : undefined };
      }
      case 'terminate': {
        const obj = this.object(op.object, op.line, 'terminate');
        const resident = vm.object.resident[obj];
        vm.object.terminate(obj);
        this.names.delete(op.object);
        // Unwired groups of the object are gone; wired ones stay, out of any object.
        for (const [tag, g] of this.groups) {
          if (g.object === obj && !g.wired) {
            this.groups.delete(tag);
            this.gone.set(tag, `its pages went with object ${op.object}, terminated at line ${op.line}`);
          }
        }
        return { tag: op.object, pages: resident, ok: true };
      }
      case 'reclaim': {
        if (vm.reserv === null) return { ok: false, note: 'reservations are off (vm.reserv.enable=0)' };
        const domains = op.domain === null ? [...Array(vm.phys.ndomains).keys()] : [op.domain];
        let n = 0;
        for (const d of domains) {
          if (d >= vm.phys.ndomains) this.fail(op.line, `reclaim: domain ${d} is out of range (machine has ${vm.phys.ndomains})`);
          if (vm.reserv.reclaimInactive(d)) n++;
        }
        return { ok: n > 0, note: n > 0 ? `${n} reservation${n > 1 ? 's' : ''} broken` : 'no partially populated reservation' };
      }
    }
  }

  private group(line: number, tag: string, verb: string): PageGroup | undefined {
    const g = this.groups.get(tag);
    if (g !== undefined) return g;
    if (this.failedTags.has(tag)) {
      this.skipped.push(line);
      return undefined;
    }
    const why = this.gone.get(tag);
    return this.fail(line, `${verb}: tag "${tag}" names no pages${why !== undefined ? ` (${why})` : ''}`);
  }

  /* `free TAG` of a page group: vm_page_free of each page; a wired page is an error naming it. */
  free(line: number, tag: string, zero: boolean): ObjectEvent {
    const g = this.group(line, tag, 'free');
    if (g === undefined) return { tag, ok: false, note: 'skipped: its allocation failed' };
    const vm = this.vm;
    for (const m of g.pages) {
      if (vm.phys.pages.wire[m] !== 0) this.fail(line, `free ${tag}: page ${hex(vm.phys.pageToPa(m))} is wired (unwire it first)`);
    }
    for (const m of g.pages) {
      if (zero) vm.page.freeZero(m);
      else vm.page.free(m);
    }
    this.groups.delete(tag);
    return { tag, pa: hex(vm.phys.pageToPa(g.pages[0])), pages: g.pages.length, ok: true };
  }

  /** The page-layer part of the replay's JSON result. */
  report(): PageLayerReport {
    const vm = this.vm;
    const objects: Record<string, ObjectReport> = {};
    for (const [name, obj] of this.names) objects[name] = objectReport(vm, obj);
    return {
      objects,
      reserv: vm.reserv === null ? { enabled: false } : { enabled: true, npages: vm.reserv.npages, ...vm.reserv.counters() },
      page_stats: vm.page.statsObject(),
    };
  }
}

/** One object's summary: resident pages and its reservation string up to the last resident pindex. */
export function objectReport(vm: Vm, obj: number): ObjectReport {
  const o = vm.object;
  const last = o.radix.lookupLe(obj, OBJ_MAX_SIZE);
  const end = last === NIL ? 0 : o.radix.foundKey + 1;
  const colored = o.usesReserv(obj);
  return {
    type: o.type[obj] === OBJT_PHYS ? 'phys' : 'anon',
    size: o.size[obj] >= OBJ_MAX_SIZE ? null : o.size[obj],
    color: colored ? o.pgColor[obj] : null,
    resident_pages: o.resident[obj],
    reservations: vm.reserv === null || end === 0 ? '' : vm.reserv.describeObject(obj, 0, end),
  };
}
