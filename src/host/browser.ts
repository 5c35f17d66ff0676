/**
 * The browser host, bundled into the web page in place of node.ts: no local
 * files (a page gets its trace and map as text), the device's size from the
 * Navigator, and no blocking threads on the page's main thread (so the
 * zeroing engine zeroes inline, vm.zero.workers=0).
 */
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

export const host: Host = {
  kind: 'browser',
  totalMemoryBytes: () => (nav?.deviceMemory ?? 4) * 2 ** 30,
  totalMemorySource: 'navigator.deviceMemory (4 GiB when the browser does not say)',
  cpuCount: () => nav?.hardwareConcurrency ?? 1,
  listDirectory: noFiles,
  readTextBounded: (path, opts) => {
    throw new PagelabError(opts.code ?? 'EUSAGE', `${opts.label ?? path}: a web page cannot read local files; give the page the text instead`);
  },
  threads: null,
};
