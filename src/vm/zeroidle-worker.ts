/**
 * A zeroing worker (see zeroidle.ts for the protocol): claims requests from
 * the submission ring, zeroes them with memory.fill through its own
 * BackingStore over the shared memories, publishes completions, and sleeps
 * in Atomics.wait when there is nothing to do. Exits when the owner sets
 * Stop and the ring is empty.
 */
import { workerData, receiveMessageOnPort } from 'node:worker_threads';
import { BackingStore } from '../machine/backing.js';
import type { WasmMemory } from '../machine/wasm.js';
import { Ctl, type ZeroMemoryMessage, type ZeroWorkerData } from './zeroidle.js';

const data = workerData as ZeroWorkerData;
const { ctl, sub, comp, compReady, sleep, stats, port } = data;
const sleepWord = 16 * data.index;
const mask = compReady.length - 1;
const statBytes = 2 * data.index;
const statRequests = statBytes + 1;

/** Memories sent after start-up, by index; drained from the port on demand. */
const received = new Map<number, WasmMemory>();
function fetchMemory(k: number): WasmMemory | undefined {
  for (;;) {
    const m = receiveMessageOnPort(port);
    if (m === undefined) break;
    const msg = m.message as ZeroMemoryMessage;
    received.set(msg.index, msg.memory as WasmMemory);
  }
  return received.get(k);
}

const backing = BackingStore.attach(data.backing, fetchMemory);

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
const batchTag = new Float64Array(MERGE_MAX_REQUESTS);
const batchBytes = new Float64Array(MERGE_MAX_REQUESTS);

/**
 * Claims and zeroes one request, or a run of requests that continue each
 * other; false when the ring is empty.
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
    const start = sub[3 * slot];
    let end = start + sub[3 * slot + 1];
    batchBytes[0] = sub[3 * slot + 1];
    batchTag[0] = sub[3 * slot + 2];
    let count = 1;
    while (count < MERGE_MAX_REQUESTS && ((head + count) | 0) !== tail && end - start < MERGE_MAX_BYTES) {
      slot = (head + count) & mask;
      if (sub[3 * slot] !== end) break;
      batchBytes[count] = sub[3 * slot + 1];
      batchTag[count] = sub[3 * slot + 2];
      end += batchBytes[count];
      count++;
    }
    if (Atomics.compareExchange(ctl, Ctl.SubHead, head, (head + count) | 0) !== head) continue;
    backing.zero(start, end - start);
    stats[statBytes] += end - start;
    stats[statRequests] += count;
    const base = Atomics.add(ctl, Ctl.CompTail, count);
    for (let j = 0; j < count; j++) {
      const c = (base + j) & mask;
      comp[2 * c] = batchTag[j];
      comp[2 * c + 1] = batchBytes[j];
      Atomics.store(compReady, c, 1);
    }
    Atomics.add(ctl, Ctl.Completed, count);
    if (Atomics.load(ctl, Ctl.MainWaiting) !== 0) Atomics.notify(ctl, Ctl.Completed);
    return true;
  }
}

/**
 * Polls of an empty ring before going to sleep (some microseconds): a worker
 * asleep when the next request comes makes submit pay a futex wake-up, which
 * costs microseconds of the owner's time, more than the request itself when
 * it is a page.
 */
const SPIN_POLLS = 2000;

/** True once the ring is not empty or Stop is set; false after SPIN_POLLS polls. */
function spinForWork(): boolean {
  for (let i = 0; i < SPIN_POLLS; i++) {
    if (Atomics.load(ctl, Ctl.SubHead) !== Atomics.load(ctl, Ctl.SubTail) || Atomics.load(ctl, Ctl.Stop) !== 0) return true;
  }
  return false;
}

function run(): void {
  for (;;) {
    if (serveOne()) continue;
    if (Atomics.load(ctl, Ctl.Stop) !== 0) return;
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

try {
  run();
} catch (e) {
  // Tell the owner synchronously (it may be blocked in waitAll), then die.
  port.postMessage({ error: String((e as Error).stack ?? e) });
  Atomics.store(ctl, Ctl.Failed, 1);
  Atomics.notify(ctl, Ctl.Completed);
} finally {
  port.close();
}
