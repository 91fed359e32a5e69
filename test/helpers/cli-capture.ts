// Runs a CLI command's `run(argv)` in-process and captures what it prints: console.log lines (stdout),
// console.error lines and raw process.stderr writes (progress bars) in order, as a real terminal shows them.
export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function captureCli(run: (argv: string[]) => Promise<number>, argv: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  const write = process.stderr.write.bind(process.stderr);
  console.log = (...a: unknown[]) => void out.push(a.join(' '));
  console.error = (...a: unknown[]) => void err.push(a.join(' ') + '\n');
  process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
  try {
    return { code: await run(argv), out: out.join('\n'), err: err.join('') };
  } finally {
    console.log = log;
    console.error = error;
    process.stderr.write = write;
  }
}
