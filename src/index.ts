/**
 * pagelab's library API. See README.md for a tour and docs/architecture.md
 * for the map of the source tree.
 */
export { PagelabError, kassert } from './errors.js';
export type { ErrorCode } from './errors.js';
export { parseSize, formatSize, hex } from './util/units.js';

// Machines and memory maps.
export type { MemoryMap, PhysRange, RamRange } from './machine/types.js';
export { resolveMachine, describeMemoryMap, PRESET_NAMES, memoryMapForSize, presetMemoryMap, parseMemoryMapJson, validateMemoryMap } from './machine/index.js';
export { BackingStore } from './machine/backing.js';

// Tunables.
export { Tunables, TUNABLES, findTunable } from './kern/tunables.js';

// The VM.
export { Vm, RUNTIME_ZERO_TUNABLES } from './vm/vm.js';
export type { VmOptions } from './vm/vm.js';
export { ZeroPolicy, ZERO_POLICIES } from './vm/zeropolicy.js';
export type { ZeroPolicyName, ZeroPolicyOptions, ZeroPolicyStats } from './vm/zeropolicy.js';
export { Phys, addrOk } from './vm/phys.js';
export type { PhysSeg, PhysOptions } from './vm/phys.js';
export { PageArray, BYTES_PER_PAGE } from './vm/page.js';
export { checkPhys } from './vm/checker.js';
export { PageCache } from './vm/pgcache.js';
export { PreZeroer } from './vm/prezero.js';
export { DomainSet } from './vm/domainset.js';
export { VmPage, PageStat, PAGE_STAT_NAMES, NOOBJ_PINDEX } from './vm/page-alloc.js';
export type { PageAllocOptions } from './vm/page-alloc.js';
export { VmObjects, OBJT_SWAP, OBJT_PHYS, OBJ_MAX_SIZE } from './vm/object.js';
export type { ObjectType, ObjectOptions } from './vm/object.js';
export { Radix } from './vm/radix.js';
export { Reserv, VM_LEVEL_0_ORDER_AMD64, VM_LEVEL_0_ORDER_ARM64_16K } from './vm/reserv.js';
export type { ReservCounters } from './vm/reserv.js';
export { VmDomains } from './vm/pagequeue.js';
export { checkObjects } from './vm/check-objects.js';
export type { DomainPolicy } from './vm/domainset.js';
export { freeQueueTable, formatFreeQueueTable } from './vm/buddyinfo.js';
export { Work, WORK_NAMES, newWorkCounters, workDelta, workToObject } from './vm/counters.js';
export * as param from './vm/param.js';
export * as vmem from './kern/vmem.js';
export { ZeroEngine } from './vm/zeroidle.js';
export { VmMaps, VmMap, VMFS_ANY_SPACE, VMFS_SUPER_SPACE, MAP_ENTRY_COW, MAP_ENTRY_NEEDS_COPY, MAP_ENTRY_USER_WIRED, MAP_ENTRY_IN_TRANSITION } from './vm/map.js';
export type { MapEntryInfo, FindOptions, MapsOptions } from './vm/map.js';
export { Pmap, KERN_NAMES, KERN_SUCCESS, KERN_INVALID_ADDRESS, KERN_PROTECTION_FAILURE, KERN_NO_SPACE, KERN_RESOURCE_SHORTAGE, VM_PROT_READ, VM_PROT_WRITE, VM_PROT_EXECUTE, PMAP_ENTER_WIRED, NBPDR } from './vm/pmap.js';
export type { PmapCounters } from './vm/pmap.js';
export { VmFault, VM_FAULT_WIRE } from './vm/fault.js';
export { VmShadow } from './vm/shadow.js';
export { WIRE_PATHS } from './vm/wire.js';
export type { WirePath, WireWindow } from './vm/wire.js';
export { MapWork, MAP_WORK_NAMES, mapWorkToObject } from './vm/map-counters.js';
export { KernelArenas } from './vm/vm_kern.js';
export { Kstacks, newKThread, kstackPindexNonlinear, kstackLinearOfPindex } from './vm/kstack.js';
export { VmKstackPages, kstacksForVm } from './vm/kstack_pages.js';
export type { KThread, KstackPageSource, KstackPindexScheme, KstackOptions } from './vm/kstack.js';

// The lab.
export { EXPERIMENTS, labDocument, renderHtml, renderText, runLazyInitBoot, traceOf, runPrezeroVmStart, renderPrezeroText, renderPrezeroHtml, runWire, renderWireText, renderWireHtml, wireTrace } from './lab/index.js';
export type { Experiment, LabRunOptions, LazyInitBootOptions, LazyInitBootResult, PublishedComparison, WallSample, PrezeroOptions, PrezeroResult, WireOptions, WireResult } from './lab/index.js';
export { measureWall } from './lab/wall.js';
export type { WallCase, WallMeasurement, WallSeries } from './lab/wall.js';
export { parseTrace, replayTrace, Replayer, Trace, tagPattern, TRACE_MAX_BYTES, TRACE_MAX_LINE } from './lab/replay.js';
export type { TraceOp, ReplayResult, ReplayEvent, ReplayOptions, DataCheckFailure } from './lab/replay.js';
export { OPS as TRACE_OPS } from './lab/trace-ops.js';
export type { TraceOpDef } from './lab/trace-ops.js';
export { runKstackPindex } from './lab/kstack-pindex.js';
export { summarize, compareSamples, compareSummaries, formatVerdict, renderMinistat, readDataset, studentT } from './stats/ministat.js';
