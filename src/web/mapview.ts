/**
 * The memory map's pixels: which colour each cell of the view gets, and what
 * a cell holds when hovered. DOM-free, so Node tests and benchmarks run it.
 *
 * The view lays the machine's page indices (segments end to end, as
 * vm_page_array does) out row-major in a grid of cells; a cell covers
 * `pagesPerCell` pages (a power of two, so buddy blocks fall on cell
 * boundaries) and is drawn `cellPx` pixels square.
 *
 * A frame never loops over the machine's pages. Layers emit runs of pages in
 * one state (free blocks from the free queues, LAZYINIT blocks from their
 * descriptors, allocations from their owners); each run adds its pages'
 * colour to the cells it overlaps, and whatever no layer covered is
 * allocated. A cell's colour is the page-weighted mean of its pages'
 * colours, so a half-free cell reads as half-way between the two. Per-page
 * flags (PG_ZERO, pages being zeroed or cached) are read only when the view
 * holds at most DETAIL_MAX_PAGES pages, a bound independent of the machine.
 */
import type { Phys } from '../vm/phys.js';
import type { Reserv } from '../vm/reserv.js';
import {
  OBJ_NONE,
  ASTATE_CACHED,
  ASTATE_ZEROING,
  PG_ZERO,
  POOL_NAMES,
  VM_FREEPOOL_DIRECT,
  VM_FREEPOOL_LAZYINIT,
  PAGE_SIZE,
  FREELIST_NAMES,
} from '../vm/param.js';
import { formatSize, hex } from '../util/units.js';
import { Work } from '../vm/counters.js';

/** A page state the map can show: its legend label and its colours (0xRRGGBB). */
export interface PageState {
  key: string;
  label: string;
  /** Colour at shade 0 (order 0 for free states). */
  light: number;
  /** Colour at shade 1 (the largest order); equal to `light` for unshaded states. */
  deep: number;
}

/** The built-in states, indexed by the S_* constants. Layers may append their own (registerState). */
export const STATES: PageState[] = [
  { key: 'allocated', label: 'allocated (kernel, boot, unfree)', light: 0x6b7280, deep: 0x6b7280 },
  { key: 'owned', label: 'allocated by a trace tag', light: 0xf59e0b, deep: 0xf59e0b },
  { key: 'lazy', label: 'LAZYINIT (never initialised)', light: 0x3b4a6b, deep: 0x3b4a6b },
  { key: 'free-default', label: 'free, DEFAULT pool (light: order 0, deep: max order)', light: 0xbbf7d0, deep: 0x15803d },
  { key: 'free-direct', label: 'free, DIRECT pool (light: order 0, deep: max order)', light: 0xbfdbfe, deep: 0x1d4ed8 },
  { key: 'free-zero', label: 'free and PG_ZERO (page zoom)', light: 0x67e8f9, deep: 0x67e8f9 },
  { key: 'zeroing', label: 'being pre-zeroed (page zoom)', light: 0xc084fc, deep: 0xc084fc },
  { key: 'cached', label: 'in a per-domain page cache (page zoom)', light: 0x2dd4bf, deep: 0x2dd4bf },
  { key: 'resv-free', label: 'free inside a superpage reservation (vm_reserv)', light: 0xfda4af, deep: 0xfda4af },
];
export const S_ALLOCATED = 0;
export const S_OWNED = 1;
export const S_LAZY = 2;
export const S_FREE_DEFAULT = 3;
export const S_FREE_DIRECT = 4;
export const S_FREE_ZERO = 5;
export const S_ZEROING = 6;
export const S_CACHED = 7;
export const S_RESV_FREE = 8;
/** Colour of cells past the machine's last page. */
export const BACKGROUND = 0x0f172a;

/* Adds a state (a layer's own, such as reservations) and returns its index. */
export function registerState(s: PageState): number {
  const i = STATES.findIndex((t) => t.key === s.key);
  if (i >= 0) return i;
  STATES.push(s);
  return STATES.length - 1;
}

/** The colour of `state` at `shade` in [0, 1], as 0xRRGGBB. */
export function stateColour(state: number, shade: number): number {
  const s = STATES[state];
  if (s.light === s.deep || shade <= 0) return s.light;
  const mix = (sh: number): number => {
    const a = (s.light >> sh) & 255;
    const b = (s.deep >> sh) & 255;
    return Math.round(a + (b - a) * Math.min(1, shade));
  };
  return (mix(16) << 16) | (mix(8) << 8) | mix(0);
}

/** Shade of a free block of `order` on a machine whose largest order is `maxOrder`. */
export function orderShade(order: number, maxOrder: number): number {
  return maxOrder <= 0 ? 1 : order / maxOrder;
}

/** Receives runs of pages in one state; runs from all layers are disjoint. */
export interface Painter {
  run(m: number, n: number, state: number, shade: number): void;
}

/** The part of the machine a frame shows. */
export interface Viewport {
  /** First page index shown (a multiple of pagesPerCell). */
  first: number;
  /** Pages per cell: a power of two. */
  pagesPerCell: number;
  cols: number;
  rows: number;
}

/** Something that paints runs: the free queues, owners, reservations... */
export interface MapLayer {
  /* Emits this layer's runs; it may skip runs outside [first, end) (the painter clips anyway). */
  paint(p: Painter, first: number, end: number, detail: boolean): void;
  /* One line about page m, or null when the layer has nothing to say. */
  describe?(m: number): string | null;
}

/** The view's largest page count at which per-page flags are read. */
export const DETAIL_MAX_PAGES = 1 << 19;

/*
 * Runs of free pages in one state and order, in the order the free queues
 * list them, adjacent runs of the same kind merged: the run-length summary a
 * frame draws from. A lazy boot's 65536 max-order LAZYINIT blocks, queued in
 * address order, become a handful of runs.
 */
export class FreeRuns {
  start = new Float64Array(256);
  len = new Float64Array(256);
  state = new Uint8Array(256);
  /** Buddy order of the blocks in the run (0 for LAZYINIT runs, which are drawn unshaded). */
  order = new Uint8Array(256);
  count = 0;

  clear(): void {
    this.count = 0;
  }

  push(m: number, n: number, state: number, order: number): void {
    const k = this.count - 1;
    if (k >= 0 && this.state[k] === state && this.order[k] === order && this.start[k] + this.len[k] === m) {
      this.len[k] += n;
      return;
    }
    if (this.count === this.start.length) {
      const grow = <T extends Float64Array | Uint8Array>(a: T, ctor: new (n: number) => T): T => {
        const b = new ctor(a.length * 2);
        b.set(a);
        return b;
      };
      this.start = grow(this.start, Float64Array);
      this.len = grow(this.len, Float64Array);
      this.state = grow(this.state, Uint8Array);
      this.order = grow(this.order, Uint8Array);
    }
    this.start[this.count] = m;
    this.len[this.count] = n;
    this.state[this.count] = state;
    this.order[this.count] = order;
    this.count++;
  }
}

/*
 * Every free block of `phys` as runs (FreeRuns): LAZYINIT blocks from their
 * descriptors, touching no page record; the others by pool and order.
 */
export function collectFreeRuns(phys: Phys, runs: FreeRuns): void {
  runs.clear();
  phys.forEachFreeBlock((m, order, pool) => {
    if (pool === VM_FREEPOOL_LAZYINIT) runs.push(m, 2 ** order, S_LAZY, 0);
    else runs.push(m, 2 ** order, pool === VM_FREEPOOL_DIRECT ? S_FREE_DIRECT : S_FREE_DEFAULT, order);
  });
}

/*
 * The free queues as a layer. The runs are collected again only when the
 * queues changed since the last frame (their insert and remove counters
 * moved), so a still machine costs O(runs) a frame. In detail, a free run's
 * PG_ZERO pages inside the view are split out, and the view's pages being
 * zeroed or cached (off the queues) are painted too.
 */
export function freeQueueLayer(phys: Phys): MapLayer {
  const p = phys.pages;
  const runs = new FreeRuns();
  let seenInserts = -1;
  let seenRemoves = -1;
  return {
    paint(painter, first, end, detail) {
      const w = phys.work;
      if (w[Work.QueueInsert] !== seenInserts || w[Work.QueueRemove] !== seenRemoves) {
        collectFreeRuns(phys, runs);
        seenInserts = w[Work.QueueInsert];
        seenRemoves = w[Work.QueueRemove];
      }
      for (let k = 0; k < runs.count; k++) {
        const m = runs.start[k];
        const n = runs.len[k];
        if (m + n <= first || m >= end) continue;
        const state = runs.state[k];
        const shade = state === S_LAZY ? 0 : orderShade(runs.order[k], phys.maxOrder);
        if (!detail || state === S_LAZY) {
          painter.run(m, n, state, shade);
          continue;
        }
        // Split the visible part by PG_ZERO; the invisible rest in one run each side.
        const a = Math.max(m, first);
        const b = Math.min(m + n, end);
        if (a > m) painter.run(m, a - m, state, shade);
        let i = a;
        while (i < b) {
          const zero = (p.flags[i] & PG_ZERO) !== 0;
          let j = i + 1;
          while (j < b && ((p.flags[j] & PG_ZERO) !== 0) === zero) j++;
          painter.run(i, j - i, zero ? S_FREE_ZERO : state, zero ? 0 : shade);
          i = j;
        }
        if (m + n > b) painter.run(b, m + n - b, state, shade);
      }
      if (!detail) return;
      for (let i = first; i < end; i++) {
        const s = p.astate[i];
        if (s === ASTATE_ZEROING) painter.run(i, 1, S_ZEROING, 0);
        else if (s === ASTATE_CACHED) painter.run(i, 1, S_CACHED, 0);
      }
    },
  };
}

/** A run of pages held by a named owner (a trace tag). */
export interface OwnedRun {
  m: number;
  pages: number;
}

/*
 * Superpage reservations (vm_reserv): the pages a live reservation holds but
 * has not populated are on no free queue, so without this layer they would
 * read as allocated; they are painted S_RESV_FREE, from each reservation's
 * popmap. Populated pages are left to the other layers (allocated, or owned
 * by a trace tag). The walk is over live objects' reservations, never over
 * the reservation array; describe() names a page's reservation with its
 * pattern (F E B P, as `pagelab replay` prints them).
 */
export function reservLayer(reserv: Reserv): MapLayer {
  const n = reserv.npages;
  return {
    paint(painter, first, end) {
      for (const obj of reserv.objects.live()) {
        for (const rv of reserv.objectReservations(obj)) {
          const base = reserv.first[rv];
          if (base >= end || base + n <= first) continue;
          let i = 0;
          while (i < n) {
            if (reserv.isPopulated(rv, i)) {
              i++;
              continue;
            }
            let j = i + 1;
            while (j < n && !reserv.isPopulated(rv, j)) j++;
            painter.run(base + i, j - i, S_RESV_FREE, 0);
            i = j;
          }
        }
      }
    },
    describe(m) {
      const rv = reserv.fromPage(m);
      // The reservation arrays are created with the first reservation: until then there is none to name.
      if (!(rv >= 0 && rv < reserv.object.length) || reserv.object[rv] === OBJ_NONE) return null;
      const state = reserv.isPopulated(rv, m - reserv.first[rv]) ? 'populated' : 'free';
      return `reservation: ${reserv.paOf(rv)} (${reserv.pattern(rv)}, ${reserv.popcnt[rv]}/${n} pages populated, object ${reserv.object[rv]}); this page ${state}`;
    },
  };
}

/* Allocations with an owner, painted S_OWNED; describe names the owner. */
export function ownerLayer(owners: () => Iterable<[string, OwnedRun]>): MapLayer {
  return {
    paint(painter, first, end) {
      for (const [, a] of owners()) if (a.m < end && a.m + a.pages > first) painter.run(a.m, a.pages, S_OWNED, 0);
    },
    describe(m) {
      for (const [tag, a] of owners()) if (m >= a.m && m < a.m + a.pages) return `owner: ${tag} (${a.pages} pages from page ${a.m})`;
      return null;
    },
  };
}

/** Cell colours for one frame; the buffers are reused across frames. */
export class MapFrame {
  /*
   * A difference array over the cells, four channels per cell (r, g, b sums
   * weighted by pages, and pages covered): a run adds its weight where it
   * starts and takes it away after it ends, so a run over a million cells
   * costs a few writes, and one prefix sum resolves the frame. Sums are
   * integers below 2^24 (255 x pages per cell), exact in float32.
   */
  private span = new Float32Array(0);
  /** Resolved colour per cell, ABGR as the canvas's little-endian RGBA words. */
  private colour = new Uint32Array(0);
  private cells = 0;
  private view: Viewport = { first: 0, pagesPerCell: 1, cols: 1, rows: 1 };
  private npages = 0;
  private readonly painter: Painter;

  constructor() {
    const self = this;
    this.painter = {
      run(m, n, state, shade) {
        self.addRun(m, n, stateColour(state, shade));
      },
    };
  }

  /*
   * Computes every cell's colour for `view` of a machine of `npages` pages
   * from `layers`. Cost: O(cells + runs the layers emit), plus the view's
   * pages when it holds at most DETAIL_MAX_PAGES.
   */
  compute(npages: number, view: Viewport, layers: readonly MapLayer[]): void {
    const cells = view.cols * view.rows;
    // resolve() leaves the difference array all zero for the next frame.
    if (this.colour.length < cells) {
      this.span = new Float32Array(cells * 4 + 4);
      this.colour = new Uint32Array(cells);
    }
    this.cells = cells;
    this.view = view;
    this.npages = npages;
    const first = view.first;
    const end = Math.min(npages, first + cells * view.pagesPerCell);
    const detail = end - first <= DETAIL_MAX_PAGES;
    for (const l of layers) l.paint(this.painter, first, end, detail);
    this.resolve();
  }

  private addRun(m: number, n: number, rgb: number): void {
    const { first, pagesPerCell: ppc } = this.view;
    const end = Math.min(this.npages, first + this.cells * ppc);
    const a = Math.max(m, first);
    const b = Math.min(m + n, end);
    if (a >= b) return;
    let c0 = Math.floor((a - first) / ppc);
    const c1 = Math.floor((b - 1 - first) / ppc);
    if (c0 === c1) {
      this.addSpan(c0, c0, rgb, b - a);
      return;
    }
    // Partial first and last cells on their own; the whole cells between as one span.
    if (a > first + c0 * ppc) {
      this.addSpan(c0, c0, rgb, first + (c0 + 1) * ppc - a);
      c0++;
    }
    let last = c1;
    const lastStart = first + c1 * ppc;
    if (b < lastStart + ppc) {
      this.addSpan(c1, c1, rgb, b - lastStart);
      last--;
    }
    if (c0 <= last) this.addSpan(c0, last, rgb, ppc);
  }

  /* Cells [from, to] each get `w` pages of colour `rgb`: two entries of the difference array. */
  private addSpan(from: number, to: number, rgb: number, w: number): void {
    const span = this.span;
    const r = ((rgb >> 16) & 255) * w;
    const g = ((rgb >> 8) & 255) * w;
    const b = (rgb & 255) * w;
    const k0 = 4 * from;
    const k1 = 4 * (to + 1);
    span[k0] += r;
    span[k0 + 1] += g;
    span[k0 + 2] += b;
    span[k0 + 3] += w;
    span[k1] -= r;
    span[k1 + 1] -= g;
    span[k1 + 2] -= b;
    span[k1 + 3] -= w;
  }

  /*
   * Prefix-sums the difference array and turns each cell's sums into its
   * colour; uncovered pages are allocated. Clears the array as it goes, for
   * the next frame. A whole cell where nothing starts or ends has its left
   * neighbour's colour, which long runs make the common case.
   */
  private resolve(): void {
    const { first, pagesPerCell: ppc } = this.view;
    const { span, colour } = this;
    const alloc = STATES[S_ALLOCATED].light;
    const ar = (alloc >> 16) & 255;
    const ag = (alloc >> 8) & 255;
    const ab = alloc & 255;
    const bg = abgr(BACKGROUND);
    let sr = 0;
    let sg = 0;
    let sb = 0;
    let sn = 0;
    const cells = this.cells;
    const full = Math.max(0, Math.min(cells, Math.floor((this.npages - first) / ppc)));
    const invPpc = 1 / ppc;
    let prev = 0;
    for (let c = 0, k = 0; c < cells; c++, k += 4) {
      const dr = span[k];
      const dg = span[k + 1];
      const db = span[k + 2];
      const dn = span[k + 3];
      if (c > 0 && c < full && dr === 0 && dg === 0 && db === 0 && dn === 0) {
        colour[c] = prev;
        continue;
      }
      span[k] = 0;
      span[k + 1] = 0;
      span[k + 2] = 0;
      span[k + 3] = 0;
      sr += dr;
      sg += dg;
      sb += db;
      sn += dn;
      const total = c < full ? ppc : Math.min(ppc, this.npages - (first + c * ppc));
      if (total <= 0) {
        colour[c] = prev = bg;
        continue;
      }
      const rest = total - sn;
      const inv = c < full ? invPpc : 1 / total;
      const r = ((sr + rest * ar) * inv + 0.5) | 0;
      const g = ((sg + rest * ag) * inv + 0.5) | 0;
      const b = ((sb + rest * ab) * inv + 0.5) | 0;
      colour[c] = prev = (0xff000000 | (b << 16) | (g << 8) | r) >>> 0;
    }
    // The entry one past the last cell takes the ends of runs that reach it.
    span.fill(0, 4 * cells, 4 * cells + 4);
  }

  /** The colour of cell `c` as 0xRRGGBB. */
  cellColour(c: number): number {
    const w = this.colour[c];
    return ((w & 255) << 16) | (w & 0xff00) | ((w >> 16) & 255);
  }

  /*
   * Writes the frame as RGBA into `out`, cellPx pixels per cell side:
   * (cols * cellPx) x (rows * cellPx) pixels, row-major. Cells of 8 pixels
   * or more get a one-pixel darker edge, so single pages stand apart.
   */
  writePixels(out: Uint8ClampedArray, cellPx: number): void {
    const { cols, rows } = this.view;
    const colour = this.colour;
    const px = new Uint32Array(out.buffer, out.byteOffset, out.length >> 2);
    if (cellPx === 1) {
      px.set(colour.subarray(0, cols * rows));
      return;
    }
    const width = cols * cellPx;
    const edge = cellPx >= 8;
    const inner = edge ? cellPx - 1 : cellPx;
    for (let row = 0; row < rows; row++) {
      const base = row * cellPx * width;
      for (let col = 0; col < cols; col++) {
        const c = colour[row * cols + col];
        const x0 = base + col * cellPx;
        for (let y = 0; y < inner; y++) px.fill(c, x0 + y * width, x0 + y * width + inner);
        if (edge) {
          // Half the brightness, alpha kept.
          const d = (0xff000000 | ((c >>> 1) & 0x7f7f7f)) >>> 0;
          for (let y = 0; y < cellPx - 1; y++) px[x0 + y * width + cellPx - 1] = d;
          px.fill(d, x0 + (cellPx - 1) * width, x0 + cellPx * width - width + cellPx);
        }
      }
    }
  }
}

/* 0xRRGGBB as an opaque canvas word (RGBA bytes, little-endian). */
function abgr(rgb: number): number {
  return (0xff000000 | ((rgb & 255) << 16) | (rgb & 0xff00) | ((rgb >> 16) & 255)) >>> 0;
}

/* Pages per cell that fits `npages` into `cells` cells: the smallest power of two that does. */
export function fitPagesPerCell(npages: number, cells: number): number {
  let ppc = 1;
  while (ppc * cells < npages) ppc *= 2;
  return ppc;
}

/** How many pages of a range are in each state (describeRange). */
export interface RangeSummary {
  first: number;
  count: number;
  /** Pages per state index; pages no layer covered are counted as S_ALLOCATED. */
  pages: number[];
}

/* Counts the pages of [first, first + count) by state, from the same layers a frame uses. */
export function summariseRange(npages: number, first: number, count: number, layers: readonly MapLayer[]): RangeSummary {
  const end = Math.min(npages, first + count);
  const pages = new Array<number>(STATES.length).fill(0);
  let covered = 0;
  const painter: Painter = {
    run(m, n, state) {
      const w = Math.min(m + n, end) - Math.max(m, first);
      if (w <= 0) return;
      while (pages.length <= state) pages.push(0);
      pages[state] += w;
      covered += w;
    },
  };
  const detail = end - first <= DETAIL_MAX_PAGES;
  for (const l of layers) l.paint(painter, first, end, detail);
  pages[S_ALLOCATED] += end - first - covered;
  return { first, count: end - first, pages };
}

/*
 * What a person hovering page `m` should read: its address, segment, domain
 * and free list, its state (free block head, order and pool when free), and
 * what the layers say (owner tag...). Cost: O(free blocks) for one page.
 */
export function describePage(phys: Phys, m: number, layers: readonly MapLayer[]): string[] {
  const seg = phys.segs[phys.segOfIndex(m)];
  const pa = phys.pageToPa(m);
  const fl = FREELIST_NAMES[seg.freelist] ?? String(seg.freelist);
  const lines = [`page ${m}  PA ${hex(pa)}`, `segment ${hex(seg.start)}-${hex(seg.end)}  domain ${seg.domain}  freelist ${fl}`];
  let head = -1;
  let horder = 0;
  let hpool = 0;
  phys.forEachFreeBlock((b, order, pool) => {
    if (head < 0 && m >= b && m < b + 2 ** order) {
      head = b;
      horder = order;
      hpool = pool;
    }
  });
  const p = phys.pages;
  if (head >= 0) {
    const zero = hpool !== VM_FREEPOOL_LAZYINIT && (p.flags[m] & PG_ZERO) !== 0;
    const what = hpool === VM_FREEPOOL_LAZYINIT ? 'LAZYINIT (never initialised)' : `free${zero ? ', PG_ZERO' : ''}`;
    lines.push(`state: ${what}`, `order ${horder} (${formatSize(2 ** horder * PAGE_SIZE)})  pool ${POOL_NAMES[hpool]}  block head ${hex(phys.pageToPa(head))}`);
  } else {
    const s = p.astate[m];
    lines.push(`state: ${s === ASTATE_ZEROING ? 'being pre-zeroed' : s === ASTATE_CACHED ? 'in a page cache' : 'allocated'}`);
  }
  for (const l of layers) {
    const d = l.describe?.(m);
    if (d) lines.push(d);
  }
  return lines;
}

/* The hover text of a cell that holds many pages: its range and its pages by state. */
export function describeRange(phys: Phys, first: number, count: number, layers: readonly MapLayer[]): string[] {
  const s = summariseRange(phys.npages, first, count, layers);
  const last = s.first + s.count - 1;
  const lines = [`pages ${s.first}-${last}  PA ${hex(phys.pageToPa(s.first))}-${hex(phys.pageToPa(last) + PAGE_SIZE)}`];
  s.pages.forEach((n, i) => {
    if (n > 0) lines.push(`${STATES[i].key}: ${n} page${n === 1 ? '' : 's'}`);
  });
  return lines;
}

/** A place the map draws a line: where a segment starts, and whether its free list or domain changes there. */
export interface Boundary {
  page: number;
  kind: 'freelist' | 'segment';
  label: string;
}

/* Segment starts (vm_phys_segs) and free-list changes, in page order. */
export function boundaries(phys: Phys): Boundary[] {
  const out: Boundary[] = [];
  let prevFl = -1;
  let prevDom = -1;
  for (const s of phys.segs) {
    const changes = s.freelist !== prevFl || s.domain !== prevDom;
    out.push({
      page: s.firstPage,
      kind: changes ? 'freelist' : 'segment',
      label: `${hex(s.start)} ${FREELIST_NAMES[s.freelist] ?? s.freelist} domain ${s.domain}`,
    });
    prevFl = s.freelist;
    prevDom = s.domain;
  }
  return out;
}
