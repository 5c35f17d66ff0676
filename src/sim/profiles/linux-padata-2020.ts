/**
 * Calibration profile: Linux deferred struct page initialisation on
 * bare-metal x86 servers (CONFIG_DEFERRED_STRUCT_PAGE_INIT), for the
 * parallel-drain variant of lazy-init-boot.
 *
 * Calibrated on ONE machine, predicts the other:
 *   - work.page_init is fitted to Mel Gorman's 2015 series: 1 TB on 4 nodes,
 *     one kswapd thread per node, "initialised deferred memory in"
 *     1116/1140/1148/1148 ms (mean 1138 ms) for 254 GiB per node (256 GiB less
 *     the 2 GiB per node his series initialises early).
 *   - Daniel Jordan's 2020 padata machine (2 nodes x 52 CPUs, 384 GiB per
 *     node) is then predicted: deferred init with one thread per node
 *     (published 1786 ms) and with all 52 CPUs of a node (published 138 ms),
 *     and where the gains flatten (published: about a quarter of a node's
 *     CPUs). The flattening comes from the bandwidth limit below, taken from
 *     the memory system's specification, not from the 138 ms.
 *   - restOfBootNs is calibrated on Jordan's own 1-thread boot (4090 ms - 1786 ms),
 *     so only the deferred-init part of his 2444 ms boot is a prediction.
 */
import type { CostProfile } from '../cost.js';
import { firecrackerAmd64_2023 } from './firecracker-amd64-2023.js';

const GORMAN = 'Mel Gorman, "[PATCH 0/13] Parallel struct page initialisation v4", LKML 2015-04-28 (lkml.iu.edu/hypermail/linux/kernel/1504.3/02589.html)';
const JORDAN = 'Daniel Jordan, "[PATCH v3 0/8] padata: parallelize deferred page init", LKML 2020-05-27 (lkml.iu.edu/hypermail/linux/kernel/2005.3/04718.html) and its measurements (2 nodes, 104 CPUs, 768 GiB: deferred init 1786 -> 138 ms, boot 4090 -> 2444 ms)';

export const GORMAN_PAGES_PER_NODE = (254 * 2 ** 30) / 4096;

export const linuxPadata2020: CostProfile = {
  name: 'linux-padata-2020',
  os: 'linux',
  description: 'Linux deferred struct page init on 2-4 node x86 servers (Gorman 2015, Jordan 2020)',
  machine: '2-socket Skylake-SP Xeon (recalled as Platinum 8167M, not verified here), 104 CPUs, 768 GiB (Jordan); 4-node 1 TB server (Gorman)',
  work: {
    ...firecrackerAmd64_2023.work,
    page_init: {
      value: 1138e6 / GORMAN_PAGES_PER_NODE,
      unit: 'ns/page',
      basis: 'calibration',
      calibratedOn: 'Gorman 2015: 1138 ms (mean of 4 nodes) to initialise 254 GiB per node with one thread per node',
      source: `${GORMAN}. 1138e6 ns / (254 GiB / 4 KiB = 66584576 struct pages) = 17.09 ns (__init_single_page + __free_pages_core, 64-byte struct page)`,
    },
    page_init_bulk: { value: 1138e6 / GORMAN_PAGES_PER_NODE, unit: 'ns/page', basis: 'derived', source: 'Linux has no bzero-then-set variant; same as page_init' },
  },
  params: {
    restOfBootNs: {
      value: 4090e6 - 1786e6,
      unit: 'ns',
      basis: 'calibration',
      calibratedOn: 'Jordan 2020: kernel boot 4090 ms with deferred init 1786 ms (one thread per node)',
      source: `${JORDAN}: 4090 ms boot minus 1786 ms deferred init`,
    },
    cpusPerNode: { value: 52, unit: 'CPUs', basis: 'independent', source: `${JORDAN}: 104 CPUs on 2 nodes` },
    pageTrafficBytes: {
      value: 128,
      unit: 'bytes/page',
      basis: 'independent',
      source: 'sizeof(struct page) = 64 on x86_64, written once with write-allocate (RFO) = 2 x 64 bytes of DRAM traffic',
    },
    memBandwidthBytesPerNs: {
      value: 100,
      unit: 'bytes/ns per node',
      basis: 'assumption',
      source:
        'not fitted to the 138 ms: a Skylake-SP socket has 6 channels of DDR4-2666 x 8 bytes = 128 GB/s peak (Intel Xeon Scalable platform spec); sustained ~78% of peak, a typical STREAM efficiency (estimate) = 100 GB/s per node',
    },
    padataChunkPages: {
      value: 32768,
      unit: 'pages',
      basis: 'independent',
      source: `${JORDAN}: deferred_init_memmap splits work in PAGES_PER_SECTION units (128 MiB / 4 KiB)`,
    },
    padataLoadBalanceFactor: { value: 4, unit: 'chunks per thread', basis: 'independent', source: 'kernel/padata.c, padata_do_multithreaded: load_balance_factor = 4' },
    fracBeforeDeferred: { value: 0.5, unit: 'of rest', basis: 'assumption', source: 'share of the rest of boot before page_alloc_init_late; moves phases, not totals' },
  },
};
