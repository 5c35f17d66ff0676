/**
 * `pagelab lab [NAME] [options]`: the laboratory's entry point.
 *
 * With no NAME every experiment runs at its default scale with a progress
 * bar (when stderr is a terminal). Bad input (an unknown experiment, option
 * or profile, a size that does not parse) is one PagelabError, which the CLI
 * prints on one line and exits 2 for.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { PagelabError } from '../errors.js';
import { PROFILE_NAMES } from '../sim/profiles/index.js';
import { parseSize } from '../util/units.js';
import { DEFAULT_RUNS, DEFAULT_SIZES, runLazyInitBoot, type LazyInitBootOptions, type LazyInitBootResult } from './lazy-init-boot.js';
import { renderHtml, renderText, traceOf } from './report.js';

export { runLazyInitBoot } from './lazy-init-boot.js';
export type { LazyInitBootOptions, LazyInitBootResult } from './lazy-init-boot.js';

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
  variants: boolean;
  help: boolean;
}

export const EXPERIMENTS = ['lazy-init-boot'] as const;
export type ExperimentName = (typeof EXPERIMENTS)[number];

export const LAB_USAGE = `usage: pagelab lab [EXPERIMENT] [options]

experiments:
  lazy-init-boot   page-structure initialisation at boot, eager vs lazy (D40403)
  (none)           every experiment at its default scale, with a progress bar

options:
  --sizes LIST       memory sizes, comma-separated (default ${DEFAULT_SIZES.join(',')})
  --runs N           wall-time runs per size and mode, compared with ministat (default ${DEFAULT_RUNS}; 0 skips)
  --profile P        calibration profile (${PROFILE_NAMES.filter((p) => !p.startsWith('linux')).join(', ')})
  --scale-above SIZE sizes above SIZE: eager work derived, drain scaled, not run on a Vm
                     (default 64G with the default sizes; "none" when --sizes is given)
  --no-variants      skip the reviewers' variants
  --json             print results as JSON (schema in docs/lab.md) instead of tables
  --out DIR          also write DIR/results.json, DIR/lazy-init-boot.trace.json, DIR/report.html
`;

/*
 * Parse the arguments after "lab".
 * Guarantees: the experiment name (or null for all) and options, or one
 * EUSAGE/ESIZE error naming the offending argument.
 */
export function parseLabArgs(argv: readonly string[]): { name: ExperimentName | null; opts: LabOptions } {
  const opts: LabOptions = { json: false, variants: true, help: false };
  let name: ExperimentName | null = null;
  const args = [...argv];
  const value = (flag: string, inline: string | undefined): string => {
    if (inline !== undefined) return inline;
    const v = args.shift();
    if (v === undefined || v.startsWith('--')) throw new PagelabError('EUSAGE', `lab: ${flag} needs a value`);
    return v;
  };
  while (args.length > 0) {
    const a = args.shift() as string;
    if (!a.startsWith('-')) {
      if (name !== null) throw new PagelabError('EUSAGE', `lab: one experiment at a time (got "${name}" and "${a}")`);
      if (!(EXPERIMENTS as readonly string[]).includes(a)) throw new PagelabError('EUSAGE', `lab: unknown experiment "${a}" (known: ${EXPERIMENTS.join(', ')})`);
      name = a as ExperimentName;
      continue;
    }
    const eq = a.indexOf('=');
    const flag = eq >= 0 ? a.slice(0, eq) : a;
    const inline = eq >= 0 ? a.slice(eq + 1) : undefined;
    switch (flag) {
      case '--sizes': {
        const list = value(flag, inline)
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
        if (list.length === 0) throw new PagelabError('EUSAGE', 'lab: --sizes needs at least one size');
        for (const s of list) parseSize(s, '--sizes');
        opts.sizes = list;
        break;
      }
      case '--runs': {
        const v = value(flag, inline);
        if (!/^\d+$/.test(v) || Number(v) > 1000) throw new PagelabError('EUSAGE', `lab: --runs "${v}" is not an integer from 0 to 1000`);
        opts.runs = Number(v);
        break;
      }
      case '--profile': {
        const v = value(flag, inline);
        if (!PROFILE_NAMES.includes(v)) throw new PagelabError('EUSAGE', `lab: unknown profile "${v}" (known: ${PROFILE_NAMES.join(', ')})`);
        opts.profile = v;
        break;
      }
      case '--scale-above': {
        const v = value(flag, inline);
        opts.scaleAbove = v === 'none' ? Infinity : parseSize(v, '--scale-above');
        break;
      }
      case '--out':
        opts.out = value(flag, inline);
        break;
      case '--json':
        opts.json = true;
        break;
      case '--no-variants':
        opts.variants = false;
        break;
      case '--help':
      case '-h':
        opts.help = true;
        break;
      default:
        throw new PagelabError('EUSAGE', `lab: unknown option "${a}" (pagelab lab --help)`);
    }
  }
  return { name, opts };
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
 * pagelab lab. Returns the exit code; throws PagelabError on bad input.
 */
export async function labMain(argv: string[], io: LabIO): Promise<number> {
  const { name, opts } = parseLabArgs(argv);
  if (opts.help) {
    io.stdout(LAB_USAGE);
    return 0;
  }
  const names: readonly ExperimentName[] = name === null ? EXPERIMENTS : [name];
  let bar: cliProgress.SingleBar | undefined;
  if (io.isTTY) {
    bar = new cliProgress.SingleBar(
      { stream: progressStream(io), format: 'lab {bar} {percentage}% | {value}/{total} | {what}', hideCursor: true, clearOnComplete: true, etaBuffer: 5 },
      cliProgress.Presets.shades_classic,
    );
  }
  const results: Record<string, LazyInitBootResult> = {};
  try {
    for (const n of names) {
      const o: LazyInitBootOptions = {
        ...(opts.sizes !== undefined ? { sizes: opts.sizes } : {}),
        ...(opts.runs !== undefined ? { runs: opts.runs } : {}),
        ...(opts.profile !== undefined ? { profile: opts.profile } : {}),
        ...(opts.scaleAbove !== undefined ? { scaleAbove: opts.scaleAbove } : {}),
        variants: opts.variants,
        onProgress: (done, total, what) => {
          if (bar === undefined) return;
          if (done === 0) bar.start(total, 0, { what: `${n}: ${what}` });
          else bar.update(done, { what: `${n}: ${what}` });
        },
      };
      results[n] = runLazyInitBoot(o);
      bar?.stop();
    }
  } finally {
    bar?.stop();
  }
  const doc = { pagelab: 'lab', schema: 1, experiments: results };
  if (opts.json) io.stdout(JSON.stringify(doc, null, 2) + '\n');
  else for (const n of names) io.stdout(renderText(results[n]));
  if (opts.out !== undefined) {
    try {
      mkdirSync(opts.out, { recursive: true });
      writeFileSync(path.join(opts.out, 'results.json'), JSON.stringify(doc, null, 2) + '\n');
      for (const n of names) {
        writeFileSync(path.join(opts.out, `${n}.trace.json`), JSON.stringify(traceOf(results[n])) + '\n');
        writeFileSync(path.join(opts.out, 'report.html'), await renderHtml(results[n]));
      }
    } catch (e) {
      if (e instanceof PagelabError) throw e;
      throw new PagelabError('EHOST', `lab: --out ${opts.out}: ${(e as Error).message}`);
    }
    if (!opts.json) io.stdout(`\nwrote ${path.join(opts.out, 'results.json')}, ${names.map((n) => `${n}.trace.json`).join(', ')}, report.html\n`);
  }
  return 0;
}
