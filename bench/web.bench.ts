/**
 * The web page's frame: computing every cell's colour from the free queues
 * and owners (MapFrame.compute) and writing the 1024x512 canvas's pixels
 * (writePixels), for the two machines (1 TiB booted lazily, 64 GiB
 * booted eagerly), a fragmented 64 GiB machine, and zoomed-in views where
 * per-page flags are read. The target is 16 ms a frame (60 Hz); the browser
 * adds putImageData of 2 MiB, which this Node benchmark does not include.
 */
import os from 'node:os';
import { compare, markdownTable, sink, type BenchCase } from './harness.js';
import { memoryMapForSize } from '../src/machine/presets.js';
import { Vm } from '../src/vm/vm.js';
import { describePage, fitPagesPerCell, freeQueueLayer, MapFrame, ownerLayer, type MapLayer, type OwnedRun, type Viewport } from '../src/web/mapview.js';
import { buddyBars } from '../src/web/buddy.js';

const W = 1024;
const H = 512;

interface Machine {
  label: string;
  vm: Vm;
  layers: MapLayer[];
  freeBlocks: number;
}

function machine(label: string, bytes: number, lazy: boolean, fragment = 0): Machine {
  const vm = new Vm(memoryMapForSize(bytes), { 'vm.lazy_page_init': lazy ? 1 : 0 });
  const owners = new Map<string, OwnedRun>();
  // Fragment: take `fragment` single pages, give back every other one, so
  // half of them become order-0 free blocks whose buddies stay allocated.
  const taken: number[] = [];
  for (let i = 0; i < fragment; i++) taken.push(vm.phys.allocPages(0, 1, 0));
  taken.forEach((m, i) => {
    if (i % 2 === 0) vm.phys.freePages(m, 0);
    else owners.set(`p${i}`, { m, pages: 1 });
  });
  let freeBlocks = 0;
  vm.phys.forEachFreeBlock(() => freeBlocks++);
  return { label, vm, layers: [freeQueueLayer(vm.phys), ownerLayer(() => owners.entries())], freeBlocks };
}

function frameCase(name: string, m: Machine, view: Viewport, cellPx: number): BenchCase {
  const frame = new MapFrame();
  const out = new Uint8ClampedArray(W * H * 4);
  return {
    name,
    run: () => {
      frame.compute(m.vm.phys.npages, view, m.layers);
      frame.writePixels(out, cellPx);
      sink(out[4 * 1000]);
      return 1;
    },
  };
}

export default async function run(): Promise<string> {
  const machines = [machine('1 TiB, lazy', 2 ** 40, true), machine('64 GiB, eager', 64 * 2 ** 30, false), machine('64 GiB, eager, 100k single pages free', 64 * 2 ** 30, false, 200_000)];
  const cases: BenchCase[] = [];
  const rows: Array<[string, string, number]> = [];
  for (const m of machines) {
    const npages = m.vm.phys.npages;
    const fit: Viewport = { first: 0, pagesPerCell: fitPagesPerCell(npages, W * H), cols: W, rows: H };
    const mid = Math.floor(npages / 2);
    const pageZoom: Viewport = { first: mid, pagesPerCell: 1, cols: W, rows: H };
    const px16: Viewport = { first: mid, pagesPerCell: 1, cols: W / 16, rows: H / 16 };
    cases.push(frameCase(`${m.label}: whole machine (${fit.pagesPerCell} pages/px)`, m, fit, 1));
    cases.push(frameCase(`${m.label}: 1 page/px (524288 pages, flags read)`, m, pageZoom, 1));
    cases.push(frameCase(`${m.label}: 16 px/page (2048 pages)`, m, px16, 16));
    cases.push({ name: `${m.label}: hover text of one page`, run: () => (sink(describePage(m.vm.phys, mid, m.layers).length), 1) });
    cases.push({ name: `${m.label}: buddy-info bars`, run: () => (sink(buddyBars(m.vm.phys).max), 1) });
    for (let i = 0; i < 5; i++) rows.push([m.label, `${m.freeBlocks}`, npages]);
    if (!m.vm.phys.pages.astate || npages > 2 ** 25) continue;
    // The baseline a frame avoids: one read of every page record's state.
    const astate = m.vm.phys.pages.astate;
    cases.push({
      name: `${m.label}: baseline, one byte read per page (what a frame does not do)`,
      run: () => {
        let n = 0;
        for (let i = 0; i < npages; i++) n += astate[i];
        sink(n);
        return 1;
      },
    });
    rows.push([m.label, `${m.freeBlocks}`, npages]);
  }
  const results = compare(cases, 9, 2);
  const table = results.map((r, i) => [r.name, rows[i][1], (r.medianNs / 1e6).toFixed(2), r.name.includes('baseline') ? '' : r.medianNs <= 16e6 ? 'yes' : '**no**']);
  return [
    '## web: a frame of the memory map',
    '',
    'One frame = `MapFrame.compute` (colours of the 1024x512 cells from the free queues, LAZYINIT descriptors and owners)',
    '+ `writePixels` (RGBA for the canvas). Medians of 9 interleaved runs. Target: 16 ms (issue 13).',
    'The browser adds `putImageData` (2 MiB) and the bar chart\'s DOM update, not measured here.',
    '',
    markdownTable(['case', 'free blocks', 'median ms', '<= 16 ms'], table),
    '',
    `Load average while it ran: ${os.loadavg().map((x) => x.toFixed(1)).join(', ')} (on ${os.cpus().length} cores).`,
  ].join('\n');
}
