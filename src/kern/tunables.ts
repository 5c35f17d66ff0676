/**
 * Loader tunables and sysctls: a registry of named, typed, validated knobs,
 * as FreeBSD's TUNABLE_INT_FETCH / SYSCTL_INT. Set from the API
 * (`tunables.set('vm.lazy_page_init', 0)`) or the CLI (`-o vm.lazy_page_init=0`).
 * Unknown names and bad values are ETUNABLE errors naming the tunable.
 */
import { PagelabError } from '../errors.js';
import { parseSize } from '../util/units.js';

export type TunableType = 'int' | 'bool' | 'size' | 'enum';

export interface TunableDef {
  name: string;
  type: TunableType;
  default: number | string;
  description: string;
  /** For int/size: inclusive bounds. */
  min?: number;
  max?: number;
  /** For enum: the allowed values. */
  values?: readonly string[];
  /** Other names accepted for this tunable (e.g. FreeBSD's own spelling). */
  aliases?: readonly string[];
}

export const TUNABLES: readonly TunableDef[] = [
  {
    name: 'vm.lazy_page_init',
    type: 'bool',
    default: 1,
    description: 'Defer vm_page initialisation to the LAZYINIT pool (D40403); 0 initialises every page at boot',
    aliases: ['debug.vm.lazy_page_init'],
  },
  {
    name: 'vm.lazy_index_moves',
    type: 'bool',
    default: 1,
    description: 'Move vm_default_freepool past LAZYINIT once drained (D40403 as landed); 0 models its first revision, where searches always start at pool 0',
  },
  {
    name: 'vm.nfreeorder',
    type: 'int',
    default: 13,
    min: 1,
    max: 25,
    description: 'VM_NFREEORDER: buddy orders; blocks up to 2^(n-1) pages (13 on amd64: 16 MiB)',
  },
  {
    name: 'vm.page_init',
    type: 'enum',
    default: 'fields',
    values: ['fields', 'bzero'],
    description: 'How eager boot initialises page records: field by field per page, or zero-fill then set the non-zero fields',
  },
  {
    name: 'vm.numa.disabled',
    type: 'bool',
    default: 0,
    description: 'Treat the machine as a single NUMA domain',
  },
  {
    name: 'vm.backed',
    type: 'bool',
    default: 0,
    description: 'Back RAM with real bytes (shared WebAssembly memories): zeroing, write and verify act on memory',
  },
  {
    name: 'vm.zero.workers',
    type: 'int',
    default: 0,
    min: 0,
    max: 64,
    description: 'Worker threads that pre-zero free pages in the background (0: zero inline); needs vm.backed=1 to zero real bytes',
  },
  {
    name: 'vm.reserv.enable',
    type: 'bool',
    default: 1,
    description: 'Superpage reservations (vm_reserv; FreeBSD builds them when VM_NRESERVLEVEL > 0); 0 turns the layer off',
  },
  {
    name: 'vm.reserv.geometry',
    type: 'enum',
    default: 'amd64',
    values: ['amd64', 'arm64-16k'],
    description: 'Level-0 reservation size: amd64 order 9 (2 MiB), or arm64 with 16 KiB pages, order 11 (2048 page frames; pagelab keeps 4 KiB frames)',
  },
  {
    name: 'vm.pgcache.enable',
    type: 'bool',
    default: 1,
    description: 'Per-domain page caches (vmd_pgcache) in front of vm_phys for single-page allocations',
  },
  {
    name: 'vm.zero.policy',
    type: 'enum',
    default: 'alloc',
    values: ['alloc', 'idle', 'free', 'report'],
    description: 'When VM_ALLOC_ZERO\'s zeroing is done: alloc (on allocation only), idle (FreeBSD vm_zeroidle, 2/3..4/5 of free pages), free (Linux init_on_free), report (PG_zero RFC: free page reporting zeroes reported blocks)',
  },
  {
    name: 'vm.zero.threads',
    type: 'int',
    default: 1,
    min: 1,
    max: 64,
    description: 'Background zeroing threads of the idle and report policies (and hugepool refills): their share of idle time',
  },
  {
    name: 'vm.zero.hugepool',
    type: 'size',
    default: 0,
    min: 0,
    description: 'Memory kept aside as pre-zeroed 2 MiB blocks (the hugetlbfs alternative); zeroed allocations of order 9 and 0 take from it first',
  },
  {
    name: 'vm.zero.report_order',
    type: 'int',
    default: 9,
    min: 0,
    max: 24,
    description: 'page_reporting_order: smallest block order free page reporting reports (report policy)',
  },
  {
    name: 'vm.wire.fast',
    type: 'enum',
    default: '0',
    values: ['0', 'proposed', 'revised', '1'],
    description: 'vm_map_wire path (seed 001): 0 one vm_fault per page; proposed/revised the fast-wiring patch\'s two versions; 1 done right (busied, zeroed, 2 MiB mappings)',
  },
  {
    name: 'vm.max_user_wired',
    type: 'int',
    default: 0,
    min: 0,
    max: 2 ** 40,
    description: 'vm_page_max_user_wired: pages user wiring (mlock) may hold machine-wide; 0: one third of the free pages at boot (vm_pageout_init)',
  },
  {
    name: 'kern.kstack_pages',
    type: 'int',
    default: 4,
    min: 1,
    max: 64,
    description: 'KSTACK_PAGES: pages in a default-sized kernel stack (4 on amd64: 16 KiB)',
  },
  {
    name: 'kern.kstack_guard_pages',
    type: 'int',
    default: 1,
    min: 0,
    max: 16,
    description: 'KSTACK_GUARD_PAGES: unmapped pages below each kernel stack (1 on amd64)',
  },
  {
    name: 'vm.kstack.pindex',
    type: 'enum',
    default: 'nonlinear',
    values: ['linear', 'nonlinear', 'aligned'],
    description:
      'kstack_object pindex of a stack page: linear (atop(va - kernel base), a hole per guard page), nonlinear (D38852: guard pages skipped), aligned (nonlinear with imports aligned so each chunk starts a reservation)',
  },
  {
    name: 'vm.kstack.ilp32',
    type: 'bool',
    default: 0,
    description: 'Model a 32-bit kernel (__ILP32__): kernel stacks take KVA from kernel_arena and use the linear pindex, as FreeBSD before D38852',
  },
  {
    name: 'vm.kstack_cache_size',
    type: 'int',
    default: -1,
    min: -1,
    max: 1048576,
    description: 'Ready kernel stacks kept by the kstack cache; -1 (default) max(128, 4 x ncpu) as FreeBSD, 0 none',
  },
  {
    name: 'vm.kva_base',
    type: 'size',
    default: 0xfe0000000000,
    description: 'Kernel virtual address space base, VM_MIN_KERNEL_ADDRESS (amd64 0xfffffe0000000000 without its sign-extension bits); a multiple of the KVA quantum',
  },
  {
    name: 'vm.kva_size',
    type: 'size',
    default: 2 ** 41,
    min: 2 ** 21,
    description: 'Size of the kernel virtual address space managed by kernel_arena (2 TiB: 4 PML4 slots on amd64)',
  },
  {
    name: 'debug.invariants',
    type: 'bool',
    default: 0,
    description: 'INVARIANTS: reads of never-initialised page records fail with the page address',
  },
];

const BY_NAME = new Map<string, TunableDef>();
for (const t of TUNABLES) {
  BY_NAME.set(t.name, t);
  for (const a of t.aliases ?? []) BY_NAME.set(a, t);
}

export function findTunable(name: string): TunableDef {
  const def = BY_NAME.get(name);
  if (def === undefined) {
    throw new PagelabError('ETUNABLE', `unknown tunable "${name}" (known: ${TUNABLES.map((t) => t.name).join(', ')})`);
  }
  return def;
}

/*
 * Parses and validates one value for `def`. Accepts numbers or strings;
 * booleans as 0/1/true/false/on/off; sizes with suffixes.
 */
export function parseTunableValue(def: TunableDef, value: string | number | boolean): number | string {
  const bad = (why: string): never => {
    throw new PagelabError('ETUNABLE', `tunable ${def.name}: bad value "${String(value)}" (${why})`);
  };
  switch (def.type) {
    case 'bool': {
      const v = typeof value === 'boolean' ? (value ? '1' : '0') : String(value).trim().toLowerCase();
      if (v === '1' || v === 'true' || v === 'on' || v === 'yes') return 1;
      if (v === '0' || v === 'false' || v === 'off' || v === 'no') return 0;
      return bad('expected 0 or 1');
    }
    case 'int': {
      const s = String(value).trim();
      if (!/^-?[0-9]+$/.test(s)) return bad('expected an integer');
      const n = Number(s);
      if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) {
        return bad(`expected ${def.min ?? '-inf'}..${def.max ?? 'inf'}`);
      }
      return n;
    }
    case 'size': {
      let n: number;
      try {
        n = parseSize(typeof value === 'boolean' ? String(value) : value, `tunable ${def.name}`);
      } catch (e) {
        return bad((e as Error).message);
      }
      if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) {
        return bad(`expected ${def.min ?? 0}..${def.max ?? 'inf'} bytes`);
      }
      return n;
    }
    case 'enum': {
      const s = String(value).trim();
      if (!(def.values ?? []).includes(s)) return bad(`expected one of ${(def.values ?? []).join(', ')}`);
      return s;
    }
  }
}

/** A set of tunable values over the registry's defaults. */
export class Tunables {
  private readonly values = new Map<string, number | string>();

  constructor(initial?: Record<string, string | number | boolean>) {
    if (initial) for (const [k, v] of Object.entries(initial)) this.set(k, v);
  }

  set(name: string, value: string | number | boolean): this {
    const def = findTunable(name);
    this.values.set(def.name, parseTunableValue(def, value));
    return this;
  }

  /** Parses `name=value` (the CLI's -o argument). */
  setFromString(assignment: string): this {
    const eq = assignment.indexOf('=');
    if (eq <= 0) throw new PagelabError('ETUNABLE', `tunable assignment "${assignment}" is not name=value`);
    return this.set(assignment.slice(0, eq).trim(), assignment.slice(eq + 1));
  }

  get(name: string): number | string {
    const def = findTunable(name);
    return this.values.get(def.name) ?? def.default;
  }

  num(name: string): number {
    const v = this.get(name);
    if (typeof v !== 'number') throw new PagelabError('ETUNABLE', `tunable ${name} is not numeric`);
    return v;
  }

  str(name: string): string {
    return String(this.get(name));
  }

  /** Every tunable with its current value, for reports. */
  snapshot(): Record<string, number | string> {
    const out: Record<string, number | string> = {};
    for (const t of TUNABLES) out[t.name] = this.get(t.name);
    return out;
  }

  /** Only the tunables set away from their defaults. */
  changed(): Record<string, number | string> {
    const out: Record<string, number | string> = {};
    for (const [k, v] of this.values) if (v !== findTunable(k).default) out[k] = v;
    return out;
  }

  clone(): Tunables {
    const t = new Tunables();
    for (const [k, v] of this.values) t.values.set(k, v);
    return t;
  }
}
