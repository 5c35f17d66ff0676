import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { PagelabError } from '../src/errors.js';
import {
  Vmem,
  vmem_create,
  vmem_add,
  vmem_alloc,
  vmem_free,
  vmem_xalloc,
  vmem_xfree,
  vmem_size,
  vmem_set_import,
  vmem_set_limit,
  vmem_walk,
  vmem_check,
  vmem_whatis,
  vmem_qcache_drain,
  vmemSizeToOrder,
  M_BESTFIT,
  M_FIRSTFIT,
  M_INSTANTFIT,
  M_NEXTFIT,
  M_WAITOK,
  VMEM_ALLOC,
  VMEM_FREE,
  VMEM_MAXFREE,
  VMEM_ADDR_MAX,
  VMEM_FAILED,
  BT_TYPE_FREE,
  BT_TYPE_BUSY,
  BT_TYPE_SPAN_STATIC,
  type VmemSegment,
} from '../src/kern/vmem.js';

const PAGE = 4096;
const KVA = 0x1000_0000_0000; // a kernel-like base below 2^53

/** Asserts that fn throws a PagelabError with `code` whose message contains every string in `parts`. */
function throwsCode(fn: () => unknown, code: string, ...parts: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PagelabError, `expected PagelabError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const p of parts) assert.ok(e.message.includes(p), `message "${e.message}" lacks "${p}"`);
    return true;
  });
}

const segs = (vm: Vmem): [string, number, number][] => vm.segments().map((s: VmemSegment) => [s.type, s.start, s.size]);

/** xalloc with only a fit flag. */
const xa = (vm: Vmem, size: number, flags: number) => vm.xalloc(size, 0, 0, 0, 0, VMEM_ADDR_MAX, flags);

/**
 * Makes free holes of the given sizes (in quanta) separated by one busy
 * quantum each, in a fresh arena at 0 with quantum 1; returns the arena and
 * the hole starts. Everything after the last hole is busy too.
 */
function holes(sizes: number[]): { vm: Vmem; at: number[] } {
  const total = sizes.reduce((a, b) => a + b + 1, 0);
  const vm = new Vmem('holes', 0, total, 1);
  const at: number[] = [];
  let a = 0;
  for (const s of sizes) {
    assert.equal(vm.xalloc(s), a);
    at.push(a);
    assert.equal(vm.xalloc(1), a + s);
    a += s + 1;
  }
  for (let i = 0; i < sizes.length; i++) vm.xfree(at[i], sizes[i]);
  vm.check();
  return { vm, at };
}

describe('free-list indexing (SIZE2ORDER)', () => {
  test('exact lists below 32 quanta, one per power of two above', () => {
    const cases: [number, number][] = [
      [1, 0],
      [2, 1],
      [31, 30],
      [32, 31],
      [33, 31],
      [63, 31],
      [64, 32],
      [127, 32],
      [128, 33],
      [2 ** 31 - 1, 56],
      [2 ** 31, 57],
      [2 ** 32 - 1, 57],
      [2 ** 32, 58],
      [2 ** 52, 78],
      [2 ** 53, 79],
    ];
    for (const [q, o] of cases) assert.equal(vmemSizeToOrder(q), o, `order of ${q}`);
  });
});

describe('arena basics', () => {
  test('create, alloc rounds to the quantum, sizes add up, free coalesces back to one segment', () => {
    const vm = vmem_create('kva', KVA, 64 * PAGE, PAGE);
    assert.deepEqual(segs(vm), [
      ['static span', KVA, 64 * PAGE],
      ['free', KVA, 64 * PAGE],
    ]);
    const a = vmem_alloc(vm, 1, M_WAITOK | M_INSTANTFIT);
    const b = vmem_alloc(vm, PAGE + 1, M_BESTFIT);
    const c = vmem_alloc(vm, 3 * PAGE, M_FIRSTFIT);
    assert.deepEqual([a, b, c], [KVA, KVA + PAGE, KVA + 3 * PAGE]);
    assert.equal(vmem_size(vm, VMEM_ALLOC), 6 * PAGE);
    assert.equal(vmem_size(vm, VMEM_FREE), 58 * PAGE);
    assert.equal(vmem_size(vm, VMEM_ALLOC | VMEM_FREE), 64 * PAGE);
    vmem_check(vm);
    vmem_free(vm, b, PAGE + 1); // size rounds the same way as at allocation
    vmem_check(vm);
    vmem_xfree(vm, a, PAGE);
    vmem_check(vm);
    assert.deepEqual(segs(vm), [
      ['static span', KVA, 64 * PAGE],
      ['free', KVA, 3 * PAGE],
      ['busy', KVA + 3 * PAGE, 3 * PAGE],
      ['free', KVA + 6 * PAGE, 58 * PAGE],
    ]);
    vmem_xfree(vm, c, 3 * PAGE);
    vmem_check(vm);
    assert.deepEqual(segs(vm), [
      ['static span', KVA, 64 * PAGE],
      ['free', KVA, 64 * PAGE],
    ]);
    assert.equal(vm.stats().tagsInUse, 2, 'segment tags are recycled');
  });

  test('exhaustion is a value (VMEM_FAILED), not an exception', () => {
    const vm = new Vmem('small', 0, 4 * PAGE, PAGE);
    assert.equal(vm.alloc(4 * PAGE), 0);
    assert.equal(vm.alloc(PAGE), VMEM_FAILED);
    assert.equal(vm.xalloc(PAGE, 0, 0, 0, 0, VMEM_ADDR_MAX, M_NEXTFIT), VMEM_FAILED);
    assert.equal(vm.alloc(PAGE, M_BESTFIT), VMEM_FAILED);
    vm.check();
    vm.free(0, 4 * PAGE);
    assert.equal(vm.alloc(5 * PAGE), VMEM_FAILED);
    assert.equal(vm.size(VMEM_ALLOC), 0);
  });

  test('walk visits span tags then their segments in address order', () => {
    const vm = new Vmem('w', 0, 0, 16);
    vm.add(0x1000, 0x100);
    vm.add(0x100, 0x100); // lower address added later still walks first
    const a = vm.alloc(0x20);
    assert.equal(a, 0x100, 'both free segments share a list; the one filed last is its head');
    const seen: [number, number, number][] = [];
    vmem_walk(vm, (start, size, type) => seen.push([start, size, type]));
    assert.deepEqual(seen, [
      [0x100, 0x100, BT_TYPE_SPAN_STATIC],
      [0x100, 0x20, BT_TYPE_BUSY],
      [0x120, 0xe0, BT_TYPE_FREE],
      [0x1000, 0x100, BT_TYPE_SPAN_STATIC],
      [0x1000, 0x100, BT_TYPE_FREE],
    ]);
    vm.check();
  });

  test('adjacent static spans merge (no release function) so allocations may straddle the join', () => {
    const vm = new Vmem('join', 0, 0, PAGE);
    vmem_add(vm, 8 * PAGE, 4 * PAGE);
    vmem_add(vm, 0, 4 * PAGE);
    vmem_add(vm, 4 * PAGE, 4 * PAGE); // fills the gap: all three become one span
    vm.check();
    assert.deepEqual(segs(vm), [
      ['static span', 0, 12 * PAGE],
      ['free', 0, 12 * PAGE],
    ]);
    assert.equal(vm.alloc(12 * PAGE), 0);
    vm.free(0, 12 * PAGE);
    // extending a span whose edge is busy adds a free segment next to it
    assert.equal(vm.alloc(12 * PAGE), 0);
    vm.add(12 * PAGE, PAGE);
    vm.add(19 * PAGE, PAGE); // not adjacent: a second span
    vm.check();
    assert.equal(vm.stats().spans, 2);
    vm.free(0, 12 * PAGE);
    vm.check();
    assert.deepEqual(segs(vm)[1], ['free', 0, 13 * PAGE]);
  });

  test('overlapping or malformed spans are rejected', () => {
    const vm = new Vmem('ov', 0x10000, 0x10000, PAGE);
    throwsCode(() => vm.add(0x18000, 0x10000), 'EINVAL', '0x18000', "'ov'", 'overlaps');
    throwsCode(() => vm.add(0x8000, 0x9000), 'EINVAL', '0x8000', 'overlaps');
    throwsCode(() => vm.add(0x1001, PAGE), 'EINVAL', '0x1001', 'quantum');
    throwsCode(() => vm.add(2 ** 53 - PAGE, 2 * PAGE), 'EINVAL', '2^53');
    throwsCode(() => new Vmem('q', 0, 0, 3), 'EINVAL', 'quantum');
    throwsCode(() => new Vmem('q', 0, 0, PAGE, PAGE + 1), 'EINVAL', 'qcache_max');
    vm.check();
  });

  test('an arena of 2^52 bytes high in the address space is exact', () => {
    const base = 2 ** 52; // top of the span is 2^53
    const vm = new Vmem('huge', base, 2 ** 52, PAGE);
    const big = vm.xalloc(2 ** 51, 2 ** 51, 0, 0, 0, VMEM_ADDR_MAX, M_BESTFIT);
    assert.equal(big, base);
    const top = vm.xalloc(PAGE, 0, 0, 0, 2 ** 53 - PAGE, VMEM_ADDR_MAX, M_BESTFIT);
    assert.equal(top, 2 ** 53 - PAGE);
    const odd = vm.xalloc(3 * PAGE, 2 ** 40, 5 * PAGE, 0, base + 2 ** 51, VMEM_ADDR_MAX, M_BESTFIT);
    assert.equal(odd, base + 2 ** 51 + 5 * PAGE);
    vm.check();
    vm.xfree(big, 2 ** 51);
    vm.xfree(top, PAGE);
    vm.xfree(odd, 3 * PAGE);
    vm.check();
    assert.equal(vm.size(VMEM_MAXFREE), 2 ** 52);
  });
});

describe('the three fits', () => {
  test('instant fit takes the head of the first list whose sizes all fit; best fit the smaller segment', () => {
    // 40 quanta is on list [32, 63]; 100 on [64, 127]. A request for 33
    // cannot trust list [32, 63] blindly, so instant fit goes to the next.
    const inst = holes([40, 100]);
    assert.equal(xa(inst.vm, 33, M_INSTANTFIT), inst.at[1]);
    const best = holes([40, 100]);
    assert.equal(xa(best.vm, 33, M_BESTFIT), best.at[0]);
    inst.vm.check();
    best.vm.check();
  });

  test('instant fit falls back to best fit when no larger list has a segment', () => {
    const { vm, at } = holes([40]);
    assert.equal(xa(vm, 33, M_INSTANTFIT), at[0]);
    assert.equal(xa(vm, 7, M_INSTANTFIT), at[0] + 33);
    assert.equal(xa(vm, 1, M_INSTANTFIT), VMEM_FAILED);
    vm.check();
  });

  test('exact lists make best fit exact below 32 quanta', () => {
    const { vm, at } = holes([3, 6, 4, 5]);
    assert.equal(xa(vm, 4, M_BESTFIT), at[2]);
    assert.equal(xa(vm, 4, M_BESTFIT), at[3], 'the 5-hole is now the best left');
    assert.equal(xa(vm, 2, M_BESTFIT), at[0]);
    const one = xa(vm, 1, M_BESTFIT);
    assert.ok(one === at[0] + 2 || one === at[3] + 4, 'a 1-quantum leftover is an exact fit');
    vm.check();
  });

  test('best fit skips too-small segments on a shared power-of-two list', () => {
    // freed in order, so the 33-hole heads list [32, 63], then the 34-hole
    const { vm, at } = holes([50, 34, 33]);
    assert.equal(xa(vm, 40, M_BESTFIT), at[0]);
    assert.equal(xa(vm, 34, M_INSTANTFIT), at[1], 'instant fit falls back to best fit and finds the 34-hole');
    vm.check();
  });

  test('next fit follows a cursor, leaves freed space behind it, and wraps around', () => {
    const vm = new Vmem('pids', 0, 10, 1);
    const got: number[] = [];
    for (let i = 0; i < 4; i++) got.push(xa(vm, 2, M_NEXTFIT));
    assert.deepEqual(got, [0, 2, 4, 6]);
    vm.xfree(2, 2);
    vm.xfree(0, 2);
    assert.equal(xa(vm, 1, M_NEXTFIT), 8, 'freed IDs are not reused before the cursor wraps');
    assert.equal(xa(vm, 1, M_NEXTFIT), 9);
    assert.equal(xa(vm, 3, M_NEXTFIT), 0, 'wraps to the lowest fitting address');
    assert.equal(xa(vm, 1, M_NEXTFIT), 3);
    assert.equal(xa(vm, 1, M_NEXTFIT), VMEM_FAILED);
    vm.check();
    // instant fit is not affected by the cursor and reuses freed space first
    vm.xfree(4, 2);
    assert.equal(xa(vm, 2, M_INSTANTFIT), 4);
  });

  test('next fit cursor survives coalescing and span release', () => {
    const parent = new Vmem('p', 0, 64, 1);
    const child = new Vmem('c', 0, 0, 1);
    vmem_set_import(child, vmem_alloc, vmem_free, parent, 8);
    const a = xa(child, 4, M_NEXTFIT);
    const b = xa(child, 4, M_NEXTFIT);
    child.xfree(a, 4);
    child.xfree(b, 4); // releases the span the cursor hint pointed into
    child.check();
    assert.equal(child.size(VMEM_ALLOC | VMEM_FREE), 0);
    const c = xa(child, 4, M_NEXTFIT);
    assert.ok(c >= 0);
    child.check();
  });

  test('next fit honours minaddr and maxaddr', () => {
    const vm = new Vmem('nf', 0, 100, 1);
    assert.equal(vm.xalloc(5, 0, 0, 0, 50, 60, M_NEXTFIT), 50);
    assert.equal(vm.xalloc(5, 0, 0, 0, 0, 20, M_NEXTFIT), 0, 'cursor at 55 is past maxaddr: wrap');
    assert.equal(vm.xalloc(5, 0, 0, 0, 50, 60, M_NEXTFIT), 55);
    assert.equal(vm.xalloc(5, 0, 0, 0, 50, 60, M_NEXTFIT), VMEM_FAILED);
    vm.check();
  });
});

describe('xalloc constraints', () => {
  test('alignment and phase', () => {
    for (const fit of [M_INSTANTFIT, M_BESTFIT, M_NEXTFIT]) {
      const vm = new Vmem('al', KVA + PAGE, 1024 * PAGE, PAGE);
      const a = vm.xalloc(PAGE, 64 * PAGE, 0, 0, 0, VMEM_ADDR_MAX, fit);
      assert.equal(a, KVA + 64 * PAGE);
      const b = vm.xalloc(2 * PAGE, 64 * PAGE, 3 * PAGE, 0, 0, VMEM_ADDR_MAX, fit);
      assert.equal(b % (64 * PAGE), 3 * PAGE);
      // next fit starts at its cursor, just past a
      assert.equal(b, fit === M_NEXTFIT ? KVA + 64 * PAGE + 3 * PAGE : KVA + 3 * PAGE);
      vm.check();
      vm.xfree(a, PAGE);
      vm.xfree(b, 2 * PAGE);
      vm.check();
      assert.equal(vm.stats().tagsInUse, 2);
    }
  });

  test('nocross moves an allocation to the next boundary', () => {
    const vm = new Vmem('nc', 0, 64 * PAGE, PAGE);
    assert.equal(vm.xalloc(2 * PAGE), 0);
    // free space starts at page 2; 3 pages from there would cross page 4
    const a = vm.xalloc(3 * PAGE, 0, 0, 4 * PAGE, 0, VMEM_ADDR_MAX, M_BESTFIT);
    assert.equal(a, 4 * PAGE);
    // the 2-page hole left below page 4 fits pages [2, 4) of an 8-page block
    const b = vm.xalloc(2 * PAGE, 8 * PAGE, 2 * PAGE, 8 * PAGE, 0, VMEM_ADDR_MAX, M_BESTFIT);
    assert.equal(b, 2 * PAGE);
    const c = vm.xalloc(2 * PAGE, 2 * PAGE, 0, 8 * PAGE, 0, VMEM_ADDR_MAX, M_BESTFIT);
    assert.equal(c, 8 * PAGE, 'aligned up from page 7');
    const d = vm.xalloc(3 * PAGE, 0, 0, 4 * PAGE, 0, VMEM_ADDR_MAX, M_INSTANTFIT);
    assert.equal(d, 12 * PAGE, 'pages [10, 13) would cross page 12');
    const e = vm.xalloc(2 * PAGE, 0, 0, 4 * PAGE, 0, VMEM_ADDR_MAX, M_NEXTFIT);
    assert.equal(e, 10 * PAGE, 'next fit starts at 0 and [10, 12) does not cross');
    const sizes = [3, 2, 2, 3, 2];
    [a, b, c, d, e].forEach((x, i) => {
      const nocross = i === 1 || i === 2 ? 8 * PAGE : 4 * PAGE;
      assert.equal(Math.floor(x / nocross), Math.floor((x + sizes[i] * PAGE - 1) / nocross));
    });
    vm.check();
  });

  test('alignment larger than nocross', () => {
    const vm = new Vmem('anc', 0, 256, 1);
    assert.equal(vm.xalloc(3, 64, 4, 8, 0, VMEM_ADDR_MAX, M_BESTFIT), 4);
    assert.equal(vm.xalloc(3, 64, 4, 8, 0, VMEM_ADDR_MAX, M_BESTFIT), 68);
    throwsCode(() => vm.xalloc(3, 64, 7, 8), 'ENOSPC', 'crosses');
    vm.check();
  });

  test('minaddr and maxaddr bound the whole allocation', () => {
    const vm = new Vmem('mm', 0, 100, 1);
    assert.equal(vm.xalloc(10, 0, 0, 0, 30, 39, M_INSTANTFIT), 30);
    assert.equal(vm.xalloc(10, 0, 0, 0, 30, 49, M_BESTFIT), 40);
    assert.equal(vm.xalloc(10, 0, 0, 0, 30, 58, M_BESTFIT), VMEM_FAILED, 'only 9 free below 59');
    assert.equal(vm.xalloc(10, 4, 1, 0, 45, 99, M_BESTFIT), 53);
    vm.check();
  });

  test('constraints that can never be met are ENOSPC; malformed arguments EINVAL', () => {
    const vm = new Vmem('bad', 0, 1 << 20, 16);
    throwsCode(() => vm.xalloc(16, 48), 'ENOSPC', 'align 0x30', "'bad'");
    throwsCode(() => vm.xalloc(16, 8), 'ENOSPC', 'align 0x8');
    throwsCode(() => vm.xalloc(16, 64, 64), 'ENOSPC', 'phase 0x40');
    throwsCode(() => vm.xalloc(16, 64, 8), 'ENOSPC', 'phase 0x8');
    throwsCode(() => vm.xalloc(16, 0, 16), 'ENOSPC', 'phase');
    throwsCode(() => vm.xalloc(64, 0, 0, 32), 'ENOSPC', 'nocross 0x20');
    throwsCode(() => vm.xalloc(16, 0, 0, 48), 'ENOSPC', 'nocross 0x30');
    throwsCode(() => vm.xalloc(32, 32, 16, 32), 'ENOSPC', 'crosses');
    throwsCode(() => vm.xalloc(16, 0, 0, 0, 100, 50), 'ENOSPC', 'minaddr 0x64');
    throwsCode(() => vm.xalloc(64, 0, 0, 0, 0x100, 0x13e), 'ENOSPC', '[0x100, 0x13e]');
    throwsCode(() => vm.xalloc(16, 0x100, 0x10, 0, 0x120, 0x200), 'ENOSPC', 'no address');
    throwsCode(() => vm.xalloc(0), 'EINVAL', 'size 0');
    throwsCode(() => vm.xalloc(1.5), 'EINVAL', 'size 1.5');
    throwsCode(() => vm.xalloc(16, -16), 'EINVAL', 'align -16');
    throwsCode(() => vm.xalloc(16, 0, 0, 0, 0, 2 ** 60), 'EINVAL', 'maxaddr');
    throwsCode(() => vm.xalloc(16, 0, 0, 0, 0, VMEM_ADDR_MAX, M_BESTFIT | M_NEXTFIT), 'EINVAL', 'more than one fit');
    throwsCode(() => vm.alloc(-1), 'EINVAL', 'size -1');
    throwsCode(() => vm.alloc(NaN), 'EINVAL', 'size NaN');
    throwsCode(() => vm.size(4), 'EINVAL', 'typemask');
    // a window outside every span is not "never": an import could supply it
    assert.equal(vm.xalloc(16, 0, 0, 0, 1 << 21, VMEM_ADDR_MAX), VMEM_FAILED);
    assert.equal(vm.size(VMEM_ALLOC), 0, 'no failed call left anything allocated');
    vm.check();
  });
});

describe('free errors name the address and the arena and change nothing', () => {
  function arena(): { vm: Vmem; a: number } {
    const vm = new Vmem('kernel', KVA, 64 * PAGE, PAGE);
    vm.alloc(PAGE);
    const a = vm.alloc(4 * PAGE);
    vm.alloc(PAGE);
    return { vm, a };
  }
  const snapshot = (vm: Vmem) => JSON.stringify([vm.segments(), vm.stats()]);

  test('not the start of an allocation', () => {
    const { vm, a } = arena();
    const before = snapshot(vm);
    throwsCode(() => vm.xfree(a + PAGE, PAGE), 'ENOTALLOC', (a + PAGE).toString(16), "'kernel'", 'inside busy segment');
    assert.equal(snapshot(vm), before);
    vm.check();
  });

  test('wrong size', () => {
    const { vm, a } = arena();
    const before = snapshot(vm);
    throwsCode(() => vm.xfree(a, PAGE), 'ENOTALLOC', '0x' + a.toString(16), "'kernel'", 'size 0x1000', '0x4000');
    throwsCode(() => vm.free(a, 8 * PAGE), 'ENOTALLOC', '0x' + a.toString(16));
    assert.equal(snapshot(vm), before);
    vm.check();
  });

  test('double free', () => {
    const { vm, a } = arena();
    vm.xfree(a, 4 * PAGE);
    const before = snapshot(vm);
    throwsCode(() => vm.xfree(a, 4 * PAGE), 'EDOUBLEFREE', '0x' + a.toString(16), "'kernel'");
    throwsCode(() => vm.free(a + PAGE, PAGE), 'EDOUBLEFREE', '0x' + (a + PAGE).toString(16));
    assert.equal(snapshot(vm), before);
    vm.check();
  });

  test('an address the arena does not own names the arena that does', () => {
    const { vm } = arena();
    const other = new Vmem('buffer', 0x2000_0000_0000, 16 * PAGE, PAGE);
    const b = other.alloc(PAGE);
    const before = snapshot(vm);
    throwsCode(() => vm.xfree(b, PAGE), 'EWRONGARENA', '0x200000000000', "'kernel'", "'buffer'");
    throwsCode(() => vm.free(0x7000_0000_0000, PAGE), 'EWRONGARENA', '0x700000000000', "'kernel'", 'no arena');
    assert.equal(snapshot(vm), before);
    other.xfree(b, PAGE);
    other.destroy();
    vm.check();
  });

  test('malformed addresses and sizes are EINVAL', () => {
    const { vm, a } = arena();
    throwsCode(() => vm.xfree(-PAGE, PAGE), 'EINVAL', "'kernel'");
    throwsCode(() => vm.xfree(a, 0), 'EINVAL', 'size 0');
    throwsCode(() => vm.xfree(NaN, PAGE), 'EINVAL', 'NaN');
    vm.check();
  });
});

describe('quantum caches', () => {
  test('small sizes come from per-size caches and count as in use', () => {
    const vm = new Vmem('qc', 0, 256 * PAGE, PAGE, 4 * PAGE);
    assert.equal(vm.qcacheMax, 4 * PAGE);
    const a = vmem_xalloc(vm, PAGE, 0, 0, 0, 0, VMEM_ADDR_MAX, M_BESTFIT);
    assert.equal(vm.stats().cached, 0, 'xalloc bypasses the caches');
    vm.xfree(a, PAGE);
    const one = vm.alloc(PAGE);
    const b = vm.alloc(3 * PAGE - 100);
    vm.check();
    const st = vm.stats();
    assert.ok(st.cached > 0, 'a refill caches a batch');
    assert.equal(st.inuse, st.cached + PAGE + 3 * PAGE);
    vm.free(one, PAGE);
    assert.equal(vm.alloc(PAGE), one, 'LIFO: the segment just freed is reused');
    vm.free(one, PAGE);
    vm.free(b, 3 * PAGE - 100);
    vm.check();
    vm_drained(vm);
  });

  function vm_drained(vm: Vmem): void {
    vmem_qcache_drain(vm);
    vm.check();
    assert.equal(vm.size(VMEM_ALLOC), 0);
    assert.equal(vm.stats().cached, 0);
    assert.equal(vm.segments().length, 2);
  }

  test('a double free through the cache is caught, as is a wrong size', () => {
    const vm = new Vmem('qc2', KVA, 64 * PAGE, PAGE, 2 * PAGE);
    const a = vm.alloc(PAGE);
    const b = vm.alloc(2 * PAGE);
    vm.free(a, PAGE);
    throwsCode(() => vm.free(a, PAGE), 'EDOUBLEFREE', '0x' + a.toString(16), "'qc2'", 'quantum cache');
    throwsCode(() => vm.xfree(a, PAGE), 'EDOUBLEFREE', '0x' + a.toString(16));
    throwsCode(() => vm.free(b, PAGE), 'ENOTALLOC', '0x' + b.toString(16));
    vm.check();
    vm.free(b, 2 * PAGE);
    vm_drained(vm);
  });

  test('overflowing a cache flushes half of it to the arena', () => {
    const vm = new Vmem('qc3', 0, 64 * PAGE, PAGE, 2 * PAGE);
    const ones: number[] = [];
    for (let i = 0; i < 64; i++) ones.push(vm.alloc(PAGE));
    assert.equal(vm.alloc(PAGE), VMEM_FAILED);
    for (const x of ones) vm.free(x, PAGE);
    vm.check();
    assert.equal(vm.stats().cached, 32 * PAGE, 'a full cache (32) flushed 16 at a time');
    assert.equal(vm.size(VMEM_MAXFREE), 32 * PAGE, 'what was flushed coalesced');
  });

  test('an allocation the arena cannot serve drains the caches first', () => {
    const vm = new Vmem('qc5', 0, 24 * PAGE, PAGE, 2 * PAGE);
    const ones: number[] = [];
    for (let i = 0; i < 24; i++) ones.push(vm.alloc(PAGE));
    for (const x of ones) vm.free(x, PAGE);
    assert.equal(vm.stats().cached, 24 * PAGE, 'everything is cached, nothing free');
    assert.equal(vm.size(VMEM_MAXFREE), 0);
    const two = vm.alloc(2 * PAGE);
    assert.notEqual(two, VMEM_FAILED, 'the 2-page class drained the 1-page class');
    vm.check();
    vm.free(two, 2 * PAGE);
    for (let i = 0; i < 10; i++) vm.free(vm.alloc(PAGE), PAGE);
    assert.ok(vm.stats().cached > 0);
    assert.equal(vm.xalloc(24 * PAGE), 0, 'xalloc drains the caches rather than fail');
    assert.equal(vm.stats().cached, 0);
    vm.xfree(0, 24 * PAGE);
    vm.check();
  });

  test('destroy requires every allocation back; the caches are drained first', () => {
    const vm = new Vmem('qc4', 0, 64 * PAGE, PAGE, PAGE);
    const a = vm.alloc(PAGE);
    throwsCode(() => vm.destroy(), 'EINVAL', "'qc4'", 'outstanding');
    vm.free(a, PAGE);
    vm.destroy();
    assert.ok(vm.isDestroyed);
  });
});

describe('imported spans and stacked arenas', () => {
  test('imports in import-quantum units and releases a span when it becomes wholly free', () => {
    const parent = new Vmem('parent', KVA, 1024 * PAGE, PAGE);
    const child = new Vmem('child', 0, 0, PAGE);
    vmem_set_import(child, vmem_alloc, vmem_free, parent, 16 * PAGE);
    const a = child.alloc(PAGE);
    const b = child.alloc(PAGE);
    assert.equal(parent.size(VMEM_ALLOC), 16 * PAGE);
    assert.equal(child.size(VMEM_ALLOC | VMEM_FREE), 16 * PAGE);
    const big = child.alloc(20 * PAGE); // a second, larger import
    assert.equal(parent.size(VMEM_ALLOC), 48 * PAGE);
    assert.equal(child.stats().spans, 2);
    assert.deepEqual(
      child.segments().filter((s) => s.type === 'span').map((s) => s.size),
      [16 * PAGE, 32 * PAGE],
    );
    child.check();
    parent.check();
    child.free(big, 20 * PAGE);
    assert.equal(parent.size(VMEM_ALLOC), 16 * PAGE, 'the wholly free span went back');
    child.free(a, PAGE);
    assert.equal(parent.size(VMEM_ALLOC), 16 * PAGE, 'b still holds the first span');
    child.free(b, PAGE);
    assert.equal(parent.size(VMEM_ALLOC), 0);
    assert.equal(child.size(VMEM_ALLOC | VMEM_FREE), 0);
    assert.deepEqual(child.segments(), []);
    child.check();
    parent.check();
    assert.equal(child.stats().spans, 0);
  });

  test('the limit caps imports, and a failed import is a failed allocation', () => {
    const parent = new Vmem('parent', 0, 64 * PAGE, PAGE);
    const child = new Vmem('limited', 0, 0, PAGE);
    vmem_set_import(child, vmem_alloc, vmem_free, parent, 8 * PAGE);
    vmem_set_limit(child, 16 * PAGE);
    assert.notEqual(child.alloc(8 * PAGE), VMEM_FAILED);
    assert.notEqual(child.alloc(8 * PAGE), VMEM_FAILED);
    assert.equal(child.alloc(PAGE), VMEM_FAILED, 'a third import would pass the limit');
    vmem_set_limit(child, 0);
    assert.notEqual(child.alloc(PAGE), VMEM_FAILED);
    assert.equal(child.alloc(64 * PAGE), VMEM_FAILED, 'the parent is out');
    child.check();
    parent.check();
  });

  test('an import that cannot meet the constraints is released at once', () => {
    const parent = new Vmem('parent', 0, 1024, 1);
    const child = new Vmem('child', 0, 0, 1);
    vmem_set_import(child, vmem_alloc, vmem_free, parent, 16);
    assert.equal(child.xalloc(4, 0, 0, 0, 2000, VMEM_ADDR_MAX), VMEM_FAILED);
    assert.equal(parent.size(VMEM_ALLOC), 0);
    assert.equal(child.size(VMEM_ALLOC | VMEM_FREE), 0);
    child.check();
    parent.check();
  });

  test('an import function returning a bad span is an error, not corruption', () => {
    const child = new Vmem('child', 0, 0, PAGE);
    child.setImport(() => 123, null, undefined, PAGE);
    throwsCode(() => child.alloc(PAGE), 'EINVAL', "'child'", '0x7b');
    child.check();
    const dup = new Vmem('dup', 0, 0, PAGE);
    dup.setImport(() => 0, null, undefined, PAGE);
    assert.equal(dup.alloc(PAGE), 0);
    throwsCode(() => dup.alloc(PAGE), 'EINVAL', "'dup'", 'overlaps');
    dup.check();
  });

  test('a misaligned imported span is an error that leaks nothing in the parent', () => {
    const parent = new Vmem('parent', KVA, 64 * PAGE, PAGE);
    const first = parent.alloc(PAGE); // the parent's next span starts one page in
    const child = new Vmem('wide', 0, 0, 4 * PAGE);
    vmem_set_import(child, vmem_alloc, vmem_free, parent, 4 * PAGE);
    throwsCode(() => child.alloc(4 * PAGE), 'EINVAL', "vmem_import 'wide'", `0x${(KVA + PAGE).toString(16)}`, 'quantum');
    assert.equal(parent.size(VMEM_ALLOC), PAGE, 'the span went back to the parent');
    assert.equal(child.size(VMEM_ALLOC | VMEM_FREE), 0);
    parent.check();
    child.check();
    parent.free(first, PAGE);
    assert.equal(parent.size(VMEM_ALLOC), 0);
    // Once the parent hands out aligned spans, the child works.
    const s = child.alloc(4 * PAGE);
    assert.equal(s % (4 * PAGE), 0);
    child.free(s, 4 * PAGE);
    assert.equal(parent.size(VMEM_ALLOC), 0);
    // Garbage from a source is not handed back to it.
    let released = 0;
    const junk = new Vmem('junk', 0, 0, PAGE);
    junk.setImport(() => NaN, () => released++, undefined, PAGE);
    throwsCode(() => junk.alloc(PAGE), 'EINVAL', "'junk'");
    assert.equal(released, 0);
  });

  test('set_import requires an empty arena', () => {
    const vm = new Vmem('full', 0, PAGE, PAGE);
    throwsCode(() => vmem_set_import(vm, vmem_alloc, vmem_free, vm, PAGE), 'EINVAL', "'full'");
  });

  /*
   * Kernel stacks as in D38852: per-domain kstack arenas import spans
   * aligned to the import quantum from their domain's kernel arena; a
   * kstack is kstack_pages plus a guard page, the kstack arena's quantum.
   */
  describe('D38852: kstack arenas on per-domain kernel arenas', () => {
    const KSTACK_PAGES = 4;
    const KSTACK_GUARD_PAGES = 1;
    const KSTACK_SIZE = (KSTACK_PAGES + KSTACK_GUARD_PAGES) * PAGE;
    const KSTACK_QUANTUM = 8 * KSTACK_SIZE; // spans hold 8 stacks...
    const KSTACK_ALIGN = 64 * PAGE; // ...and start 256 KB-aligned

    let domainsMade = 0;
    function domains(release?: (dom: number, kernel: Vmem[], addr: number, size: number) => void) {
      // A range of their own: live arenas of other tests must not own it
      // (an EWRONGARENA message names any live arena holding the address).
      const base = 0x3000_0000_0000 + domainsMade++ * 2 ** 36;
      const kernel = [0, 1].map((d) => new Vmem(`kernel${d}`, base + d * 2 ** 32, 2 ** 30, PAGE, 4 * PAGE));
      const kstack = [0, 1].map((d) => {
        // quantum is the page; a stack is KSTACK_PAGES + guard pages
        const ks = new Vmem(`kstack${d}`, 0, 0, PAGE);
        ks.setImport(
          (k: Vmem, size: number, flags: number) => k.xalloc(size, KSTACK_ALIGN, 0, 0, 0, VMEM_ADDR_MAX, flags),
          release === undefined ? (k: Vmem, addr: number, size: number) => k.xfree(addr, size) : (_k: Vmem, addr: number, size: number) => release(d, kernel, addr, size),
          kernel[d],
          KSTACK_QUANTUM,
        );
        return ks;
      });
      return { kernel, kstack };
    }

    test('stacks come from aligned imported spans that go back when the stacks do', () => {
      const { kernel, kstack } = domains();
      const stacks: number[] = [];
      for (let i = 0; i < 20; i++) stacks.push(kstack[i % 2].alloc(KSTACK_SIZE));
      for (const k of [...kernel, ...kstack]) k.check();
      for (const s of kstack[0].segments().filter((x) => x.type === 'span')) {
        assert.equal(s.start % KSTACK_ALIGN, 0, 'spans are aligned');
        assert.equal(s.size, KSTACK_QUANTUM);
      }
      assert.equal(kernel[0].size(VMEM_ALLOC), 2 * KSTACK_QUANTUM);
      assert.equal(new Set(stacks).size, 20);
      stacks.forEach((s, i) => kstack[i % 2].free(s, KSTACK_SIZE));
      for (const k of [...kernel, ...kstack]) {
        k.check();
        assert.equal(k.size(VMEM_ALLOC), 0, k.name);
      }
      assert.equal(kstack[0].size(VMEM_ALLOC | VMEM_FREE), 0);
    });

    test('a kstack freed to the kernel arena is EWRONGARENA naming both arenas', () => {
      const { kernel, kstack } = domains();
      const s = kstack[0].alloc(KSTACK_SIZE); // first stack: also the start of the imported span
      const before = JSON.stringify(kernel[0].segments());
      throwsCode(() => kernel[0].xfree(s, KSTACK_QUANTUM), 'EWRONGARENA', hexOf(s), "'kernel0'", "'kstack0'");
      throwsCode(() => kernel[0].free(s, KSTACK_SIZE), 'EWRONGARENA', hexOf(s), "'kernel0'", "'kstack0'");
      const s2 = kstack[0].alloc(KSTACK_SIZE);
      throwsCode(() => kernel[0].xfree(s2, KSTACK_SIZE), 'ENOTALLOC', hexOf(s2), "'kernel0'", "imported by arena 'kstack0'");
      assert.equal(JSON.stringify(kernel[0].segments()), before);
      kernel[0].check();
      kstack[0].free(s, KSTACK_SIZE);
      kstack[0].free(s2, KSTACK_SIZE);
      assert.equal(kernel[0].size(VMEM_ALLOC), 0);
    });

    test("a kstack freed to the other domain's arena is EWRONGARENA", () => {
      const { kstack } = domains();
      const s = kstack[0].alloc(KSTACK_SIZE);
      kstack[1].free(kstack[1].alloc(KSTACK_SIZE), KSTACK_SIZE);
      throwsCode(() => kstack[1].free(s, KSTACK_SIZE), 'EWRONGARENA', hexOf(s), "'kstack1'", "'kstack0'");
      kstack[1].check();
      kstack[0].free(s, KSTACK_SIZE);
    });

    test('a release function that frees KVA to the wrong domain is caught', () => {
      const { kstack } = domains((d, kernel, addr, size) => kernel[1 - d].xfree(addr, size));
      const s = kstack[0].alloc(KSTACK_SIZE);
      throwsCode(() => kstack[0].free(s, KSTACK_SIZE), 'EWRONGARENA', "'kernel1'", "'kernel0'");
    });

    test('a misaligned release is caught and names the address', () => {
      const { kstack } = domains((d, kernel, addr, size) => kernel[d].xfree(addr + PAGE, size - PAGE));
      const s = kstack[0].alloc(KSTACK_SIZE);
      throwsCode(() => kstack[0].free(s, KSTACK_SIZE), 'ENOTALLOC', hexOf(s + PAGE), "'kernel0'");
    });

    test('the kernel arena frees its own allocations normally beside imported spans', () => {
      const { kernel, kstack } = domains();
      const s = kstack[0].alloc(KSTACK_SIZE);
      const k = kernel[0].alloc(PAGE);
      const big = kernel[0].alloc(100 * PAGE);
      kernel[0].free(k, PAGE);
      kernel[0].free(big, 100 * PAGE);
      kstack[0].free(s, KSTACK_SIZE);
      kernel[0].check();
      vmem_qcache_drain(kernel[0]);
      assert.equal(kernel[0].size(VMEM_ALLOC), 0);
    });
  });

  test('three levels: releases cascade up', () => {
    const top = new Vmem('top', 0, 1 << 20, 16);
    const mid = new Vmem('mid', 0, 0, 16);
    const leaf = new Vmem('leaf', 0, 0, 16);
    mid.setImport(vmem_alloc, vmem_free, top, 1024);
    leaf.setImport(vmem_alloc, vmem_free, mid, 256);
    const xs = Array.from({ length: 50 }, (_, i) => leaf.alloc(16 * (1 + (i % 7))));
    for (const v of [top, mid, leaf]) v.check();
    xs.forEach((x, i) => leaf.free(x, 16 * (1 + (i % 7))));
    for (const v of [top, mid, leaf]) {
      v.check();
      assert.equal(v.size(VMEM_ALLOC), 0, v.name);
    }
    assert.equal(mid.size(VMEM_ALLOC | VMEM_FREE), 0);
  });
});

function hexOf(n: number): string {
  return '0x' + n.toString(16);
}

describe('the hash and the tags', () => {
  test('the busy hash grows and shrinks with the number of allocations', () => {
    const vm = new Vmem('h', 0, 1 << 24, 1);
    const xs: number[] = [];
    for (let i = 0; i < 5000; i++) xs.push(vm.alloc(1 + (i % 3)));
    assert.ok(vm.stats().hashBuckets >= 4096);
    vm.check();
    for (let i = 0; i < 5000; i++) vm.free(xs[i], 1 + (i % 3));
    assert.ok(vm.stats().hashBuckets <= 64, `shrank to ${vm.stats().hashBuckets}`);
    vm.check();
    assert.equal(vm.stats().tagsInUse, 2);
  });

  test('whatis and owns describe an address', () => {
    const vm = new Vmem('wi', 0x5000, 0x4000, PAGE);
    const a = vm.alloc(PAGE);
    assert.ok(vm.owns(0x8fff));
    assert.ok(!vm.owns(0x9000));
    assert.equal(vm.whatis(a + 5), '0x5005 is 0x5000+0x5 in vmem \'wi\' (allocated)');
    assert.ok(vmem_whatis(0x6000).includes("0x6000 is 0x6000+0x0 in vmem 'wi' (free)"));
    assert.equal(vm.whatis(0x100), null);
    vm.free(a, PAGE);
  });

  test('VMEM_MAXFREE is the largest free segment', () => {
    const { vm } = holes([3, 40, 7]);
    assert.equal(vm.size(VMEM_MAXFREE), 40);
  });
});

describe('the checker catches corruption', () => {
  // Reach into the private arrays: the only way to break the invariants.
  type Innards = {
    tF: Float64Array; // [2t] start, [2t + 1] size
    tL: Int32Array; // [4t] segment next, ...
    tType: Uint8Array;
    flHead: Int32Array;
    flMap: Int32Array;
    hashBuckets: Int32Array;
    inuse: number;
    qcStack: Int32Array;
  };
  function fresh(): { vm: Vmem; raw: Innards; busy: number } {
    const vm = new Vmem('victim', 0, 64 * PAGE, PAGE, PAGE);
    vm.xalloc(PAGE);
    const busy = vm.xalloc(2 * PAGE);
    vm.xalloc(PAGE);
    vm.xfree(busy, 2 * PAGE);
    vm.xalloc(3 * PAGE);
    vm.check();
    return { vm, raw: vm as unknown as Innards, busy };
  }
  const tagAt = (raw: Innards, addr: number, type: number): number => {
    for (let t = raw.tL[0]; t !== 0; t = raw.tL[4 * t]) if (raw.tF[2 * t] === addr && raw.tType[t] === type) return t;
    throw new Error('no tag');
  };

  test('a segment whose size no longer tiles its span', () => {
    const { vm, raw, busy } = fresh();
    raw.tF[2 * tagAt(raw, busy, BT_TYPE_FREE) + 1] += PAGE;
    throwsCode(() => vm.check(), 'EINVARIANT', "'victim'");
  });

  test('two adjacent free segments left unmerged', () => {
    const { vm, raw } = fresh();
    const t = tagAt(raw, 0, BT_TYPE_BUSY);
    raw.tType[t] = BT_TYPE_FREE;
    throwsCode(() => vm.check(), 'EINVARIANT', 'adjacent free', '0x1000');
  });

  test('a free segment missing from its free list', () => {
    const { vm, raw, busy } = fresh();
    const t = tagAt(raw, busy, BT_TYPE_FREE);
    const order = vmemSizeToOrder(raw.tF[2 * t + 1] / PAGE);
    assert.equal(raw.flHead[order], t);
    raw.flHead[order] = 0;
    throwsCode(() => vm.check(), 'EINVARIANT', "'victim'");
  });

  test('a busy segment missing from the hash', () => {
    const { vm, raw } = fresh();
    raw.hashBuckets.fill(0);
    throwsCode(() => vm.check(), 'EINVARIANT', 'not in the hash', '0x0');
  });

  test('in-use bytes that do not add up', () => {
    const { vm, raw } = fresh();
    raw.inuse += PAGE;
    throwsCode(() => vm.check(), 'EINVARIANT', 'add up');
  });

  test('a wholly free imported span that was not released', () => {
    const parent = new Vmem('parent', 0, 64 * PAGE, PAGE);
    const child = new Vmem('child', 0, 0, PAGE);
    vmem_set_import(child, vmem_alloc, vmem_free, parent, PAGE);
    const a = child.alloc(PAGE);
    child.check();
    const raw = child as unknown as Innards;
    const t = tagAt(raw, a, BT_TYPE_BUSY);
    raw.tType[t] = BT_TYPE_FREE; // as if freed without the release
    throwsCode(() => child.check(), 'EINVARIANT', "'child'", 'not released');
    assert.ok(child.segments().some((s) => s.type === 'span'));
  });
});
