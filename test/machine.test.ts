/*
 * The machine layer: presets, --mem, the JSON memory map format, the
 * /proc/iomem and /sys/firmware/memmap parsers, and resolveMachine.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PagelabError, type ErrorCode } from '../src/errors.js';
import {
  buildMemoryMap,
  describeMemoryMap,
  memoryMapForSize,
  memoryMapFromHost,
  memoryMapFromRamRanges,
  memoryMapToJson,
  memoryMapTotals,
  parseMemoryMapJson,
  parseNodeMemoryBlocks,
  parseProcIomem,
  parseSysFirmwareMemmap,
  PRESET_NAMES,
  presetMemoryMap,
  readNodeMemoryBlocks,
  readSysFirmwareMemmap,
  resolveMachine,
  validateMemoryMap,
  type MemoryMap,
  type PhysRange,
  type RamRange,
} from '../src/machine/index.js';
import { repoRoot } from './helpers/root.js';
import { runs } from './helpers/runs.js';

const K = 2 ** 10;
const M = 2 ** 20;
const G = 2 ** 30;
const T = 2 ** 40;
const PAGE = 4096;

const FIXTURES = join(repoRoot(), 'test', 'fixtures', 'machine');

/* Asserts that `fn` throws one PagelabError with `code` whose message contains every `parts`. */
function expectError(fn: () => unknown, code: ErrorCode, ...parts: string[]): PagelabError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof PagelabError, `expected a PagelabError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const p of parts) assert.ok(caught.message.includes(p), `message "${caught.message}" should mention ${p}`);
  return caught;
}

const bytes = (l: readonly PhysRange[]) => l.reduce((s, r) => s + r.end - r.start, 0);

/* Invariants checked independently of validateMemoryMap, so a bug there cannot hide one here. */
function assertSane(map: MemoryMap): void {
  validateMemoryMap(map);
  for (const l of [map.ram, map.physAvail, map.reserved]) {
    for (let i = 0; i < l.length; i++) {
      assert.equal(l[i].start % PAGE, 0);
      assert.equal(l[i].end % PAGE, 0);
      assert.ok(l[i].start < l[i].end);
      if (i > 0) assert.ok(l[i - 1].end <= l[i].start);
    }
  }
  for (const a of map.physAvail) assert.ok(map.ram.some((r) => r.start <= a.start && a.end <= r.end));
  // Every reserved byte is RAM outside phys_avail and vice versa for presets.
  const t = memoryMapTotals(map);
  assert.equal(t.ramBytes, bytes(map.ram));
  assert.equal(t.availBytes + t.reservedBytes, t.ramBytes);
}

describe('presets', () => {
  it('lists the presets the issue asks for', () => {
    assert.deepEqual([...PRESET_NAMES].sort(), [
      'bhyve-10g',
      'firecracker-128m',
      'firecracker-1g',
      'host-16g',
      'numa-2x32g',
      'qemu-64g',
      'tiny-16m',
    ]);
  });

  for (const name of PRESET_NAMES) {
    it(`${name} is valid, and reserved ranges are exactly what phys_avail leaves out`, () => {
      const map = presetMemoryMap(name);
      assert.equal(map.name, name);
      assertSane(map);
      assert.equal(bytes(map.reserved), memoryMapTotals(map).reservedBytes);
      // Page 0 and the kernel at KERNLOAD are never available.
      assert.ok(!map.physAvail.some((a) => a.start === 0));
      assert.ok(!map.physAvail.some((a) => a.start <= 0x200000 && 0x200000 < a.end));
      assert.ok(map.reserved.some((r) => r.start === 0x200000 && r.what.includes('kernel')));
    });
  }

  it('RAM adds up to the guest size minus the firmware holes', () => {
    const ram = (n: string) => memoryMapTotals(presetMemoryMap(n)).ramBytes;
    // Firecracker and SeaBIOS report [0, 0x9fc00): the page-rounded low range
    // loses 388 KiB against the guest size; bhyveload reports a full 640 KiB.
    assert.equal(ram('tiny-16m'), 16 * M - 388 * K);
    assert.equal(ram('firecracker-128m'), 128 * M - 388 * K);
    assert.equal(ram('firecracker-1g'), 1 * G - 388 * K);
    assert.equal(ram('bhyve-10g'), 10 * G - 384 * K);
    assert.equal(ram('qemu-64g'), 64 * G - 388 * K - 144 * K);
    assert.equal(ram('numa-2x32g'), ram('qemu-64g'));
  });

  it('firecracker maps have the D40403 shape: below 640 KiB, then from 1 MiB', () => {
    const map = presetMemoryMap('firecracker-128m');
    assert.deepEqual(map.ram, [
      { start: 0, end: 0x9f000, domain: 0 },
      { start: 0x100000, end: 128 * M, domain: 0 },
    ]);
  });

  it('bhyve and qemu put RAM above the 32-bit PCI hole at 4 GiB', () => {
    const bhyve = presetMemoryMap('bhyve-10g').ram;
    assert.deepEqual(bhyve[1], { start: 1 * M, end: 3 * G, domain: 0 });
    assert.deepEqual(bhyve[2], { start: 4 * G, end: 11 * G, domain: 0 });
    const qemu = presetMemoryMap('qemu-64g').ram;
    assert.equal(qemu[1].end, 0x7ffdc000);
    assert.deepEqual(qemu[2], { start: 4 * G, end: 66 * G, domain: 0 });
  });

  it('numa-2x32g has two domains of 32 GiB of guest memory each, domain 0 holding the low ranges', () => {
    const map = presetMemoryMap('numa-2x32g');
    assert.equal(map.ndomains, 2);
    const perDomain = [0, 1].map((d) => bytes(map.ram.filter((r) => r.domain === d)));
    assert.equal(perDomain[0], 32 * G - 388 * K - 144 * K);
    assert.equal(perDomain[1], 32 * G);
    assert.ok(map.ram.filter((r) => r.start < 4 * G).every((r) => r.domain === 0));
    assert.deepEqual(map.ram[map.ram.length - 1], { start: 34 * G, end: 66 * G, domain: 1 });
  });

  it('tiny-16m uses a small kernel; big presets a ~30 MiB one', () => {
    const kernel = (n: string) => presetMemoryMap(n).reserved.find((r) => r.what.includes('kernel'))!;
    assert.equal(kernel('tiny-16m').end - kernel('tiny-16m').start, 4 * M);
    assert.equal(kernel('qemu-64g').end - kernel('qemu-64g').start, 30 * M);
  });

  it('each call returns a fresh map', () => {
    const a = presetMemoryMap('tiny-16m');
    a.ram[0].end = 0;
    assert.equal(presetMemoryMap('tiny-16m').ram[0].end, 0x9f000);
  });

  it('an unknown preset is EMEMMAP listing the known ones', () => {
    expectError(() => presetMemoryMap('firecracker-2g'), 'EMEMMAP', 'firecracker-2g', 'tiny-16m', 'numa-2x32g');
  });
});

describe('--mem', () => {
  for (const [text, size] of [
    ['16M', 16 * M],
    ['128M', 128 * M],
    ['1G', 1 * G],
    ['3G', 3 * G],
    ['5G', 5 * G],
    ['1T', 1 * T],
    ['16T - 8K', 16 * T - 8 * K],
  ] as const) {
    it(`${text} is a valid map with exactly ${text} of RAM`, () => {
      const map = resolveMachine({ mem: text === '16T - 8K' ? size : text });
      assertSane(map);
      assert.equal(map.source, '--mem');
      assert.equal(memoryMapTotals(map).ramBytes, size);
      assert.deepEqual(map.ram[0], { start: 0, end: 640 * K, domain: 0 });
      assert.equal(map.ram[1].start, 1 * M);
      assert.ok(map.ram[1].end <= 3 * G);
      if (map.ram.length > 2) assert.equal(map.ram[2].start, 4 * G);
      assert.ok(map.ram.every((r) => r.end <= 3 * G || r.start >= 4 * G), 'no RAM in the PCI hole');
    });
  }

  it('5G puts the rest above 4 GiB', () => {
    const map = memoryMapForSize(5 * G);
    assert.equal(map.ram.length, 3);
    assert.deepEqual(map.ram[1], { start: 1 * M, end: 3 * G, domain: 0 });
  });

  it('rejects sizes that are too small, unaligned, or do not parse, naming the size', () => {
    expectError(() => memoryMapForSize(8 * M), 'ESIZE', '8M');
    expectError(() => memoryMapForSize(16 * M + 512), 'ESIZE', String(16 * M + 512), 'page');
    expectError(() => resolveMachine({ mem: '12Q' }), 'ESIZE', '12Q');
    expectError(() => memoryMapForSize(2 ** 53), 'ESIZE');
  });
});

describe('validateMemoryMap', () => {
  const good = (): MemoryMap =>
    buildMemoryMap({
      name: 'good',
      source: 'test',
      ndomains: 2,
      ram: [
        { start: 0, end: 0x9f000, domain: 0 },
        { start: 0x100000, end: 0x4000000, domain: 0 },
        { start: 0x100000000, end: 0x140000000, domain: 1 },
      ],
      reserved: [{ start: 0x200000, end: 0x400000, what: 'kernel' }],
    });

  it('accepts the good map', () => assertSane(good()));

  it('overlap names both ranges in hex with their indices', () => {
    const m = good();
    m.ram[1].start = 0x9e000;
    expectError(() => validateMemoryMap(m), 'EMEMMAP', 'ram[1] [0x9e000, 0x4000000)', 'overlaps', 'ram[0] [0x0, 0x9f000)');
  });

  it('unsorted RAM is an error, not silently sorted', () => {
    const m = good();
    [m.ram[1], m.ram[2]] = [m.ram[2], m.ram[1]];
    expectError(() => validateMemoryMap(m), 'EMEMMAP', 'ram[2]', 'not sorted');
  });

  it('unaligned', () => {
    const m = good();
    m.ram[2].end = 0x140000800;
    expectError(() => validateMemoryMap(m), 'EMEMMAP', 'ram[2] [0x100000000, 0x140000800)', 'end 0x140000800', 'aligned');
  });

  it('empty range', () => {
    const m = good();
    m.ram[1].end = m.ram[1].start;
    expectError(() => validateMemoryMap(m), 'EMEMMAP', 'ram[1] [0x100000, 0x100000)', 'empty');
  });

  it('no RAM at all', () => {
    expectError(() => validateMemoryMap({ ...good(), ram: [] }), 'EMEMMAP', 'no RAM');
  });

  it('domain out of range', () => {
    const m = good();
    m.ram[2].domain = 2;
    expectError(() => validateMemoryMap(m), 'EMEMMAP', 'ram[2] [0x100000000, 0x140000000)', 'domain 2', 'ndomains is 2');
  });

  it('phys_avail outside RAM, or straddling two RAM ranges', () => {
    const m = good();
    m.physAvail[m.physAvail.length - 1].end = 0x140001000;
    expectError(() => validateMemoryMap(m), 'EMEMMAP', `phys_avail[${m.physAvail.length - 1}] [0x100000000, 0x140001000)`);
    const n = good();
    n.physAvail = [{ start: 0x1000, end: 0x200000 }];
    expectError(() => validateMemoryMap(n), 'EMEMMAP', 'phys_avail[0] [0x1000, 0x200000)', 'not inside');
  });

  it('no phys_avail', () => {
    expectError(() => validateMemoryMap({ ...good(), physAvail: [] }), 'EMEMMAP', 'phys_avail is empty');
  });

  it('reserved outside RAM', () => {
    const m = good();
    m.reserved.push({ start: 0x80000000, end: 0x80001000, what: 'firmware' });
    expectError(() => validateMemoryMap(m), 'EMEMMAP', 'reserved[1] [0x80000000, 0x80001000)', 'firmware');
  });

  it('ndomains out of range', () => {
    expectError(() => validateMemoryMap({ ...good(), ndomains: 0 }), 'EMEMMAP', 'ndomains 0');
  });
});

describe('the JSON memory map format', () => {
  const labBox = `{ "name": "lab-box", "ndomains": 2,
  "ram": [ {"start": "0", "end": "640K", "domain": 0}, {"start": "1M", "size": "2G", "domain": 0},
           {"start": "4G", "size": "32G", "domain": 1} ],
  "reserved": [ {"start": "2M", "size": "24M", "what": "kernel"} ] }`;

  it('parses the documented example', () => {
    const map = parseMemoryMapJson(labBox, 'lab.json');
    assertSane(map);
    assert.equal(map.name, 'lab-box');
    assert.equal(map.source, 'lab.json');
    assert.deepEqual(map.ram, [
      { start: 0, end: 640 * K, domain: 0 },
      { start: 1 * M, end: 1 * M + 2 * G, domain: 0 },
      { start: 4 * G, end: 36 * G, domain: 1 },
    ]);
    assert.deepEqual(map.physAvail, [
      { start: 0, end: 640 * K },
      { start: 1 * M, end: 2 * M },
      { start: 26 * M, end: 1 * M + 2 * G },
      { start: 4 * G, end: 36 * G },
    ]);
    assert.deepEqual(map.reserved, [{ start: 2 * M, end: 26 * M, what: 'kernel' }]);
  });

  it('the fixture copy of the docs example loads through resolveMachine', () => {
    const map = resolveMachine({ memmapFile: join(FIXTURES, 'lab-box.json') });
    assert.equal(map.name, 'lab-box');
    assert.equal(memoryMapTotals(map).ramBytes, 640 * K + 2 * G + 32 * G);
  });

  it('accepts numbers, hex strings and an explicit phys_avail; name defaults to the file name', () => {
    const map = parseMemoryMapJson(
      '{"ram":[{"start":0,"end":"0x9f000"},{"start":1048576,"size":"15M"}],"phys_avail":[{"start":"0x100000","end":"16M"}]}',
      'dir/box.json',
    );
    assert.equal(map.name, 'box');
    assert.equal(map.ndomains, 1);
    assert.deepEqual(map.physAvail, [{ start: 1 * M, end: 16 * M }]);
  });

  it('bad JSON reports line and column', () => {
    expectError(() => parseMemoryMapJson('{\n  "ram": [\n    {"start": 0,, "end": 4096}\n  ]\n}', 'x.json'), 'EMEMMAP', 'x.json', 'invalid JSON', 'line 3, column');
    expectError(() => parseMemoryMapJson('{"ram": [', 'y.json'), 'EMEMMAP', 'y.json', 'line 1, column 10');
  });

  it('the reported line and column point at the first bad character, whatever V8 says', () => {
    const cases: Array<[string, number, number]> = [
      ['{\n "ram": [}', 2, 10],
      ['{"ram": []} trailing', 1, 13],
      ['', 1, 1],
      ['{"ram": [{"start": 0x1000}]}', 1, 21],
      ['{\n\n  "ram": [\n    {"start": "0", "end": "1M",}\n  ]\n}', 4, 32],
    ];
    for (const [text, line, column] of cases) {
      expectError(() => parseMemoryMapJson(text, 'x.json'), 'EMEMMAP', `line ${line}, column ${column}`);
    }
  });

  it('any damage JSON.parse rejects gets a line and column inside the text', () => {
    const valid = memoryMapToJson(presetMemoryMap('numa-2x32g'));
    fc.assert(
      fc.property(fc.nat(valid.length - 1), fc.constantFrom('', ',', '}', ']', '"', ':', 'x', '{'), (at, insert) => {
        const text = valid.slice(0, at) + insert + valid.slice(at + 1);
        try {
          JSON.parse(text);
          return; // the damage happened to keep it valid JSON
        } catch {
          // expected
        }
        const err = expectError(() => parseMemoryMapJson(text, 'x.json'), 'EMEMMAP', 'invalid JSON at line');
        const [, line, column] = /line (\d+), column (\d+)/.exec(err.message)!.map(Number);
        const lines = text.split('\n');
        assert.ok(line >= 1 && line <= lines.length, err.message);
        assert.ok(column >= 1 && column <= lines[line - 1].length + 1, err.message);
        // The error is at or after the damage: everything before it was valid.
        const offset = lines.slice(0, line - 1).reduce((s, l) => s + l.length + 1, 0) + column - 1;
        assert.ok(offset >= Math.min(at, text.length) - 1, `${err.message} but damage at offset ${at}`);
      }),
      { numRuns: runs(300) },
    );
  });

  it('unknown keys are errors naming the key', () => {
    expectError(() => parseMemoryMapJson('{"rams": []}', 'x.json'), 'EMEMMAP', '"rams"');
    expectError(
      () => parseMemoryMapJson('{"ram": [{"start": 0, "sise": "1M"}]}', 'x.json'),
      'EMEMMAP',
      'ram[0]',
      '"sise"',
    );
    expectError(
      () => parseMemoryMapJson('{"ram": [{"start": 0, "size": "1M"}], "reserved": [{"start": 0, "size": 4096, "why": "bios"}]}', 'x.json'),
      'EMEMMAP',
      'reserved[0]',
      '"why"',
    );
  });

  it('unparsable sizes are ESIZE naming the field', () => {
    expectError(() => parseMemoryMapJson('{"ram": [{"start": 0, "size": "1M"}, {"start": "1M", "size": "12Q"}]}', 'x.json'), 'ESIZE', 'x.json', 'ram[1].size', '12Q');
    expectError(() => parseMemoryMapJson('{"ram": [{"start": -4096, "size": "1M"}]}', 'x.json'), 'ESIZE', 'ram[0].start');
    expectError(() => parseMemoryMapJson('{"ram": [{"start": true, "size": "1M"}]}', 'x.json'), 'ESIZE', 'ram[0].start');
  });

  it('needs exactly one of end and size', () => {
    expectError(() => parseMemoryMapJson('{"ram": [{"start": 0, "size": "1M", "end": "1M"}]}', 'x.json'), 'EMEMMAP', 'ram[0]', 'exactly one');
    expectError(() => parseMemoryMapJson('{"ram": [{"start": 0}]}', 'x.json'), 'EMEMMAP', 'ram[0]', 'exactly one');
  });

  it('invariant errors from a file name the file and the range', () => {
    expectError(() => parseMemoryMapJson('{"ram": [{"start": 0, "size": "1M"}, {"start": "512K", "size": "1M"}]}', 'x.json'), 'EMEMMAP', 'x.json', 'ram[1] [0x80000, 0x180000)', 'overlaps');
    expectError(() => parseMemoryMapJson('{"ram": [{"start": 0, "size": "1M", "domain": 1}]}', 'x.json'), 'EMEMMAP', 'ram[0]', 'domain 1');
    expectError(() => parseMemoryMapJson('{"ram": [{"start": "0x800", "size": "1M"}]}', 'x.json'), 'EMEMMAP', 'ram[0]', 'start 0x800');
    expectError(() => parseMemoryMapJson('{"ram": [{"start": 0, "size": 0}]}', 'x.json'), 'EMEMMAP', 'ram[0]', 'empty');
    expectError(() => parseMemoryMapJson('{"ram": []}', 'x.json'), 'EMEMMAP', 'no RAM');
    expectError(
      () => parseMemoryMapJson('{"ram": [{"start": 0, "size": "1M"}], "phys_avail": [{"start": "1M", "size": 4096}]}', 'x.json'),
      'EMEMMAP',
      'phys_avail[0] [0x100000, 0x101000)',
    );
    expectError(
      () => parseMemoryMapJson('{"ram": [{"start": 0, "size": "1M"}], "reserved": [{"start": "8K", "size": "4K"}, {"start": 0, "size": "4K"}]}', 'x.json'),
      'EMEMMAP',
      'reserved[1]',
      'not sorted',
    );
  });

  it('an unreadable --memmap file is EMEMMAP naming it', () => {
    expectError(() => resolveMachine({ memmapFile: '/nonexistent/box.json' }), 'EMEMMAP', '/nonexistent/box.json');
  });

  it('every preset round-trips through the format', () => {
    for (const name of PRESET_NAMES) {
      const map = presetMemoryMap(name);
      assert.deepEqual(parseMemoryMapJson(memoryMapToJson(map), 'rt.json'), { ...map, source: 'rt.json' });
    }
  });
});

/* ---------------------------------------------------------------------------
 * Property tests: random valid maps, written in random but equivalent
 * notations, parse back to themselves; one random corruption is rejected with
 * the right code and a message naming the corrupted range.
 */

const arbMap: fc.Arbitrary<MemoryMap> = fc
  .record({
    ndomains: fc.integer({ min: 1, max: 4 }),
    pieces: fc.array(
      fc.record({
        gap: fc.integer({ min: 0, max: 2 ** 20 }), // pages; up to 4 GiB apart
        len: fc.integer({ min: 1, max: 2 ** 12 }),
        domainSeed: fc.nat(),
        reserveAt: fc.nat(),
        reserveLen: fc.nat(),
      }),
      { minLength: 1, maxLength: 8 },
    ),
  })
  .map(({ ndomains, pieces }) => {
    const ram: RamRange[] = [];
    const reserved: Array<PhysRange & { what: string }> = [];
    let at = 0;
    for (const p of pieces) {
      const start = (at + p.gap) * PAGE;
      const end = start + p.len * PAGE;
      ram.push({ start, end, domain: p.domainSeed % ndomains });
      // Reserve part of the range, leaving at least one page available.
      if (p.len > 1 && p.reserveLen % 3 !== 0) {
        const off = p.reserveAt % p.len;
        const len = 1 + (p.reserveLen % Math.max(1, p.len - 1));
        const rEnd = Math.min(start + (off + len) * PAGE, end);
        if (rEnd - (start + off * PAGE) < end - start) reserved.push({ start: start + off * PAGE, end: rEnd, what: `r${ram.length}` });
      }
      at = end / PAGE;
    }
    return buildMemoryMap({ name: 'random', source: 'fc', ndomains, ram, reserved });
  });

/* An address in one of the notations the format accepts. */
function notation(n: number, style: number): string | number {
  switch (style % 4) {
    case 0:
      return n;
    case 1:
      return '0x' + n.toString(16).toUpperCase();
    case 2:
      for (const [suffix, unit] of [['T', T], ['G', G], ['M', M], ['K', K]] as const) {
        if (n !== 0 && n % unit === 0) return `${n / unit}${suffix}`;
      }
      return String(n);
    default:
      return `${n}`;
  }
}

function toDoc(map: MemoryMap, styles: number[]): Record<string, unknown> {
  let k = 0;
  const next = () => styles[k++ % styles.length];
  const range = (r: PhysRange) =>
    next() % 2 === 0
      ? { start: notation(r.start, next()), end: notation(r.end, next()) }
      : { start: notation(r.start, next()), size: notation(r.end - r.start, next()) };
  return {
    name: map.name,
    ndomains: map.ndomains,
    ram: map.ram.map((r) => ({ ...range(r), domain: r.domain })),
    reserved: map.reserved.map((r) => ({ ...range(r), what: r.what })),
    phys_avail: map.physAvail.map(range),
  };
}

describe('JSON format properties', () => {
  it('random valid maps round-trip, in any notation', () => {
    fc.assert(
      fc.property(arbMap, fc.array(fc.nat(), { minLength: 1, maxLength: 16 }), (map, styles) => {
        assertSane(map);
        const expected = { ...map, source: 'rt.json' };
        assert.deepEqual(parseMemoryMapJson(memoryMapToJson(map), 'rt.json'), expected);
        assert.deepEqual(parseMemoryMapJson(JSON.stringify(toDoc(map, styles)), 'rt.json'), expected);
        // Without an explicit phys_avail the same map is derived from reserved.
        const doc = toDoc(map, styles);
        delete doc.phys_avail;
        assert.deepEqual(parseMemoryMapJson(JSON.stringify(doc), 'rt.json'), expected);
      }),
      { numRuns: runs(300) },
    );
  });

  type Corruption = 'unaligned' | 'empty' | 'overlap' | 'domain' | 'badsize' | 'unknownKey' | 'availOutside' | 'truncate';
  const corruptions: Corruption[] = ['unaligned', 'empty', 'overlap', 'domain', 'badsize', 'unknownKey', 'availOutside', 'truncate'];

  it('random corruptions are rejected with the right code, naming the range or key', () => {
    fc.assert(
      fc.property(arbMap, fc.constantFrom(...corruptions), fc.nat(), fc.integer({ min: 1, max: PAGE - 1 }), (map, kind, seed, odd) => {
        const doc = JSON.parse(memoryMapToJson(map)) as {
          ram: Array<Record<string, unknown>>;
          phys_avail: Array<Record<string, unknown>>;
        };
        const i = seed % map.ram.length;
        const r = map.ram[i];
        let text: string;
        let code: ErrorCode = 'EMEMMAP';
        let parts: string[];
        switch (kind) {
          case 'unaligned':
            doc.ram[i].start = r.start + odd;
            parts = [`ram[${i}]`, 'aligned'];
            break;
          case 'empty':
            doc.ram[i].end = r.start;
            parts = [`ram[${i}]`, 'empty'];
            break;
          case 'overlap': {
            if (i === 0) return; // nothing before it to overlap
            const prev = map.ram[i - 1];
            doc.ram[i].start = prev.end - PAGE;
            parts = [`ram[${i}]`, `ram[${i - 1}]`, 'overlaps'];
            break;
          }
          case 'domain':
            doc.ram[i].domain = map.ndomains + (seed % 3);
            parts = [`ram[${i}]`, 'domain'];
            break;
          case 'badsize':
            doc.ram[i].end = `${seed % 100}Q`;
            code = 'ESIZE';
            parts = [`ram[${i}].end`, 'Q'];
            break;
          case 'unknownKey':
            doc.ram[i].siz = '4K';
            parts = [`ram[${i}]`, '"siz"'];
            break;
          case 'availOutside': {
            const j = doc.phys_avail.length - 1;
            doc.phys_avail[j].end = map.ram[map.ram.length - 1].end + PAGE * (1 + (seed % 4));
            parts = [`phys_avail[${j}]`];
            break;
          }
          case 'truncate': {
            const full = JSON.stringify(doc);
            text = full.slice(0, seed % (full.length - 1));
            parts = ['invalid JSON'];
            expectError(() => parseMemoryMapJson(text, 'bad.json'), code, 'bad.json', ...parts);
            return;
          }
        }
        text = JSON.stringify(doc);
        expectError(() => parseMemoryMapJson(text, 'bad.json'), code, 'bad.json', ...parts);
      }),
      { numRuns: runs(400) },
    );
  });
});

describe('/proc/iomem and /sys/firmware/memmap', () => {
  const read = (name: string) => readFixture(name);

  it('parses the captured /proc/iomem of this Firecracker VM: three System RAM ranges', () => {
    assert.deepEqual(parseProcIomem(read('proc-iomem.firecracker-24g.txt')), [
      { start: 0x1000, end: 0x9fc00 },
      { start: 0x100000, end: 0xc0000000 },
      { start: 0x100000000, end: 0x640000000 },
    ]);
  });

  it('parses the captured /sys/firmware/memmap, which starts at 0 rather than 0x1000', () => {
    const ranges = parseSysFirmwareMemmap(readSysFirmwareMemmap(join(FIXTURES, 'sys-firmware-memmap')));
    assert.deepEqual(ranges, [
      { start: 0, end: 0x9fc00 },
      { start: 0x100000, end: 0xc0000000 },
      { start: 0x100000000, end: 0x640000000 },
    ]);
  });

  it('builds a page-rounded host map with page 0 kept out of phys_avail', () => {
    const fromIomem = memoryMapFromHost({ procIomem: join(FIXTURES, 'proc-iomem.firecracker-24g.txt'), sysFirmwareMemmap: '/nonexistent' });
    assertSane(fromIomem);
    assert.deepEqual(fromIomem.ram.map((r) => [r.start, r.end]), [
      [0x1000, 0x9f000],
      [0x100000, 0xc0000000],
      [0x100000000, 0x640000000],
    ]);
    // /proc/iomem leaves page 0 out of System RAM, so 4 KiB less than the e820.
    assert.equal(memoryMapTotals(fromIomem).ramBytes, 24 * G - 392 * K);
    const fromSys = memoryMapFromRamRanges(parseSysFirmwareMemmap(readSysFirmwareMemmap(join(FIXTURES, 'sys-firmware-memmap'))), 'sys');
    assert.deepEqual(fromSys.reserved, [{ start: 0, end: PAGE, what: 'BIOS page 0' }]);
    assert.equal(fromSys.physAvail[0].start, PAGE);
  });

  it('takes only top-level System RAM from a multi-range copy with nested entries', () => {
    const ranges = parseProcIomem(read('proc-iomem.multi.txt'));
    assert.deepEqual(ranges, [
      { start: 0x1000, end: 0x9fc00 },
      { start: 0x100000, end: 0x9c3f000 },
      { start: 0xa000000, end: 0xa200000 },
      { start: 0xa20d000, end: 0x7e0fe000 },
      { start: 0x100000000, end: 0x107f380000 },
    ]);
    const map = memoryMapFromRamRanges(ranges, 'multi');
    assertSane(map);
    assert.deepEqual(map.ram[0], { start: 0x1000, end: 0x9f000, domain: 0 });
  });

  it('merges touching ranges before rounding, and drops sub-page ones', () => {
    const map = memoryMapFromRamRanges(
      [
        { start: 0x100000, end: 0x100800 },
        { start: 0x100800, end: 0x200000 },
        { start: 0x300100, end: 0x300f00 },
      ],
      't',
    );
    assert.deepEqual(map.ram, [{ start: 0x100000, end: 0x200000, domain: 0 }]);
  });

  it('a zeroed non-root copy is EHOST suggesting root and /sys/firmware/memmap', () => {
    expectError(() => parseProcIomem(read('proc-iomem.nonroot.txt')), 'EHOST', 'root', '/sys/firmware/memmap');
  });

  it('falls back to /sys/firmware/memmap when /proc/iomem is zeroed', () => {
    const map = memoryMapFromHost({
      procIomem: join(FIXTURES, 'proc-iomem.nonroot.txt'),
      sysFirmwareMemmap: join(FIXTURES, 'sys-firmware-memmap'),
    });
    assert.equal(map.source, join(FIXTURES, 'sys-firmware-memmap'));
    assert.equal(map.ram.length, 3);
  });

  it('when both sources fail, one EHOST gives both reasons', () => {
    expectError(
      () => memoryMapFromHost({ procIomem: join(FIXTURES, 'proc-iomem.nonroot.txt'), sysFirmwareMemmap: '/nonexistent/memmap' }),
      'EHOST',
      'CAP_SYS_ADMIN',
      '/nonexistent/memmap',
    );
  });

  it('the captured NUMA listing of this VM gives one domain', () => {
    const nodes = parseNodeMemoryBlocks(read('node-memory-blocks.txt'));
    assert.equal(nodes.blockSize, 128 * M);
    assert.deepEqual([...nodes.nodes.keys()], [0]);
    assert.equal(nodes.nodes.get(0)!.length, 192); // 24 GiB in 128 MiB blocks
    const map = memoryMapFromRamRanges(parseProcIomem(read('proc-iomem.firecracker-24g.txt')), 'host', nodes);
    assert.equal(map.ndomains, 1);
    assert.equal(map.ram.length, 3);
  });

  it('splits host RAM where the owning NUMA node changes', () => {
    // Same VM, but blocks from 16 GiB up on node 1, as a 2-node host would show.
    const block = 128 * M;
    const blocks = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);
    const nodes = { blockSize: block, nodes: new Map([[0, [...blocks(0, 24), ...blocks(32, 128)]], [1, blocks(128, 200)]]) };
    const map = memoryMapFromRamRanges(parseProcIomem(read('proc-iomem.firecracker-24g.txt')), 'host', nodes);
    assertSane(map);
    assert.equal(map.ndomains, 2);
    assert.deepEqual(map.ram.slice(2), [
      { start: 4 * G, end: 16 * G, domain: 0 },
      { start: 16 * G, end: 25 * G, domain: 1 },
    ]);
  });

  it('reads the node listing from a sysfs-shaped tree, and does without one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pagelab-nodes-'));
    try {
      mkdirSync(join(dir, 'memory'));
      writeFileSync(join(dir, 'memory', 'block_size_bytes'), '8000000\n');
      for (const [node, blockList] of [[0, [0, 1]], [1, [2, 3]]] as const) {
        for (const b of blockList) mkdirSync(join(dir, 'node', `node${node}`, `memory${b}`), { recursive: true });
      }
      mkdirSync(join(dir, 'node', 'possible'), { recursive: true });
      const nodes = readNodeMemoryBlocks(join(dir, 'node'), join(dir, 'memory'))!;
      assert.deepEqual(nodes.nodes.get(1), [2, 3]);
      const map = memoryMapFromRamRanges([{ start: 0x1000, end: 512 * M }], 'fake', nodes);
      assert.deepEqual(map.ram, [
        { start: 0x1000, end: 256 * M, domain: 0 },
        { start: 256 * M, end: 512 * M, domain: 1 },
      ]);
      assert.equal(readNodeMemoryBlocks(join(dir, 'nonexistent'), join(dir, 'memory')), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects malformed and missing System RAM', () => {
    expectError(() => parseProcIomem('00000000-00000fff : Reserved\n'), 'EHOST', 'no top-level');
    expectError(() => parseProcIomem('0010000-zz : System RAM\n'), 'EHOST', 'line 1');
    expectError(() => parseProcIomem('1000-0fff : System RAM\n'), 'EHOST', 'line 1');
    expectError(() => parseSysFirmwareMemmap([{ start: '0x0', end: '0xfff', type: 'Reserved\n' }]), 'EHOST', 'no "System RAM"');
    expectError(() => parseSysFirmwareMemmap([{ start: '0xq', end: '0xfff', type: 'System RAM\n' }]), 'EHOST', 'entry 0');
  });

  it('--from-host on the machine running the tests gives a valid map or a clear EHOST', () => {
    try {
      assertSane(resolveMachine({ fromHost: true }));
    } catch (err) {
      assert.ok(err instanceof PagelabError && err.code === 'EHOST', String(err));
    }
  });
});

describe('resolveMachine and describeMemoryMap', () => {
  it('defaults to firecracker-1g', () => {
    assert.equal(resolveMachine({}).name, 'firecracker-1g');
    assert.equal(resolveMachine().name, 'firecracker-1g');
  });

  it('takes numbers for --mem', () => {
    assert.equal(memoryMapTotals(resolveMachine({ mem: 64 * M })).ramBytes, 64 * M);
  });

  it('two sources at once are EINVAL naming both', () => {
    expectError(() => resolveMachine({ preset: 'tiny-16m', mem: '1G' }), 'EINVAL', '--preset tiny-16m', '--mem 1G');
    expectError(() => resolveMachine({ memmapFile: 'a.json', fromHost: true }), 'EINVAL', '--memmap a.json', '--from-host');
  });

  it('fromHost: false is not a source', () => {
    assert.equal(resolveMachine({ preset: 'tiny-16m', fromHost: false }).name, 'tiny-16m');
  });

  it('unknown preset is EMEMMAP listing the known ones', () => {
    expectError(() => resolveMachine({ preset: 'nope' }), 'EMEMMAP', 'nope', ...PRESET_NAMES);
  });

  it('reads a file written by memoryMapToJson', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pagelab-machine-'));
    try {
      const file = join(dir, 'bhyve.json');
      writeFileSync(file, memoryMapToJson(presetMemoryMap('bhyve-10g')));
      const map = resolveMachine({ memmapFile: file });
      assert.deepEqual(map, { ...presetMemoryMap('bhyve-10g'), source: file });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('describes each RAM range and labels the parts outside phys_avail', () => {
    const map = presetMemoryMap('tiny-16m');
    const rows = describeMemoryMap(map);
    assert.equal(rows.length, map.ram.length);
    assert.deepEqual(
      rows.map((r) => [r.start, r.end, r.size, r.domain]),
      [
        ['0x0', '0x9f000', '636K', 0],
        ['0x100000', '0x1000000', '15M', 0],
      ],
    );
    assert.deepEqual(rows[0].notAvail, ['[0x0, 0x1000) 4K BIOS page 0', '[0x9d000, 0x9f000) 8K AP boot trampoline']);
    assert.ok(rows[1].notAvail[0].startsWith('[0x200000, 0x600000) 4M kernel'));
    assert.equal(
      rows.reduce((s, r) => s + r.availBytes, 0),
      memoryMapTotals(map).availBytes,
    );
  });

  it('labels holes no reserved range explains', () => {
    const map = parseMemoryMapJson('{"ram":[{"start":0,"size":"1M"}],"phys_avail":[{"start":"64K","size":"64K"}]}', 'h.json');
    assert.deepEqual(describeMemoryMap(map)[0].notAvail, [
      '[0x0, 0x10000) 64K not in phys_avail',
      '[0x20000, 0x100000) 896K not in phys_avail',
    ]);
  });
});

function readFixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}
