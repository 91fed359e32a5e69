// Runs a CLI command's `run(argv)` in-process and captures what it prints: console.log lines (stdout),
// console.error lines and raw process.stderr writes (progress bars) in order, as a real terminal shows them;
// or runs it as a real process (spawnCli).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

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

/**
 * Runs `fedseg` or `fedseg-hub` as a real process and collects its output until the pipes close.
 * `until`: once stdout + stderr match it, the process is sent SIGTERM (for long-running commands).
 */
export function spawnCli(bin: 'fedseg' | 'fedseg-hub', args: string[], o: { env?: Record<string, string | undefined>; until?: RegExp; timeoutMs?: number } = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(REPO, 'bin', `${bin}.mjs`), ...args], { env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const check = () => {
      if (o.until && o.until.test(out + err)) p.kill('SIGTERM');
    };
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); check(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); check(); });
    const t = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    p.on('close', (code) => { clearTimeout(t); resolve({ code, out, err }); });
  });
}
