/**
 * Option parsing shared by the commands: machine options, -o tunables, flags.
 * Every mistake is an EUSAGE error naming the option.
 */
import { PagelabError } from '../errors.js';
import type { MachineOptions } from '../machine/index.js';

export interface Parsed {
  machine: MachineOptions;
  machineGiven: boolean;
  tunables: string[];
  flags: Set<string>;
  positional: string[];
}

/*
 * Parses `argv` against the flags a command accepts. Machine options and -o
 * are always accepted. Requires nothing; guarantees a Parsed or EUSAGE.
 */
export function parseArgs(argv: string[], flags: readonly string[], command: string): Parsed {
  const p: Parsed = { machine: {}, machineGiven: false, tunables: [], flags: new Set(), positional: [] };
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
