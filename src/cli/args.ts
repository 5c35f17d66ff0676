/**
 * Option parsing shared by the commands: machine options, -o tunables, flags,
 * and `--help` for every command. Every mistake is an EUSAGE error naming
 * the option.
 */
import { PagelabError } from '../errors.js';
import type { MachineOptions } from '../machine/index.js';
import { escapeText } from '../util/escape.js';

const MACHINE_OPTIONS: readonly string[] = ['--machine', '--preset', '-m', '--mem', '--memmap', '--from-host', '-o'];

const MACHINE_OPTIONS_USAGE = `machine options (one of them; default --machine firecracker-1g):
  --machine NAME     a preset (\`pagelab boot --machine help\` lists them)
  --mem SIZE         a generic amd64 machine with SIZE of RAM, 16M to 16T - 8K (e.g. 1T)
  --memmap FILE      a JSON memory map of at most 1 MiB (docs/memmap-format.md)
  --from-host        this host's RAM ranges from /proc/iomem
  -o name=value      set a tunable (\`pagelab tunables\` lists them); repeatable
`;

/*
 * What `pagelab CMD --help` prints, for the commands whose options live in
 * src/cli. `lab` keeps its usage beside its options (cli/lab.ts LAB_USAGE);
 * commandUsage serves all of them.
 */
export const COMMAND_USAGE = {
  boot: `usage: pagelab boot [machine options] [--compare] [--backed] [--json]

Boot a machine and show its memory map, physical segments, free queues and
what vm_page_startup did.

  --compare          boot twice, eager (vm.lazy_page_init=0) and lazy, side by side
  --backed           back RAM with shared WebAssembly memory (vm.backed=1)
  --json             print the result as JSON

${MACHINE_OPTIONS_USAGE}`,
  replay: `usage: pagelab replay TRACE [machine options] [--check] [--events] [--json] [--html FILE]

Run a trace of allocator operations (docs/trace-format.md); TRACE "-" is
standard input. The trace's own "machine" line is overridden by machine
options given here.

  --check            run the consistency checker after every operation
  --events           list every operation and its outcome
  --json             print the result as JSON
  --html FILE        also write the web view (docs/web.md) with the trace inside, as one file

Traces are at most 256 MiB, lines at most 4096 bytes.
Exit status: 0 ok; 1 a data check failed (verify, or a zeroed allocation not
reading zero), each listed with its line and address; 2 bad input.

${MACHINE_OPTIONS_USAGE}`,
  web: `usage: pagelab web [TRACE] [machine options] [--port N] [--no-open] [--reports DIR]

Serve the web view of physical memory (docs/web.md) on 127.0.0.1, with TRACE,
the machine and the -o options preloaded; Ctrl-C stops it.

  --port N           the port (default 0: a free one, printed)
  --no-open          do not start the desktop's browser
  --reports DIR      link the files of a \`pagelab lab --out DIR\` run in the page

${MACHINE_OPTIONS_USAGE}`,
  tunables: `usage: pagelab tunables

List the tunables that -o name=value sets, with their defaults.
`,
  ministat: `usage: pagelab ministat [-Anqs] [-C column] [-c confidence] [-d delimiters] [-w width] [file ...]

FreeBSD's ministat(1): compare samples with Student's t and plot them
(docs/ministat.md). No file, or "-", is standard input.

  -A                 statistics and comparisons, no plot
  -n                 statistics only: no plot, no comparisons
  -q                 no data-set names and no statistics header
  -s                 one avg/median/stddev bar line per data set
  -C column          take this 1-based column (default 1)
  -c confidence      80, 90, 95 (default), 98, 99 or 99.5
  -d delimiters      column separator characters (default space and tab)
  -w width           plot width between the borders (default 74)
`,
} as const;

export type CommandName = keyof typeof COMMAND_USAGE | 'lab';

/*
 * Whether `argv` (the words after the command) asks for help: "--help" or
 * "-h" anywhere before a "--". Every command answers before its own parser
 * runs, so `pagelab boot --mem 12Q --help` prints the usage, as getopt
 * programs do.
 */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/* The usage text of `command`. */
export async function commandUsage(command: CommandName): Promise<string> {
  if (command === 'lab') return (await import('./lab.js')).LAB_USAGE;
  return COMMAND_USAGE[command];
}

/*
 * A value that looks like an option is taken as a missing value ("--mem
 * --json" is a mistake), except a negative number, which is a value its
 * option's own parser refuses with a better message ("--mem -4K").
 */
function looksLikeOption(v: string): boolean {
  return v.startsWith('-') && v.length > 1 && !/^-[0-9.]/.test(v);
}

export interface Parsed {
  machine: MachineOptions;
  machineGiven: boolean;
  tunables: string[];
  flags: Set<string>;
  /** Options that take a value (spec.values), by name; the last one given wins. */
  values: Map<string, string>;
  positional: string[];
}

export interface ArgSpec {
  /** Options that take a value, as "--name VALUE" or "--name=VALUE". */
  values?: readonly string[];
  /** Whether machine options and -o are accepted; default true. */
  machine?: boolean;
}

/*
 * Parses `argv` against the flags and valued options a command accepts.
 * Machine options and -o are accepted unless spec.machine is false.
 * Requires nothing; guarantees a Parsed or EUSAGE naming the option.
 */
export function parseArgs(argv: readonly string[], flags: readonly string[], command: string, spec: ArgSpec = {}): Parsed {
  const p: Parsed = { machine: {}, machineGiven: false, tunables: [], flags: new Set(), values: new Map(), positional: [] };
  const machineOptions = spec.machine ?? true;
  const valued = spec.values ?? [];
  const value = (i: number, name: string): string => {
    const v = argv[i + 1];
    if (v === undefined || looksLikeOption(v)) throw new PagelabError('EUSAGE', `${command}: ${name} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    const inline = eq > 0 ? a.slice(eq + 1) : undefined;
    const take = (): string => {
      if (inline !== undefined) return inline;
      const v = value(i, name);
      i++;
      return v;
    };
    if (valued.includes(name)) {
      p.values.set(name, take());
      continue;
    }
    if (!machineOptions && (MACHINE_OPTIONS.includes(name) || a.startsWith('-o'))) {
      throw new PagelabError('EUSAGE', `${command}: unknown option "${a}"`);
    }
    switch (name) {
      case '--machine':
      case '--preset':
      case '-m':
        p.machine.preset = take();
        p.machineGiven = true;
        break;
      case '--mem':
        p.machine.mem = take();
        p.machineGiven = true;
        break;
      case '--memmap':
        p.machine.memmapFile = take();
        p.machineGiven = true;
        break;
      case '--from-host':
        p.machine.fromHost = true;
        p.machineGiven = true;
        break;
      case '-o':
        p.tunables.push(take());
        break;
      default:
        if (a.startsWith('-o') && a.length > 2) p.tunables.push(a.slice(2));
        else if (flags.includes(name)) p.flags.add(name);
        else if (a.startsWith('-') && a !== '-') throw new PagelabError('EUSAGE', `${command}: unknown option "${a}"`);
        else p.positional.push(a);
    }
  }
  return p;
}

/*
 * getopt(3) over `args` for `optionLetters` (a letter followed by ':' takes
 * an argument), calling `onOption` in command-line order so that errors come
 * out in ministat's order. POSIX getopt, as on FreeBSD, stops at the first
 * operand; GNU getopt, as in Debian's build, permutes and keeps looking.
 * "--" ends the options; "-" alone is an operand.
 * Guarantees: the operands in order; throws EUSAGE for an unknown option or
 * a missing argument, with `synopsis` appended. For commands that must parse
 * as a C program does (ministat); pagelab's own commands use parseArgs.
 */
export function getopt(
  args: readonly string[],
  optionLetters: string,
  permute: boolean,
  onOption: (letter: string, argument: string | undefined) => void,
  synopsis: string,
): string[] {
  const operands: string[] = [];
  let i = 0;
  while (i < args.length) {
    const arg = args[i++];
    if (arg === '--') {
      operands.push(...args.slice(i));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      operands.push(arg);
      if (!permute) {
        operands.push(...args.slice(i));
        break;
      }
      continue;
    }
    for (let k = 1; k < arg.length; k++) {
      const letter = arg[k];
      const at = letter === ':' ? -1 : optionLetters.indexOf(letter);
      if (at < 0) throw new PagelabError('EUSAGE', `Unknown option -${letter} (${synopsis})`);
      if (optionLetters[at + 1] !== ':') {
        onOption(letter, undefined);
        continue;
      }
      let argument: string;
      if (k + 1 < arg.length) {
        argument = arg.slice(k + 1);
      } else if (i < args.length) {
        argument = args[i++];
      } else {
        throw new PagelabError('EUSAGE', `option requires an argument -- '${letter}' (${synopsis})`);
      }
      onOption(letter, argument);
      break;
    }
  }
  return operands;
}

/*
 * The -o assignments as name -> value (later ones win), for APIs that take
 * tunables as a record. A word without `=` is EUSAGE naming it.
 */
export function tunableAssignments(p: Parsed, command: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const a of p.tunables) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new PagelabError('EUSAGE', `${command}: -o "${escapeText(a)}" is not name=value`);
    out[a.slice(0, eq).trim()] = a.slice(eq + 1);
  }
  return out;
}
