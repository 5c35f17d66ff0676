/**
 * The Node host: files through node:fs, the host's size through node:os,
 * threads through node:worker_threads. The only place src/vm and
 * src/machine reach Node.
 */
import { readdirSync } from 'node:fs';
import os from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { readTextBounded } from '../util/read-bounded.js';
import type { Host } from './types.js';

export const host: Host = {
  kind: 'node',
  totalMemoryBytes: () => os.totalmem(),
  totalMemorySource: 'os.totalmem()',
  cpuCount: () => os.availableParallelism?.() ?? os.cpus().length,
  readTextBounded,
  listDirectory: (path) => readdirSync(path),
  canBlock: true,
  threads: { Worker, MessageChannel, receiveMessageOnPort },
};
