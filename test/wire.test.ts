import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memoryMapForSize } from '../src/machine/presets.js';
import { VmMaps } from '../src/vm/map.js';
import { KERN_NO_SPACE, KERN_RESOURCE_SHORTAGE, KERN_SUCCESS, NBPDR, PG_PS, PG_W, VM_PROT_READ, VM_PROT_WRITE } from '../src/vm/pmap.js';
import { VMFS_SUPER_SPACE } from '../src/vm/map.js';
import { Vm } from '../src/vm/vm.js';
import { PAGE_SIZE, VM_ALLOC_NOBUSY } from '../src/vm/param.js';
import { code } from './helpers/errors.js';
import type { WirePath } from '../src/vm/wire.js';

const MiB = 1024 * 1024;

function boot(mem = 64 * MiB, tunables: Record<string, string | number> = {}): { vm: Vm; maps: VmMaps } {
  const vm = new Vm(memoryMapForSize(mem), { 'vm.pgcache.enable': 0, ...tunables });
  return { vm, maps: new VmMaps(vm) };
}

test('pmap: page-table pages are VM pages; a full aligned run promotes, a partial remove demotes', () => {
  const { vm, maps } = boot();
  const map = maps.create();
  const free0 = vm.domains.freeCount(0);
  const va = map.find(4 * MiB, { findSpace: VMFS_SUPER_SPACE });
  assert.equal(va % NBPDR, 0);
  assert.equal(map.touch(va, va + 4 * MiB, VM_PROT_WRITE), KERN_SUCCESS);
  const st = map.pmap.stats;
  assert.equal(st.promotions, 2);
  assert.equal(st.pdes, 2);
  assert.equal(st.ptes, 0);
  assert.equal(st.resident, 1024);
  // PML4 + PDP + PD + 2 kept PT pages.
  assert.equal(st.ptpages, 5);
  assert.equal(free0 - vm.domains.freeCount(0), 1024 + 4);
  assert.ok((map.pmap.bitsAt(va) & PG_PS) !== 0);
  map.remove(va + PAGE_SIZE, va + 2 * PAGE_SIZE);
  assert.equal(st.demotions, 1);
  assert.equal(map.pmap.extract(va + PAGE_SIZE), -1);
  assert.equal(st.ptes, 511);
  map.check();
  vm.check();
  map.destroy();
  assert.equal(vm.domains.freeCount(0), free0 + 1);
  vm.check();
});

test('vm_map: first fit, overlap refused, protect clips, remove frees the pages', () => {
  const { vm, maps } = boot();
  const map = maps.create();
  const a = map.find(16 * PAGE_SIZE, { name: 'a' });
  const b = map.find(16 * PAGE_SIZE, { name: 'b' });
  assert.equal(b, a + 16 * PAGE_SIZE);
  assert.equal(map.insert(0, 0, a + PAGE_SIZE, a + 2 * PAGE_SIZE, 3, 7), KERN_NO_SPACE);
  assert.equal(map.touch(a, a + 16 * PAGE_SIZE, VM_PROT_WRITE), KERN_SUCCESS);
  assert.equal(map.protect(a + 4 * PAGE_SIZE, a + 8 * PAGE_SIZE, VM_PROT_READ), KERN_SUCCESS);
  assert.equal(map.nentries, 4);
  assert.equal(map.pmap.bitsAt(a + 4 * PAGE_SIZE) & 2, 0);
  assert.equal(map.touch(a + 4 * PAGE_SIZE, a + 5 * PAGE_SIZE, VM_PROT_WRITE), 2 /* KERN_PROTECTION_FAILURE */);
  const free = vm.domains.freeCount(0);
  map.remove(a, a + 16 * PAGE_SIZE);
  assert.equal(map.nentries, 1);
  assert.equal(vm.domains.freeCount(0) - free, 16 + 3 /* PT, PD and PDP pages */);
  map.check();
  vm.check();
});

test('vm_fault: soft faults of a full reservation map 2 MiB at once', () => {
  const { maps } = boot();
  const map = maps.create();
  const va = map.find(2 * MiB, { findSpace: VMFS_SUPER_SPACE });
  map.touch(va, va + 2 * MiB, VM_PROT_WRITE);
  map.remove(va, va + 2 * MiB);
  const v2 = map.find(2 * MiB, { findSpace: VMFS_SUPER_SPACE });
  map.touch(v2, v2 + 2 * MiB, VM_PROT_WRITE);
  map.pmap.remove(v2, v2 + 2 * MiB);
  const before = maps.work.slice();
  map.touch(v2 + PAGE_SIZE * 7, v2 + PAGE_SIZE * 8, VM_PROT_READ);
  assert.equal(maps.work[1] - before[1], 1); // fault_soft
  assert.ok((map.pmap.bitsAt(v2) & PG_PS) !== 0);
  map.check();
});

for (const path of ['0', 'proposed', 'revised', '1'] as WirePath[]) {
  test(`vm_map_wire path ${path}: wires and maps every page, unwire and munmap free them`, () => {
    const { vm, maps } = boot(64 * MiB, { 'vm.wire.fast': path });
    const map = maps.create();
    const free0 = vm.domains.freeCount(0);
    const va = map.find(6 * MiB + 3 * PAGE_SIZE, { findSpace: VMFS_SUPER_SPACE });
    assert.equal(map.wire(va, va + 6 * MiB + 3 * PAGE_SIZE), KERN_SUCCESS);
    assert.equal(map.pmap.stats.wired, 3 * 512 + 3);
    assert.equal(maps.userWired, 3 * 512 + 3);
    for (let a = va; a < va + 6 * MiB; a += PAGE_SIZE * 97) {
      const m = map.pmap.extract(a);
      assert.ok(m >= 0);
      assert.equal(vm.page.pages.wire[m], 1, `wire count at ${a - va}`);
      assert.ok((map.pmap.lastBits & PG_W) !== 0);
    }
    assert.equal(map.pmap.stats.pdes, 3);
    map.check();
    vm.check();
    assert.equal(map.unwire(va, va + 6 * MiB + 3 * PAGE_SIZE), KERN_SUCCESS);
    assert.equal(map.pmap.stats.wired, 0);
    assert.equal(maps.userWired, 0);
    map.check();
    map.remove(va, va + 6 * MiB + 3 * PAGE_SIZE);
    assert.equal(vm.domains.freeCount(0), free0);
    vm.check();
  });
}

test('vm_map_wire: over the limits it fails with KERN_RESOURCE_SHORTAGE and wires nothing', () => {
  const { vm, maps } = boot(64 * MiB, { 'vm.max_user_wired': 1000 });
  const map = maps.create();
  const a = map.find(2000 * PAGE_SIZE);
  const free = vm.domains.freeCount(0);
  assert.equal(map.wire(a, a + 2000 * PAGE_SIZE), KERN_RESOURCE_SHORTAGE);
  assert.equal(maps.userWired, 0);
  assert.equal(vm.domains.freeCount(0), free);
  map.wiredLimit = 10 * PAGE_SIZE;
  assert.equal(map.wire(a, a + 11 * PAGE_SIZE), KERN_RESOURCE_SHORTAGE);
  assert.equal(map.wire(a, a + 10 * PAGE_SIZE), KERN_SUCCESS);
  assert.equal(map.pmap.stats.wired, 10);
  map.check();
});

test('vm_map_wire: running out of memory part-way leaves nothing wired', () => {
  const { vm, maps } = boot(32 * MiB, { 'vm.max_user_wired': 1 << 20 });
  const map = maps.create();
  const a = map.find(64 * MiB);
  const free = vm.domains.freeCount(0);
  assert.equal(map.wire(a, a + 64 * MiB), KERN_RESOURCE_SHORTAGE);
  assert.equal(map.pmap.stats.wired, 0);
  assert.equal(maps.userWired, 0);
  map.check();
  vm.check();
  map.remove(a, a + 64 * MiB);
  assert.equal(vm.domains.freeCount(0), free);
});

/* The review's first objection: a previous owner's bytes in freed pages. */
function dirtyAndFree(vm: Vm, maps: VmMaps): void {
  const map = maps.create();
  const a = map.find(20 * MiB, { findSpace: VMFS_SUPER_SPACE });
  assert.equal(map.touch(a, a + 20 * MiB, VM_PROT_WRITE), KERN_SUCCESS);
  for (let va = a; va < a + 20 * MiB; va += PAGE_SIZE) vm.backing!.fill(vm.phys.pageToPa(map.pmap.extract(va)), PAGE_SIZE, 0xa5);
  map.destroy();
}

for (const path of ['0', 'proposed', 'revised', '1'] as WirePath[]) {
  test(`backed memory, path ${path}: a freshly wired range ${path === 'proposed' ? 'exposes the previous owner\'s bytes' : 'reads zero'}`, () => {
    const { vm, maps } = boot(32 * MiB, { 'vm.backed': 1, 'vm.wire.fast': path });
    dirtyAndFree(vm, maps);
    const map = maps.create();
    const va = map.find(4 * MiB, { findSpace: VMFS_SUPER_SPACE });
    assert.equal(map.wire(va, va + 4 * MiB), KERN_SUCCESS);
    let exposed = 0;
    const bytes = maps.fault.copyin(map, va, 4 * MiB);
    for (const b of bytes) if (b !== 0) exposed++;
    if (path === 'proposed') assert.ok(exposed >= 2 * MiB, `${exposed} old bytes`);
    else assert.equal(exposed, 0);
    map.check();
    vm.check();
  });
}

/* The review's second objection: a collapse between insertion and fault. */
function shadowed(path: WirePath): { vm: Vm; maps: VmMaps; map: ReturnType<VmMaps['create']>; va: number } {
  const { vm, maps } = boot(32 * MiB, { 'vm.backed': 1, 'vm.wire.fast': path });
  const map = maps.create();
  const va = map.find(2 * MiB, { findSpace: VMFS_SUPER_SPACE });
  maps.fault.copyout(map, va, new Uint8Array(2 * MiB).fill(7));
  assert.equal(map.markCopyOnWrite(va, va + 2 * MiB), KERN_SUCCESS);
  return { vm, maps, map, va };
}

test('revised: a collapse between insertion and fault frees a wired page: EWIRED naming it', () => {
  const { vm, map, va } = shadowed('revised');
  const msg = code(() => map.wire(va, va + 2 * MiB, (m, s) => void m.collapse(m.start[s])));
  assert.match(msg, /^EWIRED: vm_object_collapse: vm_page_free_prep: page 0x[0-9a-f]+ \(pindex 0 of object .*\) is wired \(wire count 1\); valid 0/);
  assert.equal(map.maps.userWired, 0);
  map.check();
  vm.check();
});

test('revised without a collapse, and 1 with one, keep the data', () => {
  for (const [path, collapse] of [['revised', false], ['1', true]] as const) {
    const { vm, maps, map, va } = shadowed(path);
    let ran = 0;
    assert.equal(map.wire(va, va + 2 * MiB, (m, s) => { ran++; if (collapse) assert.equal(m.collapse(m.start[s]).collapsed, true); }), KERN_SUCCESS);
    assert.equal(ran, 1);
    const got = maps.fault.copyin(map, va, 2 * MiB);
    assert.ok(got.every((b) => b === 7), `${path}: data lost`);
    map.check();
    vm.check();
  }
});

test('collapse: busy pages refuse, nothing changes', () => {
  const { vm, maps, map, va } = shadowed('0');
  map.touch(va, va + PAGE_SIZE, VM_PROT_WRITE);
  const obj = map.object[map.lookupEntry(va)];
  const m = vm.page.alloc(obj, 5, VM_ALLOC_NOBUSY);
  vm.page.tryXbusy(m);
  assert.match(code(() => map.collapse(va)), /^EBUSY: /);
  vm.page.xunbusy(m);
  maps.shadow.valid[m] = 1;
  assert.equal(map.collapse(va).collapsed, true);
  vm.check();
});

test('vm_map_wire: an entry nobody may read is wired without faulting a page', () => {
  const { vm, maps } = boot();
  const map = maps.create();
  const a = map.find(16 * PAGE_SIZE, { prot: 0 });
  const free = vm.domains.freeCount(0);
  assert.equal(map.wire(a, a + 16 * PAGE_SIZE), KERN_SUCCESS);
  assert.equal(maps.userWired, 16);
  assert.equal(vm.domains.freeCount(0), free);
  assert.equal(map.unwire(a, a + 16 * PAGE_SIZE), KERN_SUCCESS);
  assert.equal(maps.userWired, 0);
  map.check();
});
