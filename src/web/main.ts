/**
 * The page: wires the DOM to a TraceStepper, the map, the buddy-info chart
 * and the boot race. Everything it shows is computed by the DOM-free modules
 * beside it (mapview.ts, buddy.ts, session.ts, bootrace.ts) on the VM itself,
 * running in this page.
 */
import { PagelabError } from '../errors.js';
import { TRACE_MAX_BYTES } from '../lab/trace-parse.js';
import { parseMemoryMapJson } from '../machine/memmap.js';
import type { MemoryMap } from '../machine/types.js';
import { PRESET_NAMES, presetMemoryMap } from '../machine/presets.js';
import { formatSize, hex, parseSize } from '../util/units.js';
import { FREELIST_NAMES, PAGE_SIZE } from '../vm/param.js';
import type { Phys } from '../vm/phys.js';
import { barHeight, buddyBars } from './buddy.js';
import { BootRace } from './bootrace.js';
import {
  boundaries,
  describePage,
  describeRange,
  fitPagesPerCell,
  freeQueueLayer,
  MapFrame,
  ownerLayer,
  reservLayer,
  STATES,
  stateColour,
  type MapLayer,
  type Viewport,
} from './mapview.js';
import type { Preload } from './preload.js';
import { TraceStepper } from './session.js';

const CANVAS_W = 1024;
const CANVAS_H = 512;
/** Zoom levels: z >= 0 is 2^z pages per 1-pixel cell; z < 0 is one page per 2^-z pixels. */
const MIN_ZOOM = -4;

/* The zoom that shows all of `npages` as large as the canvas allows. */
function fitZoom(npages: number): number {
  for (let z = MIN_ZOOM; z < 0; z++) if ((CANVAS_W * CANVAS_H) / 4 ** -z >= npages) return z;
  return Math.log2(fitPagesPerCell(npages, CANVAS_W * CANVAS_H));
}

const $ = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (e === null) throw new Error(`page: #${id} is missing`);
  return e as T;
};

function readPreload(): Preload {
  const el = document.getElementById('pagelab-preload');
  if (el === null || el.textContent === null || el.textContent.trim() === '') return {};
  return JSON.parse(el.textContent) as Preload;
}

const rgbCss = (rgb: number): string => `#${rgb.toString(16).padStart(6, '0')}`;

class App {
  private readonly preload: Preload;
  private readonly machine: MemoryMap | undefined;
  private stepper: TraceStepper | null = null;
  private layers: MapLayer[] = [];
  private readonly frame = new MapFrame();
  private readonly canvas = $<HTMLCanvasElement>('map');
  private readonly ctx = this.canvas.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D;
  private readonly image = new ImageData(CANVAS_W, CANVAS_H);
  private zoom = 0;
  private first = 0;
  private dirty = true;
  private playing = false;
  private opsDue = 0;
  private lastT = 0;
  private hover: { x: number; y: number } | null = null;
  private bootRace: BootRace | null = null;
  /** Milliseconds the last map frame took to compute and draw. */
  lastFrameMs = 0;

  constructor() {
    this.preload = readPreload();
    this.machine = this.preload.machine !== undefined ? parseMemoryMapJson(this.preload.machine, 'the server\'s machine') : undefined;
    this.canvas.width = CANVAS_W;
    this.canvas.height = CANVAS_H;
    this.wire();
    this.legend();
    const ex = $<HTMLSelectElement>('example');
    for (const e of this.preload.examples ?? []) ex.add(new Option(e.name, e.name));
    const links = $('reports');
    for (const r of this.preload.reports ?? []) {
      const a = document.createElement('a');
      a.href = r.href;
      a.textContent = r.label;
      a.target = '_blank';
      links.append(a, ' ');
    }
    links.hidden = (this.preload.reports ?? []).length === 0;
    const bootSel = $<HTMLSelectElement>('boot-machine');
    for (const p of PRESET_NAMES) bootSel.add(new Option(p, p));
    bootSel.value = 'firecracker-1g';
    if (this.preload.trace) this.load(this.preload.trace.text, this.preload.trace.name);
    else if (this.preload.examples?.length) this.load(this.preload.examples[0].text, this.preload.examples[0].name);
    requestAnimationFrame((t) => this.tick(t));
  }

  private status(msg: string, error = false): void {
    const s = $('status');
    s.textContent = msg;
    s.classList.toggle('error', error);
  }

  /* Loads trace text; a bad trace leaves the previous one in place and says why. */
  load(text: string, name: string): void {
    let st: TraceStepper;
    try {
      st = new TraceStepper(text, name, this.machine, this.preload.overrides ?? []);
    } catch (e) {
      this.status(e instanceof PagelabError ? e.message : `cannot load ${name}: ${(e as Error).message}`, true);
      return;
    }
    if (this.stepper !== null) void this.stepper.vm.shutdown();
    this.stepper = st;
    this.playing = false;
    this.layersFor();
    this.zoom = fitZoom(st.vm.phys.npages);
    this.first = 0;
    $('trace-name').textContent = name;
    $('machine-name').textContent = `${st.vm.map.name}: ${formatSize(st.vm.phys.npages * PAGE_SIZE)}, ${st.vm.phys.npages} pages, ${st.vm.phys.segs.length} segments`;
    const scrub = $<HTMLInputElement>('scrub');
    scrub.max = String(st.length);
    this.status(`loaded ${name}: ${st.length} operations`);
    this.changed();
  }

  private layersFor(): void {
    const st = this.stepper as TraceStepper;
    this.layers = [freeQueueLayer(st.vm.phys), ownerLayer(() => st.owners())];
    if (st.vm.reserv !== null) this.layers.push(reservLayer(st.vm.reserv));
  }

  private get phys(): Phys | null {
    return this.stepper?.vm.phys ?? null;
  }

  private changed(): void {
    this.dirty = true;
  }

  viewport(): Viewport {
    const cellPx = this.zoom < 0 ? 2 ** -this.zoom : 1;
    return { first: this.first, pagesPerCell: this.zoom < 0 ? 1 : 2 ** this.zoom, cols: CANVAS_W / cellPx, rows: CANVAS_H / cellPx };
  }

  private cellPx(): number {
    return this.zoom < 0 ? 2 ** -this.zoom : 1;
  }

  /* Sets zoom z keeping page `anchor` under cell `cell` (or the view's first page). */
  private setZoom(z: number, anchor?: number, cell = 0): void {
    const phys = this.phys;
    if (phys === null) return;
    this.zoom = Math.max(MIN_ZOOM, Math.min(fitZoom(phys.npages), z));
    const v = this.viewport();
    const a = anchor ?? this.first;
    this.setFirst(a - cell * v.pagesPerCell);
  }

  private setFirst(first: number): void {
    const phys = this.phys;
    if (phys === null) return;
    const v = this.viewport();
    const span = v.cols * v.rows * v.pagesPerCell;
    const rowPages = v.cols * v.pagesPerCell;
    let f = Math.min(first, Math.max(0, Math.ceil((phys.npages - span) / rowPages) * rowPages));
    f = Math.max(0, Math.floor(f / v.pagesPerCell) * v.pagesPerCell);
    this.first = f;
    this.changed();
  }

  /* Zooms to page level around physical address `pa` (the "go to" box). */
  goTo(pa: number): void {
    const phys = this.phys;
    if (phys === null) return;
    const m = phys.paToPage(pa);
    if (m < 0) {
      this.status(`${hex(pa)} is not in any segment of this machine`, true);
      return;
    }
    this.zoom = MIN_ZOOM;
    const v = this.viewport();
    this.setFirst(m - Math.floor(v.rows / 2) * v.cols);
  }

  /** Page index of physical address `pa`, or -1. */
  physPage(pa: number): number {
    return this.phys?.paToPage(pa) ?? -1;
  }

  /** Canvas-pixel centre of page m's cell, or null when off screen. */
  pagePoint(m: number): { x: number; y: number } | null {
    const v = this.viewport();
    const c = Math.floor((m - v.first) / v.pagesPerCell);
    if (c < 0 || c >= v.cols * v.rows) return null;
    const px = this.cellPx();
    return { x: (c % v.cols) * px + px / 2, y: Math.floor(c / v.cols) * px + px / 2 };
  }

  private cellAt(x: number, y: number): { cell: number; first: number; count: number } | null {
    const phys = this.phys;
    if (phys === null) return null;
    const v = this.viewport();
    const px = this.cellPx();
    const col = Math.floor(x / px);
    const row = Math.floor(y / px);
    if (col < 0 || col >= v.cols || row < 0 || row >= v.rows) return null;
    const cell = row * v.cols + col;
    const first = v.first + cell * v.pagesPerCell;
    if (first >= phys.npages) return null;
    return { cell, first, count: Math.min(v.pagesPerCell, phys.npages - first) };
  }

  private wire(): void {
    const st = (): TraceStepper | null => this.stepper;
    $('step').addEventListener('click', () => {
      this.playing = false;
      const e = st()?.step();
      if (e === null) this.status('at the end of the trace');
      this.changed();
    });
    $('back').addEventListener('click', () => {
      const s = st();
      if (s === null) return;
      this.playing = false;
      s.seek(s.position - 1);
      this.changed();
    });
    $('restart').addEventListener('click', () => {
      this.playing = false;
      st()?.seek(0);
      this.changed();
    });
    $('play').addEventListener('click', () => {
      this.playing = !this.playing;
      this.opsDue = 0;
      this.changed();
    });
    $<HTMLInputElement>('scrub').addEventListener('input', (ev) => {
      this.playing = false;
      st()?.seek(Number((ev.target as HTMLInputElement).value));
      this.changed();
    });
    $('fit').addEventListener('click', () => this.fit());
    $('zoom-in').addEventListener('click', () => this.setZoom(this.zoom - 1, this.first + (this.viewport().cols * this.viewport().rows * this.viewport().pagesPerCell) / 2, (this.viewport().cols * this.viewport().rows) / 4));
    $('zoom-out').addEventListener('click', () => this.setZoom(this.zoom + 1, this.first));
    $<HTMLFormElement>('goto-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = $<HTMLInputElement>('goto').value.trim();
      try {
        this.goTo(parseSize(text, 'address'));
      } catch (e) {
        this.status((e as Error).message, true);
      }
    });
    $<HTMLInputElement>('file').addEventListener('change', (ev) => {
      const f = (ev.target as HTMLInputElement).files?.[0];
      if (f) this.loadFile(f);
    });
    $<HTMLSelectElement>('example').addEventListener('change', (ev) => {
      const name = (ev.target as HTMLSelectElement).value;
      const e = this.preload.examples?.find((x) => x.name === name);
      if (e) this.load(e.text, e.name);
    });
    document.body.addEventListener('dragover', (ev) => ev.preventDefault());
    document.body.addEventListener('drop', (ev) => {
      ev.preventDefault();
      const f = ev.dataTransfer?.files?.[0];
      if (f) this.loadFile(f);
    });
    const pos = (ev: MouseEvent): { x: number; y: number } => {
      const r = this.canvas.getBoundingClientRect();
      return { x: ((ev.clientX - r.left) * CANVAS_W) / r.width, y: ((ev.clientY - r.top) * CANVAS_H) / r.height };
    };
    this.canvas.addEventListener('mousemove', (ev) => {
      this.hover = pos(ev);
      this.showTooltip(ev.clientX, ev.clientY);
    });
    this.canvas.addEventListener('mouseleave', () => {
      this.hover = null;
      $('tooltip').hidden = true;
    });
    this.canvas.addEventListener(
      'wheel',
      (ev) => {
        ev.preventDefault();
        const p = pos(ev);
        const c = this.cellAt(p.x, p.y);
        if (c === null) return;
        const nz = this.zoom + (ev.deltaY > 0 ? 1 : -1);
        const px = nz < 0 ? 2 ** -nz : 1;
        const cols = CANVAS_W / px;
        const cell = Math.floor(p.y / px) * cols + Math.floor(p.x / px);
        this.setZoom(nz, c.first, cell);
      },
      { passive: false },
    );
    let drag: { y: number; first: number } | null = null;
    this.canvas.addEventListener('mousedown', (ev) => {
      drag = { y: pos(ev).y, first: this.first };
    });
    window.addEventListener('mouseup', () => {
      drag = null;
    });
    window.addEventListener('mousemove', (ev) => {
      if (drag === null) return;
      const v = this.viewport();
      const rows = Math.round((drag.y - pos(ev).y) / this.cellPx());
      this.setFirst(drag.first + rows * v.cols * v.pagesPerCell);
    });
    $('boot-start').addEventListener('click', () => this.startBoot());
    // A click on a trace line runs the trace up to it (backwards: from the start).
    $('trace').addEventListener('click', (ev) => {
      const line = Number((ev.target as HTMLElement).closest<HTMLElement>('.trace-line')?.dataset.line);
      const s = st();
      if (s === null || !Number.isInteger(line)) return;
      this.playing = false;
      s.seekLine(line);
      this.changed();
    });
    // Keys: space plays or pauses, the arrows step; not while typing in a field.
    document.addEventListener('keydown', (ev) => {
      if ((ev.target as HTMLElement).closest('input, select, textarea') !== null) return;
      if (ev.key === ' ') $('play').click();
      else if (ev.key === 'ArrowRight') $('step').click();
      else if (ev.key === 'ArrowLeft') $('back').click();
      else return;
      ev.preventDefault();
    });
  }

  private loadFile(f: File): void {
    if (f.size > TRACE_MAX_BYTES) {
      this.status(`${f.name} is ${formatSize(f.size)}; traces are at most ${formatSize(TRACE_MAX_BYTES)}`, true);
      return;
    }
    void f.text().then((t) => this.load(t, f.name));
  }

  private showTooltip(clientX: number, clientY: number): void {
    const tip = $('tooltip');
    const phys = this.phys;
    const c = this.hover === null ? null : this.cellAt(this.hover.x, this.hover.y);
    if (phys === null || c === null) {
      tip.hidden = true;
      return;
    }
    const lines = c.count === 1 ? describePage(phys, c.first, this.layers) : describeRange(phys, c.first, c.count, this.layers);
    tip.textContent = lines.join('\n');
    tip.hidden = false;
    tip.style.left = `${clientX + 14 + window.scrollX}px`;
    tip.style.top = `${clientY + 14 + window.scrollY}px`;
  }

  private legend(): void {
    const el = $('legend');
    el.textContent = '';
    for (let i = 0; i < STATES.length; i++) {
      const s = STATES[i];
      const item = document.createElement('span');
      item.className = 'legend-item';
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = s.light === s.deep ? rgbCss(s.light) : `linear-gradient(90deg, ${rgbCss(s.light)}, ${rgbCss(stateColour(i, 1))})`;
      item.append(sw, s.label);
      el.append(item);
    }
  }

  private tick(t: number): void {
    const dt = this.lastT === 0 ? 0 : Math.min(250, t - this.lastT);
    this.lastT = t;
    const st = this.stepper;
    if (this.playing && st !== null) {
      const speed = 2 ** Number($<HTMLInputElement>('speed').value);
      this.opsDue += (speed * dt) / 1000;
      const t0 = performance.now();
      while (this.opsDue >= 1 && performance.now() - t0 < 8) {
        if (st.step() === null) {
          this.playing = false;
          break;
        }
        this.opsDue--;
      }
      this.dirty = true;
    }
    if (this.bootRace !== null && this.bootRace.advance(dt)) this.drawBoot();
    if (this.dirty) {
      this.dirty = false;
      this.draw();
    }
    requestAnimationFrame((tt) => this.tick(tt));
  }

  private draw(): void {
    const st = this.stepper;
    if (st === null) return;
    const t0 = performance.now();
    const v = this.viewport();
    const px = this.cellPx();
    this.frame.compute(st.vm.phys.npages, v, this.layers);
    this.frame.writePixels(this.image.data, px);
    this.ctx.putImageData(this.image, 0, 0);
    this.drawBoundaries(st.vm.phys, v, px);
    this.lastFrameMs = performance.now() - t0;
    this.canvas.dataset.frameMs = this.lastFrameMs.toFixed(2);
    const span = v.cols * v.rows * v.pagesPerCell;
    $('view-info').textContent =
      `${v.pagesPerCell === 1 ? `1 page per ${px}px cell` : `${v.pagesPerCell} pages (${formatSize(v.pagesPerCell * PAGE_SIZE)}) per pixel`}; ` +
      `view pages ${v.first}-${Math.min(st.vm.phys.npages, v.first + span) - 1}; frame ${this.lastFrameMs.toFixed(1)} ms`;
    $('play').textContent = this.playing ? 'pause' : 'play';
    const scrub = $<HTMLInputElement>('scrub');
    scrub.value = String(st.position);
    $('position').textContent = `${st.position} / ${st.length} ops, line ${st.currentLine || '-'}`;
    this.drawBuddy(st.vm.phys);
    this.drawTrace(st);
    if (this.hover !== null && !$('tooltip').hidden) {
      const r = this.canvas.getBoundingClientRect();
      this.showTooltip(r.left + (this.hover.x * r.width) / CANVAS_W, r.top + (this.hover.y * r.height) / CANVAS_H);
    }
  }

  /*
   * Draws `n` frames of the current view back to back and returns their
   * times in ms (compute, pixels, putImageData, boundaries), for the
   * benchmarks: the browser's own cost of a frame.
   */
  timeFrames(n: number): number[] {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      this.draw();
      times.push(this.lastFrameMs);
    }
    return times;
  }

  /* Fits the whole machine in view (the "fit" button). */
  fit(): void {
    this.setZoom(Infinity, 0);
  }

  private drawBoundaries(phys: Phys, v: Viewport, px: number): void {
    const ctx = this.ctx;
    let labelEnd = -Infinity;
    let labelRow = -1;
    for (const b of boundaries(phys)) {
      const c = Math.floor((b.page - v.first) / v.pagesPerCell);
      if (c < 0 || c >= v.cols * v.rows) continue;
      const x = (c % v.cols) * px;
      const y = Math.floor(c / v.cols) * px;
      ctx.fillStyle = b.kind === 'freelist' ? '#f43f5e' : '#e2e8f0';
      // A step: the rest of the row above the boundary's cell and the start of its own row.
      ctx.fillRect(x, y - 1, CANVAS_W - x, 2);
      ctx.fillRect(0, y + px - 1, x, 2);
      ctx.fillRect(x - 1, y, 2, Math.max(px, 8));
      // Labels that would overlap the previous one on the same row are left to the hover text.
      const lx = Math.min(x + 4, CANVAS_W - 200);
      if (y !== labelRow || lx > labelEnd) {
        ctx.font = '11px sans-serif';
        ctx.fillText(b.label, lx, Math.max(11, y - 3));
        labelEnd = lx + ctx.measureText(b.label).width + 8;
        labelRow = y;
      }
    }
  }

  private drawBuddy(phys: Phys): void {
    const bars = buddyBars(phys);
    const chart = $('buddy');
    chart.textContent = '';
    const colours = [STATES[2].light, STATES[3].deep, STATES[4].deep];
    for (let o = 0; o < phys.nfreeorder; o++) {
      const col = document.createElement('div');
      col.className = 'buddy-col';
      const group = document.createElement('div');
      group.className = 'buddy-group';
      for (let pool = 0; pool < bars.pools.length; pool++) {
        const n = bars.counts[pool][o];
        const bar = document.createElement('div');
        bar.className = 'bar';
        bar.dataset.pool = bars.pools[pool];
        bar.dataset.order = String(o);
        bar.dataset.count = String(n);
        bar.title = `${bars.pools[pool]} order ${o}: ${n} free block${n === 1 ? '' : 's'}`;
        bar.style.height = `${(barHeight(n, bars.max) * 100).toFixed(1)}%`;
        bar.style.background = rgbCss(colours[pool]);
        const label = document.createElement('span');
        label.className = 'bar-count';
        label.textContent = n > 0 ? String(n) : '';
        bar.append(label);
        group.append(bar);
      }
      const kb = (PAGE_SIZE / 1024) * 2 ** o;
      const axis = document.createElement('div');
      axis.className = 'buddy-axis';
      axis.textContent = kb >= 1024 ? `${kb / 1024}M` : `${kb}K`;
      col.append(group, axis);
      chart.append(col);
    }
    $('buddy-pages').textContent = bars.pools.map((p, i) => `${p} ${bars.pages[i]} pages`).join(' · ');
    this.drawBuddyTable(phys);
  }

  private drawBuddyTable(phys: Phys): void {
    const table = $<HTMLTableElement>('buddy-table');
    const rows = this.stepper?.buddyinfo() ?? [];
    table.textContent = '';
    const head = table.createTHead().insertRow();
    for (const h of ['dom', 'freelist', 'pool', ...Array.from({ length: phys.nfreeorder }, (_, o) => String(o)), 'pages']) {
      const th = document.createElement('th');
      th.textContent = h;
      head.append(th);
    }
    const body = table.createTBody();
    for (const r of rows) {
      if (r.pages === 0) continue;
      const tr = body.insertRow();
      for (const cell of [String(r.domain), r.freelist ?? FREELIST_NAMES[r.flind], r.pool, ...r.counts.map(String), String(r.pages)]) tr.insertCell().textContent = cell;
    }
  }

  private drawTrace(st: TraceStepper): void {
    const pane = $('trace');
    const lines = st.lines;
    const cur = st.currentLine;
    const failed = st.failedLines;
    const lo = Math.max(0, (cur || 1) - 150);
    const hi = Math.min(lines.length, lo + 300);
    pane.textContent = '';
    for (let i = lo; i < hi; i++) {
      const div = document.createElement('div');
      div.className = 'trace-line';
      div.dataset.line = String(i + 1);
      if (i + 1 === cur) div.classList.add('current');
      const note = failed.get(i + 1);
      if (note !== undefined) {
        div.classList.add('failed');
        div.title = note;
      }
      const no = document.createElement('span');
      no.className = 'lineno';
      no.textContent = String(i + 1);
      div.append(no, lines[i] + (note !== undefined ? `   ✗ ${note}` : ''));
      pane.append(div);
    }
    const curEl = pane.querySelector('.current');
    if (curEl !== null) (curEl as HTMLElement).scrollIntoView({ block: 'nearest' });
  }

  private startBoot(): void {
    const name = $<HTMLSelectElement>('boot-machine').value;
    try {
      this.bootRace = new BootRace(presetMemoryMap(name));
    } catch (e) {
      this.status((e as Error).message, true);
      return;
    }
    this.drawBoot();
  }

  private readonly bootFrames = [new MapFrame(), new MapFrame()];

  private drawBoot(): void {
    const race = this.bootRace;
    if (race === null) return;
    const ids = ['boot-eager', 'boot-lazy'] as const;
    [race.eager, race.lazy].forEach((side, i) => {
      const canvas = $<HTMLCanvasElement>(ids[i]);
      const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
      const phys = side.vm.phys;
      const cells = canvas.width * canvas.height;
      const view: Viewport = { first: 0, pagesPerCell: fitPagesPerCell(phys.npages, cells), cols: canvas.width, rows: canvas.height };
      const img = ctx.createImageData(canvas.width, canvas.height);
      this.bootFrames[i].compute(phys.npages, view, [freeQueueLayer(phys)]);
      this.bootFrames[i].writePixels(img.data, 1);
      ctx.putImageData(img, 0, 0);
      if (!side.sim.lazy) {
        // vm_page_startup writes the records in address order: shade what it has not reached.
        const done = Math.floor((side.initialisedShare(race.clockNs) * phys.npages) / view.pagesPerCell);
        if (done < cells) {
          ctx.fillStyle = 'rgba(15, 23, 42, 0.85)';
          const row = Math.floor(done / view.cols);
          ctx.fillRect(done % view.cols, row, view.cols - (done % view.cols), 1);
          ctx.fillRect(0, row + 1, view.cols, view.rows - row - 1);
        }
      }
      $(`${ids[i]}-text`).textContent = side.describe(race.clockNs);
    });
    $('boot-clock').textContent = race.clockText();
  }
}

declare global {
  interface Window {
    pagelab: App;
  }
}

window.pagelab = new App();
