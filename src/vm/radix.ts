/**
 * vm_radix: the resident pages of objects keyed by pindex, as a radix trie
 * over typed arrays (FreeBSD's vm_radix.h over subr_pctrie.c).
 *
 * One arena holds the nodes of every trie; a trie is named by a small
 * integer (the object's slot) and is its root node and height. A node has
 * 64 slots (6 key bits per level, as Linux's xarray) and a 64-bit occupancy
 * bitmap, so lookup_le/lookup_ge find a neighbour with a count-leading-zeros
 * instead of a scan. Interior slots hold child node ids, leaf slots hold page
 * indices; NIL marks an empty slot. A trie of height h holds keys below
 * 64^h; it grows at the root when a larger key arrives, and nodes that empty
 * are freed at once, so the arena holds no dead nodes.
 *
 * Unlike FreeBSD's pctrie, paths are not compressed: a dense object costs
 * one leaf per 64 pindexes (about 4.1 bytes per resident page, see
 * docs/objects.md), a sparse one up to a leaf plus interior nodes per page.
 * Objects in pagelab fill runs of pindexes (faults, stacks, wiring), where a
 * fixed fan-out is both smaller and faster than path compression.
 */
import { PagelabError, kassert } from '../errors.js';
import { NIL } from './param.js';

export const RADIX_SHIFT = 6;
export const RADIX_COUNT = 1 << RADIX_SHIFT;
const MASK = RADIX_COUNT - 1;
/** Keys are 32-bit pindexes: 6 levels of 6 bits cover them. */
export const RADIX_MAX_HEIGHT = 6;
/** CAP[h]: keys a trie of height h can hold (64^h). */
const CAP = [1, 64, 4096, 262144, 16777216, 1073741824, 68719476736];
/** Bytes a node takes in the arena: 64 slots and a 64-bit bitmap. */
export const RADIX_NODE_BYTES = RADIX_COUNT * 4 + 8;

/* Mask of bits 0..k of a 32-bit word (k in -1..31). */
function upTo(k: number): number {
  return k >= 31 ? -1 : k < 0 ? 0 : (1 << (k + 1)) - 1;
}

export class Radix {
  /** Child node ids (interior) or page indices (leaves), 64 per node. */
  private slots: Uint32Array;
  /** Occupancy: word 2n holds slots 0..31 of node n, word 2n+1 slots 32..63. */
  private bm: Uint32Array;
  private nodeCap: number;
  /** Nodes handed out from the arena end; freed ones are chained through slot 0. */
  private nodeTop = 0;
  private freeNodes = NIL;
  /** Nodes in use, for the bytes-per-page figure. */
  liveNodes = 0;
  private root: Uint32Array;
  private height: Uint8Array;

  // Results of the last find* call (no allocation on the hot path).
  /** Key of the entry found. */
  foundKey = 0;
  /** After gather(): the key to continue from (one past the last key written). */
  gatherNext = 0;
  private foundNode = 0;
  /** Tree of the last successful find, -1 once a node may have been freed. */
  private foundTree = -1;
  private curTree = -1;
  private foundIdx = 0;
  /** foundKey - foundIdx: the key of the found leaf's slot 0. */
  private foundBase = 0;
  // Descent stack of find*: node, slot and key base per level.
  private readonly stNode = new Uint32Array(RADIX_MAX_HEIGHT);
  private readonly stIdx = new Int32Array(RADIX_MAX_HEIGHT);
  private readonly stBase = new Float64Array(RADIX_MAX_HEIGHT);

  constructor(ntrees = 16, nodes = 64) {
    this.nodeCap = nodes;
    this.slots = new Uint32Array(nodes * RADIX_COUNT).fill(NIL);
    this.bm = new Uint32Array(nodes * 2);
    this.root = new Uint32Array(ntrees).fill(NIL);
    this.height = new Uint8Array(ntrees);
  }

  /** Make trees 0..n-1 usable. */
  ensureTrees(n: number): void {
    if (n <= this.root.length) return;
    let cap = this.root.length;
    while (cap < n) cap *= 2;
    const r = new Uint32Array(cap).fill(NIL);
    r.set(this.root);
    const h = new Uint8Array(cap);
    h.set(this.height);
    this.root = r;
    this.height = h;
  }

  /** True when tree `t` holds no key. */
  isEmpty(t: number): boolean {
    return this.height[t] === 0;
  }

  private allocNode(): number {
    let n = this.freeNodes;
    if (n !== NIL) {
      this.freeNodes = this.slots[n * RADIX_COUNT];
      this.slots[n * RADIX_COUNT] = NIL;
    } else {
      if (this.nodeTop === this.nodeCap) this.growArena();
      n = this.nodeTop++;
    }
    this.liveNodes++;
    return n;
  }

  private growArena(): void {
    const cap = this.nodeCap * 2;
    if (cap * RADIX_COUNT > 2 ** 31) throw new PagelabError('EHOST', `vm_radix: ${cap} nodes exceed the arena's limit`);
    const s = new Uint32Array(cap * RADIX_COUNT).fill(NIL, this.nodeCap * RADIX_COUNT);
    s.set(this.slots);
    const b = new Uint32Array(cap * 2);
    b.set(this.bm);
    this.slots = s;
    this.bm = b;
    this.nodeCap = cap;
  }

  /* Requires: node `n` is empty (every slot NIL, bitmap 0). */
  private freeNode(n: number): void {
    this.foundTree = -1;
    this.slots[n * RADIX_COUNT] = this.freeNodes;
    this.freeNodes = n;
    this.liveNodes--;
  }

  /*
   * vm_radix_lookup: the value at `key` in tree `t`, or NIL.
   */
  lookup(t: number, key: number): number {
    const h = this.height[t];
    if (h === 0 || key >= CAP[h]) return NIL;
    let n = this.root[t];
    for (let sh = (h - 1) * RADIX_SHIFT; sh > 0; sh -= RADIX_SHIFT) {
      n = this.slots[n * RADIX_COUNT + ((key >>> sh) & MASK)];
      if (n === NIL) return NIL;
    }
    return this.slots[n * RADIX_COUNT + (key & MASK)];
  }

  /*
   * vm_radix_insert: map `key` to `value` (< NIL) in tree `t`.
   * Returns false, changing nothing, when `key` is already present.
   */
  insert(t: number, key: number, value: number): boolean {
    let h = this.height[t];
    if (h === 0) {
      h = 1;
      while (key >= CAP[h]) h++;
      this.root[t] = this.allocNode();
      this.height[t] = h;
    } else {
      while (key >= CAP[h]) {
        // Grow at the root: the old root becomes child 0 of a new one.
        const r = this.allocNode();
        this.slots[r * RADIX_COUNT] = this.root[t];
        this.bm[r * 2] = 1;
        this.root[t] = r;
        h++;
      }
      this.height[t] = h;
    }
    let n = this.root[t];
    for (let sh = (h - 1) * RADIX_SHIFT; sh > 0; sh -= RADIX_SHIFT) {
      const i = (key >>> sh) & MASK;
      let c = this.slots[n * RADIX_COUNT + i];
      if (c === NIL) {
        c = this.allocNode();
        this.slots[n * RADIX_COUNT + i] = c;
        this.bm[n * 2 + (i >>> 5)] |= 1 << (i & 31);
      }
      n = c;
    }
    const i = key & MASK;
    const s = this.slots;
    if (s[n * RADIX_COUNT + i] !== NIL) return false;
    s[n * RADIX_COUNT + i] = value;
    this.bm[n * 2 + (i >>> 5)] |= 1 << (i & 31);
    return true;
  }

  /*
   * vm_radix_remove: unmap `key` from tree `t`; returns its value, or NIL
   * when absent. Nodes left empty are freed, up to the root.
   */
  remove(t: number, key: number): number {
    const h = this.height[t];
    if (h === 0 || key >= CAP[h]) return NIL;
    const st = this.stNode;
    const si = this.stIdx;
    let n = this.root[t];
    let level = h - 1;
    for (; level > 0; level--) {
      const i = (key >>> (level * RADIX_SHIFT)) & MASK;
      st[level] = n;
      si[level] = i;
      n = this.slots[n * RADIX_COUNT + i];
      if (n === NIL) return NIL;
    }
    const i = key & MASK;
    const v = this.slots[n * RADIX_COUNT + i];
    if (v === NIL) return NIL;
    this.clearSlot(n, i);
    // Free emptied nodes bottom-up.
    while (this.bm[n * 2] === 0 && this.bm[n * 2 + 1] === 0) {
      this.freeNode(n);
      level++;
      if (level === h) {
        this.root[t] = NIL;
        this.height[t] = 0;
        break;
      }
      n = st[level];
      this.clearSlot(n, si[level]);
    }
    return v;
  }

  private clearSlot(n: number, i: number): void {
    this.slots[n * RADIX_COUNT + i] = NIL;
    this.bm[n * 2 + (i >>> 5)] &= ~(1 << (i & 31));
  }

  /* Lowest occupied slot >= i of node n, or -1. */
  private lowestFrom(n: number, i: number): number {
    if (i < 32) {
      const lo = this.bm[n * 2] & ~upTo(i - 1);
      if (lo !== 0) return 31 - Math.clz32(lo & -lo);
      i = 32;
    }
    if (i > 63) return -1;
    const hi = this.bm[n * 2 + 1] & ~upTo(i - 33);
    return hi !== 0 ? 32 + 31 - Math.clz32(hi & -hi) : -1;
  }

  /* Highest occupied slot <= i of node n, or -1. */
  private highestTo(n: number, i: number): number {
    if (i >= 32) {
      const hi = this.bm[n * 2 + 1] & upTo(i - 32);
      if (hi !== 0) return 32 + 31 - Math.clz32(hi);
      i = 31;
    }
    if (i < 0) return -1;
    const lo = this.bm[n * 2] & upTo(i);
    return lo !== 0 ? 31 - Math.clz32(lo) : -1;
  }

  /*
   * vm_radix_lookup_ge: the value of the least key >= `key` in tree `t`, or
   * NIL; its key is left in foundKey.
   */
  lookupGe(t: number, key: number): number {
    this.foundTree = -1;
    this.curTree = t;
    const h = this.height[t];
    if (h === 0 || key >= CAP[h] || key > 0xffffffff) return NIL;
    if (key < 0) key = 0;
    let n = this.root[t];
    let level = h - 1;
    let base = 0;
    let depth = 0;
    for (;;) {
      const scale = CAP[level];
      const i = (key >>> (level * RADIX_SHIFT)) & MASK;
      if (level === 0) {
        const j = this.lowestFrom(n, i);
        if (j >= 0) return this.found(n, j, base + j);
      } else if ((this.bm[n * 2 + (i >>> 5)] & (1 << (i & 31))) !== 0) {
        this.stNode[depth] = n;
        this.stIdx[depth] = i;
        this.stBase[depth++] = base;
        base += i * scale;
        n = this.slots[n * RADIX_COUNT + i];
        level--;
        continue;
      } else {
        const j = this.lowestFrom(n, i + 1);
        if (j >= 0) return this.leftmost(this.slots[n * RADIX_COUNT + j], level - 1, base + j * scale);
      }
      // Backtrack to the nearest ancestor with a later child.
      for (;;) {
        if (depth === 0) return NIL;
        depth--;
        level++;
        n = this.stNode[depth];
        const j = this.lowestFrom(n, this.stIdx[depth] + 1);
        if (j >= 0) return this.leftmost(this.slots[n * RADIX_COUNT + j], level - 1, this.stBase[depth] + j * CAP[level]);
      }
    }
  }

  /*
   * vm_radix_lookup_le: the value of the greatest key <= `key` in tree `t`,
   * or NIL; its key is left in foundKey.
   */
  lookupLe(t: number, key: number): number {
    // The leaf of the last find often holds the answer (a sequential fill
    // asks for its previous page): search it before descending. This part
    // is kept small so that it inlines into vm_page_alloc.
    if (this.foundTree === t) {
      const i = key - this.foundBase;
      if (i >= 0 && i < RADIX_COUNT) {
        const j = this.highestTo(this.foundNode, i);
        if (j >= 0) return this.found(this.foundNode, j, key - i + j);
      }
    }
    return this.lookupLeDescend(t, key);
  }

  /* lookupLe from the root. */
  private lookupLeDescend(t: number, key: number): number {
    this.foundTree = -1;
    this.curTree = t;
    const h = this.height[t];
    if (h === 0 || key < 0) return NIL;
    if (key >= CAP[h]) key = Math.min(CAP[h] - 1, 0xffffffff);
    let n = this.root[t];
    let level = h - 1;
    let base = 0;
    let depth = 0;
    for (;;) {
      const scale = CAP[level];
      const i = (key >>> (level * RADIX_SHIFT)) & MASK;
      if (level === 0) {
        const j = this.highestTo(n, i);
        if (j >= 0) return this.found(n, j, base + j);
      } else if ((this.bm[n * 2 + (i >>> 5)] & (1 << (i & 31))) !== 0) {
        this.stNode[depth] = n;
        this.stIdx[depth] = i;
        this.stBase[depth++] = base;
        base += i * scale;
        n = this.slots[n * RADIX_COUNT + i];
        level--;
        continue;
      } else {
        const j = this.highestTo(n, i - 1);
        if (j >= 0) return this.rightmost(this.slots[n * RADIX_COUNT + j], level - 1, base + j * scale);
      }
      for (;;) {
        if (depth === 0) return NIL;
        depth--;
        level++;
        n = this.stNode[depth];
        const j = this.highestTo(n, this.stIdx[depth] - 1);
        if (j >= 0) return this.rightmost(this.slots[n * RADIX_COUNT + j], level - 1, this.stBase[depth] + j * CAP[level]);
      }
    }
  }

  /*
   * The leaf of the last find, for vm_page_alloc's sequential fast path
   * (page-alloc.ts), which reads it and fills one empty slot of it in line,
   * as insertNearFound does: a call per page there costs more than the
   * work. hintTree is -1 once a node may have been freed; keys hintBase ..
   * hintBase + 63 of tree hintTree live in slots hintSlot .. hintSlot + 63
   * of `leafSlots`; slot s's occupancy is bit s & 31 of word s >>> 5 of
   * `leafBits`. These getters are small enough that V8 always inlines them.
   */
  get hintTree(): number {
    return this.foundTree;
  }
  get hintBase(): number {
    return this.foundBase;
  }
  get hintSlot(): number {
    return this.foundNode * RADIX_COUNT;
  }
  get leafSlots(): Uint32Array {
    return this.slots;
  }
  get leafBits(): Uint32Array {
    return this.bm;
  }

  /*
   * insert() into the leaf the last lookup found, when `key` falls in it:
   * a sequential fill's neighbour lookup then costs no second descent.
   * Requires: no node freed since that lookup. Returns false when the hint
   * does not apply or the key is present; the caller then uses insert().
   */
  insertNearFound(t: number, key: number, value: number): boolean {
    if (this.foundTree !== t) return false;
    const i = key - this.foundBase;
    if (i < 0 || i >= RADIX_COUNT) return false;
    const n = this.foundNode;
    const at = n * RADIX_COUNT + i;
    if (this.slots[at] !== NIL) return false;
    this.slots[at] = value;
    this.bm[n * 2 + (i >>> 5)] |= 1 << (i & 31);
    return true;
  }

  private found(n: number, j: number, key: number): number {
    this.foundNode = n;
    this.foundTree = this.curTree;
    this.foundIdx = j;
    this.foundKey = key;
    this.foundBase = key - j;
    return this.slots[n * RADIX_COUNT + j];
  }

  private leftmost(n: number, level: number, base: number): number {
    for (; level > 0; level--) {
      const j = this.lowestFrom(n, 0);
      base += j * CAP[level];
      n = this.slots[n * RADIX_COUNT + j];
    }
    const j = this.lowestFrom(n, 0);
    kassert(j >= 0, 'vm_radix: empty leaf left in a trie');
    return this.found(n, j, base + j);
  }

  private rightmost(n: number, level: number, base: number): number {
    for (; level > 0; level--) {
      const j = this.highestTo(n, 63);
      base += j * CAP[level];
      n = this.slots[n * RADIX_COUNT + j];
    }
    const j = this.highestTo(n, 63);
    kassert(j >= 0, 'vm_radix: empty leaf left in a trie');
    return this.found(n, j, base + j);
  }

  /*
   * In-order iteration: writes the values of up to out.length keys >= `key`
   * of tree `t` into `out`, and their keys into `keys` when given; returns
   * how many. One descent per leaf, so a dense trie costs a bitmap scan per
   * page.
   */
  gather(t: number, key: number, out: Uint32Array | Float64Array, keys?: Float64Array): number {
    let got = 0;
    this.gatherNext = key;
    const max = out.length;
    while (got < max) {
      if (this.lookupGe(t, key) === NIL) break;
      const n = this.foundNode;
      const leafBase = this.foundBase;
      const slots = this.slots;
      // Walk the leaf's occupancy words a set bit at a time.
      for (let w = this.foundIdx >>> 5; w < 2 && got < max; w++) {
        let bits = this.bm[n * 2 + w];
        if (w === this.foundIdx >>> 5) bits &= ~upTo((this.foundIdx & 31) - 1);
        while (bits !== 0 && got < max) {
          const j = w * 32 + 31 - Math.clz32(bits & -bits);
          bits &= bits - 1;
          out[got] = slots[n * RADIX_COUNT + j];
          if (keys !== undefined) keys[got] = leafBase + j;
          got++;
          key = leafBase + j + 1;
        }
      }
      if (got < max) key = leafBase + RADIX_COUNT;
    }
    this.gatherNext = key;
    return got;
  }

  /*
   * vm_radix_reclaim_allnodes: empty tree `t` at once, freeing every node
   * (the caller has dealt with the values).
   */
  reclaimAll(t: number): void {
    const h = this.height[t];
    if (h === 0) return;
    this.reclaimNode(this.root[t], h - 1);
    this.root[t] = NIL;
    this.height[t] = 0;
  }

  private reclaimNode(n: number, level: number): void {
    if (level > 0) {
      for (let j = this.lowestFrom(n, 0); j >= 0; j = this.lowestFrom(n, j + 1)) this.reclaimNode(this.slots[n * RADIX_COUNT + j], level - 1);
    }
    this.slots.fill(NIL, n * RADIX_COUNT, (n + 1) * RADIX_COUNT);
    this.bm[n * 2] = 0;
    this.bm[n * 2 + 1] = 0;
    this.freeNode(n);
  }

  /** Bytes of arena the live nodes take. */
  bytesInUse(): number {
    return this.liveNodes * RADIX_NODE_BYTES;
  }
}
