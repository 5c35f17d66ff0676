import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tunables, TUNABLES, findTunable } from '../src/kern/tunables.js';
import { DomainSet } from '../src/vm/domainset.js';
import { Vm } from '../src/vm/vm.js';
import { PagelabError } from '../src/errors.js';
import { numaMap } from './helpers/maps.js';

test('tunables: defaults, aliases, parsing, and errors naming the tunable', () => {
  const t = new Tunables();
  for (const d of TUNABLES) assert.equal(t.get(d.name), d.default);
  t.setFromString('debug.vm.lazy_page_init=off');
  assert.equal(t.num('vm.lazy_page_init'), 0, 'FreeBSD spelling is an alias');
  t.set('vm.nfreeorder', '11').set('vm.page_init', 'bzero');
  assert.deepEqual(t.changed(), { 'vm.lazy_page_init': 0, 'vm.nfreeorder': 11, 'vm.page_init': 'bzero' });
  const bad: Array<[() => unknown, RegExp]> = [
    [() => t.set('vm.lazy_page_int', 1), /unknown tunable "vm.lazy_page_int"/],
    [() => t.set('vm.lazy_page_init', 2), /vm.lazy_page_init: bad value "2"/],
    [() => t.set('vm.nfreeorder', 40), /vm.nfreeorder: bad value "40" \(expected 1..25\)/],
    [() => t.set('vm.nfreeorder', '1.5'), /expected an integer/],
    [() => t.set('vm.page_init', 'fast'), /expected one of fields, bzero/],
    [() => t.setFromString('vm.backed'), /not name=value/],
  ];
  for (const [fn, re] of bad) assert.throws(fn, (e: unknown) => e instanceof PagelabError && e.code === 'ETUNABLE' && re.test(e.message));
  assert.equal(findTunable('debug.vm.lazy_page_init').name, 'vm.lazy_page_init');
});

test('domainsets: prefer, round-robin and first-touch orders, and a fallback to the other domain', () => {
  const out = [0, 0];
  assert.deepEqual((new DomainSet('prefer', 2, 1).order(out), out), [1, 0]);
  const rr = new DomainSet('roundrobin', 2);
  const firsts = [0, 1, 2, 3].map(() => (rr.order(out), out[0]));
  assert.deepEqual(firsts, [0, 1, 0, 1]);
  assert.deepEqual((new DomainSet('firsttouch', 2).order(out, 1), out), [1, 0]);
  assert.throws(() => new DomainSet('prefer', 2, 2), /preferred domain 2/);
  assert.throws(() => new DomainSet('bogus' as never, 2), /unknown domain policy/);

  const vm = new Vm(numaMap(), { 'vm.lazy_page_init': 0 });
  const pref1 = new DomainSet('prefer', 2, 1);
  const m = vm.allocPages(0, 1, pref1);
  assert.equal(vm.phys.domainOf(m), 1);
  // Exhaust domain 1: the preferring policy then falls back to domain 0.
  while (vm.phys.allocPages(1, 1, 0) >= 0);
  const n = vm.allocPages(0, 1, pref1);
  assert.equal(vm.phys.domainOf(n), 0);
  const rrVm = new DomainSet('roundrobin', 2);
  const d = [vm.allocPages(0, 1, rrVm), vm.allocPages(0, 1, rrVm)].map((x) => vm.phys.domainOf(x));
  assert.deepEqual(d, [0, 0], 'domain 1 is exhausted, so both round-robin picks land on 0');
  vm.check();
});

test('vm.lazy_index_moves=0 keeps searches starting at LAZYINIT after the drain (D40403 first revision)', () => {
  for (const [moves, expect] of [[1, 1], [0, 0]] as const) {
    const lazy = new Vm(numaMap(), { 'vm.lazy_page_init': 1, 'vm.lazy_index_moves': moves });
    lazy.phys.lazyInit();
    assert.equal(lazy.phys.defaultFreepool, expect);
    const eager = new Vm(numaMap(), { 'vm.lazy_page_init': 0, 'vm.lazy_index_moves': moves });
    assert.equal(eager.phys.defaultFreepool, expect);
    eager.check();
    lazy.check();
  }
});
