/**
 * Option parsing shared by the commands: machine options, -o tunables, flags.
 * Every mistake is an EUSAGE error naming the option.
 */
import { PagelabError } from '../errors.js';
import type { MachineOptions } from '../machine/index.js';

const MACHINE_OPTIONS: readonly string[] = ['--machine', '--preset', '-m', '--mem', '--memmap', '--from-host', '-o'];

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
    if (v === undefined || (v.startsWith('-') && v.length > 1)) throw new PagelabError('EUSAGE', `${command}: ${name} needs a value`);
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
