/**
 * The physical map of one address space, as FreeBSD's amd64/pmap.c: a
 * four-level radix of page-table pages (PML4, PDP, PD, PT; 512 entries
 * each), 4 KiB PTEs and 2 MiB PDE mappings, promotion of a fully populated
 * page-table page to one PDE and demotion back.
 *
 * Page-table pages are real VM pages: each is allocated with
 * vm_page_alloc_noobj(VM_ALLOC_WIRED | VM_ALLOC_ZERO), so it costs memory,
 * is zeroed like FreeBSD's pmap_alloc_pt_page, and shows up in the counts.
 * Their entries live in this module's typed arrays, a table slot per page:
 * `ent[slot * 512 + i]` is the next table's slot (interior entries), the
 * mapped page's index (PTEs) or the first page of the 2 MiB run (PDEs with
 * PG_PS); `bits` holds PG_V, PG_RW, PG_X, PG_W, PG_PS. No pv lists: the VM
 * layer above knows which address maps a page (each object belongs to one
 * mapping here), which is all collapse and unmapping need.
 */
import { PagelabError, kassert } from '../errors.js';
import { hex } from '../util/units.js';
import { MapWork, type MapWorkCounters } from './map-counters.js';
import type { VmPage } from './page-alloc.js';
import { PAGE_SIZE, VM_ALLOC_WIRED, VM_ALLOC_ZERO } from './param.js';
import type { Phys } from './phys.js';
import type { Reserv } from './reserv.js';

/** vm_prot_t. */
export const VM_PROT_NONE = 0;
export const VM_PROT_READ = 1;
export const VM_PROT_WRITE = 2;
export const VM_PROT_EXECUTE = 4;
export const VM_PROT_RW = VM_PROT_READ | VM_PROT_WRITE;
export const VM_PROT_ALL = 7;

/** pmap_enter flags (the low byte is the access type, as in FreeBSD). */
export const PMAP_ENTER_WIRED = 0x0200;
export const PMAP_ENTER_NOREPLACE = 0x0400;

/** Mach return codes (sys/vm/vm_param.h / mach/kern_return.h values). */
export const KERN_SUCCESS = 0;
export const KERN_INVALID_ADDRESS = 1;
export const KERN_PROTECTION_FAILURE = 2;
export const KERN_NO_SPACE = 3;
export const KERN_INVALID_ARGUMENT = 4;
export const KERN_FAILURE = 5;
export const KERN_RESOURCE_SHORTAGE = 6;
export const KERN_NAMES = ['KERN_SUCCESS', 'KERN_INVALID_ADDRESS', 'KERN_PROTECTION_FAILURE', 'KERN_NO_SPACE', 'KERN_INVALID_ARGUMENT', 'KERN_FAILURE', 'KERN_RESOURCE_SHORTAGE'];

/** Entry bits (pagelab's encoding of the x86 PG_* bits that matter here). */
export const PG_V = 0x01;
export const PG_RW = 0x02;
export const PG_X = 0x04;
export const PG_W = 0x08;
export const PG_PS = 0x10;
/** Bits that must agree across 512 PTEs for a promotion (PG_PTE_PROMOTE). */
const PG_PROMOTE_MASK = PG_V | PG_RW | PG_X | PG_W;

export const NPTEPG = 512;
/** Bytes mapped by a PDE (NBPDR) and by a PTE. */
export const NBPDR = 2 * 1024 * 1024;
/** VM_MAXUSER_ADDRESS on amd64 with 4-level paging. */
export const VM_MAXUSER_ADDRESS = 2 ** 47;
/** The end of what a 4-level page table maps (48-bit addresses): the kernel pmap's limit. */
export const VM_MAX_ADDRESS_4LEVEL = 2 ** 48;

const LEVEL_PT = 0;
const LEVEL_PD = 1;
const LEVEL_PML4 = 3;
/** Bytes spanned by one entry at each level: 4 KiB, 2 MiB, 1 GiB, 512 GiB. */
const SPAN = [PAGE_SIZE, NBPDR, 2 ** 30, 2 ** 39];

/** pm_stats and the promotion counters (sysctl vm.pmap.pde.*), for reports. */
export interface PmapCounters {
  /** Valid 4 KiB PTEs. */
  ptes: number;
  /** Valid 2 MiB PDE mappings. */
  pdes: number;
  /** Page-table pages held now, the PML4 page included. */
  ptpages: number;
  /** 4 KiB pages mapped (pm_stats.resident_count counts mapped pages). */
  resident: number;
  /** 4 KiB pages mapped wired (pm_stats.wired_count). */
  wired: number;
  promotions: number;
  promotionFailures: number;
  demotions: number;
}

export class Pmap {
  private readonly page: VmPage;
  private readonly phys: Phys;
  private readonly reserv: Reserv | null;
  private readonly work: MapWorkCounters;
  /** Per slot: next-table slot / page index, or -1. */
  private ent: Int32Array = new Int32Array(0);
  private bits: Uint8Array = new Uint8Array(0);
  /** Per PD entry with PG_PS: the slot of the page-table page kept by the promotion, or -1. */
  private saved: Int32Array = new Int32Array(0);
  /** Per table slot: its VM page, valid-entry count (the PT page's ref_count), level, parent slot and index. */
  private tblPage: Int32Array = new Int32Array(0);
  private tblCount: Uint16Array = new Uint16Array(0);
  private tblLevel: Uint8Array = new Uint8Array(0);
  private tblParent: Int32Array = new Int32Array(0);
  private tblParentIdx: Uint16Array = new Uint16Array(0);
  private freeSlots: number[] = [];
  private top = 0;
  private readonly root: number;
  // One-entry cache of the PT page of the last 2 MiB region walked (sequential faults).
  private lastRegion = -1;
  private lastPt = -1;
  readonly stats: PmapCounters = { ptes: 0, pdes: 0, ptpages: 0, resident: 0, wired: 0, promotions: 0, promotionFailures: 0, demotions: 0 };
  /** Whether pmap_enter may promote (vm.pmap.pg_ps_enabled). */
  promote: boolean;
  /** kernel_pmap: addresses up to VM_MAX_ADDRESS_4LEVEL (KVA without its sign-extension bits) instead of user addresses. */
  readonly kernel: boolean;
  /** The end of the addresses this pmap maps. */
  private readonly vaLimit: number;

  /*
   * pmap_pinit: a new address space with its PML4 page.
   * Guarantees: EHOST-free; throws ENOSPC when not even the PML4 page can be allocated.
   */
  constructor(page: VmPage, work: MapWorkCounters, opts: { promote?: boolean; kernel?: boolean } = {}) {
    this.kernel = opts.kernel === true;
    this.vaLimit = this.kernel ? VM_MAX_ADDRESS_4LEVEL : VM_MAXUSER_ADDRESS;
    this.page = page;
    this.phys = page.phys;
    this.reserv = page.reserv;
    this.work = work;
    this.promote = opts.promote ?? true;
    this.grow(8);
    const r = this.allocTable(LEVEL_PML4, -1, 0);
    if (r < 0) throw new PagelabError('ENOSPC', 'pmap_pinit: no page for the PML4');
    this.root = r;
  }

  private grow(minSlots: number): void {
    const cap = Math.max(minSlots, this.tblPage.length * 2);
    const g32 = (a: Int32Array, n: number, fill: number): Int32Array => {
      const b = new Int32Array(n).fill(fill);
      b.set(a);
      return b;
    };
    this.ent = g32(this.ent, cap * NPTEPG, -1);
    this.saved = g32(this.saved, cap * NPTEPG, -1);
    const bits = new Uint8Array(cap * NPTEPG);
    bits.set(this.bits);
    this.bits = bits;
    this.tblPage = g32(this.tblPage, cap, -1);
    this.tblParent = g32(this.tblParent, cap, -1);
    const c = new Uint16Array(cap);
    c.set(this.tblCount);
    this.tblCount = c;
    const l = new Uint8Array(cap);
    l.set(this.tblLevel);
    this.tblLevel = l;
    const pi = new Uint16Array(cap);
    pi.set(this.tblParentIdx);
    this.tblParentIdx = pi;
  }

  /* pmap_alloc_pt_page: a zeroed, wired page in no object; -1 when none. */
  private allocTable(level: number, parent: number, parentIdx: number): number {
    const m = this.page.allocNoobj(VM_ALLOC_WIRED | VM_ALLOC_ZERO);
    if (m < 0) return -1;
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      if (this.top === this.tblPage.length) this.grow(this.top + 1);
      slot = this.top++;
    }
    this.tblPage[slot] = m;
    this.tblCount[slot] = 0;
    this.tblLevel[slot] = level;
    this.tblParent[slot] = parent;
    this.tblParentIdx[slot] = parentIdx;
    const base = slot * NPTEPG;
    this.ent.fill(-1, base, base + NPTEPG);
    this.saved.fill(-1, base, base + NPTEPG);
    this.bits.fill(0, base, base + NPTEPG);
    this.stats.ptpages++;
    this.work[MapWork.PtpAlloc]++;
    return slot;
  }

  /* pmap_free_pt_page: give a table's page back (unwiring a noobj page frees it). */
  private freeTable(slot: number): void {
    this.page.unwire(this.tblPage[slot]);
    this.tblPage[slot] = -1;
    this.freeSlots.push(slot);
    this.stats.ptpages--;
    this.work[MapWork.PtpFree]++;
    if (this.lastPt === slot) this.lastRegion = this.lastPt = -1;
  }

  private static index(va: number, level: number): number {
    return Math.floor(va / SPAN[level]) % NPTEPG;
  }

  private checkVa(va: number, what: string): void {
    if (!Number.isSafeInteger(va) || va < 0 || va >= this.vaLimit || va % PAGE_SIZE !== 0) {
      throw new PagelabError('EINVAL', `${what}: virtual address ${Number.isFinite(va) ? hex(va) : String(va)} is not a page-aligned ${this.kernel ? 'kernel' : 'user'} address`);
    }
  }

  /*
   * The PD table covering `va`, allocating PDP/PD tables when `create`; -1
   * when absent (or, with `create`, when a table page could not be had).
   */
  private pdTable(va: number, create: boolean): number {
    let t = this.root;
    for (let level = LEVEL_PML4; level > LEVEL_PD; level--) {
      const i = t * NPTEPG + Pmap.index(va, level);
      let next = this.ent[i];
      if (next < 0) {
        if (!create) return -1;
        next = this.allocTable(level - 1, t, i - t * NPTEPG);
        if (next < 0) return -1;
        this.ent[i] = next;
        this.bits[i] = PG_V | PG_RW;
        this.tblCount[t]++;
      }
      t = next;
    }
    return t;
  }

  /* Drop a table that has lost its last entry, and its ancestors that thereby become empty (pmap_unwire_ptp). */
  private releaseEmpty(slot: number): void {
    while (slot !== this.root && this.tblCount[slot] === 0) {
      const parent = this.tblParent[slot];
      const i = parent * NPTEPG + this.tblParentIdx[slot];
      this.ent[i] = -1;
      this.bits[i] = 0;
      this.tblCount[parent]--;
      this.freeTable(slot);
      slot = parent;
    }
  }

  // ------------------------------------------------------------ pmap_enter

  /*
   * pmap_enter: map `va` to page `m` with `prot`; PMAP_ENTER_WIRED wires the
   * mapping. psind 1 maps the 2 MiB run starting at `m` with one PDE
   * (pmap_enter_pde): `va` and m's physical address must be 2 MiB aligned and
   * the run must be the caller's (vm_fault checks the reservation is full).
   * A 4 KiB enter inside a 2 MiB mapping demotes it first. After a 4 KiB
   * enter fills a page-table page, pmap_promote_pde is tried when m's
   * reservation is fully populated (vm_reserv_level_iffullpop).
   * Returns KERN_SUCCESS, or KERN_RESOURCE_SHORTAGE when a page-table page
   * could not be allocated (nothing is then changed at `va`).
   */
  enter(va: number, m: number, prot: number, flags: number, psind = 0): number {
    this.checkVa(va, 'pmap_enter');
    if (psind === 1) {
      if (va % NBPDR !== 0 || this.phys.pageToPa(m) % NBPDR !== 0) {
        throw new PagelabError('EINVAL', `pmap_enter: psind 1 at ${hex(va)} needs a 2 MiB-aligned address and page (page ${hex(this.phys.pageToPa(m))})`);
      }
      return this.enterPde(va, m, prot, flags);
    }
    if (psind !== 0) throw new PagelabError('EINVAL', `pmap_enter: psind ${psind} (amd64 pmap_enter maps psind 0 and 1 here)`);
    return this.enterUnsafe(va, m, prot, flags);
  }

  /* pmap_enter psind 0 without argument checks (the fault and wiring loops). */
  enterUnsafe(va: number, m: number, prot: number, flags: number): number {
    const region = Math.floor(va / NBPDR);
    let pt = region === this.lastRegion ? this.lastPt : -1;
    if (pt < 0) {
      const pd = this.pdTable(va, true);
      if (pd < 0) return KERN_RESOURCE_SHORTAGE;
      const di = pd * NPTEPG + Pmap.index(va, LEVEL_PD);
      if ((this.bits[di] & PG_PS) !== 0 && !this.demote(pd, di)) return KERN_RESOURCE_SHORTAGE;
      pt = this.ent[di];
      if (pt < 0) {
        pt = this.allocTable(LEVEL_PT, pd, di - pd * NPTEPG);
        if (pt < 0) {
          this.releaseEmpty(pd);
          return KERN_RESOURCE_SHORTAGE;
        }
        this.ent[di] = pt;
        this.bits[di] = PG_V | PG_RW;
        this.tblCount[pd]++;
      }
      this.lastRegion = region;
      this.lastPt = pt;
    }
    const i = pt * NPTEPG + (Math.floor(va / PAGE_SIZE) % NPTEPG);
    const nb = PG_V | ((prot & VM_PROT_WRITE) !== 0 ? PG_RW : 0) | ((prot & VM_PROT_EXECUTE) !== 0 ? PG_X : 0) | ((flags & PMAP_ENTER_WIRED) !== 0 ? PG_W : 0);
    const ob = this.bits[i];
    const st = this.stats;
    if ((ob & PG_V) !== 0) {
      if ((ob & PG_W) !== 0) st.wired--;
    } else {
      this.tblCount[pt]++;
      st.ptes++;
      st.resident++;
    }
    if ((nb & PG_W) !== 0) st.wired++;
    this.ent[i] = m;
    this.bits[i] = nb;
    this.work[MapWork.PteWrite]++;
    if (this.promote && this.tblCount[pt] === NPTEPG && this.reserv !== null && this.reserv.levelIfFullpop(m) === 0) this.promotePde(pt);
    return KERN_SUCCESS;
  }

  /* pmap_enter_pde: one 2 MiB mapping, replacing whatever was mapped under it. */
  private enterPde(va: number, m: number, prot: number, flags: number): number {
    const pd = this.pdTable(va, true);
    if (pd < 0) return KERN_RESOURCE_SHORTAGE;
    const di = pd * NPTEPG + Pmap.index(va, LEVEL_PD);
    const st = this.stats;
    if ((this.bits[di] & PG_PS) !== 0) {
      this.dropPde(pd, di);
    } else if (this.ent[di] >= 0) {
      // pmap_remove_ptes over the region, then the page-table page goes.
      const pt = this.ent[di];
      this.clearPtes(pt, 0, NPTEPG);
      this.ent[di] = -1;
      this.bits[di] = 0;
      this.tblCount[pd]--;
      this.freeTable(pt);
    }
    this.ent[di] = m;
    this.bits[di] = PG_V | PG_PS | ((prot & VM_PROT_WRITE) !== 0 ? PG_RW : 0) | ((prot & VM_PROT_EXECUTE) !== 0 ? PG_X : 0) | ((flags & PMAP_ENTER_WIRED) !== 0 ? PG_W : 0);
    this.saved[di] = -1;
    this.tblCount[pd]++;
    st.pdes++;
    st.resident += NPTEPG;
    if ((flags & PMAP_ENTER_WIRED) !== 0) st.wired += NPTEPG;
    this.work[MapWork.PdeWrite]++;
    return KERN_SUCCESS;
  }

  /*
   * pmap_promote_pde: replace the full page-table page `pt` by one PDE when
   * its 512 PTEs map one physically contiguous, 2 MiB-aligned run with equal
   * protection and wiring (PG_PTE_PROMOTE). The page-table page is kept for
   * a later demotion (pmap_insert_pt_page). Returns whether it promoted.
   */
  private promotePde(pt: number): boolean {
    const base = pt * NPTEPG;
    const m0 = this.ent[base];
    const b0 = this.bits[base] & PG_PROMOTE_MASK;
    const st = this.stats;
    if (this.phys.pageToPa(m0) % NBPDR !== 0) {
      st.promotionFailures++;
      return false;
    }
    for (let i = 1; i < NPTEPG; i++) {
      if (this.ent[base + i] !== m0 + i || (this.bits[base + i] & PG_PROMOTE_MASK) !== b0) {
        st.promotionFailures++;
        return false;
      }
    }
    const pd = this.tblParent[pt];
    const di = pd * NPTEPG + this.tblParentIdx[pt];
    this.ent[di] = m0;
    this.bits[di] = b0 | PG_PS;
    this.saved[di] = pt;
    st.ptes -= NPTEPG;
    st.pdes++;
    st.promotions++;
    this.work[MapWork.Promote]++;
    this.work[MapWork.PdeWrite]++;
    if (this.lastPt === pt) this.lastRegion = this.lastPt = -1;
    return true;
  }

  /*
   * pmap_demote_pde: turn the 2 MiB mapping at PD entry `di` of `pd` back
   * into 512 PTEs, in the page-table page a promotion kept or a new one.
   * Returns false when no page-table page can be had: FreeBSD then removes
   * the whole 2 MiB mapping (pmap_demote_pde_abort), and so does pagelab.
   */
  private demote(pd: number, di: number): boolean {
    const m0 = this.ent[di];
    const b = this.bits[di] & ~PG_PS;
    let pt = this.saved[di];
    if (pt < 0) {
      pt = this.allocTable(LEVEL_PT, pd, di - pd * NPTEPG);
      if (pt < 0) {
        this.dropPde(pd, di);
        this.releaseEmpty(pd);
        return false;
      }
    }
    const base = pt * NPTEPG;
    for (let i = 0; i < NPTEPG; i++) {
      this.ent[base + i] = m0 + i;
      this.bits[base + i] = b;
    }
    this.tblCount[pt] = NPTEPG;
    this.ent[di] = pt;
    this.bits[di] = PG_V | PG_RW;
    this.saved[di] = -1;
    const st = this.stats;
    st.pdes--;
    st.ptes += NPTEPG;
    st.demotions++;
    this.work[MapWork.Demote]++;
    this.work[MapWork.PteWrite] += NPTEPG;
    return true;
  }

  /* Remove the 2 MiB mapping at `di` (its kept page-table page too); the PD's count drops. */
  private dropPde(pd: number, di: number): void {
    const st = this.stats;
    if ((this.bits[di] & PG_W) !== 0) st.wired -= NPTEPG;
    st.pdes--;
    st.resident -= NPTEPG;
    if (this.saved[di] >= 0) this.freeTable(this.saved[di]);
    this.saved[di] = -1;
    this.ent[di] = -1;
    this.bits[di] = 0;
    this.tblCount[pd]--;
    this.work[MapWork.PteRemove]++;
  }

  /* Clear PTEs [from, to) of `pt`; the table's count drops, the table stays. */
  private clearPtes(pt: number, from: number, to: number): void {
    const base = pt * NPTEPG;
    const st = this.stats;
    for (let i = from; i < to; i++) {
      const b = this.bits[base + i];
      if ((b & PG_V) === 0) continue;
      if ((b & PG_W) !== 0) st.wired--;
      this.bits[base + i] = 0;
      this.ent[base + i] = -1;
      this.tblCount[pt]--;
      st.ptes--;
      st.resident--;
      this.work[MapWork.PteRemove]++;
    }
  }

  /*
   * Applies `op` to every 2 MiB region overlapping [sva, eva): `full` tells
   * whether the region is covered entirely. Regions without a PD table are
   * skipped a table's span at a time.
   */
  private walk(sva: number, eva: number, what: string, op: (pd: number, di: number, from: number, to: number, full: boolean) => void): void {
    this.checkVa(sva, what);
    if (eva !== this.vaLimit) this.checkVa(eva, what);
    let va = sva;
    while (va < eva) {
      const pd = this.pdTable(va, false);
      if (pd < 0) {
        va = (Math.floor(va / SPAN[2]) + 1) * SPAN[2];
        continue;
      }
      const next = Math.min(eva, (Math.floor(va / NBPDR) + 1) * NBPDR);
      const di = pd * NPTEPG + Pmap.index(va, LEVEL_PD);
      if (this.ent[di] >= 0) {
        const from = Math.floor(va / PAGE_SIZE) % NPTEPG;
        const to = from + (next - va) / PAGE_SIZE;
        op(pd, di, from, to, from === 0 && to === NPTEPG);
      }
      va = next;
    }
  }

  /*
   * pmap_remove: unmap [sva, eva). A 2 MiB mapping wholly inside goes at
   * once; one partly inside is demoted first. Page-table pages left empty
   * are freed. Pages themselves are untouched: their objects own them.
   */
  remove(sva: number, eva: number): void {
    this.walk(sva, eva, 'pmap_remove', (pd, di, from, to, full) => {
      if ((this.bits[di] & PG_PS) !== 0) {
        if (full) {
          this.dropPde(pd, di);
          this.releaseEmpty(pd);
          return;
        }
        if (!this.demote(pd, di)) return;
      }
      const pt = this.ent[di];
      this.clearPtes(pt, from, to);
      this.releaseEmpty(pt);
    });
  }

  /*
   * pmap_protect: reduce the protection of [sva, eva) to `prot` (pmap_protect
   * only removes rights; VM_PROT_NONE is pmap_remove). A 2 MiB mapping partly
   * inside is demoted.
   */
  protect(sva: number, eva: number, prot: number): void {
    if ((prot & VM_PROT_READ) === 0) {
      this.remove(sva, eva);
      return;
    }
    const clear = ((prot & VM_PROT_WRITE) === 0 ? PG_RW : 0) | ((prot & VM_PROT_EXECUTE) === 0 ? PG_X : 0);
    if (clear === 0) return;
    this.walk(sva, eva, 'pmap_protect', (pd, di, from, to, full) => {
      if ((this.bits[di] & PG_PS) !== 0) {
        if (full) {
          this.bits[di] &= ~clear;
          const sv = this.saved[di];
          if (sv >= 0) for (let i = 0; i < NPTEPG; i++) this.bits[sv * NPTEPG + i] &= ~clear;
          return;
        }
        if (!this.demote(pd, di)) return;
      }
      const base = this.ent[di] * NPTEPG;
      for (let i = from; i < to; i++) this.bits[base + i] &= ~clear;
    });
  }

  /*
   * pmap_unwire: clear the wired bit of every mapping in [sva, eva); a 2 MiB
   * mapping partly inside is demoted. Requires: every mapping there is wired
   * (FreeBSD panics otherwise); EINVARIANT names the first that is not.
   */
  unwire(sva: number, eva: number): void {
    this.walk(sva, eva, 'pmap_unwire', (pd, di, from, to, full) => {
      if ((this.bits[di] & PG_PS) !== 0) {
        kassert((this.bits[di] & PG_W) !== 0, () => `pmap_unwire: 2 MiB mapping of ${hex(this.phys.pageToPa(this.ent[di]))} is not wired`);
        if (full) {
          this.bits[di] &= ~PG_W;
          const sv = this.saved[di];
          if (sv >= 0) for (let i = 0; i < NPTEPG; i++) this.bits[sv * NPTEPG + i] &= ~PG_W;
          this.stats.wired -= NPTEPG;
          return;
        }
        if (!this.demote(pd, di)) return;
      }
      const base = this.ent[di] * NPTEPG;
      for (let i = from; i < to; i++) {
        const b = this.bits[base + i];
        if ((b & PG_V) === 0) continue;
        kassert((b & PG_W) !== 0, () => `pmap_unwire: PTE of ${hex(this.phys.pageToPa(this.ent[base + i]))} is not wired`);
        this.bits[base + i] = b & ~PG_W;
        this.stats.wired--;
      }
    });
  }

  /*
   * pmap_extract: the page mapped at `va` (any address inside it), or -1.
   * `lastBits` then holds the mapping's bits (PG_PS for a 2 MiB mapping).
   */
  lastBits = 0;
  extract(va: number): number {
    if (!(va >= 0 && va < this.vaLimit)) return -1;
    const vpn = Math.floor(va / PAGE_SIZE);
    if (Math.floor(vpn / NPTEPG) === this.lastRegion) {
      // The page-table page of the last region entered (a 4 KiB region, never a 2 MiB mapping).
      const i = this.lastPt * NPTEPG + (vpn % NPTEPG);
      if ((this.bits[i] & PG_V) === 0) return -1;
      this.lastBits = this.bits[i];
      return this.ent[i];
    }
    const pd = this.pdTable(va, false);
    if (pd < 0) return -1;
    const di = pd * NPTEPG + Pmap.index(va, LEVEL_PD);
    const e = this.ent[di];
    if (e < 0) return -1;
    const vpnInRegion = Math.floor(va / PAGE_SIZE) % NPTEPG;
    if ((this.bits[di] & PG_PS) !== 0) {
      this.lastBits = this.bits[di];
      return e + vpnInRegion;
    }
    const i = e * NPTEPG + vpnInRegion;
    if ((this.bits[i] & PG_V) === 0) return -1;
    this.lastBits = this.bits[i];
    return this.ent[i];
  }

  /* The bits of the mapping at `va` (0 when unmapped). */
  bitsAt(va: number): number {
    return this.extract(va) < 0 ? 0 : this.lastBits;
  }

  /*
   * Every mapping in address order as [va, page, bits, size]: 4 KiB PTEs
   * and 2 MiB PDEs. For reports and tests; allocates.
   */
  mappings(): Array<[number, number, number, number]> {
    const out: Array<[number, number, number, number]> = [];
    const visit = (t: number, level: number, vbase: number): void => {
      for (let i = 0; i < NPTEPG; i++) {
        const k = t * NPTEPG + i;
        const e = this.ent[k];
        if (e < 0) continue;
        const va = vbase + i * SPAN[level];
        if (level === LEVEL_PT) out.push([va, e, this.bits[k], PAGE_SIZE]);
        else if (level === LEVEL_PD && (this.bits[k] & PG_PS) !== 0) out.push([va, e, this.bits[k], NBPDR]);
        else visit(e, level - 1, va);
      }
    };
    visit(this.root, LEVEL_PML4, 0);
    return out;
  }

  /*
   * pmap_release: remove every mapping and free every page-table page.
   * The pmap is unusable afterwards.
   */
  release(): void {
    this.remove(0, this.vaLimit);
    kassert(this.stats.ptpages === 1 && this.tblCount[this.root] === 0, () => `pmap_release: ${this.stats.ptpages} page-table pages left`);
    this.freeTable(this.root);
  }

  /*
   * The pmap's invariants: every table's count equals its valid entries,
   * leaf counts equal the stats, PD tables reached only from PDPs, kept
   * page-table pages only under 2 MiB mappings, every table page wired.
   */
  check(): void {
    let ptes = 0;
    let pdes = 0;
    let wired = 0;
    let tables = 0;
    const visit = (t: number, level: number): void => {
      tables++;
      kassert(this.tblLevel[t] === level, () => `pmap: table slot ${t} at level ${level} records level ${this.tblLevel[t]}`);
      kassert(this.page.pages.wire[this.tblPage[t]] === 1, () => `pmap: page-table page ${hex(this.phys.pageToPa(this.tblPage[t]))} has wire count ${this.page.pages.wire[this.tblPage[t]]}`);
      let n = 0;
      for (let i = 0; i < NPTEPG; i++) {
        const k = t * NPTEPG + i;
        if (this.ent[k] < 0) {
          kassert(this.bits[k] === 0, () => `pmap: empty entry ${i} of table slot ${t} has bits ${this.bits[k]}`);
          continue;
        }
        n++;
        if (level === LEVEL_PT) {
          ptes++;
          if ((this.bits[k] & PG_W) !== 0) wired++;
        } else if (level === LEVEL_PD && (this.bits[k] & PG_PS) !== 0) {
          pdes++;
          if ((this.bits[k] & PG_W) !== 0) wired += NPTEPG;
          if (this.saved[k] >= 0) tables++;
        } else {
          kassert(this.tblParent[this.ent[k]] === t && this.tblParentIdx[this.ent[k]] === i, () => `pmap: table slot ${this.ent[k]} does not point back to slot ${t} entry ${i}`);
          visit(this.ent[k], level - 1);
        }
      }
      kassert(n === this.tblCount[t], () => `pmap: table slot ${t} counts ${this.tblCount[t]} entries but holds ${n}`);
      kassert(t === this.root || n > 0, () => `pmap: empty table slot ${t} at level ${level} was not freed`);
    };
    visit(this.root, LEVEL_PML4);
    const st = this.stats;
    kassert(ptes === st.ptes && pdes === st.pdes, () => `pmap: counts ${st.ptes} PTEs / ${st.pdes} PDEs but holds ${ptes} / ${pdes}`);
    kassert(wired === st.wired, () => `pmap: counts ${st.wired} wired pages but holds ${wired}`);
    kassert(ptes + pdes * NPTEPG === st.resident, () => `pmap: resident count ${st.resident}, mappings ${ptes + pdes * NPTEPG}`);
    kassert(tables === st.ptpages, () => `pmap: counts ${st.ptpages} page-table pages but reaches ${tables}`);
  }
}
