import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { writeFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import { EX_SOFTWARE, main } from '../src/cli/main.js';
import { repoRoot } from './helpers/root.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const MAIN = path.resolve(here, '../src/cli/main.js');
const root = repoRoot();
const TRACE = path.join(root, 'test/fixtures/traces/basic.trace');

/* `pagelab ARGS` in this process, through the CLI's exported main(): for the many small cases. */
async function inProcess(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { out: (s) => void (stdout += s), err: (s) => void (stderr += s), isTTY: false, stdin: () => '' });
  return { code, stdout, stderr };
}

function pagelab(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--version prints the package version', () => {
  const r = pagelab('--version');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^pagelab \d+\.\d+\.\d+\n$/);
});

test('boot --json describes the machine and the boot', () => {
  const r = pagelab('boot', '--machine', 'tiny-16m', '--json', '-o', 'vm.lazy_page_init=0');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.machine.name, 'tiny-16m');
  assert.equal(j.boot.lazy, false);
  assert.equal(j.boot.pages_initialised, j.boot.pages);
  assert.equal(j.free_queues.reduce((s: number, q: { pages: number }) => s + q.pages, 0), j.boot.pages_free);
});

test('boot --compare shows eager and lazy side by side', () => {
  const r = pagelab('boot', '--machine', 'firecracker-128m', '--compare');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /eager \(vm.lazy_page_init=0\)/);
  assert.match(r.stdout, /lazy \(vm.lazy_page_init=1\)/);
});

test('replay --json keeps its documented keys', () => {
  const r = pagelab('replay', TRACE, '--json', '--events', '--check');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  for (const k of ['allocations', 'failed', 'free_pages', 'buddyinfo', 'events']) assert.ok(k in j, k);
  assert.deepEqual(j.failed, [7]);
  assert.deepEqual(Object.keys(j.events[0]).sort(), ['line', 'ok', 'op', 'pa', 'pages', 'tag']);
});

test('bad input: one line, exit 2, no stack unless --debug', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pagelab-'));
  const bad = path.join(dir, 'bad.trace');
  writeFileSync(bad, 'machine tiny-16m\nalloc a 0\nfree b\n');
  for (const args of [['replay', bad], ['boot', '-o', 'vm.lazy_page_init=7'], ['boot', '--mem', '12Q'], ['boot', '--machine', 'pdp-11'], ['boot', '--frobnicate'], ['nonsense']]) {
    const r = pagelab(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /at .*\.js/);
  }
  const r = pagelab('replay', bad);
  assert.match(r.stderr, /bad\.trace:3: free: tag "b" was never allocated/);
  const d = pagelab('replay', bad, '--debug');
  assert.equal(d.code, 2);
  assert.match(d.stderr, /at .*\.js/);
});

test('a closed pipe (pagelab … | head) ends quietly', () => {
  // Far more output than a pipe buffers, so the writer does meet the closed pipe.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pagelab-'));
  const big = path.join(dir, 'big.trace');
  const lines = ['machine tiny-16m'];
  for (let i = 0; i < 3000; i++) lines.push(`alloc t${i} 0`, `free t${i}`);
  writeFileSync(big, lines.join('\n') + '\n');
  const r = spawnSync('/bin/sh', ['-c', `"${process.execPath}" "${MAIN}" replay "${big}" --events | head -1`], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^replayed /);
});

test('machine sources from the command line: a JSON map, a bad one, and two at once', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pagelab-'));
  const good = path.join(dir, 'box.json');
  writeFileSync(good, JSON.stringify({ name: 'box', ndomains: 2, ram: [{ start: '1M', end: '64M', domain: 0 }, { start: '64M', size: '64M', domain: 1 }], reserved: [{ start: '2M', size: '4M', what: 'kernel' }] }));
  const r = pagelab('boot', '--memmap', good, '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.machine.ndomains, 2);
  assert.equal(j.boot.pages_reserved, 1024);
  const bad = path.join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ name: 'bad', ram: [{ start: '0', end: '8M', domain: 0 }, { start: '4M', end: '12M', domain: 0 }] }));
  const e = pagelab('boot', '--memmap', bad);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /overlaps/);
  assert.match(e.stderr, /0x400000/);
  const two = pagelab('boot', '--mem', '1G', '--machine', 'tiny-16m');
  assert.equal(two.code, 2);
  assert.equal(two.stderr.trim().split('\n').length, 1);
});

test('--memmap reads at most MEMMAP_MAX_BYTES: /dev/zero and a directory are one-line errors', () => {
  const z = pagelab('boot', '--memmap', '/dev/zero');
  assert.equal(z.code, 2);
  assert.equal(z.stderr, 'pagelab: --memmap /dev/zero: more than 1M (1048576 bytes), the limit for a memory map\n');
  const d = pagelab('boot', '--memmap', os.tmpdir());
  assert.equal(d.code, 2);
  assert.equal(d.stderr, `pagelab: --memmap ${os.tmpdir()}: is a directory\n`);
});

test('ministat names a directory and refuses input past its cap, exit 2 with one line', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pagelab-ministat-dir-'));
  const d = pagelab('ministat', dir);
  assert.equal(d.code, 2);
  assert.equal(d.stderr, `ministat: ${dir}: is a directory\n`);
  const z = pagelab('ministat', '/dev/zero');
  assert.equal(z.code, 2);
  assert.match(z.stderr, /^ministat: \/dev\/zero: more than 64M \(67108864 bytes\), the limit for a ministat data file\n$/);
});

test('every command answers --help and -h with its usage on stdout, exit 0', async () => {
  const spawned = pagelab('replay', '--help');
  assert.equal(spawned.code, 0, spawned.stderr);
  assert.match(spawned.stdout, /^usage: pagelab replay TRACE/);
  for (const cmd of ['boot', 'replay', 'lab', 'ministat', 'tunables']) {
    for (const flag of ['--help', '-h']) {
      const r = await inProcess(cmd, flag);
      assert.equal(r.code, 0, `${cmd} ${flag}: ${r.stderr}`);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, new RegExp(`^usage: pagelab ${cmd}`));
    }
  }
  // before the command's own parser: a bad option next to --help does not matter
  assert.equal((await inProcess('boot', '--mem', '12Q', '--help')).code, 0);
  const top = await inProcess('--help');
  assert.equal(top.code, 0);
  assert.match(top.stdout, /pagelab COMMAND --help/);
});

test('wrong or missing messages: --mem ceilings and signs, tunables arguments', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['boot', '--mem', '64T'], /^pagelab: --mem 64T \(70368744177664 bytes\): more than 16T - 8K \(17592186036224 bytes\), the most RAM the page array's 32-bit page indices can number\n$/],
    [['boot', '--mem', '1P'], /^pagelab: --mem 1P .*more than 16T - 8K/],
    [['boot', '--mem', '-4K'], /^pagelab: --mem: "-4K" is negative; sizes and addresses are never below 0\n$/],
    [['boot', '--mem=-4K'], /"-4K" is negative/],
    [['boot', '--mem', '--json'], /^pagelab: boot: --mem needs a value\n$/],
    [['tunables', '--frob'], /^pagelab: tunables: unknown option "--frob"\n$/],
    [['tunables', '-o', 'vm.backed=1'], /^pagelab: tunables: unknown option "-o"\n$/],
    [['tunables', 'extra'], /^pagelab: tunables: unexpected argument "extra"\n$/],
  ];
  for (const [args, re] of cases) {
    const r = await inProcess(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
});

test('error lines are one line, escaped and bounded, whatever the input quotes', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pagelab-'));
  const hostile = 'x\x1b]0;pwned\x07\x1b[2J\r\nline2\u202e' + 'y'.repeat(100_000);
  for (const [i, args] of [['boot', '--machine', hostile], [hostile], ['boot', '-o', `${hostile}=1`]].entries()) {
    const r = i === 0 ? pagelab(...args) : await inProcess(...args);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.split('\n').length, 2, 'one line and its newline');
    assert.ok(r.stderr.length <= 'pagelab: '.length + 512 + 1, String(r.stderr.length));
    assert.doesNotMatch(r.stderr.slice(0, -1), /[\x00-\x1f\x7f\u202e]/);
    assert.match(r.stderr, /x\\x1b\]0;pwned\\x07\\x1b\[2J\\r\\nline2\\u\{202e\}y+ \.\.\.\[\d+ characters cut\]\.\.\. /);
  }
  const dup = path.join(dir, 'dup.json');
  writeFileSync(dup, '{\n  "ram": [\n    {"start": "1M", "end": "64M",\n     "end": "128M"}\n  ]\n}\n');
  const r = await inProcess('boot', '--memmap', dup);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, `pagelab: ${dup}: ram[0]: duplicate key "end" at line 4, column 6 (JSON.parse would keep only the last)\n`);
});

test('replay: a failed data check is printed and exits 1; bad input exits 2; --help exits 0', () => {
  const zero = path.join(root, 'test/fixtures/traces/zero.trace');
  const r = pagelab('replay', zero);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /verify failed: line 18, tag z: differs from the pattern at 0x[0-9a-f]+\n1 data check failed\n$/);
  assert.equal(r.stderr, '');
  const j = pagelab('replay', zero, '--json');
  assert.equal(j.code, 1);
  assert.equal(JSON.parse(j.stdout).verify_failures[0].line, 18);
  const ok = pagelab('replay', TRACE);
  assert.equal(ok.code, 0, ok.stderr);
  assert.doesNotMatch(ok.stdout, /data check/);
  const h = pagelab('replay', '--help');
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Exit status: 0 ok; 1 a data check failed/);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pagelab-'));
  const twice = path.join(dir, 'twice.trace');
  writeFileSync(twice, 'machine tiny-16m\nalloc a 0\nfree a\nfree a\n');
  const d = pagelab('replay', twice);
  assert.equal(d.code, 2);
  assert.match(d.stderr, /^pagelab: .*twice\.trace:4: free: tag "a" is already free \(freed at line 3, where it held 0x[0-9a-f]+\)\n$/);
  const esc = path.join(dir, 'esc.trace');
  writeFileSync(esc, `alloc a 0\nalloc \x1b[2J${'y'.repeat(10_000)}\n`);
  const e = pagelab('replay', esc);
  assert.equal(e.code, 2);
  assert.equal(e.stderr.split('\n').length, 2, e.stderr);
  assert.doesNotMatch(e.stderr, /\x1b/);
  assert.ok(e.stderr.length < 300, e.stderr);
  const o = pagelab('replay', TRACE, '-o', 'vm.lazy_page_init=0', '--json');
  assert.equal(JSON.parse(o.stdout).tunables['vm.lazy_page_init'], 0);
  assert.equal(pagelab('replay', TRACE, '-o', 'novalue').code, 2);
});

test('boot prints the reservation geometry and domain thresholds; replay prints objects and reservation strings; a wired free exits 2', () => {
  const b = pagelab('boot', '--mem', '64M');
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /reservations: level 0, 512 pages \(2M\) each; superpage-sized free blocks per domain \d+/);
  assert.match(b.stdout, /free_reserved +free_min +interrupt_free_min/);
  const off = pagelab('boot', '--mem', '64M', '-o', 'vm.reserv.enable=0', '--json');
  assert.deepEqual(JSON.parse(off.stdout).reserv, { enabled: false });
  const r = pagelab('replay', path.join(root, 'test/fixtures/traces/objects.trace'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /heap +anon +unbounded +0 +836 +F-/);
  assert.match(r.stdout, /reservations \(512 pages each\): active 1, fully populated 1/);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pagelab-objects-'));
  const bad = path.join(dir, 'wired.trace');
  writeFileSync(bad, 'machine tiny-16m\nobject o\npage a o 0 wired\nfree a\n');
  const e = pagelab('replay', bad);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /wired\.trace:4: free a: page 0x[0-9a-f]+ is wired \(unwire it first\)\n$/);
  assert.doesNotMatch(e.stderr, /at .*\.js/);
});

test('an internal error exits EX_SOFTWARE (70), not 1 (a failed check) or 2 (bad input), with one safe line and the stack under --debug', async () => {
  const run = async (argv: string[]) => {
    const err: string[] = [];
    const code = await main(argv, {
      out: () => {
        throw new Error('boom\x1b[31m in the writer');
      },
      err: (s) => void err.push(s),
      isTTY: false,
    });
    return { code, err: err.join('') };
  };
  const plain = await run(['--version']);
  assert.equal(plain.code, EX_SOFTWARE);
  assert.equal(EX_SOFTWARE, 70);
  assert.match(plain.err, /^pagelab: internal error: boom\\x1b\[31m in the writer\n\(run with --debug for the stack\)\n$/);
  const debug = await run(['--version', '--debug']);
  assert.equal(debug.code, EX_SOFTWARE);
  assert.match(debug.err, /\n {4}at /);
});
