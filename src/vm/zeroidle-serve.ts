/**
 * The zeroing worker's loop (see zeroidle.ts for the protocol), shared by the
 * two thread entries: zeroidle-worker.ts (Node's worker_threads) and
 * src/web/zeroidle-worker.ts (a browser's Web Worker). It claims requests
 * from the submission ring, zeroes them with memory.fill through the
 * worker's own BackingStore over the shared memories, publishes
 * completions, and sleeps in Atomics.wait when there is nothing to do.
 */
import type { BackingStore } from '../machine/backing.js';
import { Ctl, type ZeroWorkerData } from './zeroidle.js';

/**
 * Requests that continue each other are zeroed in one call, up to these
 * limits: glibc's memset switches to non-temporal stores only above a
 * threshold (3/4 of the L3 cache), and below it runs at half the speed or
 * less, so merging 4 KiB..4 MiB requests into large fills is the difference
 * between the cached and the streaming memset. The limits keep a batch
 * short enough that other workers still get a share.
 */
const MERGE_MAX_REQUESTS = 64;
const MERGE_MAX_BYTES = 64 * 2 ** 20;

/**
 * Polls of an empty ring before going to sleep (some microseconds): a worker
 * asleep when the next request comes makes submit pay a futex wake-up, which
 * costs microseconds of the owner's time, more than the request itself when
 * it is a page.
 */
const SPIN_POLLS = 2000;

/** Why serveZeroRing returned. */
export type ServeOutcome = 'stopped' | 'needs-memory';

/*
 * Serves the rings of `data` through `backing` until the owner sets Stop and
 * the ring is empty ('stopped'), or until the next request lies in a memory
 * the owner has shared (data.sharedMemories) but `hasMemory` says this thread
 * has not received yet ('needs-memory': nothing is claimed; the caller lets
 * its messages arrive and calls again). A thread that takes its messages
 * synchronously (Node) never sees 'needs-memory'.
 */
export function serveZeroRing(data: ZeroWorkerData, backing: BackingStore, hasMemory: (k: number) => boolean): ServeOutcome {
  const { ctl, sub, comp, compReady, sleep, stats, sharedMemories } = data;
  const sleepWord = 16 * data.index;
  const mask = compReady.length - 1;
  const statBytes = 2 * data.index;
  const statRequests = statBytes + 1;
  let missing = false;

  /* True when every memory [start, end) touches that the owner shared is here. */
  function memoriesHere(start: number, end: number): boolean {
    const last = backing.memoryIndexUnsafe(end - 1);
    for (let k = backing.memoryIndexUnsafe(start); k <= last; k++) {
      if (Atomics.load(sharedMemories, k) !== 0 && !hasMemory(k)) return false;
    }
    return true;
  }

  /** Per slot of a batch: its tag block, request count and bytes. */
  const batchBlock = new Float64Array(MERGE_MAX_REQUESTS);
  const batchCount = new Float64Array(MERGE_MAX_REQUESTS);
  const batchBytes = new Float64Array(MERGE_MAX_REQUESTS);

  /**
   * Claims and zeroes one slot (a run of requests), or a run of slots that
   * continue each other; false when the ring is empty.
   * The slots are read before the claim: the owner cannot reuse a slot until
   * SubHead has passed it, so a successful compareExchange validates the
   * reads; after it, the owner may refill the slots at once.
   */
  function serveOne(): boolean {
    for (;;) {
      const head = Atomics.load(ctl, Ctl.SubHead);
      const tail = Atomics.load(ctl, Ctl.SubTail);
      if (head === tail) return false;
      let slot = head & mask;
      const start = sub[4 * slot];
      let end = start + sub[4 * slot + 1];
      batchBytes[0] = sub[4 * slot + 1];
      batchBlock[0] = sub[4 * slot + 2];
      batchCount[0] = sub[4 * slot + 3];
      let requests = batchCount[0];
      let count = 1;
      while (count < MERGE_MAX_REQUESTS && ((head + count) | 0) !== tail && end - start < MERGE_MAX_BYTES) {
        slot = (head + count) & mask;
        if (sub[4 * slot] !== end) break;
        batchBytes[count] = sub[4 * slot + 1];
        batchBlock[count] = sub[4 * slot + 2];
        batchCount[count] = sub[4 * slot + 3];
        requests += batchCount[count];
        end += batchBytes[count];
        count++;
      }
      if (!memoriesHere(start, end)) {
        missing = true;
        return false;
      }
      if (Atomics.compareExchange(ctl, Ctl.SubHead, head, (head + count) | 0) !== head) continue;
      backing.zero(start, end - start);
      stats[statBytes] += end - start;
      stats[statRequests] += requests;
      // One completion per slot: its tag block and request count (the owner holds the tags).
      const base = Atomics.add(ctl, Ctl.CompTail, count);
      for (let j = 0; j < count; j++) {
        const c = (base + j) & mask;
        comp[3 * c] = batchBlock[j];
        comp[3 * c + 1] = batchCount[j];
        comp[3 * c + 2] = batchBytes[j];
        Atomics.store(compReady, c, 1);
      }
      Atomics.add(ctl, Ctl.Completed, requests);
      if (Atomics.load(ctl, Ctl.MainWaiting) !== 0) Atomics.notify(ctl, Ctl.Completed);
      return true;
    }
  }

  /** True once the ring is not empty or Stop is set; false after SPIN_POLLS polls. */
  function spinForWork(): boolean {
    for (let i = 0; i < SPIN_POLLS; i++) {
      if (Atomics.load(ctl, Ctl.SubHead) !== Atomics.load(ctl, Ctl.SubTail) || Atomics.load(ctl, Ctl.Stop) !== 0) return true;
    }
    return false;
  }

  for (;;) {
    if (serveOne()) continue;
    if (missing) return 'needs-memory';
    if (Atomics.load(ctl, Ctl.Stop) !== 0) return 'stopped';
    if (spinForWork()) continue;
    Atomics.store(sleep, sleepWord, 1);
    // Recheck after announcing: a submit that found our word 0 published
    // its request before we set it, so we see that request here.
    if (Atomics.load(ctl, Ctl.SubHead) === Atomics.load(ctl, Ctl.SubTail) && Atomics.load(ctl, Ctl.Stop) === 0) {
      // The timeout is a safety net, not part of the protocol: were a
      // wake-up ever lost, work would wait a second instead of forever.
      Atomics.wait(sleep, sleepWord, 1, 1000);
    }
    Atomics.store(sleep, sleepWord, 0);
  }
}
