#!/usr/bin/env node
/**
 * pagelab's command line. This file stays small: each command's module is
 * imported only when that command runs, so `pagelab --version` is fast.
 * Bad input exits 2 with one line on stderr; --debug adds the stack.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const USAGE = `usage: pagelab <command> [options]

commands:
  boot     [machine options] [-o name=value]... [--compare] [--backed] [--json]
           boot a machine and show its memory map, free queues and boot work
  replay   TRACE [--check] [--events] [--json] [--html FILE] [machine options] [-o name=value]...
           run a trace of allocator operations (docs/trace-format.md);
           --html FILE writes the web view with the trace in one file
  web      [TRACE] [machine options] [-o name=value]... [--port N] [--no-open] [--reports DIR]
           watch physical memory in the browser, served on 127.0.0.1 (docs/web.md)
  ministat [-c confidence] [-C column] [-d delimiter] [-q] [-n] [-s] [-w width] FILE...
           FreeBSD's ministat: compare samples with Student's t
  lab      [EXPERIMENT] [options]
           run experiments (all of them, at a default scale, when none is named)
  tunables list the tunables (-o name=value) with their defaults

machine options:
  --machine NAME     a preset (default firecracker-1g; see \`pagelab boot --machine help\`)
  --mem SIZE         a generic amd64 machine with SIZE of RAM (e.g. 1T)
  --memmap FILE      a JSON memory map (docs/memmap-format.md)
  --from-host        this host's RAM ranges from /proc/iomem

global options: --version, --help, --debug (stack traces on errors)
\`pagelab COMMAND --help\` shows a command's options.
`;

const COMMANDS = ['boot', 'replay', 'web', 'ministat', 'lab', 'tunables'] as const;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Where a run of the command line reads and writes; the process's own by default. */
export interface CliIO {
  out(s: string): void;
  err(s: string): void;
  /** Whether stderr is a terminal (the lab's progress bar). */
  isTTY: boolean;
  /** All of standard input (ministat with no file); default: fd 0 through the bounded reader. */
  stdin?: () => string;
}

/** sysexits.h EX_SOFTWARE: an internal error (a pagelab bug), never bad input or a failed check. */
export const EX_SOFTWARE = 70;

const PROCESS_IO: CliIO = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
  isTTY: process.stderr.isTTY === true,
};

/*
 * One run of `pagelab ARGV...`. Requires nothing; guarantees an exit status:
 * 0; 1 for a failed data check (replay); 2 with one line on io.err for bad
 * input; EX_SOFTWARE (70, sysexits.h) for an internal error, so that scripts
 * can tell a pagelab bug from a failed check. The
 * fuzzer (fuzz/cli.fuzz.ts) calls it in-process with its own io.
 */
export async function main(argv: string[], io: CliIO = PROCESS_IO): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  const cmd = args[0];
  const rest = args.slice(1);
  const { out, err } = io;
  try {
    if ((COMMANDS as readonly (string | undefined)[]).includes(cmd)) {
      const { wantsHelp, commandUsage } = await import('./args.js');
      if (wantsHelp(rest)) {
        out(await commandUsage(cmd as (typeof COMMANDS)[number]));
        return 0;
      }
    }
    switch (cmd) {
      case '--version':
      case '-V':
      case 'version':
        out(`pagelab ${version()}\n`);
        return 0;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        out(USAGE);
        return cmd === undefined ? 2 : 0;
      case 'boot':
        return (await import('./boot.js')).bootCommand(rest, out);
      case 'replay':
        return (await import('./replay.js')).replayCommand(rest, out);
      case 'web':
        return await (await import('./web.js')).webCommand(rest, out, err);
      case 'tunables':
        return (await import('./boot.js')).tunablesCommand(rest, out);
      case 'ministat': {
        const { ministatMain, MINISTAT_MAX_BYTES } = await import('./ministat.js');
        const { readTextBounded, STDIN } = await import('../util/read-bounded.js');
        const bound = { maxBytes: MINISTAT_MAX_BYTES, what: 'a ministat data file', code: 'EINVAL' as const };
        const r = ministatMain(rest, {
          readFile: (p: string) => readTextBounded(p, bound),
          stdin: io.stdin ?? (() => readTextBounded(STDIN, bound)),
        });
        out(r.stdout);
        err(r.stderr);
        return r.exitCode;
      }
      case 'lab': {
        const { labCommand } = await import('./lab.js');
        return await labCommand(rest, { stdout: out, stderr: err, isTTY: io.isTTY });
      }
      default:
        throw new (await import('../errors.js')).PagelabError('EUSAGE', `unknown command "${cmd}" (${COMMANDS.join(', ')}; --help for usage)`);
    }
  } catch (e) {
    // A PagelabError's message is already one safe line (errors.ts); an
    // internal error's may quote anything, so it goes through the same filter.
    const { PagelabError, safeMessage } = await import('../errors.js');
    if (e instanceof PagelabError) {
      err(`pagelab: ${e.message}\n`);
      if (debug) err(`${e.stack}\n`);
      return 2;
    }
    err(`pagelab: internal error: ${safeMessage(String((e as Error)?.message ?? e))}\n`);
    if (debug) err(`${(e as Error).stack}\n`);
    else err('(run with --debug for the stack)\n');
    return EX_SOFTWARE;
  }
}

/* Whether this module is the program (`pagelab …`, through npm's bin link too) rather than imported. */
function isProgram(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isProgram()) {
  // A reader that goes away (pagelab … | head) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`pagelab: ${String(e)}\n`);
      process.exitCode = EX_SOFTWARE;
    },
  );
}
