/**
 * Calibration profile: Linux deferred struct page initialisation
 * (CONFIG_DEFERRED_STRUCT_PAGE_INIT) on x86 servers and guests, for the
 * several-drain-threads variant of lazy-init-boot.
 *
 * Calibrated on ONE machine, predicts the others:
 *   - work.page_init is fitted to Mel Gorman's 2015 series on a 1 TB, 4-node
 *     machine: one kswapd per node initialised its deferred memory in
 *     1116/1140/1148/1148 ms (mean 1138 ms) for 254 GiB per node.
 *   - Every deferred-init time of Daniel Jordan's 2020 padata series, on all
 *     six machines of his table (Skylake and Haswell servers; Broadwell,
 *     EPYC and Haswell KVM guests), and of Gorman's 64 GiB machine, is then
 *     a prediction. The gain from more threads stops where each node's memory
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

/*
 * A machine of Jordan's table: `quote` is his description of it, `deferredGiB`
 * the memory of its slowest node above what defer_init keeps (the low zones),
 * of which the first section is initialised early too.
 */
function jordanMachine(
  name: string,
  description: string,
  nodes: number,
  cpusPerNode: number,
  deferredGiB: number,
  params: { bandwidth: string; restOfBoot: string },
  quote: string,
  why: string,
): LinuxMachine {
  return {
    name,
    description,
    nodes,
    cpusPerNode,
    deferredPagesPerNode: (deferredGiB * GiB) / PAGE - SECTION_PAGES,
    bandwidthParam: params.bandwidth,
    restOfBootParam: params.restOfBoot,
    source: `${JORDAN}: "${quote}". ${DEFER_2020}; ${why}: ${deferredGiB} GiB less one section deferred`,
  };
}

const GUEST_LOW = '2 GiB assumed below 4 GiB (QEMU q35 keeps 2 GiB low; the VMM is not named)';

export const JORDAN_2020_SKYLAKE = jordanMachine(
  'jordan-2020-skylake-2x52',
  'Jordan 2020: Xeon Platinum 8167M (Skylake), bare metal, 2 nodes x 52 CPUs, 384 GiB per node',
  2,
  52,
  384,
  { bandwidth: 'bandwidthSkylakeNodeBytesPerNs', restOfBoot: 'restOfBootSkylakeNs' },
  'Intel(R) Xeon(R) Platinum 8167M CPU @ 2.00GHz (Skylake, bare metal) 2 nodes * 26 cores * 2 threads = 104 CPUs, 384G/node',
  'node 1 (no low zones) is the slowest',
);

export const JORDAN_2020_KVM = jordanMachine(
  'jordan-2020-kvm-1x32',
  'Jordan 2020: Xeon E5-2699C v4 (Broadwell) KVM guest, 1 node x 32 vCPUs, 192 GiB',
  1,
  32,
  190,
  { bandwidth: 'bandwidthBroadwellGuestBytesPerNs', restOfBoot: 'restOfBootBroadwellGuestNs' },
  'Intel(R) Xeon(R) CPU E5-2699C v4 @ 2.20GHz (Broadwell, kvm guest) 1 node * 16 cores * 2 threads = 32 CPUs, 192G/node',
  GUEST_LOW,
);

export const JORDAN_2020_HASWELL = jordanMachine(
  'jordan-2020-haswell-2x36',
  'Jordan 2020: Xeon E5-2699 v3 (Haswell), bare metal, 2 nodes x 36 CPUs, 128 GiB per node',
  2,
  36,
  128,
  { bandwidth: 'bandwidthHaswellNodeBytesPerNs', restOfBoot: 'restOfBootHaswellNs' },
  'Intel(R) Xeon(R) CPU E5-2699 v3 @ 2.30GHz (Haswell, bare metal) 2 nodes * 18 cores * 2 threads = 72 CPUs, 128G/node',
  'node 1 (no low zones) is the slowest',
);

export const JORDAN_2020_EPYC_GUEST_16 = jordanMachine(
  'jordan-2020-epyc-kvm-1x16',
  'Jordan 2020: EPYC 7551 (Zen) KVM guest, 1 node x 16 vCPUs, 64 GiB',
  1,
  16,
  62,
  { bandwidth: 'bandwidthEpycDieBytesPerNs', restOfBoot: 'restOfBootEpycGuest16Ns' },
  'AMD EPYC 7551 32-Core Processor (Zen, kvm guest) 1 node * 8 cores * 2 threads = 16 CPUs, 64G/node',
  GUEST_LOW,
);

export const JORDAN_2020_EPYC_GUEST_4 = jordanMachine(
  'jordan-2020-epyc-kvm-1x4',
  'Jordan 2020: EPYC 7551 (Zen) KVM guest, 1 node x 4 vCPUs, 16 GiB',
  1,
  4,
  14,
  { bandwidth: 'bandwidthEpycDieBytesPerNs', restOfBoot: 'restOfBootEpycGuest4Ns' },
  'AMD EPYC 7551 32-Core Processor (Zen, kvm guest) 1 node * 2 cores * 2 threads = 4 CPUs, 16G/node',
  GUEST_LOW,
);

export const JORDAN_2020_HASWELL_GUEST_4 = jordanMachine(
  'jordan-2020-haswell-kvm-1x4',
  'Jordan 2020: Xeon E5-2699 v3 (Haswell) KVM guest, 1 node x 4 vCPUs, 14 GiB',
  1,
  4,
  12,
  { bandwidth: 'bandwidthHaswellNodeBytesPerNs', restOfBoot: 'restOfBootHaswellGuest4Ns' },
  'Intel(R) Xeon(R) CPU E5-2699 v3 @ 2.30GHz (Haswell, kvm guest) 1 node * 2 cores * 2 threads = 4 CPUs, 14G/node',
  GUEST_LOW,
);

/** Every machine of Gorman's cover letter and of Jordan's table, in the order they are published. */
export const LINUX_MACHINES: readonly LinuxMachine[] = [
  GORMAN_2015_1TB,
  GORMAN_2015_64G,
  JORDAN_2020_SKYLAKE,
  JORDAN_2020_KVM,
  JORDAN_2020_HASWELL,
  JORDAN_2020_EPYC_GUEST_16,
  JORDAN_2020_EPYC_GUEST_4,
  JORDAN_2020_HASWELL_GUEST_4,
];

/* The rest-of-boot calibration of a Jordan machine: his boot without the series minus the model's own one-thread deferred init. */
function restOfBoot(m: LinuxMachine, bootWithoutSeriesMs: number, label: string): { value: number; unit: string; basis: 'calibration'; calibratedOn: string; source: string } {
  return {
    value: bootWithoutSeriesMs * 1e6 - oneThreadNs(m),
    unit: 'ns',
    basis: 'calibration',
    calibratedOn: `Jordan 2020, ${label}: kernel boot without the series, ${bootWithoutSeriesMs} ms`,
    source: `${JORDAN}. ${bootWithoutSeriesMs} ms minus the model's own one-thread deferred init of that machine (deferred pages x work.page_init = ${(oneThreadNs(m) / 1e6).toFixed(1)} ms), as the FreeBSD profile derives its rest of boot; held constant across thread counts`,
  };
}

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
  description: 'Linux deferred struct page init, calibrated on Gorman 2015 (1 TB, 4 nodes), predicting Gorman 2015 (64 GiB) and Jordan 2020 (six machines)',
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
    restOfBootSkylakeNs: restOfBoot(JORDAN_2020_SKYLAKE, 4089.7, 'Skylake 2 x 52'),
    restOfBootBroadwellGuestNs: restOfBoot(JORDAN_2020_KVM, 1988.7, 'Broadwell KVM guest 1 x 32'),
    restOfBootHaswellNs: restOfBoot(JORDAN_2020_HASWELL, 1680.0, 'Haswell 2 x 36'),
    restOfBootEpycGuest16Ns: restOfBoot(JORDAN_2020_EPYC_GUEST_16, 1029.3, 'EPYC KVM guest 1 x 16'),
    restOfBootEpycGuest4Ns: restOfBoot(JORDAN_2020_EPYC_GUEST_4, 716.0, 'EPYC KVM guest 1 x 4'),
    restOfBootHaswellGuest4Ns: restOfBoot(JORDAN_2020_HASWELL_GUEST_4, 787.7, 'Haswell KVM guest 1 x 4'),
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
    bandwidthHaswellNodeBytesPerNs: {
      value: 53,
      unit: 'bytes/ns per node',
      basis: 'assumption',
      source:
        'not fitted to any published time: a Haswell-EP (Xeon E5 v3) socket has 4 channels of DDR4-2133 x 8 bytes = 68.3 GB/s peak (Intel E5-2600 v3 spec); x 78% as for Skylake = 53 GB/s; the 4-vCPU Haswell guest is assumed to sit on one such socket',
    },
    bandwidthEpycDieBytesPerNs: {
      value: 33,
      unit: 'bytes/ns per node',
      basis: 'assumption',
      source:
        'not fitted to any published time: an EPYC 7551 (Naples) is 4 dies of 8 cores, each die with 2 channels of DDR4-2666 x 8 bytes = 42.7 GB/s peak (AMD EPYC 7001 spec); x 78% = 33 GB/s; a 16-vCPU (8-core) guest fills one die, and the guests are assumed to get their memory from that die\'s channels only',
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
