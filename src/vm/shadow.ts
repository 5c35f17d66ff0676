/**
 * Shadow objects and their collapse, as FreeBSD's vm_object.c
 * (vm_object_shadow, vm_object_collapse, vm_object_collapse_scan), and the
 * page's valid state (m->valid) the fault path and collapse both read.
 *
 * A shadow object sits in front of a backing object: a copy-on-write
 * mapping reads through to the backing object until a write fault copies
 * the page up. pagelab keeps the chain beside the object table (the object
 * table is issue 9's; the chain is this layer's), keyed by object slot.
 *
 * Valid state is one byte per physical page (FreeBSD keeps a bitmap per
 * DEV_BSIZE block in the vm_page; pagelab's pages are all-or-nothing, so
 * one byte: 0 invalid, 1 all valid). Every page the mapping layer puts in
 * an object is set invalid when allocated.
 */
import { PagelabError, kassert } from '../errors.js';
import { hex } from '../util/units.js';
import { MapWork, type MapWorkCounters } from './map-counters.js';
import type { VmObjects } from './object.js';
import type { VmPage } from './page-alloc.js';
import { VPB_UNBUSIED } from './param.js';

export interface Backing {
  object: number;
  /** backing_object_offset, in pages: pindex p of the shadow is p + offset of the backing object. */
  offset: number;
}

/** What one collapse did, for traces and tests. */
export interface CollapseResult {
  collapsed: boolean;
  /** Why it did not, when it did not. */
  reason?: string;
  moved: number;
  freed: number;
}

export class VmShadow {
  private readonly objects: VmObjects;
  private readonly page: VmPage;
  private readonly work: MapWorkCounters;
  /** m->valid per physical page. */
  readonly valid: Uint8Array;
  private readonly backingOf = new Map<number, Backing>();
  /** Shadows per backing object (shadow_count). */
  private readonly shadowCount = new Map<number, number>();
  /** Objects with paging in progress (object->paging_in_progress): collapse leaves them alone. */
  readonly pip = new Map<number, number>();

  constructor(objects: VmObjects, page: VmPage, work: MapWorkCounters) {
    this.objects = objects;
    this.page = page;
    this.work = work;
    this.valid = new Uint8Array(page.pages.npages);
  }

  /** object->backing_object of `obj`, or undefined. */
  backing(obj: number): Backing | undefined {
    return this.backingOf.get(obj);
  }

  /*
   * vm_object_shadow: a new anonymous object in front of `obj` (whose
   * reference moves into the shadow), shadowing it from pindex `offset`.
   * The shadow takes `color` so that its reservations line up with the
   * mapping's virtual addresses. Returns the shadow's slot.
   */
  shadow(obj: number, offset: number, color: number, name?: string): number {
    this.objects.check(obj);
    const s = this.objects.allocate('anon', { color, name });
    this.backingOf.set(s, { object: obj, offset });
    this.shadowCount.set(obj, (this.shadowCount.get(obj) ?? 0) + 1);
    return s;
  }

  /*
   * vm_object_deallocate for chains: drop a reference of `obj`; the last one
   * terminates it and drops its reference on its backing object, down the
   * chain. Wired pages survive termination out of their object (object.ts).
   */
  deallocate(obj: number): void {
    for (;;) {
      if (this.objects.refCount[obj] > 1) {
        this.objects.refCount[obj]--;
        return;
      }
      const b = this.backingOf.get(obj);
      this.forget(obj);
      this.objects.terminate(obj);
      if (b === undefined) return;
      obj = b.object;
    }
  }

  private forget(obj: number): void {
    const b = this.backingOf.get(obj);
    if (b === undefined) return;
    this.backingOf.delete(obj);
    const n = (this.shadowCount.get(b.object) ?? 1) - 1;
    if (n === 0) this.shadowCount.delete(b.object);
    else this.shadowCount.set(b.object, n);
  }

  /*
   * vm_object_collapse of `obj` with its backing object, once: when the
   * backing object has no other reference and no paging in progress, its
   * pages move into `obj` (vm_object_collapse_scan) and it disappears; `obj`
   * then shadows what it shadowed. The scan's decisions, page by page:
   *   - a backing page outside the shadow's window, or not valid: freed;
   *   - a shadow page at the same pindex that is not valid: freed (it was
   *     left by an interrupted fault), and the backing page moves up;
   *   - a valid shadow page at the same pindex: the backing page is freed;
   *   - otherwise the backing page is renamed into the shadow.
   * Freeing a wired page is the kernel's panic in vm_page_free_prep; here it
   * is a typed EWIRED naming the page, raised before anything changes.
   * Busy pages would make the kernel sleep; here they are EBUSY, also before
   * anything changes. `unmap(m, shadowPindex)` must remove any mapping of a
   * page about to be freed (pmap_remove_all for the one mapping there is).
   */
  collapse(obj: number, unmap: (m: number, shadowPindex: number) => void): CollapseResult {
    this.objects.check(obj);
    const b = this.backingOf.get(obj);
    if (b === undefined) return { collapsed: false, reason: 'no backing object', moved: 0, freed: 0 };
    const bo = b.object;
    if (this.objects.refCount[bo] !== 1) return { collapsed: false, reason: `backing object ${this.objects.describe(bo)} has ${this.objects.refCount[bo]} references`, moved: 0, freed: 0 };
    if ((this.pip.get(obj) ?? 0) > 0 || (this.pip.get(bo) ?? 0) > 0) return { collapsed: false, reason: 'paging in progress', moved: 0, freed: 0 };
    const p = this.page.pages;
    const size = this.objects.size[obj];
    const backingPages = this.objects.residentPages(bo);
    // Plan: [page, action, shadowPindex]; 0 move up, 1 free backing page, 2 free shadow page then move up.
    const plan: Array<[number, number, number, number]> = [];
    const refuse = (m: number, why: 'EWIRED' | 'EBUSY', where: string): never => {
      const detail = why === 'EWIRED' ? `is wired (wire count ${p.wire[m]})` : 'is busy';
      throw new PagelabError(why, `vm_object_collapse: vm_page_free_prep: page ${hex(this.page.phys.pageToPa(m))} (${where}) ${detail}; valid ${this.valid[m]}`);
    };
    for (const [m, q] of backingPages) {
      const np = q - b.offset;
      if (p.busy[m] !== VPB_UNBUSIED) refuse(m, 'EBUSY', `pindex ${q} of backing object ${this.objects.describe(bo)}`);
      if (np < 0 || np >= size || this.valid[m] === 0) {
        if (p.wire[m] !== 0) refuse(m, 'EWIRED', `pindex ${q} of backing object ${this.objects.describe(bo)}`);
        plan.push([m, 1, np, -1]);
        continue;
      }
      const pp = this.objects.lookup(obj, np);
      if (pp >= 0 && p.busy[pp] !== VPB_UNBUSIED) refuse(pp, 'EBUSY', `pindex ${np} of object ${this.objects.describe(obj)}`);
      if (pp >= 0 && this.valid[pp] === 0) {
        if (p.wire[pp] !== 0) refuse(pp, 'EWIRED', `pindex ${np} of object ${this.objects.describe(obj)}`);
        plan.push([m, 2, np, pp]);
      } else if (pp >= 0) {
        if (p.wire[m] !== 0) refuse(m, 'EWIRED', `pindex ${q} of backing object ${this.objects.describe(bo)}`);
        plan.push([m, 1, np, -1]);
      } else {
        plan.push([m, 0, np, -1]);
      }
    }
    let moved = 0;
    let freed = 0;
    const reserv = this.page.reserv;
    for (const [m, action, np, pp] of plan) {
      this.work[MapWork.CollapsePage]++;
      if (action === 1) {
        unmap(m, np);
        this.page.free(m);
        freed++;
        continue;
      }
      if (action === 2) {
        unmap(pp, np);
        this.page.free(pp);
        freed++;
      }
      const ok = this.page.rename(m, obj, np);
      kassert(ok, () => `vm_object_collapse: pindex ${np} of ${this.objects.describe(obj)} taken while renaming`);
      // vm_object_collapse_scan: the reservation follows its pages up.
      reserv?.rename(m, obj, bo, b.offset);
      moved++;
    }
    // The shadow now shadows what the backing object shadowed.
    const next = this.backingOf.get(bo);
    this.forget(obj);
    this.forget(bo);
    if (next !== undefined) {
      this.backingOf.set(obj, { object: next.object, offset: b.offset + next.offset });
      this.shadowCount.set(next.object, (this.shadowCount.get(next.object) ?? 0) + 1);
    }
    kassert(this.objects.resident[bo] === 0, () => `vm_object_collapse: backing object ${this.objects.describe(bo)} kept ${this.objects.resident[bo]} pages`);
    this.objects.terminate(bo);
    return { collapsed: true, moved, freed };
  }
}
