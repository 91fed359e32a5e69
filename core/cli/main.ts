// `fedseg <command> [args]`: one CLI for headless use. Each command lives in core/cli/cmd-<name>.ts and
// exports `summary: string` and `run(argv: string[]): Promise<number>` (the exit code). A command that
// throws gets one line ("fedseg <command>: <message>") and the exit code of the shared table
// (core/contract/exit-codes.ts, the same for `fedseg-hub`).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeFailure, EXIT, exitCodeHelp } from '../contract/exit-codes.js';

export interface CliCommand {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const here = dirname(fileURLToPath(import.meta.url));

function commandNames(): string[] {
  return readdirSync(here)
    .filter((f) => /^cmd-[a-z-]+\.ts$/.test(f) && !f.endsWith('.test.ts'))
    .map((f) => f.slice(4, -3))
    .sort();
}

async function load(name: string): Promise<CliCommand> {
  return (await import(`./cmd-${name}.ts`)) as CliCommand;
}

/**
 * A command's one-line summary for the command list: read from its source when it is the usual
 * one-line string literal, so `fedseg --help` does not load (and compile) every command with its engine.
 */
async function summaryOf(name: string): Promise<string> {
  const m = /^export const summary = '((?:[^'\\]|\\.)*)';$/m.exec(readFileSync(join(here, `cmd-${name}.ts`), 'utf8'));
  return m ? m[1]!.replace(/\\(.)/g, '$1') : (await load(name)).summary;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const names = commandNames();
  // `fedseg help eval` is `fedseg eval --help`.
  if (cmd === 'help' && rest[0]) return main([rest[0], '--help']);
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    const lines = ['usage: fedseg <command> [options]   (fedseg <command> --help for its options)', '', 'commands:'];
    for (const n of names) lines.push(`  ${n.padEnd(10)} ${await summaryOf(n)}`);
    lines.push('', exitCodeHelp());
    console.log(lines.join('\n'));
    // Without a command there is nothing to do: a usage error.
    return cmd ? EXIT.OK : EXIT.USAGE;
  }
  if (!names.includes(cmd)) {
    console.error(`fedseg: unknown command '${cmd}' (commands: ${names.join(', ')}; see fedseg --help)`);
    return EXIT.USAGE;
  }
  try {
    return await (await load(cmd)).run(rest);
  } catch (e) {
    const f = describeFailure(e, `fedseg ${cmd} --help`);
    console.error(`fedseg ${cmd}: ${f.line}`);
    if (process.env.FEDSEG_DEBUG) console.error(e);
    return f.code;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
