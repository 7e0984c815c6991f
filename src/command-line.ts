/**
 * command-line: the one argument parser of every `salt-autoscaler <command>` (node:util parseArgs, strict), and the
 * `--help` text rendered from the same command spec, so the help can never list a flag the parser does not take.
 *
 *   argv ──► negative numbers marked as values (`scale prod/type1 -1`) ──► parseArgs (strict) ──► positionals checked
 *              │                                                                 └── unknown / missing ──► UsageError (exit 2)
 *              └── `--help` / `-h` anywhere ──► { help: true } (nothing else is read: no config file)
 */
import { parseArgs } from 'node:util';
import { AutoscalerError, type ErrorCode } from './errors.ts';

/** OptionSpec is one flag of a command: its type, an optional one-letter alias, the value's name and its help line. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** value names the flag's value in the help (`FILE`, `N`); string options only. */
  readonly value?: string;
  /** required: the command cannot run without this flag. */
  readonly required?: boolean;
  readonly help: string;
}

/** PositionalSpec is one positional argument of a command. */
export interface PositionalSpec {
  readonly name: string;
  readonly required: boolean;
  readonly help: string;
}

/** CommandSpec describes one command: the parser reads it and `--help` prints it. */
export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly positionals: readonly PositionalSpec[];
  readonly examples: readonly string[];
  /** notes are extra help paragraphs (exit codes, environment). */
  readonly notes?: readonly string[];
}

/** ParsedCommandLine is what parseCommandLine found: flag values by long name, positionals, and whether help was asked. */
export interface ParsedCommandLine {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
  readonly help: boolean;
}

/** UsageError is a command line the command cannot take (unknown flag, missing value or positional): exit code 2. */
export class UsageError extends AutoscalerError {
  constructor(message: string, code: ErrorCode = 'ASC_ERR_CLI_USAGE') {
    super(code, message);
    this.name = 'UsageError';
  }
}

// parseArgs reads `-1` as a short option: a negative number is marked so that it stays a value, then unmarked
const NEGATIVE_NUMBER = /^-\d+(?:\.\d+)?$/;
const MARK = '\u0000';
const unmark = (text: string): string => (text.startsWith(MARK) ? text.slice(MARK.length) : text);

/** parseCommandLine parses `argv` (the arguments after the command name) against `spec`; throws UsageError. */
export function parseCommandLine(spec: CommandSpec, argv: readonly string[], code?: ErrorCode): ParsedCommandLine {
  if (argv.includes('--help') || argv.includes('-h')) return { values: {}, positionals: [], help: true };
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, option] of Object.entries(spec.options)) {
    options[name] = option.short === undefined ? { type: option.type } : { type: option.type, short: option.short };
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv.map((arg) => (NEGATIVE_NUMBER.test(arg) ? `${MARK}${arg}` : arg)),
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    // parseArgs' messages go on with advice about '--' that does not fit here: keep their first sentence
    const message = ((err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '').replace(/\. To specify .*$/, '')
      .replace(/^Option '(?:-\w, )?(--[\w-]+) <value>' argument missing$/, '$1 needs a value');
    throw new UsageError(`${spec.name}: ${message.replace(/^Unknown option/, 'unknown option').replaceAll(MARK, '')}\n${synopsis(spec)}`, code);
  }
  const values: Record<string, string | boolean | undefined> = {};
  for (const [name, value] of Object.entries(parsed.values)) {
    if (typeof value === 'string') {
      const text = unmark(value);
      if (text === '') throw new UsageError(`${spec.name}: --${name} needs a value\n${synopsis(spec)}`, code);
      values[name] = text;
    } else if (typeof value === 'boolean') {
      values[name] = value;
    }
  }
  const absent = Object.entries(spec.options).find(([name, o]) => o.required === true && values[name] === undefined);
  if (absent !== undefined) throw new UsageError(`${spec.name}: --${absent[0]} ${absent[1].value ?? 'VALUE'} is required\n${synopsis(spec)}`, code);
  const positionals = parsed.positionals.map(unmark);
  const missing = spec.positionals.slice(positionals.length).find((p) => p.required);
  if (missing !== undefined) throw new UsageError(`${spec.name}: expected ${missing.name}\n${synopsis(spec)}`, code);
  if (positionals.length > spec.positionals.length) {
    throw new UsageError(`${spec.name}: unexpected argument '${positionals[spec.positionals.length] ?? ''}'\n${synopsis(spec)}`, code);
  }
  return { values, positionals, help: false };
}

/** stringValue reads a string flag (undefined when absent). */
export function stringValue(parsed: ParsedCommandLine, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** synopsis is the one-line `usage:` of a command. */
export function synopsis(spec: CommandSpec): string {
  const positionals = spec.positionals.map((p) => (p.required ? p.name : `[${p.name}]`));
  const flags = Object.entries(spec.options).map(([name, o]) => {
    const flag = `--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`;
    return o.required === true ? flag : `[${flag}]`;
  });
  return ['usage: salt-autoscaler', spec.name, ...positionals, ...flags].join(' ');
}

/** commandHelp is the whole `<command> --help` text: synopsis, summary, arguments, options, examples, notes. */
export function commandHelp(spec: CommandSpec): string {
  const rows: [string, string][] = [
    ...spec.positionals.map((p): [string, string] => [p.name, p.help]),
    ...Object.entries(spec.options).map(([name, o]): [string, string] => [
      `${o.short === undefined ? '    ' : `-${o.short}, `}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`, o.help,
    ]),
    ['-h, --help', 'print this help and exit'],
  ];
  const width = Math.max(...rows.map(([left]) => left.length));
  const lines = [
    synopsis(spec),
    '',
    spec.summary,
    '',
    'arguments and options:',
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`),
    '',
    spec.examples.length > 1 ? 'examples:' : 'example:',
    ...spec.examples.map((e) => `  ${e}`),
    ...(spec.notes === undefined ? [] : ['', ...spec.notes]),
  ];
  return `${lines.join('\n')}\n`;
}
