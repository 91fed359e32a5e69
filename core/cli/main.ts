// `fedseg <command> [args]`: one CLI for headless use. Each command lives in core/cli/cmd-<name>.ts and
// exports `summary: string` and `run(argv: string[]): Promise<number>` (the exit code). Errors are
// printed as one line ("fedseg: <message>") with a non-zero exit code.
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FedSegError, toErrorValue } from '../contract/errors.js';

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

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const names = commandNames();
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    const lines = ['usage: fedseg <command> [options]   (fedseg <command> --help for details)', '', 'commands:'];
    for (const n of names) lines.push(`  ${n.padEnd(10)} ${(await load(n)).summary}`);
    console.log(lines.join('\n'));
    return cmd ? 0 : 1;
  }
  if (!names.includes(cmd)) {
    console.error(`fedseg: unknown command '${cmd}' (commands: ${names.join(', ')})`);
    return 2;
  }
  try {
    return await (await load(cmd)).run(rest);
  } catch (e) {
    const v = toErrorValue(e);
    console.error(`fedseg: ${v.message}${e instanceof FedSegError ? '' : ` [${v.code}]`}`);
    if (process.env.FEDSEG_DEBUG) console.error(e);
    return 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
