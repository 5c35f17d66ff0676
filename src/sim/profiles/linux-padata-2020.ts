/**
 * Calibration profile: Linux deferred struct page initialisation
 * (CONFIG_DEFERRED_STRUCT_PAGE_INIT) on x86 servers and guests, for the
 * several-drain-threads variant of lazy-init-boot.
 *
 * Calibrated on ONE machine, predicts the others:
 *   - work.page_init is fitted to Mel Gorman's 2015 series on a 1 TB, 4-node
 *     machine: one kswapd per node initialised its deferred memory in
 *     1116/1140/1148/1148 ms (mean 1138 ms) for 254 GiB per node.
 *   - Every deferred-init time of Daniel Jordan's 2020 padata series, on two
 *     machines (a 2 x 52-CPU Skylake server with 768 GiB and a 32-vCPU,
 *     192 GiB KVM guest), and of Gorman's 64 GiB machine, is then a
 *     prediction. The gain from more threads stops where each node's memory
 *     bandwidth, taken from the memory system's specification (not from any
 *     published time), is used up.
 *   - The rest of each Jordan boot (everything but deferred init) is
 *     calibrated as the FreeBSD profile's is: his boot without the series
 *     minus the model's OWN one-thread deferred init of that machine. So that
 *     one boot per machine is a calibration; every other boot is a prediction.
 *
 * The machines are described here too, with their sources: their page counts
 * enter the rest-of-boot constants.
 */
import type { CostProfile } from '../cost.js';
import { firecrackerAmd64_2023 } from './firecracker-amd64-2023.js';

const GiB = 2 ** 30;
const PAGE = 4096;
/** PAGES_PER_SECTION on x86_64: a 128 MiB memory section. */
const SECTION_PAGES = (128 * 2 ** 20) / PAGE;

const GORMAN = 'Mel Gorman, "[PATCH 0/13] Parallel struct page initialisation v4", LKML 2015-04-28 (lkml.iu.edu/hypermail/linux/kernel/1504.3/03018.html)';
export const JORDAN =
  'Daniel Jordan, "[PATCH v3 6/8] mm: parallelize deferred_init_memmap()", LKML 2020-05-27 (series cover: lkml.iu.edu/hypermail/linux/kernel/2005.3/04718.html)';
const DEFER_2015 = 'Gorman 2015 update_defer_init(): low zones and 2 GiB of the highest zone of each node are initialised early, the rest is deferred';
const DEFER_2020 =
  'Linux 5.7 defer_init(): the low zones (below 4 GiB) and the first section of the highest zone of each node are initialised early, the rest is deferred';

/** A published machine the Linux model runs on (no Vm: a 768 GiB page array does not fit this host). */
export interface LinuxMachine {
  name: string;
  description: string;
  nodes: number;
  /** CPUs per node; an upper bound on padata threads per node. */
  cpusPerNode: number;
  /** struct pages left to deferred init on the node with the most (the published times are the slowest node's). */
  deferredPagesPerNode: number;
  /** Profile parameter giving each node's memory bandwidth, or null for no limit. */
  bandwidthParam: string | null;
  /** Profile parameter giving the rest of the kernel boot, or null when no boot time is published. */
  restOfBootParam: string | null;
  source: string;
}

export const GORMAN_2015_1TB: LinuxMachine = {
  name: 'gorman-2015-1tb-4node',
  description: 'Gorman 2015: 1 TB, 4 nodes (CPU not published)',
  nodes: 4,
  cpusPerNode: 1,
  deferredPagesPerNode: (254 * GiB) / PAGE,
  bandwidthParam: null,
  restOfBootParam: null,
  source: `${GORMAN}. 256 GiB per node assumed (1 TB / 4 kswapd threads); ${DEFER_2015}: 254 GiB deferred per node. One kswapd per node, so one thread per node; at ~7.5 GB/s per thread no plausible node bandwidth binds`,
};

export const GORMAN_2015_64G: LinuxMachine = {
  ...GORMAN_2015_1TB,
  name: 'gorman-2015-64g-4node',
  description: 'Gorman 2015: 64 GiB, 4 nodes (CPU not published)',
  deferredPagesPerNode: (14 * GiB) / PAGE,
  source: `${GORMAN}. 16 GiB per node assumed (64 GiB / 4 kswapd threads); ${DEFER_2015}: 14 GiB deferred per node`,
};

export const JORDAN_2020_SKYLAKE: LinuxMachine = {
  name: 'jordan-2020-skylake-2x52',
  description: 'Jordan 2020: Xeon Platinum 8167M (Skylake), bare metal, 2 nodes x 52 CPUs, 384 GiB per node',
  nodes: 2,
  cpusPerNode: 52,
  deferredPagesPerNode: (384 * GiB) / PAGE - SECTION_PAGES,
  bandwidthParam: 'bandwidthSkylakeNodeBytesPerNs',
  restOfBootParam: 'restOfBootSkylakeNs',
  source: `${JORDAN}: "Intel(R) Xeon(R) Platinum 8167M CPU @ 2.00GHz (Skylake, bare metal) 2 nodes * 26 cores * 2 threads = 104 CPUs, 384G/node". ${DEFER_2020}; node 1 (no low zones) is the slowest: 384 GiB less one section`,
};

export const JORDAN_2020_KVM: LinuxMachine = {
  name: 'jordan-2020-kvm-1x32',
  description: 'Jordan 2020: Xeon E5-2699C v4 (Broadwell) KVM guest, 1 node x 32 vCPUs, 192 GiB',
  nodes: 1,
  cpusPerNode: 32,
  deferredPagesPerNode: (190 * GiB) / PAGE - SECTION_PAGES,
  bandwidthParam: 'bandwidthBroadwellGuestBytesPerNs',
  restOfBootParam: 'restOfBootBroadwellGuestNs',
  source: `${JORDAN}: "Intel(R) Xeon(R) CPU E5-2699C v4 @ 2.20GHz (Broadwell, kvm guest) 1 node * 16 cores * 2 threads = 32 CPUs, 192G/node". ${DEFER_2020}; assumed 2 GiB of it below 4 GiB (QEMU q35 keeps 2 GiB low; the VMM is not named), so 190 GiB less one section deferred`,
};

export const LINUX_MACHINES: readonly LinuxMachine[] = [GORMAN_2015_1TB, GORMAN_2015_64G, JORDAN_2020_SKYLAKE, JORDAN_2020_KVM];

/** The one figure work.page_init is fitted to: Gorman's 1 TB machine, mean of its four nodes. */
const GORMAN_1TB_MEAN_NS = ((1116 + 1140 + 1148 + 1148) / 4) * 1e6;
const PAGE_INIT_NS = GORMAN_1TB_MEAN_NS / GORMAN_2015_1TB.deferredPagesPerNode;

/*
 * The model's own one-thread deferred init of `m`: with one thread per node
 * the work is pages x page_init on every node at once, never bandwidth-bound
 * (tested against the simulation in test/sim.test.ts).
 */
const oneThreadNs = (m: LinuxMachine) => m.deferredPagesPerNode * PAGE_INIT_NS;

export const linuxPadata2020: CostProfile = {
  name: 'linux-padata-2020',
  os: 'linux',
  description: 'Linux deferred struct page init, calibrated on Gorman 2015 (1 TB, 4 nodes), predicting Gorman 2015 (64 GiB) and Jordan 2020 (two machines)',
  machine: LINUX_MACHINES.map((m) => m.description).join('; '),
  work: {
    ...firecrackerAmd64_2023.work,
    page_init: {
      value: PAGE_INIT_NS,
      unit: 'ns/page',
      basis: 'calibration',
      calibratedOn: 'Gorman 2015, 1 TB machine: 1138 ms (mean of 4 nodes) to initialise 254 GiB per node with one thread per node',
      source: `${GORMAN}. 1138e6 ns / (254 GiB / 4 KiB = 66584576 struct pages) = 17.09 ns (__init_single_page + __free_pages_core, 64-byte struct page)`,
    },
    page_init_bulk: { value: PAGE_INIT_NS, unit: 'ns/page', basis: 'derived', source: 'Linux has no bzero-then-set variant; same as page_init' },
  },
  params: {
    restOfBootSkylakeNs: {
      value: 4089.7e6 - oneThreadNs(JORDAN_2020_SKYLAKE),
      unit: 'ns',
      basis: 'calibration',
      calibratedOn: 'Jordan 2020, Skylake 2 x 52: kernel boot without the series, 4089.7 ms',
      source: `${JORDAN}. 4089.7 ms minus the model's own one-thread deferred init of that machine (deferred pages x work.page_init = ${(oneThreadNs(JORDAN_2020_SKYLAKE) / 1e6).toFixed(1)} ms), as the FreeBSD profile derives its rest of boot; held constant across thread counts`,
    },
    restOfBootBroadwellGuestNs: {
      value: 1988.7e6 - oneThreadNs(JORDAN_2020_KVM),
      unit: 'ns',
      basis: 'calibration',
      calibratedOn: 'Jordan 2020, Broadwell KVM guest 1 x 32: kernel boot without the series, 1988.7 ms',
      source: `${JORDAN}. 1988.7 ms minus the model's own one-thread deferred init of that machine (${(oneThreadNs(JORDAN_2020_KVM) / 1e6).toFixed(1)} ms); held constant across thread counts`,
    },
    pageTrafficBytes: {
      value: 128,
      unit: 'bytes/page',
      basis: 'independent',
      source: 'sizeof(struct page) = 64 on x86_64, written once with write-allocate (RFO) = 2 x 64 bytes of DRAM traffic',
    },
    bandwidthSkylakeNodeBytesPerNs: {
      value: 100,
      unit: 'bytes/ns per node',
      basis: 'assumption',
      source:
        'not fitted to any published time: a Skylake-SP socket has 6 channels of DDR4-2666 x 8 bytes = 128 GB/s peak (Intel Xeon Scalable platform spec); sustained ~78% of peak, a typical STREAM efficiency (estimate) = 100 GB/s per node',
    },
    bandwidthBroadwellGuestBytesPerNs: {
      value: 60,
      unit: 'bytes/ns per node',
      basis: 'assumption',
      source:
        'not fitted to any published time: a Broadwell-EP (Xeon E5 v4) socket has 4 channels of DDR4-2400 x 8 bytes = 76.8 GB/s peak (Intel E5-2600 v4 spec); x 78% as for Skylake = 60 GB/s, assuming the 16-core guest and its memory sit on one host socket',
    },
    padataChunkPages: {
      value: SECTION_PAGES,
      unit: 'pages',
      basis: 'independent',
      source: `${JORDAN}: helper threads work on section-aligned ranges, and "the minimum chunk size is also a section" (PAGES_PER_SECTION = 128 MiB / 4 KiB)`,
    },
    padataLoadBalanceFactor: { value: 4, unit: 'chunks per thread', basis: 'independent', source: 'kernel/padata.c, padata_do_multithreaded: load_balance_factor = 4' },
    fracBeforeDeferred: { value: 0.5, unit: 'of rest', basis: 'assumption', source: 'share of the rest of boot before page_alloc_init_late; moves phases, not totals' },
  },
};
