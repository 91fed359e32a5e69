// The argument checks every command shares: which strings are integers / numbers (no hex, no empty
// string, no Infinity), the range messages, Node's parse errors as our one line, and the exit code of
// each kind of error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { choiceArg, intArg, needArg, numArg, parseCommandArgs, PORT_RANGE, SEED_RANGE } from './cli-args.js';
import { FedSegError } from './errors.js';
import { describeFailure, EXIT, exitCodeFor, readingArguments, UsageError } from './exit-codes.js';

const usage = (f: () => unknown, message: string) =>
  assert.throws(f, (e: unknown) => e instanceof UsageError && e.code === 'INVALID_ARGUMENT' && e.message === message, message);

test('integers: decimal digits only, in range', () => {
  assert.equal(intArg(undefined, 'n'), undefined);
  assert.equal(intArg('42', 'n'), 42);
  assert.equal(intArg('-3', 'n'), -3);
  assert.equal(intArg(' 7 ', 'n'), 7);
  assert.equal(intArg('0', 'port', PORT_RANGE), 0);
  assert.equal(intArg('4294967295', 'seed', SEED_RANGE), 4294967295);
  for (const bad of ['', 'x', '1.5', '1e3', '0x10', 'Infinity', '9007199254740993', '3abc']) usage(() => intArg(bad, 'n'), `--n must be an integer, got '${bad}'`);
  usage(() => intArg('65536', 'port', PORT_RANGE), "--port must be an integer in [0, 65535], got '65536'");
  usage(() => intArg('-1', 'seed', SEED_RANGE), "--seed must be an integer in [0, 4294967295], got '-1'");
  usage(() => intArg('0', 'rounds', { min: 1 }), "--rounds must be an integer >= 1, got '0'");
  usage(() => intArg(true, 'n'), "--n must be an integer, got 'true'");
});

test('numbers: decimal notation, open or closed ranges', () => {
  assert.equal(numArg('0.5', 't', { min: 0, max: 1, exclusive: true }), 0.5);
  assert.equal(numArg('.25', 't'), 0.25);
  assert.equal(numArg('1e-3', 'lr', { min: 0, exclusive: true }), 0.001);
  for (const bad of ['', 'NaN', 'Infinity', '0x1', '1/2', '1,5']) usage(() => numArg(bad, 'x'), `--x must be a number, got '${bad}'`);
  usage(() => numArg('1', 't', { min: 0, max: 1, exclusive: true }), "--t must be a number in (0, 1), got '1'");
  usage(() => numArg('0', 'clip-norm', { min: 0, exclusive: true }), "--clip-norm must be a number > 0, got '0'");
  usage(() => numArg('1.5', 'f', { min: 0, max: 1 }), "--f must be a number in [0, 1], got '1.5'");
});

test('required flags and choices', () => {
  assert.equal(needArg('a', 'db'), 'a');
  usage(() => needArg(undefined, 'db'), '--db is required');
  usage(() => needArg('', 'db'), '--db is required');
  assert.equal(choiceArg(undefined, 'role', ['train', 'eval'], 'train'), 'train');
  assert.equal(choiceArg('eval', 'role', ['train', 'eval'], 'train'), 'eval');
  usage(() => choiceArg('x', 'role', ['train', 'eval'], 'train'), "--role must be train or eval, got 'x'");
  usage(() => choiceArg('x', 'split', ['train', 'test', 'val'], 'train'), "--split must be one of train, test, val, got 'x'");
});

test("Node's parse errors become one line naming the option, the command and its help", () => {
  const ref = { prog: 'fedseg-hub', command: 'start' };
  const opts = { port: { type: 'string' }, quiet: { type: 'boolean' } } as const;
  assert.deepEqual({ ...parseCommandArgs(['--port', '1', '-h'], opts, ref).values }, { port: '1', help: true });
  usage(() => parseCommandArgs(['--bogus'], opts, ref), "unknown option --bogus for 'start' (see fedseg-hub start --help)");
  usage(() => parseCommandArgs(['--bogus=1'], opts, ref), "unknown option --bogus for 'start' (see fedseg-hub start --help)");
  usage(() => parseCommandArgs(['-x'], opts, ref, true), "unknown option -x for 'start' (see fedseg-hub start --help)");
  usage(() => parseCommandArgs(['--port'], opts, ref), "option --port of 'start' needs a value (see fedseg-hub start --help)");
  usage(() => parseCommandArgs(['--port', '--quiet'], opts, ref), "option --port of 'start' needs a value (a value starting with '-' is written --port=-1) (see fedseg-hub start --help)");
  usage(() => parseCommandArgs(['--quiet=yes'], opts, ref), "option --quiet of 'start' takes no value (see fedseg-hub start --help)");
  usage(() => parseCommandArgs(['x'], opts, ref), "unexpected argument 'x': 'start' takes no positional arguments (see fedseg-hub start --help)");
  assert.deepEqual(parseCommandArgs(['a', 'b'], opts, ref, true).positionals, ['a', 'b']);
});

test('one exit code per kind of error; INVALID_ARGUMENT is a usage error only while arguments are read', () => {
  assert.equal(exitCodeFor(new UsageError('x')), EXIT.USAGE);
  assert.equal(exitCodeFor(new FedSegError('INVALID_ARGUMENT', 'from the work')), EXIT.FAILED);
  assert.equal(exitCodeFor(new FedSegError('CONNECTION_FAILED', 'x')), EXIT.UNREACHABLE);
  assert.equal(exitCodeFor(new FedSegError('AUTH_FAILED', 'x')), EXIT.AUTH_FAILED);
  assert.equal(exitCodeFor(new FedSegError('VERSION_MISMATCH', 'x')), EXIT.VERSION_MISMATCH);
  assert.equal(exitCodeFor(new FedSegError('ALREADY_EXISTS', 'x')), EXIT.ALREADY_EXISTS);
  assert.equal(exitCodeFor(new FedSegError('CANCELLED', 'x')), EXIT.INTERRUPTED);
  assert.equal(exitCodeFor(new FedSegError('NOT_FOUND', 'x')), EXIT.FAILED);
  assert.equal(exitCodeFor(new Error('bug')), EXIT.FAILED);
  assert.throws(() => readingArguments(() => { throw new FedSegError('INVALID_ARGUMENT', 'bad size'); }), (e: unknown) => e instanceof UsageError && e.message === 'bad size');
  assert.throws(() => readingArguments(() => { throw new FedSegError('IO_ERROR', 'unreadable'); }), (e: unknown) => !(e instanceof UsageError));
  assert.deepEqual(describeFailure(new UsageError('--n must be an integer'), 'fedseg demo --help'), { line: '--n must be an integer (see fedseg demo --help)', code: 2 });
  assert.deepEqual(describeFailure(new UsageError('bad (see fedseg demo --help)'), 'fedseg demo --help'), { line: 'bad (see fedseg demo --help)', code: 2 });
  assert.deepEqual(describeFailure(new TypeError('x is undefined\n  at ...')), { line: 'x is undefined [INTERNAL]', code: 1 });
});
