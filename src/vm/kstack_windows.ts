/**
 * The reservation-window view of kstack_object: which pindexes of each
 * reservation-sized window (2^order pages) hold a stack page, kept as the
 * stacks are backed and freed. It gives the review's reservation strings of
 * a pindex range seen through that range only (vm_reserv's strings describe
 * whole reservations), so that each import chunk of stacks reads as the seed
 * describes it ("EFFFB").
 */
import { PagelabError, kassert } from '../errors.js';

export class ReservWindows {
  /** Pages per window (reservation). */
  readonly npages: number;
  /** Pages recorded in all windows. */
  pages = 0;
  /** Window index → popmap words, with the window's page count in the last word. */
  private readonly map = new Map<number, Uint32Array>();

  /* Requires 0 <= order <= 20. */
  constructor(order: number) {
    this.npages = 2 ** order;
  }

  private popmap(w: number): Uint32Array {
    let pm = this.map.get(w);
    if (pm === undefined) {
      pm = new Uint32Array((this.npages >>> 5) + 2);
      this.map.set(w, pm);
    }
    return pm;
  }

  /** Records a page at `pindex`. Requires none there (EINVARIANT naming it). */
  add(pindex: number): void {
    const w = Math.floor(pindex / this.npages);
    const bit = pindex - w * this.npages;
    const pm = this.popmap(w);
    const mask = 1 << (bit & 31);
    if (!((pm[bit >>> 5] & mask) === 0)) throw new PagelabError('EINVARIANT', `kstack_object: pindex ${pindex} is backed twice`);
    pm[bit >>> 5] |= mask;
    pm[pm.length - 1]++;
    this.pages++;
  }

  /** Forgets the page at `pindex`. Requires one there (EINVARIANT naming it). */
  remove(pindex: number): void {
    const w = Math.floor(pindex / this.npages);
    const bit = pindex - w * this.npages;
    const pm = this.map.get(w);
    const mask = 1 << (bit & 31);
    if (!(pm !== undefined && (pm[bit >>> 5] & mask) !== 0)) throw new PagelabError('EINVARIANT', `kstack_object: pindex ${pindex} freed but not backed`);
    pm[bit >>> 5] &= ~mask;
    this.pages--;
    if (--pm[pm.length - 1] === 0) this.map.delete(w);
  }

  /** Windows with at least one page: what reservations hold when each window has one. */
  touched(): number {
    return this.map.size;
  }

  /*
   * The letter of window `w` restricted to its pages [lo, hi) (default the
   * whole window): F every page populated, E populated from inside to the
   * end, B from the start to inside, P any other partial pattern, - none.
   */
  letter(w: number, lo = 0, hi = this.npages): string {
    const pm = this.map.get(w);
    if (pm === undefined) return '-';
    let first = -1;
    let last = -1;
    let count = 0;
    for (let i = lo; i < hi; i++) {
      if ((pm[i >>> 5] & (1 << (i & 31))) !== 0) {
        if (first < 0) first = i;
        last = i;
        count++;
      }
    }
    if (count === 0) return '-';
    const n = this.npages;
    if (count === hi - lo) return lo === 0 && hi === n ? 'F' : first === 0 ? 'B' : last === n - 1 ? 'E' : 'P';
    const run = last - first + 1 === count;
    if (run && first > 0 && last === n - 1) return 'E';
    if (run && first === 0 && last < n - 1) return 'B';
    return 'P';
  }

  /* One letter per window that [start, end) touches, each seen through the range. */
  rangeString(start: number, end: number): string {
    const n = this.npages;
    let s = '';
    for (let w = Math.floor(start / n); w * n < end; w++) s += this.letter(w, Math.max(0, start - w * n), Math.min(n, end - w * n));
    return s;
  }

  /** Letters of every touched window, whole windows (a reservation each). */
  letters(): Record<string, number> {
    const out: Record<string, number> = { F: 0, E: 0, B: 0, P: 0 };
    for (const w of this.map.keys()) out[this.letter(w)]++;
    return out;
  }

  /** The windows' counts add up to `pages` and match their popmaps (EINVARIANT otherwise). */
  check(): void {
    let total = 0;
    for (const [w, pm] of this.map) {
      let bits = 0;
      for (let i = 0; i < pm.length - 1; i++) for (let x = pm[i]; x !== 0; x &= x - 1) bits++;
      kassert(bits === pm[pm.length - 1] && bits > 0, () => `kstack windows: window ${w} counts ${pm[pm.length - 1]} pages, its popmap ${bits}`);
      total += bits;
    }
    kassert(total === this.pages, () => `kstack windows: ${total} pages in windows, ${this.pages} recorded`);
  }
}
