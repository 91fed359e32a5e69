// A real Flower SuperLink (Flower 1.26.1, prepared in ../shared/flower to run from Debian packages:
// its README) on 127.0.0.1 for the Flower tests (docs/flower.md): free ports, a private HOME/FLWR_HOME,
// Flower's own Python SuperNodes running FedSeg's reference ClientApp, and runs of FedSeg's ServerApp
// (integrations/flower) started through run_local.py. Every process started is stopped (its group).
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const FLOWER = resolve(ROOT, '../shared/flower');
const TREE = join(FLOWER, 'v1.26.1');
export const APP = join(ROOT, 'integrations/flower');
const PY = '/usr/bin/python3';

/** Why the Flower tests cannot run here, or null when they can. */
export function flowerMissing(): string | null {
  if (!existsSync(join(TREE, 'bin/flower-superlink'))) return `the shared Flower SuperLink is not at ${TREE}`;
  if (!existsSync(PY)) return `${PY} is missing (.ci/run installs Debian's python3 and Flower's packages)`;
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

async function waitPort(port: number, ms: number, proc: { log: () => string }): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => { c.destroy(); res(true); });
      c.once('error', () => res(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`port ${port} not listening after ${ms} ms:\n${proc.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

interface Proc { child: ChildProcess; log: () => string }

export class SuperLink {
  readonly procs: Proc[] = [];
  private constructor(readonly work: string, readonly ports: { saio: number; fleet: number; control: number }, readonly env: NodeJS.ProcessEnv) {}

  get fleet(): string {
    return `127.0.0.1:${this.ports.fleet}`;
  }

  static async start(): Promise<SuperLink> {
    const work = mkdtempSync(join(tmpdir(), 'fedseg-flower-'));
    const home = join(work, 'home');
    mkdirSync(join(home, '.flwr'), { recursive: true });
    const ports = { saio: await freePort(), fleet: await freePort(), control: await freePort() };
    const env = { ...process.env, HOME: home, FLWR_HOME: join(home, '.flwr'), PATH: `${join(TREE, 'bin')}:${process.env.PATH ?? ''}`, PYTHONPATH: join(TREE, 'site'), PYTHONUNBUFFERED: '1' };
    writeFileSync(join(home, '.flwr/config.toml'), `[superlink]\ndefault = "local"\n\n[superlink.local]\naddress = "127.0.0.1:${ports.control}"\ninsecure = true\n`);
    const sl = new SuperLink(work, ports, env);
    await sl.launch();
    return sl;
  }

  private link?: Proc;

  private async launch(): Promise<void> {
    const { saio, fleet, control } = this.ports;
    const p = this.spawn(join(TREE, 'bin/flower-superlink'), ['--insecure', '--serverappio-api-address', `127.0.0.1:${saio}`, '--fleet-api-address', `127.0.0.1:${fleet}`, '--control-api-address', `127.0.0.1:${control}`]);
    this.link = p;
    for (const port of [fleet, control, saio]) await waitPort(port, 90_000, p);
  }

  /** Kills the SuperLink (SIGKILL, its state is in memory) and, after `downMs`, starts a new one on the same ports. */
  async restart(downMs: number): Promise<void> {
    const p = this.link!;
    this.kill(p, 'SIGKILL');
    await new Promise((r) => (p.child.exitCode !== null || p.child.signalCode !== null ? r(null) : p.child.once('exit', r)));
    await new Promise((r) => setTimeout(r, downMs));
    await this.launch();
  }

  private spawn(cmd: string, args: string[]): Proc {
    const child = spawn(cmd, args, { env: this.env, cwd: this.work, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let log = '';
    const add = (d: Buffer) => {
      log += d.toString();
      if (log.length > 400_000) log = log.slice(-200_000);
    };
    child.stdout!.on('data', add);
    child.stderr!.on('data', add);
    const p = { child, log: () => log };
    this.procs.push(p);
    return p;
  }

  /** Flower's own Python SuperNode, running the ClientApp of the app it is sent (FedSeg's reference client). */
  async pythonSuperNode(nodeConfig: string): Promise<Proc> {
    const caio = await freePort();
    const p = this.spawn(join(TREE, 'bin/flower-supernode'), ['--insecure', '--superlink', this.fleet, '--clientappio-api-address', `127.0.0.1:${caio}`, '--node-config', nodeConfig]);
    await waitPort(caio, 90_000, p);
    return p;
  }

  /** Runs FedSeg's ServerApp with run-config overrides; resolves with its log once the run ends. */
  async runServerApp(runConfig: string, timeoutMs = 300_000): Promise<string> {
    const app = mkdtempSync(join(this.work, 'app-'));
    // `flwr run` may rewrite the app's pyproject.toml (a migration), so a copy runs.
    cpSync(APP, app, { recursive: true, filter: (src) => !/(__pycache__|[/\\]proto$|[/\\]tests$)/.test(src) });
    const p = this.spawn(PY, [join(APP, 'run_local.py'), app, 'local', '--stream', '--run-config', runConfig]);
    const t = setTimeout(() => this.kill(p), timeoutMs);
    await new Promise((r) => p.child.once('exit', r));
    clearTimeout(t);
    return p.log();
  }

  private kill(p: Proc, sig: NodeJS.Signals = 'SIGTERM'): void {
    try {
      if (p.child.pid && p.child.exitCode === null) process.kill(-p.child.pid, sig);
    } catch {
      /* already gone */
    }
  }

  async stop(): Promise<void> {
    for (const p of this.procs) this.kill(p);
    const until = Date.now() + 10_000;
    while (Date.now() < until && this.procs.some((p) => p.child.exitCode === null && p.child.signalCode === null)) await new Promise((r) => setTimeout(r, 200));
    for (const p of this.procs) this.kill(p, 'SIGKILL');
    rmSync(this.work, { recursive: true, force: true });
  }

  logs(): string {
    return this.procs.map((p, i) => `--- process ${i} ---\n${p.log().slice(-4000)}`).join('\n');
  }
}
