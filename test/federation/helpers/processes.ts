// Child processes for crash tests: the real `fedseg-hub` CLI and fake-site-main.ts, both SIGKILL-able.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface Child {
  proc: ChildProcess;
  out: string[];
  exited: Promise<number | null>;
}

function wrap(proc: ChildProcess): Child {
  const out: string[] = [];
  proc.stdout!.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean)));
  proc.stderr!.on('data', (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, out, exited };
}

/** Starts `fedseg-hub start --config FILE [--port P]`; resolves with the port once it listens. */
export async function spawnHub(config: string, port = 0): Promise<Child & { port: number }> {
  const c = wrap(spawn(process.execPath, [join(root, 'bin/fedseg-hub.mjs'), 'start', '--config', config, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const p = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`hub did not start: ${c.out.join('\n')}`)), 20_000);
    const check = () => {
      const m = c.out.map((l) => /listening on wss?:\/\/[^:]+:(\d+)/.exec(l)).find(Boolean);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    };
    c.proc.stdout!.on('data', check);
    c.exited.then((code) => { clearTimeout(t); reject(new Error(`hub exited (${code}): ${c.out.join('\n')}`)); });
  });
  return { ...c, port: p };
}

export function spawnFakeSite(args: Record<string, string | number>): Child {
  const argv = Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)]);
  return wrap(spawn(process.execPath, ['--import', 'tsx', join(root, 'test/federation/helpers/fake-site-main.ts'), ...argv], { stdio: ['ignore', 'pipe', 'pipe'], cwd: root }));
}
