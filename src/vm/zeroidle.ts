/**
 * The zeroing engine: pages zeroed on the calling thread, or in the
 * background by long-lived worker threads over the backing's shared memories.
 *
 * Named after FreeBSD's vm_zeroidle.c (removed in FreeBSD 12), which zeroed
 * free pages in an idle-priority kernel thread so that allocations asking for
 * a zeroed page (VM_ALLOC_ZERO) could skip pmap_zero_page(). Here the
 * allocator takes a free block out of its free lists, submit()s it, and when
 * poll() hands the block's tag back, frees it as PG_ZERO. While a block is
 * submitted nobody else owns it: the engine writes nothing but the submitted
 * bytes, and a completion is visible to poll() only after every one of them
 * reads zero on the polling thread.
 *
 * Protocol (all in SharedArrayBuffers; no message per request):
 *  - submission ring, one producer (the owning thread) and many consumers
 *    (workers): slots [pa, bytes, first request, requests] as Float64, each
 *    a run of requests that continue each other; the run's tags stay with
 *    the owner, in a tag block the run holds until its last tag is polled
 *    (completions come back in any order, so tags cannot be indexed by
 *    request number; a block grows by doubling, and keeps its size when
 *    reused). submit() extends the open run while requests continue it (up
 *    to 4096 requests or 4 MiB) and publishes it when one does not, when it
 *    is full, or on poll/waitAll/settle/flush. A request that continues the
 *    open run inside the RAM segment where the run ends (a memory already
 *    validated, materialised and sent to the workers when the run was
 *    opened or last extended the slow way) costs the owner a few
 *    comparisons and stores: no range check, no memory lookup, no slot, no
 *    wake-up.
 *    The producer publishes by storing SUB_TAIL, a worker claims slot h by
 *    compareExchange of SUB_HEAD from h to h+1, having read the slot first
 *    (the producer cannot reuse slot h until SUB_HEAD has moved past it, so
 *    a successful claim proves the read was of the published run).
 *  - completion ring, many producers (workers, and the owner for inline
 *    completions) and one consumer (poll): a producer reserves an index with
 *    Atomics.add on COMP_TAIL, writes [tag block, requests, bytes] (a worker,
 *    one entry per run it zeroed) or [tag, 0, bytes] (the owner, one request)
 *    and then sets the slot's ready word; poll consumes in index order,
 *    clears the ready word, and hands out a run's tags from its block.
 *  - one bound covers both rings, counted in units, not requests: a unit is
 *    a run (one submission slot, one completion entry) or a request the
 *    owner completes itself (inline, untouched, empty: one completion
 *    entry). submit refuses to open a unit when opened - consumed (units
 *    whose completion entry poll has consumed) reaches the ring size;
 *    extending the open run opens nothing, so any number of requests may be
 *    outstanding. Completion ring: entry i + size is written only by unit
 *    number >= i + size, opened when consumed >= i + 1, and poll consumes in
 *    index order, so entry i was consumed. Submission ring: when the run for
 *    slot j + size is opened, were slot j not yet claimed, slots j .. j +
 *    size - 1 would all be unclaimed (workers claim in order), so size runs
 *    would have unconsumed completions and the open would have been
 *    refused. Tag blocks: held by unconsumed runs (at most size) and by the
 *    one run poll is still handing out, so size + 1 blocks never run dry.
 *  - an idle worker sets its own sleep word to 1, rechecks the ring, and
 *    sleeps in Atomics.wait on the word. submit, after publishing, wakes at
 *    most one sleeper: the first whose word it turns from 1 to 0 by
 *    compareExchange, then notifies. A worker is woken once however many
 *    requests follow (a shared idle counter made every submit notify until
 *    the woken worker got to run), a burst fans out one sleeper per
 *    request, and no wake-up is lost: a worker that was not seen asleep set
 *    its word after the request was published, so its recheck finds it.
 *    Before sleeping a worker polls the ring for a few microseconds, so that
 *    a stream of small requests rarely meets a sleeper (a futex wake-up
 *    costs submit microseconds); the sleep has a 1 s timeout as a safety
 *    net only.
 *  - a worker claims a run of requests that continue each other in one
 *    compareExchange (up to 64 slots, 64 MiB) and zeroes it with one
 *    memory.fill: large fills reach glibc's streaming memset.
 *  - waitAll sleeps on COMPLETED, announced by MAIN_WAITING, by the same
 *    scheme in the other direction.
 *  - memories created after the engine started are sent to each worker on
 *    its MessagePort before the first request that needs them is published;
 *    the worker takes them with receiveMessageOnPort when it meets a memory
 *    it lacks, so the message is always there when needed.
 */
import type { MessagePort, Worker } from 'node:worker_threads';
import { host } from '../host/node.js';
import { PagelabError } from '../errors.js';
import type { BackingDescriptor, BackingStore } from '../machine/backing.js';
import { Work, type WorkCounters } from './counters.js';

/** Word indices in the control array; each hot word on its own 64-byte line. */
export const enum Ctl {
  SubTail = 0,
  SubHead = 16,
  CompTail = 32,
  Stop = 48,
  Completed = 64,
  MainWaiting = 80,
  Failed = 96,
  Words = 112,
}

/** What a worker gets in workerData. */
export interface ZeroWorkerData {
  index: number;
  ctl: Int32Array;
  /** Submission slots: [pa, bytes, tag block, requests] per slot. */
  sub: Float64Array;
  /** Completion slots: [first request, requests, bytes], or [tag, 0, bytes], per slot. */
  comp: Float64Array;
  compReady: Int32Array;
  /** Per worker, at 16 * index: 1 while it sleeps or is about to. */
  sleep: Int32Array;
  /** Per worker: [bytes zeroed, requests done]. */
  stats: Float64Array;
  backing: BackingDescriptor;
  /** Per memory of the backing: 1 once the owner has sent it (or it existed at start). */
  sharedMemories: Int32Array;
  port: MessagePort;
}

/** A memory sent to workers after they started. */
export interface ZeroMemoryMessage {
  index: number;
  memory: unknown;
}

export interface ZeroEngineOptions {
  /** Worker threads; 0 (the default) zeroes every submission inline. */
  workers?: number;
  /**
   * Runs of requests (and requests completed at submit: inline, untouched,
   * empty) that may be outstanding, i.e. whose completion poll has not
   * consumed yet; a power of two. Default 1024. Requests that continue the
   * open run do not count: many more requests than this may be outstanding.
   */
  ringSlots?: number;
  /** Work counters to charge: zero_bytes_sync at submit/zeroSync, zero_bytes_background at poll. */
  work?: WorkCounters;
}

export interface ZeroEngineStats {
  /** Bytes zeroed by zeroSync(). */
  syncBytes: number;
  /** Bytes of submissions zeroed inline by submit() (no workers). */
  inlineBytes: number;
  /** Bytes of submissions that lay in memories never written: complete at once, nothing to do. */
  untouchedBytes: number;
  /** Bytes zeroed by the workers, per worker and in all. */
  backgroundBytes: number;
  perWorkerBytes: number[];
  /** Requests done by each worker. */
  perWorkerRequests: number[];
  submitted: number;
  polled: number;
}

/**
 * A zeroing engine over `backing`.
 */
export class ZeroEngine {
  readonly workerCount: number;
  readonly ringSlots: number;

  private readonly backing: BackingStore;
  private readonly work: WorkCounters | undefined;
  private readonly mask: number;
  private readonly ctl: Int32Array;
  private readonly sub: Float64Array;
  /** Per tag block: the tags of one run, by request number within the run. Only this thread reads them. */
  private readonly tagBlocks: Float64Array[];
  private readonly freeBlocks: Int32Array;
  private freeBlockTop: number;
  private readonly comp: Float64Array;
  private readonly compReady: Int32Array;
  private readonly statsArr: Float64Array;
  private readonly sleep: Int32Array;
  private readonly sharedMemories: Int32Array;
  private readonly workers: Worker[] = [];
  private readonly ports: MessagePort[] = [];
  private readonly exited: Array<Promise<void>> = [];
  private readonly online: Array<Promise<void>> = [];
  /** Memories the workers have (or have been sent). */
  private readonly shared: boolean[];
  private submittedCount = 0;
  /** Units (runs, and requests the owner completes) opened, and whose completion entry poll has consumed. */
  private unitsOpened = 0;
  private unitsConsumed = 0;
  // The open run: requests submitted but not yet published. [openEnd,
  // openLimit) is RAM in one materialised memory the workers have.
  private openPa = 0;
  private openBytes = 0;
  private openEnd = 0;
  private openLimit = 0;
  private openBlock = 0;
  private openTags: Float64Array = EMPTY_TAGS;
  private openCount = 0;
  // A run's completion being handed out by poll: next request number, requests left.
  private expandBlock = 0;
  private expandNext = 0;
  private expandLeft = 0;
  private polledCount = 0;
  private subTail = 0; // SUB_TAIL as last published (int32, wraps)
  private compHead = 0; // next completion index to poll (int32, wraps)
  private syncBytes = 0;
  private inlineBytes = 0;
  private untouchedBytes = 0;
  private workerError: Error | undefined;
  private stopping: Promise<void> | undefined;

  /**
   * Starts `options.workers` worker threads (they start asynchronously;
   * requests queue until they run). The workers are unref'd: a process that
   * never calls shutdown() still exits by itself.
   * Requires: 0 <= workers <= 256; ringSlots a power of two in [2, 2^24].
   */
  constructor(backing: BackingStore, options: ZeroEngineOptions = {}) {
    const nworkers = options.workers ?? 0;
    const slots = options.ringSlots ?? 1024;
    if (!Number.isInteger(nworkers) || nworkers < 0 || nworkers > 256) {
      throw new PagelabError('EINVAL', `zero engine: workers ${nworkers} is not an integer in 0..256`);
    }
    if (!Number.isInteger(slots) || slots < 2 || slots > 2 ** 24 || (slots & (slots - 1)) !== 0) {
      throw new PagelabError('EINVAL', `zero engine: ringSlots ${slots} is not a power of two in 2..2^24`);
    }
    this.backing = backing;
    this.work = options.work;
    this.workerCount = nworkers;
    this.ringSlots = slots;
    this.mask = slots - 1;
    this.ctl = new Int32Array(new SharedArrayBuffer(Ctl.Words * 4));
    this.sub = new Float64Array(new SharedArrayBuffer(slots * 4 * 8));
    // One tag block per run, freed when its last tag is polled; slots + 1
    // blocks suffice (see the header).
    this.tagBlocks = [];
    this.freeBlocks = new Int32Array(slots + 1);
    for (let i = 0; i <= slots; i++) {
      this.tagBlocks.push(new Float64Array(TAG_BLOCK_INITIAL));
      this.freeBlocks[i] = slots - i;
    }
    this.freeBlockTop = slots + 1;
    this.comp = new Float64Array(new SharedArrayBuffer(slots * 3 * 8));
    this.compReady = new Int32Array(new SharedArrayBuffer(slots * 4));
    this.statsArr = new Float64Array(new SharedArrayBuffer(Math.max(1, nworkers) * 2 * 8));
    this.sleep = new Int32Array(new SharedArrayBuffer(Math.max(1, nworkers) * 16 * 4));
    this.shared = [];
    this.sharedMemories = new Int32Array(new SharedArrayBuffer(Math.max(1, backing.memoryCount) * 4));
    for (let k = 0; k < backing.memoryCount; k++) {
      this.shared.push(backing.isMaterialised(k));
      if (backing.isMaterialised(k)) this.sharedMemories[k] = 1;
    }
    if (nworkers === 0) return;
    const threads = host.threads;
    if (threads === null) {
      throw new PagelabError('EHOST', `zero engine: ${nworkers} workers need blocking threads, which this host (${host.kind}) does not have; use vm.zero.workers=0`);
    }
    const { Worker, MessageChannel } = threads;
    const desc = backing.describe();
    const url = new URL('./zeroidle-worker.js', import.meta.url);
    for (let i = 0; i < nworkers; i++) {
      const { port1, port2 } = new MessageChannel();
      const data: ZeroWorkerData = {
        index: i,
        ctl: this.ctl,
        sub: this.sub,
        comp: this.comp,
        compReady: this.compReady,
        sleep: this.sleep,
        stats: this.statsArr,
        backing: desc,
        sharedMemories: this.sharedMemories,
        port: port2,
      };
      // execArgv: [] because the worker needs no flags and some of the
      // parent's break it (--input-type=module, with `node -e`, makes a file
      // entry point fail to load).
      const w = new Worker(url, { workerData: data, transferList: [port2], name: `zeroidle-${i}`, execArgv: [] });
      w.unref();
      // A browser's MessagePort has no unref (nor a process to keep alive).
      port1.unref?.();
      w.on('error', (e: Error) => {
        this.workerError ??= e;
      });
      this.online.push(new Promise((resolve) => w.once('online', () => resolve())));
      this.exited.push(
        new Promise((resolve) =>
          w.once('exit', (exitCode: number) => {
            // A worker gone before shutdown() leaves its share of the ring unserved.
            if (this.stopping === undefined) this.workerError ??= new Error(`worker ${i} exited early with code ${exitCode}`);
            resolve();
          }),
        ),
      );
      this.workers.push(w);
      this.ports.push(port1);
    }
  }

  /** Resolves when every worker thread is running (for benchmarks: start-up is not zeroing). */
  async ready(): Promise<void> {
    // Unref'd workers would let the process exit under an unsettled await.
    for (const w of this.workers) w.ref();
    try {
      await Promise.all(this.online);
    } finally {
      if (this.stopping === undefined) for (const w of this.workers) w.unref();
    }
  }

  /**
   * Throws EINVARIANT if a worker failed. Workers only fail on a broken
   * invariant (requests are validated at submit), and a failed worker stops
   * serving the rings, so the engine is unusable from then on.
   */
  private checkFailure(): void {
    if (Atomics.load(this.ctl, Ctl.Failed) === 0 && this.workerError === undefined) return;
    let detail = this.workerError?.message;
    for (const p of this.ports) {
      const m = host.threads?.receiveMessageOnPort(p);
      if (m !== undefined && typeof (m.message as { error?: string }).error === 'string') {
        detail = (m.message as { error: string }).error;
      }
    }
    throw new PagelabError('EINVARIANT', `zero engine: a worker failed: ${detail ?? 'unknown error'}`);
  }

  /**
   * Zeroes [pa, pa+bytes) on the calling thread, now.
   * Throws ERANGE unless the range is RAM. The caller must own the range.
   */
  zeroSync(pa: number, bytes: number): void {
    this.backing.zero(pa, bytes);
    this.syncBytes += bytes;
    if (this.work !== undefined) this.work[Work.ZeroBytesSync] += bytes;
  }

  /**
   * Queues [pa, pa+bytes) for zeroing; poll() returns `tag` once it is done.
   * Returns false, queueing nothing, when the request would open a unit
   * (a run, or a request completed at once) while ringSlots units are
   * outstanding (poll to make room); a request that continues the open run
   * is always taken. With no workers the range is zeroed before submit
   * returns; a range in memories never written completes at once.
   * Requires: the caller owns the range and neither reads nor writes it
   * until its tag comes back; `tag` is a finite number (Int32 if the caller
   * polls into an Int32Array).
   * Throws ERANGE unless the range is RAM, EINVAL after shutdown().
   */
  submit(pa: number, bytes: number, tag: number): boolean {
    // The hot case: the request continues the open run inside RAM the run
    // already validated (see openLimit); a worker failure is noticed at the
    // next slow submit, flush's caller or poll.
    if (
      pa === this.openEnd &&
      this.openCount > 0 &&
      bytes > 0 &&
      pa + bytes <= this.openLimit &&
      Number.isInteger(bytes) &&
      this.openCount < RUN_MAX_REQUESTS &&
      this.openBytes + bytes <= RUN_MAX_BYTES &&
      Number.isFinite(tag)
    ) {
      let tags = this.openTags;
      if (this.openCount === tags.length) tags = this.growOpenTags();
      tags[this.openCount++] = tag;
      this.openBytes += bytes;
      this.openEnd += bytes;
      this.submittedCount++;
      if (this.openCount === RUN_MAX_REQUESTS || this.openBytes === RUN_MAX_BYTES) this.flush();
      return true;
    }
    return this.submitSlow(pa, bytes, tag);
  }

  /** submit() for a request that does not continue the open run within its validated limit. */
  private submitSlow(pa: number, bytes: number, tag: number): boolean {
    if (this.stopping !== undefined) throw new PagelabError('EINVAL', 'zero engine: submit after shutdown');
    this.checkFailure();
    this.backing.checkRange(pa, bytes, 'zero submit');
    if (!Number.isFinite(tag)) throw new PagelabError('EINVAL', `zero engine: tag ${tag} is not a finite number`);
    const continues = bytes > 0 && this.openCount > 0 && pa === this.openEnd && this.openCount < RUN_MAX_REQUESTS && this.openBytes + bytes <= RUN_MAX_BYTES;
    if (!continues && this.unitsOpened - this.unitsConsumed >= this.ringSlots) {
      // The caller will poll for room: what is queued must be visible to the workers.
      this.flush();
      return false;
    }
    this.submittedCount++;
    if (bytes === 0) {
      this.complete(tag, 0);
      return true;
    }
    if (this.workerCount === 0) {
      this.backing.zero(pa, bytes);
      this.inlineBytes += bytes;
      if (this.work !== undefined) this.work[Work.ZeroBytesSync] += bytes;
      this.complete(tag, 0);
      return true;
    }
    const first = this.backing.memoryIndexUnsafe(pa);
    const last = this.backing.memoryIndexUnsafe(pa + bytes - 1);
    let touched = false;
    for (let k = first; k <= last; k++) {
      if (!this.backing.isMaterialised(k)) continue;
      touched = true;
      if (!this.shared[k]) this.shareMemory(k);
    }
    if (!touched) {
      if (continues) {
        // Not part of the run after all: it completes at once, so it opens a unit.
        if (this.unitsOpened - this.unitsConsumed >= this.ringSlots) {
          this.submittedCount--;
          this.flush();
          return false;
        }
      }
      this.untouchedBytes += bytes;
      this.complete(tag, 0);
      return true;
    }
    if (continues) {
      let tags = this.openTags;
      if (this.openCount === tags.length) tags = this.growOpenTags();
      tags[this.openCount++] = tag;
      this.openBytes += bytes;
    } else {
      this.flush();
      this.unitsOpened++;
      const block = this.freeBlocks[--this.freeBlockTop];
      this.openTags = this.tagBlocks[block];
      this.openTags[0] = tag;
      this.openPa = pa;
      this.openBytes = bytes;
      this.openBlock = block;
      this.openCount = 1;
    }
    this.openEnd = pa + bytes;
    // Later requests may extend the run without checks up to the end of the
    // RAM segment its last byte lies in, if that memory is materialised (and
    // so shared above); a segment never crosses a memory.
    const lastByte = pa + bytes - 1;
    this.openLimit = this.backing.isMaterialised(last) ? lastByte + this.backing.locateAddress(lastByte).contiguousBytes : this.openEnd;
    if (this.openCount === RUN_MAX_REQUESTS || this.openBytes === RUN_MAX_BYTES) this.flush();
    return true;
  }

  /** Doubles the open run's tag block (it keeps the new size when reused). */
  private growOpenTags(): Float64Array {
    const grown = new Float64Array(Math.min(RUN_MAX_REQUESTS, 2 * this.openTags.length));
    grown.set(this.openTags);
    this.tagBlocks[this.openBlock] = grown;
    this.openTags = grown;
    return grown;
  }

  /*
   * Publishes the open run of requests (if any) to the workers and wakes
   * one sleeper. poll, waitAll and settle do it themselves; a caller that
   * submits and then does something else for a long time calls it.
   */
  flush(): void {
    if (this.openCount === 0) return;
    const slot = this.subTail & this.mask;
    this.sub[4 * slot] = this.openPa;
    this.sub[4 * slot + 1] = this.openBytes;
    this.sub[4 * slot + 2] = this.openBlock;
    this.sub[4 * slot + 3] = this.openCount;
    this.openCount = 0;
    this.subTail = (this.subTail + 1) | 0;
    Atomics.store(this.ctl, Ctl.SubTail, this.subTail);
    for (let i = 0; i < this.workerCount; i++) {
      const word = 16 * i;
      if (Atomics.load(this.sleep, word) === 1 && Atomics.compareExchange(this.sleep, word, 1, 0) === 1) {
        Atomics.notify(this.sleep, word, 1);
        break;
      }
    }
  }

  /** Sends memory k to every worker, ahead of the request that needs it. */
  private shareMemory(k: number): void {
    const msg: ZeroMemoryMessage = { index: k, memory: this.backing.memory(k) };
    // Announce first: a worker that meets the memory before the message waits for it.
    Atomics.store(this.sharedMemories, k, 1);
    for (const p of this.ports) p.postMessage(msg);
    this.shared[k] = true;
  }

  /** Publishes a completion from this thread (inline or nothing to do). */
  private complete(tag: number, bytes: number): void {
    this.unitsOpened++;
    const slot = Atomics.add(this.ctl, Ctl.CompTail, 1) & this.mask;
    this.comp[3 * slot] = tag;
    this.comp[3 * slot + 1] = 0;
    this.comp[3 * slot + 2] = bytes;
    Atomics.store(this.compReady, slot, 1);
    Atomics.add(this.ctl, Ctl.Completed, 1);
  }

  /**
   * Moves up to out.length completed tags into `out`, each exactly once, and
   * returns how many. Every byte of a returned request reads zero from this
   * thread. Never blocks.
   */
  poll(out: Int32Array | Float64Array): number {
    this.checkFailure();
    this.flush();
    let n = 0;
    let background = 0;
    const max = out.length;
    while (n < max) {
      // A worker's completion covers a run of requests: their tags are this thread's own tag ring.
      if (this.expandLeft > 0) {
        out[n++] = this.tagBlocks[this.expandBlock][this.expandNext++];
        if (--this.expandLeft === 0) this.freeBlocks[this.freeBlockTop++] = this.expandBlock;
        continue;
      }
      const slot = this.compHead & this.mask;
      if (Atomics.load(this.compReady, slot) === 0) break;
      const count = this.comp[3 * slot + 1];
      if (count === 0) out[n++] = this.comp[3 * slot];
      else {
        this.expandBlock = this.comp[3 * slot];
        this.expandNext = 0;
        this.expandLeft = count;
      }
      background += this.comp[3 * slot + 2];
      Atomics.store(this.compReady, slot, 0);
      this.compHead = (this.compHead + 1) | 0;
      this.unitsConsumed++;
    }
    this.polledCount += n;
    if (this.work !== undefined) this.work[Work.ZeroBytesBackground] += background;
    return n;
  }

  /** Requests submitted and not yet returned by poll(). */
  pending(): number {
    return this.submittedCount - this.polledCount;
  }

  /** Requests submitted whose zeroing has not finished yet (a subset of pending()). */
  inFlight(): number {
    return (this.submittedCount - Atomics.load(this.ctl, Ctl.Completed)) | 0;
  }

  /**
   * Blocks the calling thread (Atomics.wait; polling where the host cannot block) until every submitted request
   * has been zeroed, or `timeoutMs` passes. Returns true if all are done;
   * they still have to be poll()ed. Throws EINVARIANT if a worker failed.
   */
  waitAll(timeoutMs = Infinity): boolean {
    this.flush();
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      this.checkFailure();
      const done = Atomics.load(this.ctl, Ctl.Completed);
      if (((this.submittedCount - done) | 0) === 0) return true;
      const remaining = deadline - performance.now();
      if (remaining <= 0) return false;
      if (!host.canBlock) {
        // A browser's main thread may not Atomics.wait: poll for a bounded slice instead.
        const until = performance.now() + Math.min(remaining, 100);
        while (Atomics.load(this.ctl, Ctl.Completed) === done && performance.now() < until);
        continue;
      }
      Atomics.store(this.ctl, Ctl.MainWaiting, 1);
      if (Atomics.load(this.ctl, Ctl.Completed) === done) {
        // A bounded slice so that a worker that died without a word is noticed.
        Atomics.wait(this.ctl, Ctl.Completed, done, Math.min(remaining, 100));
      }
      Atomics.store(this.ctl, Ctl.MainWaiting, 0);
    }
  }

  /**
   * waitAll() without blocking the thread: waits with Atomics.waitAsync,
   * keeping the event loop alive meanwhile.
   */
  async settle(timeoutMs = Infinity): Promise<boolean> {
    this.flush();
    const deadline = performance.now() + timeoutMs;
    const keepAlive = setInterval(() => {}, 1000);
    try {
      for (;;) {
        this.checkFailure();
        const done = Atomics.load(this.ctl, Ctl.Completed);
        if (((this.submittedCount - done) | 0) === 0) return true;
        const remaining = deadline - performance.now();
        if (remaining <= 0) return false;
        Atomics.store(this.ctl, Ctl.MainWaiting, 1);
        const r = waitAsync(this.ctl, Ctl.Completed, done, Math.min(remaining, 100));
        if (r.async) await r.value;
      }
    } finally {
      Atomics.store(this.ctl, Ctl.MainWaiting, 0);
      clearInterval(keepAlive);
    }
  }

  /** Counters for reports. */
  stats(): ZeroEngineStats {
    const perWorkerBytes: number[] = [];
    const perWorkerRequests: number[] = [];
    for (let i = 0; i < this.workerCount; i++) {
      perWorkerBytes.push(this.statsArr[2 * i]);
      perWorkerRequests.push(this.statsArr[2 * i + 1]);
    }
    return {
      syncBytes: this.syncBytes,
      inlineBytes: this.inlineBytes,
      untouchedBytes: this.untouchedBytes,
      backgroundBytes: perWorkerBytes.reduce((a, b) => a + b, 0),
      perWorkerBytes,
      perWorkerRequests,
      submitted: this.submittedCount,
      polled: this.polledCount,
    };
  }

  /**
   * Stops the workers once they have finished every queued request, and
   * resolves when all have exited. Completions stay pollable. Idempotent.
   */
  shutdown(): Promise<void> {
    if (this.stopping === undefined) {
      this.flush();
      Atomics.store(this.ctl, Ctl.Stop, 1);
      for (let i = 0; i < this.workerCount; i++) {
        Atomics.store(this.sleep, 16 * i, 0);
        Atomics.notify(this.sleep, 16 * i);
      }
      // Keep the process alive until the workers have gone.
      for (const w of this.workers) w.ref();
      this.stopping = Promise.all(this.exited).then(() => {
        for (const p of this.ports) p.close();
      });
    }
    return this.stopping;
  }

  /** The number of CPUs, a sensible upper bound for `workers`. */
  static cpuCount(): number {
    return host.cpuCount();
  }
}

/**
 * Longest run of requests one submission slot carries: requests (the
 * largest tag block), and bytes. Workers merge runs that continue each
 * other into fills of up to 64 MiB; a run of 4 MiB keeps them fed while the
 * owner gathers the next (a larger run would be published later).
 */
const RUN_MAX_REQUESTS = 4096;
const RUN_MAX_BYTES = 4 * 2 ** 20;
/** Tags a fresh block holds before it first grows. */
const TAG_BLOCK_INITIAL = 16;
const EMPTY_TAGS = new Float64Array(0);

/** Atomics.waitAsync (ES2024; lib ES2022 does not declare it). */
function waitAsync(
  arr: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
): { async: false; value: string } | { async: true; value: Promise<string> } {
  return (Atomics as unknown as { waitAsync: typeof waitAsync }).waitAsync(arr, index, value, timeoutMs);
}

