/**
 * Property tests of the mapping layer (pmap, vm_map, vm_fault, wiring,
 * shadow objects and collapse) against a model of the address space: the
 * bytes last written at each virtual address. Backed memory, so reads are
 * real; the map's, the pmap's and the VM's checkers after every step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PagelabError } from '../src/errors.js';
import { memoryMapForSize } from '../src/machine/presets.js';
import { VmMaps, VMFS_SUPER_SPACE, type VmMap } from '../src/vm/map.js';
import { KERN_SUCCESS, NBPDR, PG_PS, VM_PROT_READ, VM_PROT_WRITE } from '../src/vm/pmap.js';
import { PAGE_SIZE } from '../src/vm/param.js';
import { Vm } from '../src/vm/vm.js';
import { WIRE_PATHS, type WirePath } from '../src/vm/wire.js';
import { runs } from './helpers/runs.js';

type Op =
  | { k: 'mmap'; pages: number; superAlign: boolean }
  | { k: 'write'; pick: number; at: number; len: number; byte: number }
  | { k: 'read'; pick: number; at: number; len: number }
  | { k: 'wire'; pick: number; path: WirePath; collapseInWindow: boolean }
  | { k: 'unwire'; pick: number }
  | { k: 'munmap'; pick: number; head: boolean; pages: number }
  | { k: 'shadow'; pick: number }
  | { k: 'collapse'; pick: number }
  | { k: 'protect'; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ k: fc.constant('mmap' as const), pages: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 500, max: 1100 })), superAlign: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('write' as const), pick: fc.nat(), at: fc.nat(), len: fc.integer({ min: 1, max: 9000 }), byte: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('read' as const), pick: fc.nat(), at: fc.nat(), len: fc.integer({ min: 1, max: 9000 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('wire' as const), pick: fc.nat(), path: fc.constantFrom(...WIRE_PATHS.filter((p) => p !== 'proposed')), collapseInWindow: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unwire' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('munmap' as const), pick: fc.nat(), head: fc.boolean(), pages: fc.integer({ min: 1, max: 1100 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('shadow' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('collapse' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('protect' as const), pick: fc.nat() }) },
);

interface Region {
  va: number;
  bytes: Uint8Array;
  wired: boolean;
  writable: boolean;
}

/* Pages the VM holds for mappings: resident pages of live objects plus page-table pages. */
function held(vm: Vm, map: VmMap): number {
  let n = map.pmap.stats.ptpages;
  for (const o of vm.object.live()) n += vm.object.resident[o];
  return n;
}

function checkAll(vm: Vm, maps: VmMaps, map: VmMap, free0: number): void {
  map.check();
  vm.check();
  // Unmapping frees exactly what no mapping holds: nothing leaks, nothing held is free.
  assert.equal(free0 - vm.domains.freeCount(0), held(vm, map), 'pages allocated vs pages held');
  // Promotions only over fully populated, aligned runs.
  for (const [va, m, bits, size] of map.pmap.mappings()) {
    if ((bits & PG_PS) === 0) continue;
    assert.equal(size, NBPDR);
    assert.equal(va % NBPDR, 0);
    assert.equal(vm.phys.pageToPa(m) % NBPDR, 0);
    assert.equal(vm.reserv!.levelIfFullpop(m), 0, `2 MiB mapping at ${va} over a reservation that is not full`);
  }
  // Wired pages are never freed: every wired region's pages are mapped, allocated and wired.
  void maps;
}

function run(lazy: number, ops: Op[]): void {
  const vm = new Vm(memoryMapForSize(32 * 1024 * 1024), { 'vm.backed': 1, 'vm.pgcache.enable': 0, 'vm.lazy_page_init': lazy });
  const maps = new VmMaps(vm);
  const map = maps.create();
  const free0 = vm.domains.freeCount(0) + 1; // the PML4 page is already taken
  const regions: Region[] = [];
  const pick = (i: number): Region | undefined => (regions.length === 0 ? undefined : regions[i % regions.length]);
  for (const op of ops) {
    switch (op.k) {
      case 'mmap': {
        const va = map.find(op.pages * PAGE_SIZE, op.superAlign ? { findSpace: VMFS_SUPER_SPACE } : {});
        if (va >= 0) regions.push({ va, bytes: new Uint8Array(op.pages * PAGE_SIZE), wired: false, writable: true });
        break;
      }
      case 'write': {
        const r = pick(op.pick);
        if (r === undefined || !r.writable) break;
        const at = op.at % r.bytes.length;
        const len = Math.min(op.len, r.bytes.length - at);
        const data = new Uint8Array(len).fill(op.byte);
        try {
          maps.fault.copyout(map, r.va + at, data);
        } catch {
          // Out of memory part-way: the pages written so far hold the bytes.
          for (let i = 0; i < len; i += 1) {
            const m = map.pmap.extract(r.va + at + i);
            if (m >= 0 && (map.pmap.lastBits & 2) !== 0 && vm.backing!.view(vm.phys.pageToPa(m) + ((r.va + at + i) % PAGE_SIZE), 1)[0] === op.byte) r.bytes[at + i] = op.byte;
          }
          break;
        }
        r.bytes.set(data, at);
        break;
      }
      case 'read': {
        const r = pick(op.pick);
        if (r === undefined) break;
        const at = op.at % r.bytes.length;
        const len = Math.min(op.len, r.bytes.length - at);
        let got: Uint8Array;
        try {
          got = maps.fault.copyin(map, r.va + at, len);
        } catch {
          break;
        }
        assert.deepEqual(got, r.bytes.subarray(at, at + len), `bytes at ${r.va + at}`);
        break;
      }
      case 'wire': {
        const r = pick(op.pick);
        if (r === undefined) break;
        maps.wirePath = op.path;
        let rv: number;
        try {
          rv = map.wire(r.va, r.va + r.bytes.length, op.collapseInWindow ? (m, s) => void m.collapse(m.start[s]) : undefined);
        } catch (e) {
          // The review's panic: only revised leaves wired, invalid pages for a collapse to free.
          assert.ok(e instanceof PagelabError && e.code === 'EWIRED' && op.path === 'revised' && op.collapseInWindow, String(e));
          break;
        }
        if (rv === KERN_SUCCESS) r.wired = true;
        break;
      }
      case 'unwire': {
        const r = pick(op.pick);
        if (r === undefined) break;
        assert.equal(map.unwire(r.va, r.va + r.bytes.length), KERN_SUCCESS);
        r.wired = false;
        break;
      }
      case 'munmap': {
        const i = regions.length === 0 ? -1 : op.pick % regions.length;
        if (i < 0) break;
        const r = regions[i];
        const n = Math.min(op.pages, r.bytes.length / PAGE_SIZE);
        if (n * PAGE_SIZE === r.bytes.length) {
          assert.equal(map.remove(r.va, r.va + r.bytes.length), KERN_SUCCESS);
          regions.splice(i, 1);
        } else if (op.head) {
          assert.equal(map.remove(r.va, r.va + n * PAGE_SIZE), KERN_SUCCESS);
          r.va += n * PAGE_SIZE;
          r.bytes = r.bytes.slice(n * PAGE_SIZE);
        } else {
          assert.equal(map.remove(r.va + r.bytes.length - n * PAGE_SIZE, r.va + r.bytes.length), KERN_SUCCESS);
          r.bytes = r.bytes.slice(0, r.bytes.length - n * PAGE_SIZE);
        }
        break;
      }
      case 'shadow': {
        const r = pick(op.pick);
        if (r === undefined) break;
        map.markCopyOnWrite(r.va, r.va + r.bytes.length);
        break;
      }
      case 'collapse': {
        const r = pick(op.pick);
        if (r === undefined) break;
        map.collapse(r.va);
        break;
      }
      case 'protect': {
        const r = pick(op.pick);
        if (r === undefined) break;
        r.writable = !r.writable;
        assert.equal(map.protect(r.va, r.va + r.bytes.length, r.writable ? VM_PROT_READ | VM_PROT_WRITE : VM_PROT_READ), KERN_SUCCESS);
        break;
      }
    }
    checkAll(vm, maps, map, free0);
    for (const r of regions) {
      if (!r.wired) continue;
      for (let va = r.va; va < r.va + r.bytes.length; va += PAGE_SIZE) {
        const m = map.pmap.extract(va);
        assert.ok(m >= 0 && vm.page.pages.wire[m] > 0, `wired page at ${va} unmapped or unwired`);
      }
    }
  }
  // Everything unmapped: every page comes back.
  map.destroy();
  assert.equal(vm.domains.freeCount(0), free0);
  vm.check();
}

for (const lazy of [0, 1]) {
  test(`mapping layer against an address-space model (${lazy ? 'lazy' : 'eager'} boot)`, () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 30, size: 'max' }), (ops) => run(lazy, ops)),
      { numRuns: runs(15) },
    );
  });
}
