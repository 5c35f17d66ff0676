/**
 * vmem's queries (vmem_size, walk, whatis) and vmem_check, the consistency
 * checker: read-only views over the boundary tags of vmem_tags.ts.
 */
import { kassert } from '../errors.js';
import { hex } from '../util/units.js';
import { VmemTags } from './vmem_tags.js';
import {
  BT_TYPE_BUSY,
  BT_TYPE_FREE,
  BT_TYPE_NAMES,
  BT_TYPE_QCACHE,
  BT_TYPE_SPAN,
  BT_TYPE_SPAN_STATIC,
  QC_CAP,
  TWO53,
  VMEM_ALLOC,
  VMEM_FREE,
  VMEM_MAXFREE,
  VMEM_MAXORDER,
  type VmemSegment,
  type VmemStats,
  einval,
} from './vmem_param.js';

export abstract class VmemQuery extends VmemTags {
  /* ------------------------------------------------------------ queries */

  /**
   * vmem_size: VMEM_ALLOC bytes in use (including quantum-cached),
   * VMEM_FREE bytes free, both for the total; VMEM_MAXFREE the largest free
   * segment (exact here; FreeBSD returns its list's lower bound).
   */
  size(typemask: number): number {
    switch (typemask) {
      case VMEM_ALLOC:
        return this.inuse;
      case VMEM_FREE:
        return this.total - this.inuse;
      case VMEM_ALLOC | VMEM_FREE:
        return this.total;
      case VMEM_MAXFREE: {
        let best = 0;
        for (let l = VMEM_MAXORDER - 1; l >= 0 && best === 0; l--) {
          for (let t = this.flHead[l]; t !== 0; t = this.tL[(t << 2) | 2]) if (this.tF[(t << 1) | 1] > best) best = this.tF[(t << 1) | 1];
        }
        return best;
      }
      default:
        return einval(`vmem_size '${this.name}': bad typemask ${typemask}`);
    }
  }

  stats(): VmemStats {
    return {
      name: this.name,
      quantum: this.quantum,
      total: this.total,
      inuse: this.inuse,
      cached: this.cachedBytes,
      free: this.total - this.inuse,
      spans: this.nSpans,
      busyTags: this.nBusy,
      tagsInUse: this.tagHigh - 1 - this.nFreeTags,
      tagCapacity: this.tagCap,
      hashBuckets: this.hashBuckets.length,
    };
  }

  /** Calls fn for every tag in address order (each span tag before its segments). */
  walk(fn: (start: number, size: number, type: number) => void): void {
    for (let t = this.tL[0 << 2]; t !== 0; t = this.tL[t << 2]) fn(this.tF[t << 1], this.tF[(t << 1) | 1], this.tType[t]);
  }

  segments(): VmemSegment[] {
    const out: VmemSegment[] = [];
    this.walk((start, size, type) => out.push({ start, size, type: BT_TYPE_NAMES[type] as VmemSegment['type'] }));
    return out;
  }

  /** Does any span of this arena contain addr? */
  owns(addr: number): boolean {
    return this.spanFind(addr) >= 0;
  }

  /** vmem_whatis for this arena: what addr is here, or null when no span holds it. */
  whatis(addr: number): string | null {
    if (this.spanFind(addr) < 0) return null;
    const t = this.segmentAt(addr);
    const type = this.tType[t];
    const state = type === BT_TYPE_FREE ? 'free' : type === BT_TYPE_QCACHE ? 'cached' : 'allocated';
    return `${hex(addr)} is ${hex(this.tF[t << 1])}+${hex(addr - this.tF[t << 1])} in vmem '${this.name}' (${state})`;
  }

  /* ------------------------------------------------------------- checker */

  /**
   * vmem_check: verifies every structural invariant and throws EINVARIANT
   * (naming the arena and address) at the first that fails:
   *  - the segment list is a well-linked cycle; span tags in address order,
   *    non-overlapping, matching the span index; segments tile each span
   *    exactly, quantum-aligned, with no two adjacent free segments;
   *  - no imported span is wholly free (it should have been released);
   *  - every free segment is on the list of its order exactly once, the
   *    lists are well linked and the bitmap marks exactly the non-empty ones;
   *  - the hash holds exactly the busy and cached segments, each in its
   *    bucket; the quantum caches hold exactly the cached ones, by size;
   *  - in-use, cached and total bytes add up; tags are all accounted for.
   * O(tags + buckets).
   */
  check(): void {
    const name = `vmem '${this.name}'`;
    const q = this.quantum;
    const tF = this.tF;
    const tType = this.tType;
    const onSeg = new Uint8Array(this.tagHigh);
    let prev = 0;
    let nSeg = 0;
    let spanIdx = 0;
    let spanEnd = -1;
    let spanType = 0;
    let spanTagOf = 0;
    let segsInSpan = 0;
    let expect = 0;
    let lastEnd = -1;
    let prevFree = false;
    let total = 0;
    let inuse = 0;
    let cached = 0;
    let nFree = 0;
    let nBusy = 0;
    let nCached = 0;
    const closeSpan = (): void => {
      if (spanEnd < 0) return;
      kassert(expect === spanEnd, () => `${name}: segments cover [${hex(tF[spanTagOf << 1])}, ${hex(expect)}) of span ending at ${hex(spanEnd)}`);
      kassert(segsInSpan > 0, () => `${name}: span at ${hex(tF[spanTagOf << 1])} has no segments`);
    };
    for (let t = this.tL[0 << 2]; t !== 0; t = this.tL[t << 2]) {
      kassert(t > 0 && t < this.tagHigh && onSeg[t] === 0, () => `${name}: segment list is not a simple cycle at tag ${t}`);
      kassert(this.tL[(t << 2) | 1] === prev, () => `${name}: back link of tag at ${hex(tF[t << 1])} is wrong`);
      onSeg[t] = 1;
      nSeg++;
      prev = t;
      const type = tType[t];
      const start = tF[t << 1];
      const size = tF[(t << 1) | 1];
      kassert(
        size > 0 && start % q === 0 && size % q === 0 && start + size <= TWO53,
        () => `${name}: tag ${hex(start)}+${hex(size)} is empty, unaligned to ${hex(q)} or past 2^53`,
      );
      if (type === BT_TYPE_SPAN || type === BT_TYPE_SPAN_STATIC) {
        closeSpan();
        kassert(start >= lastEnd, () => `${name}: span at ${hex(start)} is out of order or overlaps the span before`);
        kassert(
          spanIdx < this.nSpans && this.spanTag[spanIdx] === t && this.spanStart[spanIdx] === start,
          () => `${name}: span index disagrees with span tag at ${hex(start)}`,
        );
        spanIdx++;
        spanTagOf = t;
        spanType = type;
        spanEnd = start + size;
        lastEnd = spanEnd;
        expect = start;
        segsInSpan = 0;
        prevFree = false;
        total += size;
        continue;
      }
      kassert(spanEnd >= 0, () => `${name}: segment at ${hex(start)} precedes every span tag`);
      kassert(start === expect, () => `${name}: segment at ${hex(start)} should start at ${hex(expect)} (gap or overlap)`);
      kassert(start + size <= spanEnd, () => `${name}: segment ${hex(start)}+${hex(size)} runs past its span's end ${hex(spanEnd)}`);
      expect = start + size;
      segsInSpan++;
      if (type === BT_TYPE_FREE) {
        kassert(!prevFree, () => `${name}: adjacent free segments at ${hex(start)} were not merged`);
        kassert(
          !(spanType === BT_TYPE_SPAN && this.releaseFn !== null && size === tF[(spanTagOf << 1) | 1]),
          () => `${name}: imported span at ${hex(start)} is wholly free but was not released`,
        );
        prevFree = true;
        nFree++;
      } else if (type === BT_TYPE_BUSY || type === BT_TYPE_QCACHE) {
        prevFree = false;
        kassert(this.hashLookup(start) === t, () => `${name}: busy segment at ${hex(start)} is not in the hash`);
        inuse += size;
        nBusy++;
        if (type === BT_TYPE_QCACHE) {
          cached += size;
          nCached++;
        }
      } else {
        kassert(false, () => `${name}: tag at ${hex(start)} has bad type ${type}`);
      }
    }
    closeSpan();
    kassert(this.tL[(0 << 2) | 1] === prev, () => `${name}: segment list tail link is wrong`);
    kassert(spanIdx === this.nSpans, () => `${name}: span index has ${this.nSpans} spans, segment list ${spanIdx}`);
    kassert(total === this.total, () => `${name}: spans add up to ${hex(total)}, arena says ${hex(this.total)}`);
    kassert(inuse === this.inuse, () => `${name}: busy segments add up to ${hex(inuse)}, arena says ${hex(this.inuse)}`);
    kassert(cached === this.cachedBytes, () => `${name}: cached segments add up to ${hex(cached)}, arena says ${hex(this.cachedBytes)}`);

    // Free lists.
    const seen = new Uint8Array(this.tagHigh);
    let onLists = 0;
    for (let l = 0; l < VMEM_MAXORDER; l++) {
      const head = this.flHead[l];
      const bit = (this.flMap[l >>> 5] >>> (l & 31)) & 1;
      kassert(bit === (head !== 0 ? 1 : 0), () => `${name}: free-list bitmap bit ${l} is ${bit} but the list is ${head ? 'non-empty' : 'empty'}`);
      let p = -1 - l;
      for (let t = head; t !== 0; t = this.tL[(t << 2) | 2]) {
        kassert(t > 0 && t < this.tagHigh && seen[t] === 0, () => `${name}: free list ${l} loops or holds a bad tag`);
        seen[t] = 1;
        kassert(onSeg[t] === 1 && tType[t] === BT_TYPE_FREE, () => `${name}: free list ${l} holds non-free tag at ${hex(tF[t << 1])}`);
        kassert(this.orderOf(tF[(t << 1) | 1]) === l, () => `${name}: free segment ${hex(tF[t << 1])}+${hex(tF[(t << 1) | 1])} is on list ${l}`);
        kassert(this.tL[(t << 2) | 3] === p, () => `${name}: free list ${l} back link wrong at ${hex(tF[t << 1])}`);
        p = t;
        onLists++;
      }
    }
    kassert(onLists === nFree, () => `${name}: ${nFree} free segments but ${onLists} on the free lists`);

    // Hash.
    let inHash = 0;
    const hseen = new Uint8Array(this.tagHigh);
    for (let b = 0; b < this.hashBuckets.length; b++) {
      for (let t = this.hashBuckets[b]; t !== 0; t = this.tL[(t << 2) | 2]) {
        kassert(t > 0 && t < this.tagHigh && hseen[t] === 0, () => `${name}: hash bucket ${b} loops or holds a bad tag`);
        hseen[t] = 1;
        kassert(
          onSeg[t] === 1 && (tType[t] === BT_TYPE_BUSY || tType[t] === BT_TYPE_QCACHE),
          () => `${name}: hash holds non-busy tag at ${hex(tF[t << 1])}`,
        );
        kassert(this.hashIndex(tF[t << 1]) === b, () => `${name}: busy tag at ${hex(tF[t << 1])} is in the wrong bucket`);
        inHash++;
      }
    }
    kassert(inHash === nBusy && this.nBusy === nBusy, () => `${name}: ${nBusy} busy segments, ${inHash} hashed, count says ${this.nBusy}`);

    // Quantum caches.
    let inCaches = 0;
    const cseen = new Uint8Array(this.tagHigh);
    for (let c = 0; c < this.qcClasses; c++) {
      for (let i = 0; i < this.qcCount[c]; i++) {
        const t = this.qcStack[c * QC_CAP + i];
        kassert(
          t > 0 && t < this.tagHigh && cseen[t] === 0 && onSeg[t] === 1 && tType[t] === BT_TYPE_QCACHE,
          () => `${name}: quantum cache ${c} holds a bad or repeated tag (${t})`,
        );
        kassert(tF[(t << 1) | 1] === (c + 1) * q, () => `${name}: quantum cache ${c} holds segment ${hex(tF[t << 1])}+${hex(tF[(t << 1) | 1])}`);
        cseen[t] = 1;
        inCaches++;
      }
    }
    kassert(inCaches === nCached && this.qcTotal === nCached, () => `${name}: ${nCached} cached segments but ${inCaches} in the caches`);

    // Tag accounting.
    let nRecycled = 0;
    for (let t = this.freeTagHead; t !== 0; t = this.tL[(t << 2) | 2]) {
      kassert(t > 0 && t < this.tagHigh && onSeg[t] === 0 && tType[t] === 0 && nRecycled <= this.nFreeTags, () => `${name}: free-tag stack is corrupt`);
      nRecycled++;
    }
    kassert(
      nRecycled === this.nFreeTags && nSeg + nRecycled === this.tagHigh - 1,
      () => `${name}: ${nSeg} tags in use + ${nRecycled} recycled != ${this.tagHigh - 1} allocated`,
    );
    kassert(this.cursorTag === 0 || onSeg[this.cursorTag] === 1, () => `${name}: next-fit hint is a retired tag`);
  }
}
