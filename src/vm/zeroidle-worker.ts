/**
 * A zeroing worker on Node's worker_threads: serves the rings (zeroidle-serve.ts)
 * until the owner sets Stop and the ring is empty. Memories the owner
 * materialises later arrive on the port and are taken synchronously
 * (receiveMessageOnPort) the moment a request needs one.
 */
import { workerData, receiveMessageOnPort } from 'node:worker_threads';
import { BackingStore } from '../machine/backing.js';
import type { WasmMemory } from '../machine/wasm.js';
import { Ctl, type ZeroMemoryMessage, type ZeroWorkerData } from './zeroidle.js';
import { serveZeroRing } from './zeroidle-serve.js';

const data = workerData as ZeroWorkerData;
const { ctl, port } = data;

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

try {
  // Messages are taken synchronously, so the ring is served to the end in one call.
  serveZeroRing(data, backing, (k) => backing.isMaterialised(k) || fetchMemory(k) !== undefined);
} catch (e) {
  // Tell the owner synchronously (it may be blocked in waitAll), then die.
  port.postMessage({ error: String((e as Error).stack ?? e) });
  Atomics.store(ctl, Ctl.Failed, 1);
  Atomics.notify(ctl, Ctl.Completed);
} finally {
  port.close();
}
