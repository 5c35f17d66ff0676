import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { PagelabError } from '../src/errors.js';
import { seededRng } from '../src/util/rng.js';
import {
  compareSamples,
  compareSummaries,
  formatVerdict,
  readDataset,
  renderMinistat,
  studentT,
  summarize,
  type MinistatFlavor,
} from '../src/stats/ministat.js';
import { ministatMain, type MinistatIO } from '../src/cli/ministat.js';
import { repoRoot } from './helpers/root.js';
import { runs } from './helpers/runs.js';


const fixtures = join(repoRoot(), 'test', 'fixtures', 'ministat');

/* Files resolved against `dir`, standard input from `stdinText`. */
function ioIn(dir: string, stdinText = ''): MinistatIO {
  return {
    readFile: (path) => readFileSync(join(dir, path), 'utf8'),
    stdin: () => stdinText,
  };
}

interface GoldenCase {
  name: string;
  args: string[];
  stdin?: string;
  stderrIncludes?: string;
}

const cases = JSON.parse(readFileSync(join(fixtures, 'cases.json'), 'utf8')) as GoldenCase[];

// expected/ holds what Debian's ministat printed for each case (regenerate.mjs).
test('golden: byte-identical to Debian ministat on every captured case', async (t) => {
  assert.ok(cases.length >= 60);
  for (const c of cases) {
    await t.test(c.name, () => {
      const stdinText = c.stdin === undefined ? '' : readFileSync(join(fixtures, c.stdin), 'utf8');
      const run = ministatMain(c.args, ioIn(fixtures, stdinText), { flavor: 'debian' });
      const status = Number(readFileSync(join(fixtures, 'expected', `${c.name}.status`), 'utf8'));
      const stdout = readFileSync(join(fixtures, 'expected', `${c.name}.out`), 'utf8');
      if (status === 0) {
        assert.equal(run.stderr, '');
        assert.equal(run.exitCode, 0);
        assert.equal(run.stdout, stdout);
      } else {
        assert.equal(run.exitCode, 2, run.stderr);
        assert.equal(run.stdout, stdout, 'nothing on stdout, as ministat');
        assert.ok(run.stderr.includes(c.stderrIncludes ?? '\u0000'), `stderr ${JSON.stringify(run.stderr)} names the problem`);
        assert.match(run.stderr, /^ministat: [^\n]+\n$/, 'one line');
      }
    });
  }
});

const seedBaseline = { n: 10, mean: 92.488651, stddev: 18.554921 };
const seedCandidate = { n: 10, mean: 875.02305, stddev: 80.788188 };

// shared/seeds/001: the vm_map_wire review's ministat output, from its summary statistics alone.
test('the seed wiring verdict, reproduced from summary statistics', () => {
  const result = compareSummaries(seedBaseline, seedCandidate);
  assert.equal(
    formatVerdict(result),
    "Difference at 95.0% confidence\n\t782.534 +/- 55.0727\n\t846.087% +/- 138.817%\n\t(Student's t, pooled s = 58.6132)",
  );
  assert.equal(result.significant, true);
  assert.equal(result.df, 18);
  assert.equal(result.t, 2.101);
  assert.equal(result.confidence, 95);
  // The 2015 code (Debian's) divides the absolute half-width by the baseline mean instead.
  assert.equal(
    formatVerdict(compareSummaries(seedBaseline, seedCandidate, 95, { flavor: 'debian' })),
    "Difference at 95.0% confidence\n\t782.534 +/- 55.0727\n\t846.087% +/- 59.5454%\n\t(Student's t, pooled s = 58.6132)",
  );
});

test('confidence levels pick their t column; others are refused', () => {
  assert.equal(studentT(18, 80), 1.33);
  assert.equal(studentT(18, 99.5), 3.61);
  assert.equal(studentT(100, 95), 1.984);
  assert.equal(studentT(101, 95), 1.96);
  assert.equal(studentT(1, 99.5), 318.313);
  const at80 = compareSummaries(seedBaseline, { n: 10, mean: 100, stddev: 18 }, 80);
  assert.equal(at80.t, 1.33);
  assert.match(formatVerdict(at80), /^No difference proven at 80\.0% confidence$/);
  assert.throws(() => compareSummaries(seedBaseline, seedCandidate, 97), (e: unknown) => e instanceof PagelabError && e.code === 'EINVAL' && /97/.test(e.message));
  assert.throws(() => compareSummaries({ n: 1, mean: 1, stddev: 0 }, seedCandidate), PagelabError);
  assert.throws(() => studentT(0, 95), PagelabError);
});

test('today\'s FreeBSD flavour: even-count median, clamped variance, -q', () => {
  const even = summarize([4, 1, 3, 2]);
  assert.equal(even.median, 2.5);
  assert.equal(summarize([4, 1, 3, 2], { flavor: 'debian' }).median, 3);
  const flat = summarize([0.1, 0.1, 0.1]);
  assert.equal(flat.stddev, 0);
  assert.ok(Number.isNaN(summarize([0.1, 0.1, 0.1], { flavor: 'debian' }).stddev));

  const io = ioIn(join(fixtures, 'inputs'));
  const quiet = ministatMain(['-qn', 'small-a.txt', 'even-median.txt'], io);
  assert.equal(quiet.exitCode, 0);
  assert.equal(
    quiet.stdout,
    'x   3             1             3             2             2             1\n' +
      '+   6             1            20           3.5     6.6666667     7.2571804\n',
  );
  const debianQ = ministatMain(['-q', 'small-a.txt'], io, { flavor: 'debian' });
  assert.equal(debianQ.exitCode, 2);
  assert.match(debianQ.stderr, /Unknown option -q/);
});

test('getopt forms: -c95 = -c 95, combined flags, --, options stop at the first file', () => {
  const io = ioIn(join(fixtures, 'inputs'));
  const files = ['iguana.txt', 'chameleon.txt'];
  const reference = ministatMain(['-s', '-n', '-c', '80', ...files], io).stdout;
  assert.equal(ministatMain(['-snc80', ...files], io).stdout, reference);
  assert.equal(ministatMain(['-sn', '-c80', '--', ...files], io).stdout, reference);
  // FreeBSD's getopt stops at the first operand; GNU's (Debian) permutes.
  const late = ministatMain([files[0], '-n', files[1]], io);
  assert.equal(late.exitCode, 2);
  assert.match(late.stderr, /Cannot open -n: No such file or directory/);
  const permuted = ministatMain([files[0], '-n', files[1]], io, { flavor: 'debian' });
  assert.equal(permuted.stdout, ministatMain(['-n', ...files], io, { flavor: 'debian' }).stdout);
});

test('refusals where ministat would crash or print garbage', () => {
  const io = ioIn(join(fixtures, 'inputs'));
  for (const width of ['0', '1']) {
    const run = ministatMain(['-w', width, 'iguana.txt'], io);
    assert.equal(run.exitCode, 2);
    assert.match(run.stderr, /^ministat: Plot width \d+ is out of range[^\n]*\n$/);
    // Without a plot the width does not matter.
    assert.equal(ministatMain(['-A', '-w', width, 'iguana.txt'], io).exitCode, 0);
  }
  const infinite = ministatMain(['-'], { ...io, stdin: () => '1\n2\ninf\n' });
  assert.equal(infinite.exitCode, 2);
  assert.match(infinite.stderr, /Cannot plot <stdin>/);
  assert.equal(ministatMain(['-n', '-'], { ...io, stdin: () => '1\n2\ninf\n' }).exitCode, 0);
  assert.throws(() => renderMinistat([{ name: 'a', values: [1, 2] }]), /must contain at least 3 data points/);
  assert.throws(() => renderMinistat([]), PagelabError);
});

test('a second "-" finds standard input exhausted; $COLUMNS sizes the plot on a terminal', () => {
  const io = ioIn(join(fixtures, 'inputs'), '1\n2\n3\n');
  const twice = ministatMain(['-', '-'], io);
  assert.equal(twice.exitCode, 2);
  assert.match(twice.stderr, /Dataset <stdin> must contain at least 3 data points/);
  const onTerminal = ministatMain(['iguana.txt'], { ...io, terminal: { columnsEnv: '30', windowColumns: 200 } });
  assert.ok(onTerminal.stdout.includes(`+${'-'.repeat(30)}+\n`));
  const windowOnly = ministatMain(['iguana.txt'], { ...io, terminal: { windowColumns: 50 } });
  assert.ok(windowOnly.stdout.includes(`+${'-'.repeat(48)}+\n`));
});

test('readDataset: columns, delimiters, comments and the line numbers of errors', () => {
  assert.deepEqual(Array.from(readDataset('a,1\nb,2\n# c,x\nd,3\n', 'f', { column: 2, delimiters: ',' }).values), [1, 2, 3]);
  assert.throws(() => readDataset('1\n2\n\n\nthree\n', 'f.txt'), /^PagelabError: Invalid data on line 5 in f\.txt$/);
  assert.throws(() => readDataset('1\n2\n', 'f.txt'), /Dataset f\.txt must contain at least 3 data points/);
});

/* A deliberately simple reference: two-pass variance, sort-based median. */
function naiveSummary(values: number[], flavor: MinistatFlavor) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  const mid = Math.floor(n / 2);
  const median = flavor === 'freebsd' && n % 2 === 0 ? (sorted[mid - 1] + sorted[mid]) / 2 : sorted[mid];
  return { n, min: sorted[0], max: sorted[n - 1], median, mean, variance };
}

test('property: summarize agrees with a naive two-pass reference', () => {
  fc.assert(
    fc.property(
      fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 2, maxLength: 200 }),
      fc.constantFrom<MinistatFlavor>('freebsd', 'debian'),
      (values, flavor) => {
        const ours = summarize(values, { flavor });
        const ref = naiveSummary(values, flavor);
        assert.equal(ours.n, ref.n);
        assert.equal(ours.min, ref.min);
        assert.equal(ours.max, ref.max);
        assert.equal(ours.median, ref.median);
        assert.ok(Math.abs(ours.mean - ref.mean) <= 1e-9 * Math.max(1, ...values.map(Math.abs)));
        // ministat's one-pass formula loses digits to cancellation: bound the error by the sum of squares.
        const scale = values.reduce((s, v) => s + v * v, 0) / (values.length - 1);
        assert.ok(Math.abs(ours.variance - ref.variance) <= 1e-9 * scale + 1e-12, `variance ${ours.variance} vs ${ref.variance}`);
        if (ours.variance >= 0) assert.equal(ours.stddev, Math.sqrt(ours.variance));
        assert.deepEqual(values, [...values], 'input untouched');
      },
    ),
    { numRuns: runs(300) },
  );
});

test('property: swapping the samples negates the difference and keeps the verdict', () => {
  const sample = fc.array(fc.double({ min: -1e4, max: 1e4, noNaN: true }), { minLength: 3, maxLength: 60 });
  fc.assert(
    fc.property(sample, sample, fc.constantFrom(80, 90, 95, 98, 99, 99.5), fc.constantFrom<MinistatFlavor>('freebsd', 'debian'), (a, b, confidence, flavor) => {
      const ab = compareSamples(a, b, confidence, { flavor });
      const ba = compareSamples(b, a, confidence, { flavor });
      assert.equal(ab.difference, -ba.difference);
      assert.equal(ab.halfWidth, ba.halfWidth);
      assert.equal(ab.pooledStddev, ba.pooledStddev);
      assert.equal(ab.significant, ba.significant);
      assert.equal(ab.df, a.length + b.length - 2);
    }),
    { numRuns: runs(300) },
  );
});

test('property: the summary-statistics path equals the raw-data path', () => {
  const sample = fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 3, maxLength: 40 });
  fc.assert(
    fc.property(sample, sample, (a, b) => {
      const fromRaw = compareSamples(a, b);
      const fromSummaries = compareSummaries(summarize(a), summarize(b));
      assert.deepEqual(fromSummaries, fromRaw);
    }),
    { numRuns: runs(200) },
  );
});

/* Which ministat is on PATH, if any: today's FreeBSD lists -q in its usage text. */
function installedMinistat(): MinistatFlavor | undefined {
  const probe = spawnSync('ministat', ['-?'], { encoding: 'utf8' });
  if (probe.error !== undefined) return undefined;
  return /-q\b/.test(probe.stderr) ? 'freebsd' : 'debian';
}

const liveFlavor = installedMinistat();

/* Seedable, so a failure names a reproducible case. */
const prng = seededRng;

test(
  'live: identical to the ministat on PATH on seeded random data',
  { skip: liveFlavor === undefined ? 'ministat is not on PATH (apt-get install ministat); golden files still checked' : false },
  () => {
    const flavor = liveFlavor as MinistatFlavor;
    const dir = mkdtempSync(join(tmpdir(), 'pagelab-ministat-'));
    try {
      const rand = prng(20240126);
      const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)];
      for (let scenario = 0; scenario < 40; scenario++) {
        const sets = 1 + Math.floor(rand() * 7);
        const useColumn = rand() < 0.25;
        const files: string[] = [];
        for (let s = 0; s < sets; s++) {
          const n = pick([3, 4, 5, 7, 10, 20, 50, 200, 1000]);
          const scale = pick([1e-6, 0.01, 1, 1, 100, 1e5, 1e9]);
          const mean = (rand() * 200 - 60) * scale;
          const sd = rand() * 30 * scale;
          const digits = 1 + Math.floor(rand() * 10);
          const integerTies = rand() < 0.2;
          const lines: string[] = [];
          for (let i = 0; i < n; i++) {
            const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
            const value = integerTies ? String(Math.round(z * 3)) : String(Number((mean + sd * z).toPrecision(digits)));
            lines.push(useColumn ? `${i}\t${value}\t# sample ${s}` : value);
          }
          const file = `s${scenario}-${s}.txt`;
          writeFileSync(join(dir, file), lines.join('\n') + '\n');
          files.push(file);
        }
        const args: string[] = [];
        if (useColumn) args.push('-C', '2');
        if (rand() < 0.3) args.push('-s');
        const mode = rand();
        if (mode < 0.15) args.push('-n');
        else if (mode < 0.3) args.push('-A');
        if (rand() < 0.4) args.push(`-c${pick(['80', '90', '95', '98', '99', '99.5'])}`);
        if (rand() < 0.4) args.push('-w', String(pick([2, 10, 40, 60, 100, 160])));
        args.push(...files);
        const real = spawnSync('ministat', args, { cwd: dir, encoding: 'utf8' });
        const ours = ministatMain(args, ioIn(dir), { flavor });
        assert.equal(real.status, 0, `ministat ${args.join(' ')}: ${real.stderr}`);
        assert.equal(ours.stdout, real.stdout, `scenario ${scenario}: ministat ${args.join(' ')}`);
      }

      // Reading: odd numbers, comments, delimiters, CR, NaN and errors, with -n.
      const atoms = ['1', '2.5', '-4', '+7', '.5', '5.', '1e3', '1E-2', '0x1A', '0x1p4', '0x', 'inf', 'nan', '-0', '1e', 'x', '#', '# c', ' ', '\t', ',', ';', '\r', '\v', '0012', '1e400', 'nan(12)', 'Infinity', '.'];
      for (let scenario = 0; scenario < 150; scenario++) {
        const lines: string[] = [];
        const lineCount = 1 + Math.floor(rand() * 12);
        for (let i = 0; i < lineCount; i++) {
          let line = '';
          if (rand() < 0.6) {
            line = pick(['1', '2.5', '3', '-1', '4e1', '0.25']) + pick(['', ' ', '\t', '\r', ' 7', ',8', ' # x']);
          } else {
            const atomCount = Math.floor(rand() * 5);
            for (let j = 0; j < atomCount; j++) line += pick(atoms) + pick([' ', '\t', ',', '', '']);
          }
          lines.push(line);
        }
        writeFileSync(join(dir, 'read.txt'), lines.join('\n') + (rand() < 0.8 ? '\n' : ''));
        const args = ['-n'];
        if (rand() < 0.3) args.push('-C', pick(['1', '2', '3']));
        if (rand() < 0.3) args.push('-d', pick([',', ' ,', ';', '\t']));
        args.push('read.txt');
        const real = spawnSync('ministat', args, { cwd: dir, encoding: 'utf8' });
        const ours = ministatMain(args, ioIn(dir), { flavor });
        const context = `reading ${JSON.stringify(lines)} with ${args.join(' ')}`;
        assert.equal(ours.exitCode === 0, real.status === 0, context);
        assert.equal(ours.stdout, real.stdout, context);
        if (real.status !== 0) {
          const message = real.stderr.split('\n')[0].replace(/^ministat: /, '');
          assert.ok(ours.stderr.includes(message), `${context}: ${ours.stderr} vs ${real.stderr}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
