/**
 * The browser host, bundled into the web page in place of node.ts: no local
 * files (a page gets its trace and map as text), the device's size from the
 * Navigator, Web Workers for the zeroing engine's threads, and a main thread
 * that may not block (the engine polls instead of Atomics.wait).
 */
import type * as WorkerThreads from 'node:worker_threads';
import { PagelabError } from '../errors.js';
import type { Host } from './types.js';

interface NavigatorLike {
  hardwareConcurrency?: number;
  /** Chrome: GiB of device memory, rounded and capped at 8. */
  deviceMemory?: number;
}

const nav = (globalThis as { navigator?: NavigatorLike }).navigator;

function noFiles(path: string): never {
  throw new Error(`a web page cannot read local files (${path}); give the page the text instead`);
}

type Listener = (arg?: unknown) => void;

/*
 * The part of Node's Worker the zeroing engine uses, over a module Web
 * Worker: workerData goes as the first message (its transfer list with it);
 * the worker (src/web/zeroidle-worker.ts) answers {online} when it runs and
 * {exit: code} before it closes itself. ref/unref mean nothing in a page.
 */
class WebThread {
  private readonly listeners = new Map<string, Listener[]>();
  private readonly worker: Worker;

  constructor(url: URL | string, opts: { workerData?: unknown; transferList?: Transferable[]; name?: string }) {
    this.worker = new Worker(url, { type: 'module', name: opts.name });
    this.worker.onmessage = (e: MessageEvent) => {
      const d = e.data as { online?: boolean; exit?: number };
      if (d.online === true) this.emit('online');
      if (typeof d.exit === 'number') this.emit('exit', d.exit);
    };
    this.worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.emit('error', new Error(e.message || 'zeroing worker failed to load'));
      this.emit('exit', 1);
    };
    this.worker.postMessage(opts.workerData, opts.transferList ?? []);
  }

  private emit(ev: string, arg?: unknown): void {
    for (const f of this.listeners.get(ev) ?? []) f(arg);
  }

  on(ev: string, f: Listener): this {
    this.listeners.set(ev, [...(this.listeners.get(ev) ?? []), f]);
    return this;
  }

  once(ev: string, f: Listener): this {
    const g: Listener = (arg) => {
      this.listeners.set(ev, (this.listeners.get(ev) ?? []).filter((h) => h !== g));
      f(arg);
    };
    return this.on(ev, g);
  }

  ref(): void {}
  unref(): void {}

  terminate(): Promise<number> {
    this.worker.terminate();
    return Promise.resolve(1);
  }
}

export const host: Host = {
  kind: 'browser',
  totalMemoryBytes: () => (nav?.deviceMemory ?? 4) * 2 ** 30,
  totalMemorySource: 'navigator.deviceMemory (4 GiB when the browser does not say)',
  cpuCount: () => nav?.hardwareConcurrency ?? 1,
  listDirectory: noFiles,
  readTextBounded: (path, opts) => {
    throw new PagelabError(opts.code ?? 'EUSAGE', `${opts.label ?? path}: a web page cannot read local files; give the page the text instead`);
  },
  canBlock: false,
  // Threads need shared memory, which a page has only when cross-origin isolated.
  threads:
    typeof Worker === 'function' && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true
      ? ({
          Worker: WebThread,
          MessageChannel,
          // A page cannot take a message synchronously; the engine then reports a worker failure without its detail.
          receiveMessageOnPort: () => undefined,
        } as unknown as Pick<typeof WorkerThreads, 'Worker' | 'MessageChannel' | 'receiveMessageOnPort'>)
      : null,
};
