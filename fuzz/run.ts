/**
 * `npm run fuzz [-- [memmap] [cli] [--iterations N] [--seed S]]`: runs the
 * fuzzers (docs/fuzzing.md) and prints what they found. Exit 1 when anything
 * broke an oracle, 2 for bad arguments. A case slower than SLOW_MS is
 * flagged for a person to look at, not failed: on a shared, loaded host a
 * 1 MiB map can take that long without anything being wrong.
 * The test suite runs the same fuzzers for a few hundred cases; this is the
 * long run.
 */
import { fuzzCli } from './cli.fuzz.js';
import { fuzzMemoryMaps } from './memmap.fuzz.js';
import type { FuzzReport } from './oracle.js';

/* Default cases per fuzzer: about a minute each on the 2-core development machine. */
export const DEFAULT_ITERATIONS = { memmap: 4000, cli: 20000 } as const;
/* A case slower than this is flagged: work that may grow with hostile input. */
const SLOW_MS = 1000;

type Name = keyof typeof DEFAULT_ITERATIONS;

function usage(message: string): never {
  process.stderr.write(`fuzz: ${message}\nusage: npm run fuzz -- [memmap] [cli] [--iterations N] [--seed S]\n`);
  process.exit(2);
}

async function main(argv: string[]): Promise<number> {
  const names: Name[] = [];
  let iterations: number | undefined;
  let seed = Date.now() % 2 ** 31;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === 'memmap' || a === 'cli') names.push(a);
    else if (a === '--iterations' || a === '--seed') {
      const v = Number(argv[++i]);
      if (!Number.isSafeInteger(v) || v < 0) usage(`${a} needs a non-negative integer`);
      if (a === '--iterations') iterations = v;
      else seed = v;
    } else usage(`unknown argument "${a}"`);
  }
  if (names.length === 0) names.push('memmap', 'cli');
  let failed = false;
  for (const name of names) {
    const n = iterations ?? DEFAULT_ITERATIONS[name];
    process.stdout.write(`fuzz ${name}: ${n} cases, seed ${seed}\n`);
    const t0 = performance.now();
    const report: FuzzReport = name === 'memmap' ? fuzzMemoryMaps(n, seed) : await fuzzCli(n, seed);
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    process.stdout.write(`  ${report.iterations} cases in ${s} s; outcomes ${JSON.stringify(report.outcomes)}\n`);
    process.stdout.write(`  slowest case ${report.slowest.ms.toFixed(1)} ms: ${report.slowest.input}\n`);
    if (report.slowest.ms > SLOW_MS) process.stdout.write(`  SLOW: more than ${SLOW_MS} ms; worth a look (reproduce with the seed below)\n`);
    for (const f of report.findings.slice(0, 20)) process.stdout.write(`  FINDING case ${f.iteration}: ${f.problem}\n    input: ${f.input}\n`);
    if (report.findings.length > 20) process.stdout.write(`  … and ${report.findings.length - 20} more\n`);
    if (report.findings.length > 0) failed = true;
    process.stdout.write(`  ${report.findings.length} findings (reproduce: npm run fuzz -- ${name} --seed ${seed} --iterations ${n})\n`);
  }
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
