/*
 * Preset machines: the physical memory maps real x86 VMMs hand a
 * FreeBSD/amd64 guest, and the phys_avail[] the kernel would carve out of
 * them at boot.
 *
 * RAM ranges follow each VMM's e820 table (the BIOS memory map); phys_avail
 * follows FreeBSD amd64 getmemsize(): page 0 is never given out, the AP boot
 * trampoline is taken from the top of the low 640 KiB, the kernel and
 * preloaded modules sit from KERNLOAD (2 MiB) up, create_pagetables() takes
 * the bootstrap page tables right after them, and the message buffer comes off
 * the end of the last range. Sizes of the kernel and of the early allocations
 * are estimates of a real boot, not measurements; they only need to be
 * realistic enough that the VM layer has non-trivial holes to initialise.
 */
import { PagelabError } from '../errors.js';
import { formatSize } from '../util/units.js';
import { buildMemoryMap, MAX_RAM_BYTES, MAX_RAM_TEXT, PAGE_SIZE } from './memmap.js';
import type { MemoryMap, PhysRange, RamRange } from './types.js';

const KiB = 2 ** 10;
const MiB = 2 ** 20;
const GiB = 2 ** 30;

/* FreeBSD amd64 KERNLOAD: the physical load address of the kernel. */
export const KERNLOAD = 0x200000;

/* Start of "high" memory above the ISA hole (VGA, option ROMs, BIOS). */
const HIMEM_START = 1 * MiB;
/* The EBDA starts here in the e820 of Firecracker, SeaBIOS and most PCs. */
const EBDA_START = 0x9fc00;
/* The classic 640 KiB of conventional memory, as bhyveload reports it. */
const CONVENTIONAL_END = 640 * KiB;
/* Bottom of the 32-bit PCI/MMIO hole with a 3 GiB lowmem limit; RAM resumes at 4 GiB. */
const LOWMEM_3G = 3 * GiB;
const HIGHMEM_START = 4 * GiB;

/* GENERIC kernel plus a typical set of preloaded modules (zfs, ...). */
const GENERIC_KERNEL_BYTES = 30 * MiB;
/* A cut-down kernel config such as FIRECRACKER or MINIMAL, no modules. */
const SMALL_KERNEL_BYTES = 4 * MiB;
/* Firecracker boots the FIRECRACKER kernel config: GENERIC minus most drivers. */
const FIRECRACKER_KERNEL_BYTES = 22 * MiB;
/* kern.msgbufsize default on amd64, taken off the end of phys_avail. */
const MSGBUF_BYTES = 96 * KiB;
/* alloc_ap_trampoline(): round_page(bootMP_size), below 1 MiB. */
const AP_TRAMPOLINE_BYTES = 2 * PAGE_SIZE;

const MIN_MEM = 16 * MiB;
/*
 * The largest --mem: as much RAM as the page array can number (16 TiB -
 * 8 KiB). amd64's 52-bit physical limit, 4 PiB, is far above it.
 */
export const MAX_MEM = MAX_RAM_BYTES;

type Reserved = PhysRange & { what: string };

const alignDown = (a: number) => a - (a % PAGE_SIZE);

/*
 * The reservations FreeBSD amd64 makes between RAM and phys_avail.
 * Requires: ram sorted, a range below 1 MiB that starts at 0, and a range
 * containing [KERNLOAD, KERNLOAD + kernelBytes + page tables).
 * Guarantees: sorted, disjoint, page-aligned ranges inside RAM.
 */
function amd64BootReservations(ram: readonly RamRange[], kernelBytes: number): Reserved[] {
  const out: Reserved[] = [];
  const low = ram[0];
  out.push({ start: 0, end: PAGE_SIZE, what: 'BIOS page 0' });
  out.push({ start: low.end - AP_TRAMPOLINE_BYTES, end: low.end, what: 'AP boot trampoline' });
  const kernelEnd = KERNLOAD + kernelBytes;
  out.push({ start: KERNLOAD, end: kernelEnd, what: 'kernel and preloaded modules' });
  // create_pagetables(): a handful of fixed pages (PML4, PDP, KPT pages for
  // the kernel map) plus one page directory page per GiB of direct map.
  const maxAddr = ram[ram.length - 1].end;
  const ptPages = 32 + Math.ceil(maxAddr / GiB) + Math.ceil(maxAddr / (512 * GiB));
  out.push({ start: kernelEnd, end: kernelEnd + ptPages * PAGE_SIZE, what: 'bootstrap page tables' });
  const top = ram[ram.length - 1];
  out.push({ start: top.end - MSGBUF_BYTES, end: top.end, what: 'message buffer' });
  return out;
}

function preset(name: string, ndomains: number, ram: RamRange[], kernelBytes: number, source = 'preset'): MemoryMap {
  return buildMemoryMap({ name, source, ndomains, ram, reserved: amd64BootReservations(ram, kernelBytes) });
}

/*
 * Firecracker (src/vmm/src/arch/x86_64/{layout.rs,mod.rs}): guest memory is
 * one region from 0, split around the 32-bit MMIO gap [3 GiB, 4 GiB)
 * (MMIO32_MEM_START = 4 GiB - 1 GiB in current releases; older ones used
 * 768 MiB). The e820 reports RAM [0, EBDA_START) and [HIMEM_START, end of low
 * region), then the rest from 4 GiB. This is also the layout of FreeBSD
 * review D40403's test machines, and of the Firecracker VM these tests were
 * written on (see test/fixtures/machine/).
 */
function firecracker(name: string, bytes: number): MemoryMap {
  const ram: RamRange[] = [
    { start: 0, end: alignDown(EBDA_START), domain: 0 },
    { start: HIMEM_START, end: Math.min(bytes, LOWMEM_3G), domain: 0 },
  ];
  if (bytes > LOWMEM_3G) ram.push({ start: HIGHMEM_START, end: HIGHMEM_START + bytes - LOWMEM_3G, domain: 0 });
  return preset(name, 1, ram, bytes <= 64 * MiB ? SMALL_KERNEL_BYTES : FIRECRACKER_KERNEL_BYTES);
}

/*
 * QEMU q35 with SeaBIOS: q35 keeps at most 2 GiB below 4 GiB once guest RAM
 * reaches 2.75 GiB (pc/i440fx would keep 3 GiB); SeaBIOS reserves the top
 * 144 KiB of low RAM for its tables, so e820 RAM ends at 0x7ffdc000. The rest
 * of guest RAM starts at 4 GiB. `splitAt` (a guest-RAM offset) assigns the
 * RAM below it to domain 0 and above to domain 1, as `-numa node,mem=` does
 * through the SRAT.
 */
function qemuQ35(name: string, bytes: number, splitAt?: number): MemoryMap {
  const lowmem = 2 * GiB;
  const ram: RamRange[] = [
    { start: 0, end: alignDown(EBDA_START), domain: 0 },
    { start: HIMEM_START, end: 0x7ffdc000, domain: 0 },
  ];
  const highEnd = HIGHMEM_START + bytes - lowmem;
  if (splitAt === undefined) {
    ram.push({ start: HIGHMEM_START, end: highEnd, domain: 0 });
  } else {
    const splitAddr = HIGHMEM_START + splitAt - lowmem;
    ram.push({ start: HIGHMEM_START, end: splitAddr, domain: 0 });
    ram.push({ start: splitAddr, end: highEnd, domain: 1 });
  }
  return preset(name, splitAt === undefined ? 1 : 2, ram, GENERIC_KERNEL_BYTES);
}

/*
 * bhyve with bhyveload or the UEFI firmware: vm_setup_memory() maps
 * min(memsize, lowmem limit = 3 GiB) at 0 and the rest at 4 GiB; the loader's
 * SMAP reports [0, 640 KiB), [1 MiB, lowmem) and [4 GiB, 4 GiB + highmem).
 */
function bhyve(name: string, bytes: number): MemoryMap {
  const lowmem = Math.min(bytes, LOWMEM_3G);
  const ram: RamRange[] = [
    { start: 0, end: CONVENTIONAL_END, domain: 0 },
    { start: HIMEM_START, end: lowmem, domain: 0 },
  ];
  if (bytes > lowmem) ram.push({ start: HIGHMEM_START, end: HIGHMEM_START + bytes - lowmem, domain: 0 });
  return preset(name, 1, ram, GENERIC_KERNEL_BYTES);
}

export interface PresetInfo {
  name: string;
  /** One line for `--help` and the docs table. */
  description: string;
  build: () => MemoryMap;
}

export const PRESETS: readonly PresetInfo[] = [
  {
    name: 'tiny-16m',
    description: '16 MiB Firecracker-style guest with a 4 MiB kernel; small enough for exhaustive tests',
    build: () => firecracker('tiny-16m', 16 * MiB),
  },
  {
    name: 'firecracker-128m',
    description: 'Firecracker guest, 128 MiB (FreeBSD review D40403)',
    build: () => firecracker('firecracker-128m', 128 * MiB),
  },
  {
    name: 'firecracker-1g',
    description: 'Firecracker guest, 1 GiB (FreeBSD review D40403)',
    build: () => firecracker('firecracker-1g', 1 * GiB),
  },
  {
    name: 'bhyve-10g',
    description: 'bhyve guest, 10 GiB: 3 GiB below the PCI hole, 7 GiB from 4 GiB',
    build: () => bhyve('bhyve-10g', 10 * GiB),
  },
  {
    name: 'host-16g',
    description: 'amd64 server, 16 GiB, one domain: a bhyve host with room to wire a 10 GiB guest (seed 001)',
    build: () => ({ ...memoryMapForSize(16 * GiB), name: 'host-16g', source: 'preset' }),
  },
  {
    name: 'qemu-64g',
    description: 'QEMU q35 + SeaBIOS guest, 64 GiB: 2 GiB low, 62 GiB from 4 GiB',
    build: () => qemuQ35('qemu-64g', 64 * GiB),
  },
  {
    name: 'numa-2x32g',
    description: 'QEMU q35 guest with two NUMA nodes of 32 GiB each (-numa node,mem=32G twice)',
    build: () => qemuQ35('numa-2x32g', 64 * GiB, 32 * GiB),
  },
];

export const PRESET_NAMES: readonly string[] = PRESETS.map((p) => p.name);

/*
 * The preset called `name`.
 * Guarantees: a fresh, valid MemoryMap (callers may mutate it), or EMEMMAP
 * listing the known presets.
 */
export function presetMemoryMap(name: string): MemoryMap {
  const p = PRESETS.find((q) => q.name === name);
  if (p === undefined) {
    throw new PagelabError('EMEMMAP', `unknown preset "${name}" (known presets: ${PRESET_NAMES.join(', ')})`);
  }
  return p.build();
}

/*
 * Refuse a RAM size no machine can have, naming it as `what` (the option it
 * came from: "--mem", "--sizes", ...).
 * Guarantees: returns only for 16 MiB <= bytes <= MAX_MEM, page-aligned;
 * otherwise ESIZE naming `what` and the size.
 */
function checkMemSize(bytes: number, what: string): void {
  const shown = Number.isFinite(bytes) ? `${formatSize(bytes)} (${bytes} bytes)` : String(bytes);
  if (!Number.isSafeInteger(bytes) || bytes < MIN_MEM) {
    throw new PagelabError('ESIZE', `${what} ${shown}: a machine needs at least ${formatSize(MIN_MEM)} of RAM`);
  }
  if (bytes % PAGE_SIZE !== 0) {
    throw new PagelabError('ESIZE', `${what} ${shown}: not a multiple of the ${PAGE_SIZE}-byte page size`);
  }
  if (bytes > MAX_MEM) {
    throw new PagelabError('ESIZE', `${what} ${shown}: more than ${MAX_RAM_TEXT} (${MAX_MEM} bytes), the most RAM the page array's 32-bit page indices can number`);
  }
}

/*
 * A generic amd64 PC with exactly `bytes` of RAM, for `--mem SIZE`:
 * [0, 640 KiB), then [1 MiB, 3 GiB), then the rest from 4 GiB, one domain.
 * Real firmware loses the 384 KiB ISA hole; here the top range is extended by
 * that much so that the machine has exactly the RAM that was asked for.
 * Requires: 16 MiB <= bytes <= MAX_MEM, bytes a multiple of the page size.
 * Guarantees: a valid map whose RAM adds up to `bytes`, or ESIZE naming the
 * size and `what` (the option it came from).
 */
export function memoryMapForSize(bytes: number, what = '--mem'): MemoryMap {
  checkMemSize(bytes, what);
  const lowBytes = CONVENTIONAL_END;
  const midEnd = Math.min(HIMEM_START + bytes - lowBytes, LOWMEM_3G);
  const highBytes = bytes - lowBytes - (midEnd - HIMEM_START);
  const ram: RamRange[] = [
    { start: 0, end: CONVENTIONAL_END, domain: 0 },
    { start: HIMEM_START, end: midEnd, domain: 0 },
  ];
  if (highBytes > 0) ram.push({ start: HIGHMEM_START, end: HIGHMEM_START + highBytes, domain: 0 });
  const kernel = bytes <= 64 * MiB ? SMALL_KERNEL_BYTES : GENERIC_KERNEL_BYTES;
  return preset(`mem-${formatSize(bytes)}`, 1, ram, kernel, '--mem');
}

/*
 * A Firecracker guest of any size: the layout and kernel of the
 * firecracker-128m and firecracker-1g presets (which it reproduces exactly at
 * those sizes), so that a sweep over sizes changes only the amount of RAM.
 * Named "firecracker-<size>" in lower case.
 * Requires: as memoryMapForSize.
 * Guarantees: a valid one-domain map of `bytes` of guest memory (the e820
 * leaves out [EBDA, 1 MiB) as Firecracker's does), or ESIZE naming `what`
 * and the size.
 */
export function firecrackerMapForSize(bytes: number, what = '--mem'): MemoryMap {
  checkMemSize(bytes, what);
  return firecracker(`firecracker-${formatSize(bytes).toLowerCase()}`, bytes);
}
