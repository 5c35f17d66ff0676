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
const { ctl, sub, comp, compReady, stats, port } = data;
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
 * Claims and zeroes one request; false when the ring is empty.
 * The slot is read before the claim: the owner cannot reuse it until
 * SubHead has passed it, so a successful compareExchange validates the read.
 */
function serveOne(): boolean {
  for (;;) {
    const head = Atomics.load(ctl, Ctl.SubHead);
    if (head === Atomics.load(ctl, Ctl.SubTail)) return false;
    const slot = head & mask;
    const pa = sub[3 * slot];
    const bytes = sub[3 * slot + 1];
    const tag = sub[3 * slot + 2];
    if (Atomics.compareExchange(ctl, Ctl.SubHead, head, (head + 1) | 0) !== head) continue;
    backing.zero(pa, bytes);
    stats[statBytes] += bytes;
    stats[statRequests] += 1;
    const c = Atomics.add(ctl, Ctl.CompTail, 1) & mask;
    comp[2 * c] = tag;
    comp[2 * c + 1] = bytes;
    Atomics.store(compReady, c, 1);
    Atomics.add(ctl, Ctl.Completed, 1);
    if (Atomics.load(ctl, Ctl.MainWaiting) !== 0) Atomics.notify(ctl, Ctl.Completed);
    return true;
  }
}

function run(): void {
  for (;;) {
    if (serveOne()) continue;
    if (Atomics.load(ctl, Ctl.Stop) !== 0) return;
    const bell = Atomics.load(ctl, Ctl.Doorbell);
    Atomics.add(ctl, Ctl.Idle, 1);
    // Recheck after announcing: a submit that saw Idle == 0 published its
    // request before we incremented it, so we see that request here.
    if (Atomics.load(ctl, Ctl.SubHead) === Atomics.load(ctl, Ctl.SubTail) && Atomics.load(ctl, Ctl.Stop) === 0) {
      Atomics.wait(ctl, Ctl.Doorbell, bell);
    }
    Atomics.sub(ctl, Ctl.Idle, 1);
  }
}

try {
  run();
} catch (e) {
  // Tell the owner synchronously (it may be blocked in waitAll), then die.
  port.postMessage({ error: String((e as Error).stack ?? e) });
  Atomics.store(ctl, Ctl.Failed, 1);
  Atomics.notify(ctl, Ctl.Completed);
  Atomics.add(ctl, Ctl.Doorbell, 1);
  Atomics.notify(ctl, Ctl.Doorbell);
} finally {
  port.close();
}
