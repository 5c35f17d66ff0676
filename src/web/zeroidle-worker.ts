/**
 * A zeroing worker in a browser: a module Web Worker started by the browser
 * host (src/host/browser.ts) for the zeroing engine. Its first message is
 * the engine's ZeroWorkerData; it then serves the rings (vm/zeroidle-serve.ts),
 * blocking in Atomics.wait as a worker may. Memories the owner materialises
 * later arrive as messages, which a worker only receives between tasks: when
 * a request needs one that has not arrived, the loop returns, the worker
 * yields a task, and serves again.
 */
import { BackingStore } from '../machine/backing.js';
import type { WasmMemory } from '../machine/wasm.js';
import { Ctl, type ZeroMemoryMessage, type ZeroWorkerData } from '../vm/zeroidle.js';
import { serveZeroRing } from '../vm/zeroidle-serve.js';

interface WorkerScope {
  postMessage(m: unknown): void;
  close(): void;
  addEventListener(type: 'message', f: (e: MessageEvent) => void, opts?: { once: boolean }): void;
}
const scope = globalThis as unknown as WorkerScope;

scope.addEventListener(
  'message',
  (first: MessageEvent) => {
    const data = first.data as ZeroWorkerData;
    const received = new Map<number, WasmMemory>();
    const port = data.port as unknown as MessagePort;
    port.onmessage = (e: MessageEvent) => {
      const msg = e.data as ZeroMemoryMessage;
      received.set(msg.index, msg.memory as WasmMemory);
    };
    const backing = BackingStore.attach(data.backing, (k) => received.get(k));
    scope.postMessage({ online: true });
    void (async () => {
      let code = 0;
      try {
        while (serveZeroRing(data, backing, (k) => backing.isMaterialised(k) || received.has(k)) === 'needs-memory') {
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
      } catch (e) {
        code = 1;
        port.postMessage({ error: String((e as Error).stack ?? e) });
        Atomics.store(data.ctl, Ctl.Failed, 1);
        Atomics.notify(data.ctl, Ctl.Completed);
      }
      port.close();
      scope.postMessage({ exit: code });
      scope.close();
    })();
  },
  { once: true },
);
