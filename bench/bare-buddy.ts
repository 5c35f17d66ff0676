/**
 * The bare reference for the replay benchmark: a binary buddy allocator over
 * a flat 4 GiB (1 Mi pages, orders 0..12, index-linked free lists) that
 * replays a trace's `alloc TAG ORDER` and `free TAG` lines, read the plain
 * way (split into lines and words, tags in a Map). No checks, no
 * accounting, no events: what a programmer writes in forty lines. Returns
 * the number of tags still allocated.
 */
export function bareReplay(text: string, npages = 1 << 20, maxOrder = 12): number {
  const next = new Int32Array(npages);
  const prev = new Int32Array(npages);
  const ord = new Int8Array(npages).fill(-1); // order of a free block's head, else -1
  const head = new Int32Array(maxOrder + 1).fill(-1);
  const push = (m: number, o: number): void => {
    ord[m] = o;
    prev[m] = -1;
    next[m] = head[o];
    if (head[o] >= 0) prev[head[o]] = m;
    head[o] = m;
  };
  const unlink = (m: number, o: number): void => {
    ord[m] = -1;
    if (prev[m] >= 0) next[prev[m]] = next[m];
    else head[o] = next[m];
    if (next[m] >= 0) prev[next[m]] = prev[m];
  };
  for (let m = 0; m < npages; m += 1 << maxOrder) push(m, maxOrder);
  const alloc = (o: number): number => {
    let k = o;
    while (k <= maxOrder && head[k] < 0) k++;
    if (k > maxOrder) return -1;
    const m = head[k];
    unlink(m, k);
    while (k > o) push(m + (1 << --k), k);
    return m;
  };
  const free = (m: number, o: number): void => {
    for (; o < maxOrder && ord[m ^ (1 << o)] === o; o++) {
      unlink(m ^ (1 << o), o);
      m &= ~(1 << o);
    }
    push(m, o);
  };
  const live = new Map<string, number>(); // tag -> page * 32 + order
  for (const line of text.split('\n')) {
    const w = line.split(' ');
    if (w[0] === 'alloc') {
      const o = Number(w[2]);
      const m = alloc(o);
      if (m >= 0) live.set(w[1], m * 32 + o);
    } else if (w[0] === 'free') {
      const v = live.get(w[1]);
      if (v === undefined) continue;
      live.delete(w[1]);
      free(Math.floor(v / 32), v % 32);
    }
  }
  return live.size;
}
