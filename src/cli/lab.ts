/**
 * `pagelab lab [EXPERIMENT] [options]`: run the laboratory's experiments
 * (src/lab/) and print or write what they return.
 *
 * With no EXPERIMENT every experiment runs at its default scale, with a
 * progress bar when stderr is a terminal. Bad input (an unknown experiment,
 * option or profile, a size that does not parse, an --out directory that
 * cannot be created or written) is one PagelabError, found before any
 * experiment runs; main.ts prints it on one line and exits 2.
 */
import { accessSync, closeSync, constants, mkdirSync, openSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { PagelabError } from '../errors.js';
import {
  checkKstackPindexOptions,
  DEFAULT_CHURN,
  DEFAULT_SEED,
  DEFAULT_SWEEP,
  DEFAULT_THREADS,
  DEFAULT_MEASURED_GUEST,
  DEFAULT_MEASURED_HOST,
  DEFAULT_PREZERO_RUNS,
  DEFAULT_RUNS,
  DEFAULT_SCALE,
  DEFAULT_SIZES,
  DEFAULT_WIRE_SIM_BYTES,
  DEFAULT_WIRE_WALL_BYTES,
  EXPERIMENTS,
  EXPERIMENT_NAMES,
  labDocument,
  parseSizes,
  type Experiment,
  type LabResult,
  type LabRunOptions,
} from '../lab/index.js';
import { getProfile, PROFILES } from '../sim/profiles/index.js';
import { formatSize, parseSize } from '../util/units.js';
import { parseArgs } from './args.js';

export interface LabIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Whether stderr is a terminal (decides the progress bar). */
  isTTY: boolean;
}

export interface LabOptions {
  sizes?: string[];
  runs?: number;
  profile?: string;
  json: boolean;
  out?: string;
  scaleAbove?: number;
  wallEagerMax?: number;
  wireSize?: number;
  wireSimSize?: number;
  variants: boolean;
  help: boolean;
  /** prezero-vm-start: the model's scale, the simulated idle ms, the measured guest and host. */
  scale?: number;
  idleMs?: number;
  guest?: string;
  host?: string;
  /** kstack-pindex: threads, churn operations, seed, (K, G) and the sweep. */
  threads?: number;
  churn?: number;
  seed?: number;
  kstack?: [number, number];
  sweep?: Array<[number, number]>;
}

const FREEBSD_PROFILES = PROFILES.filter((p) => p.os === 'freebsd').map((p) => p.name);

export const LAB_USAGE = `usage: pagelab lab [EXPERIMENT] [options]

experiments:
${EXPERIMENTS.map((e) => `  ${e.name.padEnd(16)} ${e.description}`).join('\n')}
  (none)           every experiment at its default scale, with a progress bar

options:
  --sizes LIST          memory sizes, comma-separated (default ${DEFAULT_SIZES.join(',')}); Firecracker-shaped guests
  --runs N              wall-time runs per size and mode, interleaved, compared with ministat (default ${DEFAULT_RUNS}; 0 skips)
  --profile P           FreeBSD calibration profile (${FREEBSD_PROFILES.join(', ')})
  --scale-above SIZE    sizes above SIZE: eager work derived, drain scaled, not run on a Vm
                        (default 64G with the default sizes; "none" when --sizes is given)
  --wall-eager-max SIZE do not time eager boots above SIZE (default 1G with the default sizes,
                        the --scale-above limit when --sizes is given; "none" times every real one)
  --no-variants         skip the reviewers' variants (and with them the Linux comparison)
  --scale N             prezero-vm-start: the model's VM runs at 1/N size (power of two; default ${DEFAULT_SCALE})
  --idle MS             prezero-vm-start: simulated idle time before the guest starts (default 60000)
  --guest SIZE          prezero-vm-start: the measured guest (default ${DEFAULT_MEASURED_GUEST}; --runs defaults to ${DEFAULT_PREZERO_RUNS} there)
  --host SIZE           prezero-vm-start: the measured host (default ${DEFAULT_MEASURED_HOST})
  --wire-size SIZE      wire: backed memory wired per measured run (default ${formatSize(DEFAULT_WIRE_WALL_BYTES)}; 1g as in the issue)
  --wire-sim-size SIZE  wire: memory wired to count the simulated work, scaled to the 10 GiB guest
                        (default ${formatSize(DEFAULT_WIRE_SIM_BYTES)}; 10g counts it all)
  --threads N           kstack-pindex: threads alive after the ramp-up (default ${DEFAULT_THREADS})
  --churn N             kstack-pindex: thread creations and exits after the ramp-up (default ${DEFAULT_CHURN})
  --seed N              kstack-pindex: workload seed (default ${DEFAULT_SEED})
  --kstack K:G          kstack-pindex: kern.kstack_pages and kern.kstack_guard_pages (default 4:1)
  --sweep LIST          kstack-pindex: K:G pairs of the sweep, or "none" (default ${DEFAULT_SWEEP.map(([k, g]) => `${k}:${g}`).join(',')})
  --json                print results as JSON (schema in docs/lab.md) instead of tables
  --out DIR             also write DIR/results.json, DIR/EXPERIMENT.trace.json, DIR/report.html
                        (the first experiment's report; the others' as DIR/EXPERIMENT.html)
                        (DIR is created, and checked writable, before anything runs)
`;

const VALUED = ['--sizes', '--runs', '--profile', '--scale-above', '--wall-eager-max', '--out', '--scale', '--idle', '--guest', '--host', '--wire-size', '--wire-sim-size', '--threads', '--churn', '--seed', '--kstack', '--sweep'] as const;

/* "K:G" of --kstack and --sweep; EUSAGE naming the flag and the text. */
function parseKG(flag: string, text: string): [number, number] {
  const m = /^(\d{1,2}):(\d{1,2})$/.exec(text);
  if (m === null || Number(m[1]) < 1) throw new PagelabError('EUSAGE', `lab: ${flag} "${text.slice(0, 40)}" is not K:G (stack pages >= 1 : guard pages), e.g. 4:1`);
  return [Number(m[1]), Number(m[2])];
}

/* A wire size: a multiple of 2 MiB up to `max`, or ESIZE naming the flag. */
function wireBytes(v: string, flag: string, max: number): number {
  const b = parseSize(v, flag);
  if (!(b >= 2 ** 21 && b % 2 ** 21 === 0 && b <= max)) throw new PagelabError('ESIZE', `lab: ${flag} ${v}: must be a multiple of 2 MiB from 2M to ${formatSize(max)}`);
  return b;
}

/* A size or "none" (no limit) for --scale-above / --wall-eager-max. */
const limit = (v: string, flag: string): number => (v === 'none' ? Infinity : parseSize(v, flag));

/*
 * Parse the arguments after "lab" with the CLI's one parser.
 * Guarantees: the experiment (or null for all) and options, or one
 * EUSAGE/ESIZE error naming the offending argument.
 */
export function parseLabArgs(argv: readonly string[]): { experiment: Experiment | null; opts: LabOptions } {
  const a = parseArgs(argv, ['--json', '--no-variants', '--help', '-h'], 'lab', { values: VALUED, machine: false });
  if (a.positional.length > 1) throw new PagelabError('EUSAGE', `lab: one experiment at a time (got "${a.positional[0]}" and "${a.positional[1]}")`);
  let experiment: Experiment | null = null;
  if (a.positional.length === 1) {
    const name = a.positional[0];
    experiment = EXPERIMENTS.find((e) => e.name === name) ?? null;
    if (experiment === null) throw new PagelabError('EUSAGE', `lab: unknown experiment "${name}" (known: ${EXPERIMENT_NAMES.join(', ')})`);
  }
  const opts: LabOptions = { json: a.flags.has('--json'), variants: !a.flags.has('--no-variants'), help: a.flags.has('--help') || a.flags.has('-h') };
  const v = a.values;
  const sizes = v.get('--sizes');
  if (sizes !== undefined) {
    const list = sizes
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (list.length === 0) throw new PagelabError('EUSAGE', 'lab: --sizes needs at least one size');
    parseSizes(list); // ESIZE naming --sizes and the size, for a size that does not parse or that no guest can have
    opts.sizes = list;
  }
  const runs = v.get('--runs');
  if (runs !== undefined) {
    if (!/^\d+$/.test(runs) || Number(runs) > 1000) throw new PagelabError('EUSAGE', `lab: --runs "${runs}" is not an integer from 0 to 1000`);
    opts.runs = Number(runs);
  }
  const profile = v.get('--profile');
  if (profile !== undefined) {
    if (!PROFILES.some((p) => p.name === profile)) throw new PagelabError('EUSAGE', `lab: unknown profile "${profile}" (known: ${PROFILES.map((p) => p.name).join(', ')})`);
    getProfile(profile, 'freebsd'); // the boot model needs a FreeBSD profile: EUSAGE naming the ones it can use
    opts.profile = profile;
  }
  const scale = v.get('--scale-above');
  if (scale !== undefined) opts.scaleAbove = limit(scale, '--scale-above');
  const eagerMax = v.get('--wall-eager-max');
  if (eagerMax !== undefined) opts.wallEagerMax = limit(eagerMax, '--wall-eager-max');
  const sc = v.get('--scale');
  if (sc !== undefined) {
    if (!/^\d+$/.test(sc) || Number(sc) < 1 || Number(sc) > 1024 || (Number(sc) & (Number(sc) - 1)) !== 0) throw new PagelabError('EUSAGE', `lab: --scale "${sc}" is not a power of two from 1 to 1024`);
    opts.scale = Number(sc);
  }
  const idle = v.get('--idle');
  if (idle !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(idle) || Number(idle) > 3.6e6) throw new PagelabError('EUSAGE', `lab: --idle "${idle}" is not a number of milliseconds up to one hour`);
    opts.idleMs = Number(idle);
  }
  for (const [flag, key] of [
    ['--guest', 'guest'],
    ['--host', 'host'],
  ] as const) {
    const s = v.get(flag);
    if (s === undefined) continue;
    parseSize(s, flag);
    opts[key] = s;
  }
  const wireSize = v.get('--wire-size');
  if (wireSize !== undefined) opts.wireSize = wireBytes(wireSize, '--wire-size', 4 * 2 ** 30);
  const wireSim = v.get('--wire-sim-size');
  if (wireSim !== undefined) opts.wireSimSize = wireBytes(wireSim, '--wire-sim-size', 10 * 2 ** 30);
  for (const [flag, key] of [
    ['--threads', 'threads'],
    ['--churn', 'churn'],
    ['--seed', 'seed'],
  ] as const) {
    const n = v.get(flag);
    if (n === undefined) continue;
    if (!/^\d+$/.test(n) || !Number.isSafeInteger(Number(n))) throw new PagelabError('EUSAGE', `lab: ${flag} "${n.slice(0, 40)}" is not a non-negative integer`);
    opts[key] = Number(n);
  }
  const kg = v.get('--kstack');
  if (kg !== undefined) opts.kstack = parseKG('--kstack', kg);
  const sweep = v.get('--sweep');
  if (sweep !== undefined) opts.sweep = sweep === 'none' ? [] : sweep.split(',').map((x) => parseKG('--sweep', x.trim()));
  checkKstackPindexOptions({ ...(opts.threads !== undefined ? { threads: opts.threads } : {}), ...(opts.churn !== undefined ? { churn: opts.churn } : {}), ...(opts.seed !== undefined ? { seed: opts.seed } : {}), ...(opts.sweep !== undefined ? { sweep: opts.sweep } : {}), ...(opts.kstack !== undefined ? { K: opts.kstack[0], G: opts.kstack[1] } : {}) });
  const out = v.get('--out');
  if (out !== undefined) {
    if (out === '') throw new PagelabError('EUSAGE', 'lab: --out needs a directory');
    opts.out = out;
  }
  return { experiment, opts };
}

/*
 * Make `dir` an existing, writable directory, or say why it cannot be.
 * Creates missing components one at a time from the nearest existing
 * ancestor (never mkdir's recursive mode, which loops forever under /proc),
 * then proves the directory writable by creating and removing a file.
 * Guarantees: returns with `dir` a writable directory, or throws EUSAGE
 * naming --out, the path and the reason.
 */
export function prepareOutDir(dir: string): void {
  const fail = (why: string): never => {
    throw new PagelabError('EUSAGE', `lab: --out ${dir}: ${why}`);
  };
  const abs = path.resolve(dir);
  const missing: string[] = [];
  let p = abs;
  for (;;) {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') fail(`a component of ${p} is not a directory`);
      if (code !== 'ENOENT') fail(`cannot examine ${p}: ${code ?? (e as Error).message}`);
    }
    if (st !== undefined) {
      if (!st.isDirectory()) fail(`${p} is not a directory`);
      break;
    }
    const parent = path.dirname(p);
    if (parent === p) fail('no existing ancestor directory');
    missing.unshift(p);
    p = parent;
  }
  if (missing.length > 64) fail(`would create ${missing.length} directories`);
  try {
    accessSync(p, constants.W_OK | constants.X_OK);
  } catch {
    fail(`${p} is not writable`);
  }
  const made: string[] = [];
  // Nothing left half-done: directories this call made go again when it fails.
  const undo = () => {
    for (const m of made.reverse()) {
      try {
        rmdirSync(m);
      } catch {
        // left behind: it was not empty, or went away
      }
    }
  };
  try {
    for (const m of missing) {
      try {
        mkdirSync(m);
      } catch (e) {
        fail(`cannot create ${m}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      made.push(m);
    }
    const probe = path.join(abs, `.pagelab-write-test-${process.pid}`);
    try {
      closeSync(openSync(probe, 'wx'));
      unlinkSync(probe);
    } catch (e) {
      fail(`cannot write in it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } catch (e) {
    undo();
    throw e;
  }
}

/* A stream-like object that cli-progress can draw on, writing through io.stderr. */
function progressStream(io: LabIO): NodeJS.WritableStream {
  const s = {
    isTTY: true,
    columns: process.stderr.columns ?? 80,
    write(chunk: string | Uint8Array): boolean {
      io.stderr(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      return true;
    },
    on() {
      return s;
    },
    removeListener() {
      return s;
    },
  };
  return s as unknown as NodeJS.WritableStream;
}

/*
 * pagelab lab. Returns the exit code; throws PagelabError on bad input,
 * always before an experiment starts.
 */
export async function labCommand(argv: readonly string[], io: LabIO): Promise<number> {
  const { experiment, opts } = parseLabArgs(argv);
  if (opts.help) {
    io.stdout(LAB_USAGE);
    return 0;
  }
  if (opts.out !== undefined) prepareOutDir(opts.out);
  const chosen: readonly Experiment[] = experiment === null ? EXPERIMENTS : [experiment];
  let bar: cliProgress.SingleBar | undefined;
  if (io.isTTY) {
    bar = new cliProgress.SingleBar(
      { stream: progressStream(io), format: 'lab {bar} {percentage}% | {value}/{total} | {what}', hideCursor: true, clearOnComplete: true, etaBuffer: 5 },
      cliProgress.Presets.shades_classic,
    );
  }
  const results: Record<string, LabResult> = {};
  try {
    for (const e of chosen) {
      const o: LabRunOptions = {
        ...(opts.sizes !== undefined ? { sizes: opts.sizes } : {}),
        ...(opts.runs !== undefined ? { runs: opts.runs } : {}),
        ...(opts.profile !== undefined ? { profile: opts.profile } : {}),
        ...(opts.scaleAbove !== undefined ? { scaleAbove: opts.scaleAbove } : {}),
        ...(opts.wallEagerMax !== undefined ? { wallEagerMax: opts.wallEagerMax } : {}),
        ...(opts.scale !== undefined ? { scale: opts.scale } : {}),
        ...(opts.idleMs !== undefined ? { idleMs: opts.idleMs } : {}),
        ...(opts.guest !== undefined ? { guest: opts.guest } : {}),
        ...(opts.host !== undefined ? { host: opts.host } : {}),
        ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
        ...(opts.churn !== undefined ? { churn: opts.churn } : {}),
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
        ...(opts.kstack !== undefined ? { K: opts.kstack[0], G: opts.kstack[1] } : {}),
        ...(opts.sweep !== undefined ? { sweep: opts.sweep } : {}),
        ...(opts.wireSize !== undefined ? { wireBytes: opts.wireSize } : {}),
        ...(opts.wireSimSize !== undefined ? { wireSimBytes: opts.wireSimSize } : {}),
        variants: opts.variants,
        onProgress: (done, total, what) => {
          if (bar === undefined) return;
          if (done === 0) bar.start(total, 0, { what: `${e.name}: ${what}` });
          else bar.update(done, { what: `${e.name}: ${what}` });
        },
      };
      results[e.name] = await e.run(o);
      bar?.stop();
    }
  } finally {
    bar?.stop();
  }
  const doc = labDocument(results);
  if (opts.json) io.stdout(JSON.stringify(doc, null, 2) + '\n');
  else for (const e of chosen) io.stdout(e.renderText(results[e.name]));
  if (opts.out !== undefined) {
    const written: string[] = [];
    const write = (name: string, text: string) => {
      const file = path.join(opts.out as string, name);
      try {
        writeFileSync(file, text);
      } catch (err) {
        throw new PagelabError('EHOST', `lab: --out: cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      written.push(file);
    };
    write('results.json', JSON.stringify(doc, null, 2) + '\n');
    for (const e of chosen) if (e.trace !== null) write(`${e.name}.trace.json`, JSON.stringify(e.trace(results[e.name])) + '\n');
    // report.html is the first experiment's report; the others get their own page beside it.
    for (const [i, e] of chosen.entries()) write(i === 0 ? 'report.html' : `${e.name}.html`, await e.renderHtml(results[e.name]));
    if (!opts.json) io.stdout(`\nwrote ${written.join(', ')}\n`);
  }
  return 0;
}
