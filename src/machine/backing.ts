/**
 * Backing store: real memory behind a machine's RAM.
 *
 * The RAM ranges of a MemoryMap are packed, in address order and without the
 * holes between them, into shared WebAssembly memories of at most 4 GiB each
 * (the wasm32 limit). A RAM range that does not fit in what is left of a
 * memory continues at offset 0 of the next one, so the backing is described
 * by a sorted table of segments, each a piece of one RAM range inside one
 * memory: [start, end) -> (memory, offset).
 *
 * Memories are materialised lazily: a memory is created only when something
 * is first written to it, and reads of a memory that does not exist yet see
 * zeros without creating it. Inside a memory the OS supplies zero pages on
 * demand, so an untouched page costs no RSS either way (see docs/backing.md
 * for the measurement).
 *
 * Bulk work goes through the module of wasm.ts (memory.fill, memory.copy and
 * v128 scans), one instance per memory. Every operation is split at segment
 * boundaries, so nothing ever crosses a memory boundary silently, and into
 * chunks of at most 1 GiB, so lengths always fit the module's u32 arguments.
 *
 * Threads: a BackingStore belongs to one thread. Another thread (the zeroing
 * workers of src/vm/zeroidle.ts) gets its own BackingStore over the same
 * memories with describe() and BackingStore.attach(); an attached store never
 * creates memories, it asks its owner for them.
 */
import { host } from '../host/node.js';
import { PagelabError } from '../errors.js';
import { hex, formatSize } from '../util/units.js';
import type { MemoryMap } from './types.js';
import { bulkOps, newSharedMemory, WASM_PAGE_SIZE, WASM_MAX_PAGES, type BulkOps, type WasmMemory } from './wasm.js';

/** Largest shared memory: 4 GiB. */
export const BACKING_MEMORY_MAX = WASM_MAX_PAGES * WASM_PAGE_SIZE;
/** Largest length handed to one wasm call; keeps lengths and scan results within i32. */
const CHUNK = 2 ** 30;

export interface BackingOptions {
  /**
   * Largest size of one memory in bytes: a multiple of 64 KiB, at most 4 GiB
   * (the default). Smaller values exercise the splitting code in tests.
   */
  memoryBytesMax?: number;
  /** Refuse a backing larger than this; default hostMemoryLimit(). */
  hostLimitBytes?: number;
}

/**
 * The share of the host's physical memory that one machine's committed
 * memory (its backing RAM and initialised page records) may take: the rest
 * is left to the operating system, Node's heap and whatever else runs.
 */
export const HOST_MEMORY_SHARE = 0.75;

/** Bytes one machine may commit on this host: HOST_MEMORY_SHARE of its RAM (host.totalMemoryBytes()). */
export function hostMemoryLimit(): number {
  return Math.floor(host.totalMemoryBytes() * HOST_MEMORY_SHARE);
}

/*
 * Refuse up front, before any of it is done, work that needs `bytes` of this
 * host's memory when that is more than `limitBytes` (default
 * hostMemoryLimit()): EHOST, naming the work (`what` reads "<who>: <needs>")
 * and what to ask for instead (`advice`).
 */
export function assertHostHolds(bytes: number, what: string, advice: string, limitBytes?: number): void {
  const limit = limitBytes ?? hostMemoryLimit();
  if (bytes <= limit) return;
  const source = limitBytes === undefined ? `, ${HOST_MEMORY_SHARE * 100}% of ${host.totalMemorySource} ${host.totalMemoryBytes()}` : '';
  throw new PagelabError('EHOST', `${what} (${bytes} bytes) but this host can hold at most ${formatSize(limit)} (${limit} bytes${source}); ${advice}`);
}

/** One memory of the backing, for display. */
export interface BackingMemoryInfo {
  index: number;
  bytes: number;
  materialised: boolean;
  /** First and last-plus-one physical address backed by this memory. */
  startPa: number;
  endPa: number;
}

/** Where a physical address lives. */
export interface BackingLocation {
  memory: number;
  offset: number;
  /** Bytes from `offset` to the end of the segment: the longest contiguous run. */
  contiguousBytes: number;
}

/**
 * What another thread needs to build a BackingStore over the same memories:
 * structured-cloneable (shared memories are shared, not copied, by postMessage).
 */
export interface BackingDescriptor {
  /** Per segment: start, end, memory index, offset in the memory. */
  segments: number[];
  memoryBytes: number[];
  /** The memories materialised when the descriptor was taken; null for the others. */
  memories: Array<WasmMemory | null>;
  ramBytes: number;
}

const enum Op {
  Zero,
  Fill,
  FillPattern,
  FirstNonZero,
  CheckPattern,
}
const OP_NAMES = ['zero', 'fill', 'fillPattern', 'isZero', 'checkPattern'];

/*
 * A 32-bit pattern as an int32, from either spelling of one (-2^31..2^31-1
 * or 0..2^32-1). Anything else (NaN, 1.5, 2^40 + 5) is EINVAL: `| 0` would
 * silently turn it into some other pattern, and a verify would then
 * "succeed" against the wrong one.
 */
function checkPattern32(pattern: number, what: string): number {
  if (!Number.isInteger(pattern) || pattern < -(2 ** 31) || pattern > 0xffffffff) {
    throw new PagelabError('EINVAL', `backing ${what}: pattern ${pattern} is not a 32-bit integer (-2^31 .. 2^32 - 1)`);
  }
  return pattern | 0;
}

export class BackingStore {
  /** Total bytes of RAM backed. */
  readonly ramBytes: number;
  /** Number of memories (materialised or not). */
  readonly memoryCount: number;

  private readonly segStart: Float64Array;
  private readonly segEnd: Float64Array;
  private readonly segMem: Int32Array;
  private readonly segOff: Float64Array;
  private readonly nseg: number;
  private readonly memBytes: number[];
  private readonly mems: Array<WasmMemory | undefined>;
  private readonly ops: Array<BulkOps | undefined>;
  private readonly u8: Array<Uint8Array | undefined>;
  /** Set on attached stores: supplies a memory the owner materialised, or undefined. */
  private readonly fetchMemory: ((index: number) => WasmMemory | undefined) | undefined;
  /** Segment index of the last lookup: consecutive accesses usually hit the same one. */
  private lastSeg = 0;
  // Results of locate(), in fields so that the hot paths allocate nothing.
  private locMem = 0;
  private locOff = 0;
  private locRun = 0;

  /**
   * Lays out a backing for `map`'s RAM. Creates no memory yet.
   * Requires: `map.ram` sorted, non-overlapping, page-aligned (as validated
   * by the memory-map code).
   * Throws EHOST when the RAM is larger than the host limit, EINVAL for a
   * bad memoryBytesMax.
   */
  constructor(map: MemoryMap, options?: BackingOptions);
  constructor(desc: BackingDescriptor, fetchMemory: (index: number) => WasmMemory | undefined, attach: true);
  constructor(
    source: MemoryMap | BackingDescriptor,
    second: BackingOptions | ((index: number) => WasmMemory | undefined) = {},
    attach = false,
  ) {
    if (attach) {
      const desc = source as BackingDescriptor;
      const n = desc.segments.length / 4;
      this.segStart = new Float64Array(n);
      this.segEnd = new Float64Array(n);
      this.segMem = new Int32Array(n);
      this.segOff = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        this.segStart[i] = desc.segments[4 * i];
        this.segEnd[i] = desc.segments[4 * i + 1];
        this.segMem[i] = desc.segments[4 * i + 2];
        this.segOff[i] = desc.segments[4 * i + 3];
      }
      this.nseg = n;
      this.memBytes = desc.memoryBytes.slice();
      this.ramBytes = desc.ramBytes;
      this.fetchMemory = second as (index: number) => WasmMemory | undefined;
      this.memoryCount = this.memBytes.length;
      this.mems = new Array(this.memoryCount).fill(undefined);
      this.ops = new Array(this.memoryCount).fill(undefined);
      this.u8 = new Array(this.memoryCount).fill(undefined);
      desc.memories.forEach((m, k) => {
        if (m !== null) this.install(k, m);
      });
      return;
    }
    const map = source as MemoryMap;
    const options = second as BackingOptions;
    const perMemory = options.memoryBytesMax ?? BACKING_MEMORY_MAX;
    if (!Number.isSafeInteger(perMemory) || perMemory <= 0 || perMemory % WASM_PAGE_SIZE !== 0 || perMemory > BACKING_MEMORY_MAX) {
      throw new PagelabError('EINVAL', `backing: memoryBytesMax ${perMemory} is not a positive multiple of 64K up to 4G`);
    }
    const starts: number[] = [];
    const ends: number[] = [];
    const memIdx: number[] = [];
    const offs: number[] = [];
    const memBytes: number[] = [];
    let k = 0;
    let off = 0;
    let total = 0;
    for (const r of map.ram) {
      let s = r.start;
      while (s < r.end) {
        const take = Math.min(r.end - s, perMemory - off);
        starts.push(s);
        ends.push(s + take);
        memIdx.push(k);
        offs.push(off);
        s += take;
        off += take;
        total += take;
        if (off === perMemory) {
          memBytes.push(off);
          k++;
          off = 0;
        }
      }
    }
    if (off > 0) memBytes.push(Math.ceil(off / WASM_PAGE_SIZE) * WASM_PAGE_SIZE);
    assertHostHolds(total, `backing: the machine has ${formatSize(total)} of RAM`, 'boot without backing memory or with less RAM', options.hostLimitBytes);
    this.nseg = starts.length;
    this.segStart = Float64Array.from(starts);
    this.segEnd = Float64Array.from(ends);
    this.segMem = Int32Array.from(memIdx);
    this.segOff = Float64Array.from(offs);
    this.memBytes = memBytes;
    this.ramBytes = total;
    this.memoryCount = memBytes.length;
    this.mems = new Array(this.memoryCount).fill(undefined);
    this.ops = new Array(this.memoryCount).fill(undefined);
    this.u8 = new Array(this.memoryCount).fill(undefined);
    this.fetchMemory = undefined;
  }

  /**
   * A BackingStore for another thread over the memories of `desc`. It never
   * creates a memory: when it needs one it was not given, it calls
   * `fetchMemory`, and treats undefined as "not materialised, all zero".
   */
  static attach(desc: BackingDescriptor, fetchMemory: (index: number) => WasmMemory | undefined): BackingStore {
    return new BackingStore(desc, fetchMemory, true);
  }

  /** The layout and the memories materialised so far, for attach() on another thread. */
  describe(): BackingDescriptor {
    const segments: number[] = [];
    for (let i = 0; i < this.nseg; i++) segments.push(this.segStart[i], this.segEnd[i], this.segMem[i], this.segOff[i]);
    return {
      segments,
      memoryBytes: this.memBytes.slice(),
      memories: this.mems.map((m) => m ?? null),
      ramBytes: this.ramBytes,
    };
  }

  // ---- memories ------------------------------------------------------------

  private install(k: number, m: WasmMemory): void {
    this.mems[k] = m;
    this.ops[k] = bulkOps(m);
    this.u8[k] = new Uint8Array(m.buffer);
  }

  /**
   * Memory `k`, materialising it if `create` (only on the owning store).
   * Returns undefined for a memory that does not exist yet and is not to be
   * created: its contents are all zero.
   */
  private memoryOps(k: number, create: boolean): BulkOps | undefined {
    const ops = this.ops[k];
    if (ops !== undefined) return ops;
    if (this.fetchMemory !== undefined) {
      const m = this.fetchMemory(k);
      if (m !== undefined) {
        this.install(k, m);
        return this.ops[k];
      }
      if (create) {
        throw new PagelabError('EINVARIANT', `backing: memory ${k} was never shared with this thread`);
      }
      return undefined;
    }
    if (!create) return undefined;
    let m: WasmMemory;
    try {
      m = newSharedMemory(this.memBytes[k] / WASM_PAGE_SIZE);
    } catch (e) {
      throw new PagelabError(
        'EHOST',
        `backing: cannot create memory ${k} of ${formatSize(this.memBytes[k])}: ${(e as Error).message}`,
      );
    }
    this.install(k, m);
    return this.ops[k];
  }

  /** Whether memory `k` has been created (written to). */
  isMaterialised(k: number): boolean {
    return this.mems[k] !== undefined;
  }

  /** The shared memory `k` if it exists; materialises it when `create`. */
  memory(k: number, create = false): WasmMemory | undefined {
    if (!Number.isInteger(k) || k < 0 || k >= this.memoryCount) {
      throw new PagelabError('EINVAL', `backing: no memory ${k} (have ${this.memoryCount})`);
    }
    this.memoryOps(k, create);
    return this.mems[k];
  }

  /** The memories, for display. */
  memories(): BackingMemoryInfo[] {
    const out: BackingMemoryInfo[] = [];
    for (let k = 0; k < this.memoryCount; k++) {
      out.push({ index: k, bytes: this.memBytes[k], materialised: this.mems[k] !== undefined, startPa: Infinity, endPa: 0 });
    }
    for (let i = 0; i < this.nseg; i++) {
      const info = out[this.segMem[i]];
      info.startPa = Math.min(info.startPa, this.segStart[i]);
      info.endPa = Math.max(info.endPa, this.segEnd[i]);
    }
    return out;
  }

  /**
   * Bytes of the memories created so far: address space committed, an upper
   * bound on what the backing can add to RSS (only written pages count).
   */
  materialisedBytes(): number {
    let sum = 0;
    for (let k = 0; k < this.memoryCount; k++) if (this.mems[k] !== undefined) sum += this.memBytes[k];
    return sum;
  }

  // ---- address translation -----------------------------------------------

  /** Index of the segment holding `pa`, or -1 when `pa` is not RAM. */
  private segmentOf(pa: number): number {
    let i = this.lastSeg;
    if (pa >= this.segStart[i] && pa < this.segEnd[i]) return i;
    let lo = 0;
    let hi = this.nseg - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.segStart[mid] <= pa) lo = mid + 1;
      else hi = mid - 1;
    }
    i = hi;
    if (i < 0 || pa >= this.segEnd[i]) return -1;
    this.lastSeg = i;
    return i;
  }

  /** Sets locMem/locOff/locRun for `pa`, which must be RAM. */
  private locate(pa: number): void {
    const i = this.segmentOf(pa);
    this.locMem = this.segMem[i];
    this.locOff = this.segOff[i] + (pa - this.segStart[i]);
    this.locRun = this.segEnd[i] - pa;
  }

  /** Where `pa` lives. Throws ERANGE when it is not RAM. */
  locateAddress(pa: number): BackingLocation {
    this.checkRange(pa, 1, 'locate');
    this.locate(pa);
    return { memory: this.locMem, offset: this.locOff, contiguousBytes: this.locRun };
  }

  /** First and last memory index touched by [pa, pa+bytes), which must be RAM and non-empty. */
  memorySpan(pa: number, bytes: number): [number, number] {
    this.checkRange(pa, bytes, 'memorySpan');
    return [this.segMem[this.segmentOf(pa)], this.segMem[this.segmentOf(pa + bytes - 1)]];
  }

  /** First memory index of [pa, ...); pa must be RAM. Unchecked. */
  memoryIndexUnsafe(pa: number): number {
    return this.segMem[this.segmentOf(pa)];
  }

  /**
   * Validates that [pa, pa+bytes) is a range of integers wholly inside RAM.
   * Throws EINVAL for malformed arguments and ERANGE naming the first
   * address outside RAM. `what` names the operation in the message.
   */
  checkRange(pa: number, bytes: number, what: string): void {
    if (!Number.isSafeInteger(pa) || pa < 0 || !Number.isSafeInteger(bytes) || bytes < 0) {
      throw new PagelabError('EINVAL', `backing ${what}: bad range (address ${pa}, ${bytes} bytes)`);
    }
    const end = pa + bytes;
    let i = this.segmentOf(pa);
    // An empty range still names an address, and it must be RAM (or the end
    // of a RAM segment, as a C pointer may point one past an array): an
    // empty view of unmapped space is a bug in the caller, not a no-op.
    if (bytes === 0) {
      if (i < 0 && (pa === 0 || this.segmentOf(pa - 1) < 0)) throw this.notRam(what, pa, end, pa);
      return;
    }
    if (i < 0) throw this.notRam(what, pa, end, pa);
    for (;;) {
      const segEnd = this.segEnd[i];
      if (end <= segEnd) return;
      i++;
      if (i >= this.nseg || this.segStart[i] !== segEnd) throw this.notRam(what, pa, end, segEnd);
    }
  }

  private notRam(what: string, pa: number, end: number, bad: number): PagelabError {
    return new PagelabError(
      'ERANGE',
      `backing ${what}: address ${hex(bad)} is outside the machine's RAM (range [${hex(pa)}, ${hex(end)}))`,
    );
  }

  // ---- operations ------------------------------------------------------------

  /**
   * Applies `op` to the checked range [pa, pa+bytes) piece by piece.
   * Scans return the offset of the first hit from `pa`, or -1; the others -1.
   */
  private apply(op: Op, pa: number, bytes: number, arg: number): number {
    this.checkRange(pa, bytes, OP_NAMES[op]);
    let done = 0;
    while (done < bytes) {
      this.locate(pa + done);
      const n = Math.min(bytes - done, this.locRun, CHUNK);
      const r = this.applyInMemory(op, this.locMem, this.locOff, n, arg);
      if (r >= 0) return done + r;
      done += n;
    }
    return -1;
  }

  /** `op` on [off, off+n) of memory k; n <= CHUNK. Same result convention as apply(). */
  private applyInMemory(op: Op, k: number, off: number, n: number, arg: number): number {
    switch (op) {
      case Op.Zero: {
        const ops = this.memoryOps(k, false);
        if (ops !== undefined) ops.fill(off, 0, n);
        return -1;
      }
      case Op.Fill: {
        const ops = this.memoryOps(k, arg !== 0);
        if (ops !== undefined) ops.fill(off, arg, n);
        return -1;
      }
      case Op.FillPattern: {
        const ops = this.memoryOps(k, arg !== 0);
        if (ops !== undefined) ops.fillPattern(off, n, arg);
        return -1;
      }
      case Op.FirstNonZero: {
        const ops = this.memoryOps(k, false);
        return ops === undefined ? -1 : ops.firstNonZero(off, n);
      }
      case Op.CheckPattern: {
        const ops = this.memoryOps(k, false);
        if (ops !== undefined) return ops.checkPattern(off, n, arg);
        // An unmaterialised memory is zero: the first mismatch is the first
        // byte whose pattern byte is not zero.
        for (let j = 0; j < 4 && j < n; j++) {
          if (((arg >>> (((off + j) & 3) * 8)) & 0xff) !== 0) return j;
        }
        return -1;
      }
    }
  }

  /** Zeroes [pa, pa+bytes). Throws ERANGE (writing nothing) unless it is all RAM. */
  zero(pa: number, bytes: number): void {
    this.apply(Op.Zero, pa, bytes, 0);
  }

  /** Sets every byte of [pa, pa+bytes) to `byte` (0..255). */
  fill(pa: number, bytes: number, byte: number): void {
    if (!Number.isInteger(byte) || byte < 0 || byte > 255) {
      throw new PagelabError('EINVAL', `backing fill: byte ${byte} is not in 0..255`);
    }
    this.apply(Op.Fill, pa, bytes, byte);
  }

  /**
   * Fills [pa, pa+bytes) with the little-endian u32 `pattern` anchored at
   * physical address 0: the byte at address a is byte (a mod 4) of it.
   */
  fillPattern(pa: number, bytes: number, pattern: number): void {
    this.apply(Op.FillPattern, pa, bytes, checkPattern32(pattern, 'fillPattern'));
  }

  /** Whether every byte of [pa, pa+bytes) is zero. */
  isZero(pa: number, bytes: number): boolean {
    return this.apply(Op.FirstNonZero, pa, bytes, 0) < 0;
  }

  /** Offset from `pa` of the first non-zero byte of [pa, pa+bytes), or -1. */
  firstNonZero(pa: number, bytes: number): number {
    return this.apply(Op.FirstNonZero, pa, bytes, 0);
  }

  /** Offset from `pa` of the first byte differing from fillPattern(…, pattern), or -1. */
  checkPattern(pa: number, bytes: number, pattern: number): number {
    return this.apply(Op.CheckPattern, pa, bytes, checkPattern32(pattern, 'checkPattern'));
  }

  /**
   * Copies [srcPa, srcPa+bytes) to [dstPa, dstPa+bytes) as memmove does:
   * overlapping ranges are copied as if through a temporary buffer.
   * Throws ERANGE (writing nothing) unless both ranges are RAM.
   */
  copy(dstPa: number, srcPa: number, bytes: number): void {
    this.checkRange(dstPa, bytes, 'copy destination');
    this.checkRange(srcPa, bytes, 'copy source');
    if (bytes === 0 || dstPa === srcPa) return;
    // Pieces are bounded by segment ends of both ranges. When the destination
    // overlaps the source from above, copy the pieces last-first so that no
    // piece overwrites source bytes not yet copied.
    const backward = dstPa > srcPa && dstPa < srcPa + bytes;
    let left = bytes;
    while (left > 0) {
      let n: number;
      let dMem: number, dOff: number, sMem: number, sOff: number;
      if (!backward) {
        const done = bytes - left;
        this.locate(dstPa + done);
        dMem = this.locMem;
        dOff = this.locOff;
        n = Math.min(left, this.locRun, CHUNK);
        this.locate(srcPa + done);
        sMem = this.locMem;
        sOff = this.locOff;
        n = Math.min(n, this.locRun);
      } else {
        // The piece ends at offset `left`; measure how far back it may reach.
        const dLast = dstPa + left - 1;
        const sLast = srcPa + left - 1;
        let i = this.segmentOf(dLast);
        n = Math.min(left, dLast - this.segStart[i] + 1, CHUNK);
        i = this.segmentOf(sLast);
        n = Math.min(n, sLast - this.segStart[i] + 1);
        this.locate(dstPa + left - n);
        dMem = this.locMem;
        dOff = this.locOff;
        this.locate(srcPa + left - n);
        sMem = this.locMem;
        sOff = this.locOff;
      }
      this.copyPiece(dMem, dOff, sMem, sOff, n);
      left -= n;
    }
  }

  /** Copies n bytes (n <= CHUNK) between memory offsets, materialising as needed. */
  private copyPiece(dMem: number, dOff: number, sMem: number, sOff: number, n: number): void {
    const src = this.memoryOps(sMem, false);
    if (src === undefined) {
      // The source was never written: it is zero.
      const dst = this.memoryOps(dMem, false);
      if (dst !== undefined) dst.fill(dOff, 0, n);
      return;
    }
    const dst = this.memoryOps(dMem, true)!;
    if (dMem === sMem) {
      dst.copy(dOff, sOff, n);
    } else {
      // No wasm instruction spans two memories (multi-memory is not in Node 20).
      this.u8[dMem]!.set(this.u8[sMem]!.subarray(sOff, sOff + n), dOff);
    }
  }

  /**
   * A Uint8Array aliasing [pa, pa+bytes) (materialises its memory: the
   * caller may write through it). Throws ERANGE unless the range is RAM and
   * EINVAL if it crosses a memory boundary (split it with locateAddress()).
   */
  view(pa: number, bytes: number): Uint8Array {
    this.checkRange(pa, bytes, 'view');
    if (bytes === 0) return new Uint8Array(0);
    this.locate(pa);
    if (bytes > this.locRun) {
      // Segments of one memory are contiguous, so only a change of memory stops a view.
      const k = this.locMem;
      const off = this.locOff;
      this.locate(pa + bytes - 1);
      if (this.locMem !== k) {
        throw new PagelabError(
          'EINVAL',
          `backing view: range [${hex(pa)}, ${hex(pa + bytes)}) crosses from memory ${k} into memory ${this.locMem}`,
        );
      }
      this.locMem = k;
      this.locOff = off;
    }
    this.memoryOps(this.locMem, true);
    return this.u8[this.locMem]!.subarray(this.locOff, this.locOff + bytes);
  }

  // ---- unchecked twins, for hot paths that have already validated ----------
  // Requires: [pa, pa+bytes) is RAM inside one segment and bytes <= 1 GiB.
  // Nothing is checked; a violation corrupts other memory or traps in wasm.

  /** zero() without checks. */
  zeroUnsafe(pa: number, bytes: number): void {
    this.locate(pa);
    this.memoryOps(this.locMem, false)?.fill(this.locOff, 0, bytes);
  }

  /** isZero() without checks. */
  isZeroUnsafe(pa: number, bytes: number): boolean {
    this.locate(pa);
    const ops = this.memoryOps(this.locMem, false);
    return ops === undefined || ops.firstNonZero(this.locOff, bytes) < 0;
  }

  /** fillPattern() without checks. */
  fillPatternUnsafe(pa: number, bytes: number, pattern: number): void {
    this.locate(pa);
    this.applyInMemory(Op.FillPattern, this.locMem, this.locOff, bytes, pattern | 0);
  }

  /** checkPattern() without checks. */
  checkPatternUnsafe(pa: number, bytes: number, pattern: number): number {
    this.locate(pa);
    return this.applyInMemory(Op.CheckPattern, this.locMem, this.locOff, bytes, pattern | 0);
  }
}
