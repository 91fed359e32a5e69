// The exit codes of every `fedseg` and `fedseg-hub` command, declared once so a number means the same
// thing in both CLIs and in scripts that drive them. It lives in core/contract because the hub's CLI
// may import nothing else from core. An error maps to its code through its FedSegError code, except
// INVALID_ARGUMENT: only a UsageError (thrown while a command reads its arguments, flags, --config or
// --set) is a usage error (2); the same code raised by the work itself is a failure (1), so exit 2
// always means "fix the command line".
import { FedSegError, toErrorValue, type ErrorCode } from './errors.js';

export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  UNREACHABLE: 3,
  AUTH_FAILED: 4,
  VERSION_MISMATCH: 5,
  ALREADY_EXISTS: 6,
  CHECK_FAILED: 7,
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The table as the help texts and the docs print it. */
export const EXIT_CODE_TABLE: readonly { code: ExitCode; meaning: string }[] = [
  { code: EXIT.OK, meaning: 'ok' },
  { code: EXIT.FAILED, meaning: 'the work failed (missing or corrupt file, store error, training error, ...)' },
  { code: EXIT.USAGE, meaning: 'usage error: unknown option or command, missing or invalid argument value, bad hub config' },
  { code: EXIT.UNREACHABLE, meaning: 'network: the hub cannot be reached, or the hub cannot listen on its port' },
  { code: EXIT.AUTH_FAILED, meaning: 'authentication failed (wrong token or unknown site)' },
  { code: EXIT.VERSION_MISMATCH, meaning: 'site and hub speak different protocol versions' },
  { code: EXIT.ALREADY_EXISTS, meaning: 'name already taken (site already enrolled or connected, dataset exists)' },
  { code: EXIT.CHECK_FAILED, meaning: 'a dry run found problems (fedseg data import --dry-run)' },
  { code: EXIT.INTERRUPTED, meaning: 'interrupted (Ctrl+C / SIGTERM) before the work finished' },
];

/** The table as a help-text block. */
export function exitCodeHelp(): string {
  return ['exit codes (every command):', ...EXIT_CODE_TABLE.map((r) => `  ${String(r.code).padStart(3)}  ${r.meaning}`)].join('\n');
}

/**
 * A bad command line: unknown option, missing or invalid value. Crosses boundaries as INVALID_ARGUMENT
 * like any FedSegError; the class only tells the CLI that the user's arguments are at fault.
 */
export class UsageError extends FedSegError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
    this.name = 'UsageError';
  }
}

const BY_ERROR_CODE: Partial<Record<ErrorCode, ExitCode>> = {
  CONNECTION_FAILED: EXIT.UNREACHABLE,
  AUTH_FAILED: EXIT.AUTH_FAILED,
  VERSION_MISMATCH: EXIT.VERSION_MISMATCH,
  ALREADY_EXISTS: EXIT.ALREADY_EXISTS,
  CANCELLED: EXIT.INTERRUPTED,
};

export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof UsageError) return EXIT.USAGE;
  return BY_ERROR_CODE[toErrorValue(err).code] ?? EXIT.FAILED;
}

/**
 * Runs the part of a command that reads its arguments: an INVALID_ARGUMENT raised inside (a schema or
 * option check shared with the engine) becomes a UsageError.
 */
export function readingArguments<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof FedSegError && e.code === 'INVALID_ARGUMENT' && !(e instanceof UsageError)) throw new UsageError(e.message);
    throw e;
  }
}

/**
 * The one line a CLI prints for a failure and the code it exits with. `help` ("fedseg eval --help") is
 * appended to usage errors that do not already point to a help text; errors that are not FedSegErrors
 * (bugs, library errors) carry their code so they can be told apart.
 */
export function describeFailure(err: unknown, help?: string): { line: string; code: ExitCode } {
  const v = toErrorValue(err);
  const code = exitCodeFor(err);
  let line = v.message.split('\n')[0]!;
  if (code === EXIT.USAGE && help && !/--help\b/.test(line)) line += ` (see ${help})`;
  if (!(err instanceof FedSegError)) line += ` [${v.code}]`;
  return { line, code };
}
