// Reading command lines, shared by every `fedseg` and `fedseg-hub` command (the hub's CLI may import
// only core/contract from core): node:util parseArgs in strict mode, with its errors turned into one
// line that names the option and the command's help (Node's own text speaks of its API, not of ours),
// and the numeric flag checks (integers where an integer is meant, ranges), so every command says the
// same thing about the same mistake. Every failure here is a UsageError (exit 2).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './exit-codes.js';

export type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** Which command is reading its arguments: `prog` is what precedes `command` on the command line. */
export interface CommandRef {
  /** "fedseg-hub", "fedseg data", "fedseg" */
  prog: string;
  /** "start", "import", "eval" */
  command: string;
}

export function helpOf(ref: CommandRef): string {
  return `${ref.prog} ${ref.command} --help`;
}

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

/**
 * parseArgs (strict) with `-h/--help` added. `positionals`: whether the command takes positional
 * arguments (otherwise one is a usage error).
 */
export function parseCommandArgs<const O extends OptionsConfig>(argv: string[], options: O, ref: CommandRef, positionals = false) {
  try {
    return parseArgs({ args: argv, options: { ...options, ...HELP_OPTION }, strict: true, allowPositionals: positionals });
  } catch (e) {
    throw parseErrorToUsage(e, ref);
  }
}

/** Node's ERR_PARSE_ARGS_* errors as one line of ours. */
export function parseErrorToUsage(e: unknown, ref: CommandRef): UsageError {
  const err = e as { code?: string; message?: string };
  const message = String(err.message ?? e);
  const quoted = /'([^']+)'/.exec(message)?.[1] ?? '';
  // "--port <value>" in "Option '--port <value>' argument missing".
  const option = quoted.split(' ')[0]!;
  const see = `(see ${helpOf(ref)})`;
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return new UsageError(`unknown option ${option} for '${ref.command}' ${see}`);
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument '${quoted}': '${ref.command}' takes no positional arguments ${see}`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(message)) return new UsageError(`option ${option} of '${ref.command}' takes no value ${see}`);
      if (/ambiguous/.test(message)) return new UsageError(`option ${option} of '${ref.command}' needs a value (a value starting with '-' is written ${option}=-1) ${see}`);
      return new UsageError(`option ${option} of '${ref.command}' needs a value ${see}`);
    default:
      return new UsageError(`${message.split('\n')[0]!} ${see}`);
  }
}

export interface Range {
  min?: number;
  max?: number;
  /** min/max themselves are not allowed (an open interval). */
  exclusive?: boolean;
}

/** The seeds of every generator are 32-bit (core/rng.ts reduces any number to 32 bits). */
export const SEED_RANGE: Range = { min: 0, max: 2 ** 32 - 1 };
export const PORT_RANGE: Range = { min: 0, max: 65535 };

const INTEGER = /^[+-]?\d+$/;
// Decimal notation only: no hex, no "Infinity", no empty string (which Number() reads as 0).
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function rangeText(r: Range): string {
  const { min, max, exclusive } = r;
  if (min !== undefined && max !== undefined) return exclusive ? ` in (${min}, ${max})` : ` in [${min}, ${max}]`;
  if (min !== undefined) return exclusive ? ` > ${min}` : ` >= ${min}`;
  if (max !== undefined) return exclusive ? ` < ${max}` : ` <= ${max}`;
  return '';
}

function inRange(n: number, r: Range): boolean {
  if (r.min !== undefined && (r.exclusive ? n <= r.min : n < r.min)) return false;
  if (r.max !== undefined && (r.exclusive ? n >= r.max : n > r.max)) return false;
  return true;
}

function numeric(v: string | boolean | undefined, flag: string, r: Range, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const what = integer ? 'an integer' : 'a number';
  const s = typeof v === 'string' ? v.trim() : '';
  const n = Number(s);
  const ok = (integer ? INTEGER.test(s) && Number.isSafeInteger(n) : DECIMAL.test(s) && Number.isFinite(n)) && inRange(n, r);
  if (!ok) throw new UsageError(`--${flag} must be ${what}${rangeText(r)}, got '${String(v)}'`);
  return n;
}

/** An integer flag (`flag` without the dashes); undefined when it was not given. */
export function intArg(v: string | boolean | undefined, flag: string, range: Range = {}): number | undefined {
  return numeric(v, flag, range, true);
}

/** A decimal flag (`flag` without the dashes); undefined when it was not given. */
export function numArg(v: string | boolean | undefined, flag: string, range: Range = {}): number | undefined {
  return numeric(v, flag, range, false);
}

/** A required string flag. */
export function needArg(v: string | boolean | undefined, flag: string): string {
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${flag} is required`);
  return v;
}

/** A flag that takes one of a few words; `def` when it was not given. */
export function choiceArg<const C extends string>(v: string | boolean | undefined, flag: string, choices: readonly C[], def: C): C {
  if (v === undefined) return def;
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    const list = choices.length === 2 ? `${choices[0]} or ${choices[1]}` : `one of ${choices.join(', ')}`;
    throw new UsageError(`--${flag} must be ${list}, got '${String(v)}'`);
  }
  return v as C;
}
