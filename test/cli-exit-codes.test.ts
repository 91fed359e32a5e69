// Both CLIs keep the one exit-code table of core/contract/exit-codes.ts for every command: an unknown
// option is exit 2 with one line that names the option, the command and its help (never Node's own
// parseArgs text), checked on the real processes (bin/fedseg.mjs, bin/fedseg-hub.mjs); `--help` is
// exit 0 with that command's usage and a numeric flag with garbage is exit 2 naming the flag and the
// value, checked through the same main(argv) the bins call; the general help texts print the table.
// And `fedseg-hub start` takes the partial --set of its own help and, stopped before the run is
// finished, exits 130.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main as fedsegMain } from '../core/cli/main.js';
import { EXIT, EXIT_CODE_TABLE } from '../core/contract/exit-codes.js';
import { main as hubMain } from '../federation-hub/cli.js';
import { captureCli } from './helpers/cli-capture.js';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function cli(bin: 'fedseg' | 'fedseg-hub', args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(root, 'bin', `${bin}.mjs`), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

/** Runs the spawns a few at a time: each costs about a second of CPU (tsx + the command's imports). */
async function pool<T>(jobs: (() => Promise<T>)[], width = 3): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]!();
    }
  }));
  return results;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** What Node's util.parseArgs says on its own; none of it may reach the user. */
const RAW_NODE = /Unknown option '|To specify a positional|argument missing|ERR_PARSE_ARGS|This command does not take/;

interface Command {
  bin: 'fedseg' | 'fedseg-hub';
  /** The words before the options: ['data', 'import'], ['start']. */
  words: string[];
  /** What the one-line error says precedes the message ("fedseg data", "fedseg-hub"). */
  prefix: string;
  /** A numeric flag given garbage, and the flag and value the message must name. */
  numeric?: { args: string[]; flag: string; value: string };
}

const COMMANDS: Command[] = [
  { bin: 'fedseg', words: ['asc', 'experiment'], prefix: 'fedseg asc', numeric: { args: ['--steps', '0'], flag: '--steps', value: '0' } },
  { bin: 'fedseg', words: ['data', 'generate'], prefix: 'fedseg data', numeric: { args: ['--sites', 'x'], flag: '--sites', value: 'x' } },
  { bin: 'fedseg', words: ['data', 'import'], prefix: 'fedseg data', numeric: { args: ['--tolerance', '1.5'], flag: '--tolerance', value: '1.5' } },
  { bin: 'fedseg', words: ['data', 'list'], prefix: 'fedseg data' },
  { bin: 'fedseg', words: ['data', 'stats'], prefix: 'fedseg data', numeric: { args: ['--grid-size', '0x20'], flag: '--grid-size', value: '0x20' } },
  { bin: 'fedseg', words: ['data', 'rename'], prefix: 'fedseg data' },
  { bin: 'fedseg', words: ['data', 'delete'], prefix: 'fedseg data' },
  { bin: 'fedseg', words: ['demo'], prefix: 'fedseg demo', numeric: { args: ['--rounds', '2.5'], flag: '--rounds', value: '2.5' } },
  { bin: 'fedseg', words: ['eval'], prefix: 'fedseg eval', numeric: { args: ['--threshold', '1.5'], flag: '--threshold', value: '1.5' } },
  { bin: 'fedseg', words: ['serve'], prefix: 'fedseg serve', numeric: { args: ['--port', '70000'], flag: '--port', value: '70000' } },
  { bin: 'fedseg', words: ['site'], prefix: 'fedseg site', numeric: { args: ['--seed', 'x'], flag: '--seed', value: 'x' } },
  { bin: 'fedseg-hub', words: ['start'], prefix: 'fedseg-hub', numeric: { args: ['--port', 'x'], flag: '--port', value: 'x' } },
  { bin: 'fedseg-hub', words: ['add-site'], prefix: 'fedseg-hub' },
  { bin: 'fedseg-hub', words: ['remove-site'], prefix: 'fedseg-hub' },
  { bin: 'fedseg-hub', words: ['sites'], prefix: 'fedseg-hub' },
  { bin: 'fedseg-hub', words: ['status'], prefix: 'fedseg-hub' },
  { bin: 'fedseg-hub', words: ['audit'], prefix: 'fedseg-hub', numeric: { args: ['--limit', '0'], flag: '--limit', value: '0' } },
  { bin: 'fedseg-hub', words: ['evaluations'], prefix: 'fedseg-hub' },
  { bin: 'fedseg-hub', words: ['export-model'], prefix: 'fedseg-hub', numeric: { args: ['--round', 'latest'], flag: '--round', value: 'latest' } },
];

function oneLine(r: Run, what: string): string {
  const lines = r.err.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one line on stderr, got:\n${r.err}`);
  assert.doesNotMatch(lines[0]!, RAW_NODE, `${what}: Node's parseArgs text`);
  return lines[0]!;
}

test('every command of both CLIs, as a process: an unknown option is exit 2 with one line of ours', { timeout: 120_000 }, async () => {
  await pool(COMMANDS.map((c) => async () => {
    const name = `${c.bin} ${c.words.join(' ')}`;
    const r = await cli(c.bin, [...c.words, '--bogus']);
    assert.equal(r.code, EXIT.USAGE, `${name} --bogus: ${r.err}`);
    assert.equal(oneLine(r, `${name} --bogus`), `${c.prefix}: unknown option --bogus for '${c.words.at(-1)}' (see ${name} --help)`);
  }));
});

// The same entry points the bins call (main(argv), whose result is the process's exit code), in this
// process: --help and the numeric checks of every command cost no process start each.
test('every command: --help is exit 0 with its own usage, numeric garbage is exit 2 naming the flag and the value', { timeout: 60_000 }, async () => {
  for (const c of COMMANDS) {
    const name = `${c.bin} ${c.words.join(' ')}`;
    const main = c.bin === 'fedseg' ? fedsegMain : hubMain;
    const h = await captureCli(main, [...c.words, '--help']);
    assert.equal(h.code, EXIT.OK, `${name} --help: ${h.err}`);
    assert.match(h.out, new RegExp(`^usage: ${escape(name)}\\b`), `${name} --help prints its own usage`);
    assert.doesNotMatch(h.out, /^commands:/m, `${name} --help is not the general help`);
    if (!c.numeric) continue;
    const n = c.numeric;
    const r = await captureCli(main, [...c.words, ...n.args]);
    assert.equal(r.code, EXIT.USAGE, `${name} ${n.args.join(' ')}: ${r.err}`);
    const line = oneLine(r, `${name} ${n.args.join(' ')}`);
    assert.ok(line.startsWith(`${c.prefix}: ${n.flag} must be `), line);
    assert.match(line, new RegExp(`, got '${escape(n.value)}' \\(see ${escape(c.bin)} [a-z -]+ --help\\)$`));
  }
  for (const [what, main] of [['fedseg', fedsegMain], ['fedseg-hub', hubMain]] as const) {
    const r = await captureCli(main, ['--help']);
    assert.equal(r.code, EXIT.OK, what);
    assert.match(r.out, /^exit codes \(every command\):$/m, what);
    for (const row of EXIT_CODE_TABLE) assert.match(r.out, new RegExp(`^ *${row.code}  ${escape(row.meaning)}$`, 'm'), `${what} --help: code ${row.code}`);
    const sub = await captureCli(main, ['help', what === 'fedseg' ? 'eval' : 'start']);
    assert.equal(sub.code, EXIT.OK);
    assert.match(sub.out, what === 'fedseg' ? /^usage: fedseg eval / : /^usage: fedseg-hub start /);
  }
});

test("README.md's CLI section lists the same exit codes as the table the CLIs print", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const cli = readme.slice(readme.indexOf('## CLI'), readme.indexOf('\n## ', readme.indexOf('## CLI') + 1));
  const codes = [...cli.matchAll(/^\| (\d+) \| /gm)].map((m) => Number(m[1]));
  assert.deepEqual(codes, EXIT_CODE_TABLE.map((r) => r.code));
});

test('as a process: no command, an unknown command, a stray argument, a missing or unwanted value are exit 2', { timeout: 60_000 }, async () => {
  // Light processes (no command module, or the hub's parser): all at once.
  const [fedNone, hubNone, fedUnknown, hubUnknown, positional, missing, noValue] = await Promise.all([
    cli('fedseg', []),
    cli('fedseg-hub', []),
    cli('fedseg', ['frobnicate']),
    cli('fedseg-hub', ['frobnicate']),
    cli('fedseg-hub', ['start', 'extra']),
    cli('fedseg-hub', ['start', '--port']),
    cli('fedseg', ['data', 'list', '--json=yes']),
  ]);
  // Without a command there is nothing to do: usage on stdout, exit 2.
  for (const r of [fedNone, hubNone]) {
    assert.equal(r.code, EXIT.USAGE);
    assert.match(r.out, /^usage: /);
  }
  assert.equal(fedUnknown.code, EXIT.USAGE);
  assert.match(oneLine(fedUnknown, 'fedseg frobnicate'), /^fedseg: unknown command 'frobnicate'/);
  assert.equal(hubUnknown.code, EXIT.USAGE);
  assert.match(oneLine(hubUnknown, 'fedseg-hub frobnicate'), /^fedseg-hub: unknown command 'frobnicate'/);
  assert.equal(positional.code, EXIT.USAGE);
  assert.equal(oneLine(positional, 'start extra'), "fedseg-hub: unexpected argument 'extra': 'start' takes no positional arguments (see fedseg-hub start --help)");
  assert.equal(missing.code, EXIT.USAGE);
  assert.equal(oneLine(missing, 'start --port'), "fedseg-hub: option --port of 'start' needs a value (see fedseg-hub start --help)");
  assert.equal(noValue.code, EXIT.USAGE);
  assert.equal(oneLine(noValue, 'data list --json=yes'), "fedseg data: option --json of 'list' takes no value (see fedseg data list --help)");
});

test("fedseg-hub start takes its help's partial --set, and stopped before the run is finished exits 130", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-cli-exit-'));
  try {
    const p = spawn(process.execPath, [join(root, 'bin', 'fedseg-hub.mjs'), 'start', '--port', '0', '--db', join(dir, 'hub.db'), '--rounds', '1',
      '--set', 'train={"localEpochs":2}', '--set', 'model={"config":{"baseWidth":8}}', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no listening line: ${out} ${err}`)), 30_000);
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (/listening on ws:\/\/127\.0\.0\.1:\d+/.test(out)) {
          clearTimeout(t);
          resolve();
        }
      });
      void exited.then((code) => reject(new Error(`exited ${code} before listening: ${err}`)));
    });
    p.kill('SIGTERM');
    assert.equal(await exited, EXIT.INTERRUPTED, err);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
