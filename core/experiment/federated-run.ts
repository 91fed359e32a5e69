// One federated run of an experiment (docs/experiments.md §2): a real hub process (bin/fedseg-hub.mjs)
// on 127.0.0.1 and one `fedseg site` per site, each with its OWN store (a copy of the site's prepared
// store): the source sites train, the unseen site only evaluates the global model after every round.
// Sites run as separate processes, or (inProcess) as the very same `fedseg site` command called in
// this process: one JS thread then runs every site, which spares the process start-ups. A run killed
// part-way resumes where it stopped: its directory keeps the hub state (the hub resumes at its last
// completed round), the site stores (keys, optimiser state) and the enrolment tokens.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FedSegError } from '../contract/errors.js';
import type { TrainConfig } from '../contract/hub-protocol.js';
import type { ModelSpecInput } from '../contract/model-spec.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const hubBin = join(root, 'bin/fedseg-hub.mjs');
const siteBin = join(root, 'bin/fedseg.mjs');

export interface RunSite {
  name: string;
  /** The site's prepared store; copied into the run directory, never written. */
  store: string;
  role: 'train' | 'eval';
}

export interface FederatedRunOptions {
  /** The run's own directory (site stores, hub state, tokens). */
  dir: string;
  sites: RunSite[];
  strategy: string;
  rounds: number;
  model: ModelSpecInput;
  train: TrainConfig;
  /** Seeds the hub's one global initialisation and every site's shuffling / CFSI draws. */
  seed: number;
  backend: string;
  inProcess: boolean;
  timeoutMs: number;
  log: (line: string) => void;
  /** Prefix of progress lines. */
  tag: string;
  /** Aborting kills the run's processes and rejects with CANCELLED (the directory stays resumable). */
  signal?: AbortSignal;
}

export interface RoundEval {
  round: number;
  metrics: Record<string, number>;
}

export interface FederatedRunResult {
  /** The unseen site's evaluation of every round's global model. */
  rounds: RoundEval[];
  /** Bytes the hub received from each site (every message but heartbeats) and sent to it. */
  bytesFromSite: Record<string, number>;
  bytesToSite: Record<string, number>;
  elapsedMs: number;
  /** The last round completed before this call (0 for a fresh run). */
  resumedAfterRound: number;
}

interface Proc {
  name: string;
  child: ChildProcess;
  out: string[];
  exited: Promise<number | null>;
}

function start(name: string, args: string[], env: Record<string, string>, onLine?: (l: string) => void): Proc {
  // ELECTRON_RUN_AS_NODE: inside the desktop app process.execPath is Electron, which then runs the script as Node.
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const line = (l: string) => {
    if (!l) return;
    out.push(l);
    if (out.length > 400) out.shift();
    onLine?.(l);
  };
  // Whole lines only: a long line (a JSON listing) arrives in several chunks.
  const reader = (stream: NodeJS.ReadableStream) => {
    let rest = '';
    stream.on('data', (d: Buffer) => {
      const parts = (rest + d.toString()).split('\n');
      rest = parts.pop()!;
      parts.forEach(line);
    });
    stream.on('end', () => line(rest));
  };
  reader(child.stdout!);
  reader(child.stderr!);
  // 'close': the process exited AND its output was read to the end.
  const exited = new Promise<number | null>((r) => child.once('close', (code, sig) => r(code ?? (sig ? 128 : null))));
  return { name, child, out, exited };
}

/** Runs a CLI to completion; its output lines, or an error naming its last lines. */
export async function runCli(args: string[], what: string): Promise<string[]> {
  const p = start('cli', args, {});
  const code = await p.exited;
  if (code !== 0) throw new FedSegError('INTERNAL', `${what} failed (exit ${code}): ${p.out.slice(-3).join(' | ')}`);
  return p.out;
}

/** The JSON a CLI printed (one line, or pretty-printed over several from its first '{' or '[' line on). */
const jsonLine = (lines: string[], what: string): unknown => {
  const at = lines.findIndex((x) => x.startsWith('[') || x.startsWith('{'));
  if (at < 0) throw new FedSegError('INTERNAL', `${what} printed no JSON`);
  try {
    return JSON.parse(lines[at]!) as unknown;
  } catch {
    return JSON.parse(lines.slice(at).join('\n')) as unknown;
  }
};

interface Tokens {
  tokens: Record<string, string>;
}

/** Fresh run directory: site store copies, the hub config, enrolment (tokens kept for a resume). */
async function prepare(o: FederatedRunOptions, hubDb: string, cfgPath: string): Promise<Record<string, string>> {
  rmSync(o.dir, { recursive: true, force: true });
  mkdirSync(o.dir, { recursive: true, mode: 0o700 }); // site stores, keys and tokens: docs/security.md §5
  for (const s of o.sites) copyFileSync(s.store, join(o.dir, `${s.name}.db`));
  const train = o.sites.filter((s) => s.role === 'train');
  writeFileSync(cfgPath, JSON.stringify({
    name: `experiment-${o.strategy}`, host: '127.0.0.1', port: 0, db: hubDb, strategy: o.strategy, rounds: o.rounds, minSites: train.length,
    roundTimeoutMs: o.timeoutMs, evalTimeoutMs: Math.min(o.timeoutMs, 30 * 60_000), evaluate: 'eval', heartbeatMs: 5000,
    siteTimeoutMs: 10 * 60_000, exitWhenDone: true, model: o.model, initSeed: o.seed, train: o.train,
  }, null, 2));
  const tokens: Record<string, string> = {};
  for (const role of ['train', 'eval'] as const) {
    const names = o.sites.filter((s) => s.role === role).map((s) => s.name);
    if (!names.length) continue;
    for (const l of await runCli([hubBin, 'add-site', ...names, '--role', role, '--db', hubDb, '--json'], 'fedseg-hub add-site')) {
      if (!l.startsWith('{')) continue;
      const j = JSON.parse(l) as { site: string; token: string };
      tokens[j.site] = j.token;
    }
  }
  // Written last: its presence marks a directory a killed run can resume from.
  writeFileSync(join(o.dir, 'tokens.json'), JSON.stringify({ tokens } satisfies Tokens), { mode: 0o600 });
  return tokens;
}

async function lastCompletedRound(hubDb: string): Promise<number> {
  const lines = await runCli([hubBin, 'status', '--db', hubDb, '--json'], 'fedseg-hub status');
  const s = jsonLine(lines, 'fedseg-hub status') as { lastCompletedRound?: number };
  return s.lastCompletedRound ?? 0;
}

/**
 * Processes of an earlier attempt at this run that outlived it (their parent was killed outright, so
 * nothing stopped them): they would hold the hub state and the site stores. Only a process whose
 * command line names this run's directory is stopped.
 */
async function stopLeftovers(dir: string): Promise<void> {
  const file = join(dir, 'pids.json');
  if (!existsSync(file)) return;
  let pids: number[] = [];
  try {
    pids = (JSON.parse(readFileSync(file, 'utf8')) as { pids: number[] }).pids.filter((p) => Number.isInteger(p) && p > 1);
  } catch {
    return;
  }
  const alive = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
    } catch {
      return false;
    }
  };
  const left = pids.filter(alive);
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (let i = 0; i < 50 && left.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
}

export async function runFederated(o: FederatedRunOptions): Promise<FederatedRunResult> {
  const t0 = Date.now();
  await stopLeftovers(o.dir);
  const hubDb = join(o.dir, 'hub.db');
  const cfgPath = join(o.dir, 'hub.json');
  const tokenFile = join(o.dir, 'tokens.json');
  let tokens: Record<string, string>;
  let resumedAfterRound = 0;
  const resumable = existsSync(tokenFile) && existsSync(hubDb) && existsSync(cfgPath) && o.sites.every((s) => existsSync(join(o.dir, `${s.name}.db`)));
  if (resumable) {
    tokens = (JSON.parse(readFileSync(tokenFile, 'utf8')) as Tokens).tokens;
    resumedAfterRound = await lastCompletedRound(hubDb).catch(() => 0);
    o.log(`${o.tag} resuming after round ${resumedAfterRound}/${o.rounds}`);
  } else {
    tokens = await prepare(o, hubDb, cfgPath);
  }

  let port = 0;
  let portSeen: () => void = () => {};
  const listening = new Promise<void>((r) => (portSeen = r));
  const hub = start('hub', [hubBin, 'start', '--config', cfgPath], {}, (l) => {
    const m = /listening on ws:\/\/[^:]+:(\d+)/.exec(l);
    if (m) {
      port = Number(m[1]);
      portSeen();
    }
    const done = /round (\d+) done: (.*)/.exec(l);
    const ev = /evaluated round (\d+): (.*)/.exec(l);
    if (done) o.log(`${o.tag} round ${done[1]}/${o.rounds} aggregated (${done[2]}) ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    else if (ev) o.log(`${o.tag} round ${ev[1]} unseen-site ${ev[2]}`);
    else if (/excluded|rejected|failed|weights/i.test(l)) o.log(`${o.tag} hub: ${l}`);
  });
  const procs: Proc[] = [];
  const ac = new AbortController();
  const pidFile = join(o.dir, 'pids.json');
  const notePids = () => writeFileSync(pidFile, JSON.stringify({ pids: [hub, ...procs].map((p) => p.child.pid).filter((x) => x !== undefined) }));
  notePids();
  // Stopped from outside: the hub and site processes go with this one (a later start resumes the run).
  const onSignal = (sig: NodeJS.Signals) => {
    for (const p of [hub, ...procs]) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGTERM', onSignal);
  if (!o.inProcess) process.once('SIGINT', onSignal);
  try {
    await Promise.race([listening, hub.exited.then((c) => { throw new FedSegError('INTERNAL', `${o.tag} hub exited (${c}) before listening: ${hub.out.slice(-3).join(' | ')}`); })]);
    const url = `ws://127.0.0.1:${port}`;
    const trainSites = o.sites.filter((s) => s.role === 'train').length;
    const argv = (s: RunSite) => ['site', '--share-spectra', '--hub', url, '--name', s.name, '--db', join(o.dir, `${s.name}.db`), '--role', s.role,
      '--backend', o.backend, '--quiet', '--seed', String(o.seed), '--token', tokens[s.name] ?? ''];
    let sitesDone: Promise<unknown>;
    if (o.inProcess) {
      // The `fedseg site` command itself, once per site, in this process (one shared tfjs backend).
      const { run } = await import('../cli/cmd-site.js');
      sitesDone = Promise.all(o.sites.map(async (s) => {
        const code = await run(argv(s).slice(1));
        if (code !== 0 && !ac.signal.aborted) throw new FedSegError('INTERNAL', `${o.tag} site ${s.name} failed (exit ${code})`);
      }));
    } else {
      // The train sites run at once on this one machine: each gets its share of the cores for wasm's threads.
      const threads = process.env.FEDSEG_THREADS ?? String(Math.max(1, Math.floor(availableParallelism() / Math.max(1, trainSites))));
      for (const s of o.sites) procs.push(start(s.name, [siteBin, ...argv(s)], { FEDSEG_THREADS: threads }));
      notePids();
      sitesDone = Promise.all(procs.map((p) => p.exited.then((c) => {
        if (c !== 0) throw new FedSegError('INTERNAL', `${o.tag} site ${p.name} failed (exit ${c}): ${p.out.slice(-2).join(' | ')}`);
      })));
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new FedSegError('TIMEOUT', `${o.tag} did not finish within ${(o.timeoutMs / 60000).toFixed(0)} min`)), o.timeoutMs);
    });
    let stop = () => {};
    // Every promise raced is handled by the race, so whichever settles later rejects harmlessly.
    const cancelled = new Promise<never>((_, rej) => {
      stop = () => rej(new FedSegError('CANCELLED', `${o.tag} stopped`));
      if (o.signal?.aborted) stop();
      o.signal?.addEventListener('abort', stop, { once: true });
    });
    try {
      const hubCode = hub.exited.then((c) => {
        if (c !== 0) throw new FedSegError('INTERNAL', `${o.tag} hub exited with ${c}: ${hub.out.slice(-3).join(' | ')}`);
      });
      await Promise.race([Promise.all([hubCode, sitesDone]), timeout, cancelled]);
    } finally {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', stop);
    }
  } finally {
    ac.abort();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    if (hub.child.exitCode === null) hub.child.kill('SIGKILL');
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  }
  const unseen = o.sites.filter((s) => s.role === 'eval').map((s) => s.name);
  const evals = jsonLine(await runCli([hubBin, 'evaluations', '--db', hubDb], 'fedseg-hub evaluations'), 'fedseg-hub evaluations') as { round: number; site: string; metrics: Record<string, number> }[];
  const audit = jsonLine(await runCli([hubBin, 'audit', '--db', hubDb, '--json', '--limit', '10000000'], 'fedseg-hub audit'), 'fedseg-hub audit') as
    { site: string | null; direction: 'in' | 'out' | null; bytes: number | null }[];
  const bytesFromSite: Record<string, number> = {};
  const bytesToSite: Record<string, number> = {};
  for (const s of o.sites) {
    bytesFromSite[s.name] = 0;
    bytesToSite[s.name] = 0;
  }
  for (const a of audit) {
    if (a.site === null || a.bytes === null || !(a.site in bytesFromSite)) continue;
    if (a.direction === 'in') bytesFromSite[a.site]! += a.bytes;
    else if (a.direction === 'out') bytesToSite[a.site]! += a.bytes;
  }
  return {
    rounds: evals.filter((e) => unseen.includes(e.site)).map((e) => ({ round: e.round, metrics: e.metrics })).sort((a, b) => a.round - b.round),
    bytesFromSite, bytesToSite, elapsedMs: Date.now() - t0, resumedAfterRound,
  };
}
