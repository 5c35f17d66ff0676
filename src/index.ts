export { PagelabError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { parseSize, formatSize, hex } from './util/units.js';
export type { MemoryMap, PhysRange, RamRange } from './machine/types.js';
