/**
 * `pagelab ministat`: ministat's command line (getopt as FreeBSD's or, in
 * the Debian flavour, GNU's), file reading and exit codes, over the
 * library in src/stats/.
 */
import { PagelabError } from '../errors.js';
import { getopt } from './args.js';
import { parseCDouble, parseCLongToInt } from '../stats/printf.js';
import { CONFIDENCE_LEVELS } from '../stats/ttable.js';
import { DEFAULT_MINISTAT_FLAVOR, type FlavorOption, type MinistatFlavor } from '../stats/summary.js';
import { type MinistatDataset, readDataset } from '../stats/dataset.js';
import { DEFAULT_PLOT_WIDTH, MAX_DATASETS, type RenderOptions, renderMinistat } from '../stats/render.js';

/** The most bytes `pagelab ministat` reads from one file (or standard input): millions of samples. */
export const MINISTAT_MAX_BYTES = 64 * 1024 * 1024;

/** What ministatMain may touch of the outside world. */
export interface MinistatIO {
  /**
   * Contents of a file; throws (as fs.readFileSync does) when it cannot be
   * read, or a PagelabError naming the file (too big, a directory).
   */
  readFile(path: string): string;
  /** All of standard input; called at most once. */
  stdin(): string;
  /**
   * Present when standard output is a terminal; ministat then sizes the
   * plot to it: $COLUMNS if set and non-empty, else the window width − 2.
   */
  terminal?: { columnsEnv?: string; windowColumns?: number };
}

/** What a run of the command produced. */
export interface MinistatRun {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/* The one-line synopsis appended to option errors, listing the flavour's flags. */
function usageSynopsis(flavor: MinistatFlavor): string {
  const flags = flavor === 'freebsd' ? '-Anqs' : '-Ans';
  return `usage: ministat [${flags}] [-C column] [-c confidence] [-d delimiters] [-w width] [file ...]`;
}

/* A command-line error: exit status 2, like ministat's usage(). */
function usageError(message: string): PagelabError {
  return new PagelabError('EUSAGE', message);
}

/* Quotes an argument for an error message when it would otherwise be invisible. */
function shown(arg: string): string {
  return arg === '' || /\s/.test(arg) ? JSON.stringify(arg) : arg;
}

/* strerror() wording for the errors fopen() reports most. */
function openFailure(error: unknown): string {
  const code = (error as { code?: string }).code;
  switch (code) {
    case 'ENOENT':
      return 'No such file or directory';
    case 'EACCES':
      return 'Permission denied';
    case 'ENOTDIR':
      return 'Not a directory';
    case 'ELOOP':
      return 'Too many levels of symbolic links';
    case 'ENAMETOOLONG':
      return 'File name too long';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}

/**
 * `pagelab ministat [-Anqs] [-C column] [-c confidence] [-d delimiters]
 * [-w width] [file ...]`: parses `args` (the words after the command name)
 * as ministat's getopt loop does (combined flags, -c95 or -c 95), reads the
 * files (none, or "-", means standard input, named "<stdin>"), and returns
 * what ministat would print.
 * Differences, all on failure: every error is one line on stderr prefixed
 * "ministat: ", naming the offending option, file or line, and exits 2
 * (ministat prints its usage text, and exits 1 when it cannot open a file);
 * plot widths below 2 and non-finite plotted values are refused instead of
 * crashing. The Debian flavour rejects -q, as that ministat does.
 * Requires nothing; never throws PagelabError (other exceptions are bugs).
 */
export function ministatMain(args: readonly string[], io: MinistatIO, options: FlavorOption = {}): MinistatRun {
  const flavor = options.flavor ?? DEFAULT_MINISTAT_FLAVOR;
  try {
    return { stdout: runMinistat(args, io, flavor), stderr: '', exitCode: 0 };
  } catch (error) {
    if (error instanceof PagelabError) return { stdout: '', stderr: `ministat: ${error.message}\n`, exitCode: 2 };
    throw error;
  }
}

/* The body of ministatMain; throws PagelabError for every user error. */
function runMinistat(args: readonly string[], io: MinistatIO, flavor: MinistatFlavor): string {
  let width = DEFAULT_PLOT_WIDTH;
  if (io.terminal !== undefined) {
    const { columnsEnv, windowColumns } = io.terminal;
    if (columnsEnv !== undefined && columnsEnv !== '') width = parseCLongToInt(columnsEnv).value;
    else if (windowColumns !== undefined && windowColumns > 0) width = windowColumns - 2;
  }
  const render: RenderOptions = { flavor };
  let column = 1;
  let delimiters = ' \t';
  // ministat keeps the last recognised level: "-c 80 -c 97" runs at 80%.
  let confidenceColumn = -1;
  const letters = flavor === 'freebsd' ? 'AC:c:d:nqsw:' : 'AC:c:d:snw:';
  const operands = getopt(
    args,
    letters,
    flavor === 'debian',
    (letter, argument = '') => {
      switch (letter) {
        case 'A':
          render.suppressPlot = true;
          break;
        case 'C': {
          const parsed = parseCLongToInt(argument);
          if (parsed.end !== argument.length) throw usageError(`Invalid column number: -C ${shown(argument)}`);
          if (parsed.value <= 0) throw usageError(`Column number should be positive: -C ${shown(argument)}`);
          column = parsed.value;
          break;
        }
        case 'c': {
          const parsed = parseCDouble(argument);
          if (parsed.end !== argument.length) throw usageError(`Not a floating point number: -c ${shown(argument)}`);
          const index = CONFIDENCE_LEVELS.indexOf(parsed.value);
          if (index >= 0) confidenceColumn = index;
          if (confidenceColumn < 0) {
            throw usageError(`No support for confidence level: -c ${shown(argument)} (use one of ${CONFIDENCE_LEVELS.join(', ')})`);
          }
          break;
        }
        case 'd':
          if (argument === '') throw usageError(`Can't use empty delimiter string: -d ""`);
          delimiters = argument;
          break;
        case 'n':
          render.summaryOnly = true;
          break;
        case 'q':
          render.quiet = true;
          break;
        case 's':
          render.separateBars = true;
          break;
        case 'w': {
          const parsed = parseCLongToInt(argument);
          if (parsed.end !== argument.length) throw usageError(`Invalid width, not a number: -w ${shown(argument)}`);
          if (parsed.value < 0) throw usageError(`Unable to move beyond left margin: -w ${shown(argument)}`);
          width = parsed.value;
          break;
        }
      }
    },
    usageSynopsis(flavor),
  );
  render.confidence = CONFIDENCE_LEVELS[confidenceColumn < 0 ? 2 : confidenceColumn];
  render.width = width;

  const names = operands.length === 0 ? ['-'] : operands;
  if (names.length > MAX_DATASETS) {
    throw usageError(`Too many datasets: ${names.length} files given, ministat compares at most ${MAX_DATASETS}`);
  }
  let stdinTaken = false;
  const open = (name: string): { label: string; text: string } => {
    if (name === '-') {
      // A second "-" finds standard input at its end, as in C.
      const text = stdinTaken ? '' : io.stdin();
      stdinTaken = true;
      return { label: '<stdin>', text };
    }
    try {
      return { label: name, text: io.readFile(name) };
    } catch (error) {
      // The bounded reader's own errors (too big, a directory) already name the file.
      if (error instanceof PagelabError) throw error;
      // ministat's fopen() succeeds on a directory and reads nothing; saying so is kinder.
      if ((error as { code?: string }).code === 'EISDIR') throw new PagelabError('EINVAL', `${name}: is a directory`);
      throw new PagelabError('EINVAL', `Cannot open ${name}: ${openFailure(error)}`);
    }
  };
  const read = (file: { label: string; text: string }): MinistatDataset =>
    readDataset(file.text, file.label, { column, delimiters });
  let datasets: MinistatDataset[];
  if (flavor === 'freebsd') {
    // Today's ministat opens every file before reading any (then enters its sandbox).
    datasets = names.map(open).map(read);
  } else {
    datasets = names.map((name) => read(open(name)));
  }
  return renderMinistat(datasets, render);
}
