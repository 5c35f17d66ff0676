/**
 * What pagelab needs from the platform it runs on, and nothing more: the
 * VM and the machine layer reach files, the host's size and threads only
 * through a Host. Node's adapter is node.ts; the web page's bundle swaps in
 * browser.ts (scripts/build-web.mjs redirects every import of host/node.js),
 * so src/vm, src/machine, src/sim and the replay run unchanged in a page.
 */
import type * as WorkerThreads from 'node:worker_threads';
import type { BoundedReadOptions } from '../util/read-bounded.js';

export interface Host {
  /** 'node' or 'browser', for messages. */
  readonly kind: 'node' | 'browser';
  /** Bytes of RAM this host has: what backing stores are measured against. */
  totalMemoryBytes(): number;
  /** Where totalMemoryBytes comes from, for messages ("os.totalmem()"). */
  readonly totalMemorySource: string;
  /** Logical CPUs: a sensible upper bound for worker counts. */
  cpuCount(): number;
  /** At most opts.maxBytes of a file a user named, as util/read-bounded.ts: one PagelabError naming it otherwise. */
  readTextBounded(path: string, opts: BoundedReadOptions): string;
  /** The names in a local directory; throws the platform's error. */
  listDirectory(path: string): string[];
  /** Whether this thread may block in Atomics.wait (a browser's main thread may not). */
  readonly canBlock: boolean;
  /**
   * Threads for the zeroing engine, with Node's API: worker_threads, or Web
   * Workers behind it (whose receiveMessageOnPort never has a message); null
   * where there are none (a page that is not cross-origin isolated).
   */
  readonly threads: Pick<typeof WorkerThreads, 'Worker' | 'MessageChannel' | 'receiveMessageOnPort'> | null;
}
