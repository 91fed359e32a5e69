// `fedseg demo`: the whole method over the network on one machine (docs/algorithms.md §1). Generates the
// built-in multi-site fundus data, writes each site's images into its OWN store, and for each method
// (FedAvg, then ELCFS) starts a real hub process (bin/fedseg-hub.mjs) and one `fedseg site` process per
// source site plus one eval process for the held-out (unseen) site, all on 127.0.0.1. The unseen site
// evaluates the global model after every round; afterwards the final global model (kept, with its
// spec, in the unseen site's store) predicts a few unseen images for the report's overlays through the
// run API, as the app's Segment view would.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FedSegError } from '../contract/errors.js';
import type { TrainMode } from '../contract/hub-protocol.js';
import type { Sample } from '../contract/image.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { buildNetwork } from '../models/registry.js';
import { disposeWeights, toWeightMap } from '../models/weight-map.js';
import { listModelRecords, readModel } from '../run/checkpoints.js';
import { scoreSample } from '../run/evaluation.js';
import { predict } from '../run/predict.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { overlayPng, type DemoSetup, type MethodResult, type Overlay, type RoundEval } from './demo-report.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface DemoOptions {
  sites: number;
  perSite: number;
  size: number;
  rounds: number;
  baseWidth: number;
  batchSize: number;
  localEpochs: number;
  seed: number;
  backend: string;
  methods: TrainMode[];
  /** Working directory for stores and hub state (recreated). */
  workDir: string;
  overlays: number;
  /** Per method run, in ms. */
  timeoutMs: number;
  log: (line: string) => void;
}

interface Proc {
  name: string;
  child: ChildProcess;
  out: string[];
  exited: Promise<number | null>;
}

function start(name: string, args: string[], env: Record<string, string>, onLine?: (l: string) => void): Proc {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const take = (d: Buffer) => {
    for (const l of d.toString().split('\n')) {
      if (!l) continue;
      out.push(l);
      if (out.length > 400) out.shift();
      onLine?.(l);
    }
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const exited = new Promise<number | null>((r) => child.once('exit', (code, sig) => r(code ?? (sig ? 128 : null))));
  return { name, child, out, exited };
}

async function runCli(args: string[]): Promise<string[]> {
  const p = start('cli', args, {});
  const code = await p.exited;
  if (code !== 0) throw new FedSegError('INTERNAL', `${args.slice(1, 3).join(' ')} failed (${code}): ${p.out.slice(-3).join(' | ')}`);
  return p.out;
}

export function generateDemoData(o: Pick<DemoOptions, 'sites' | 'perSite' | 'size' | 'seed'>) {
  return generateFundusSites({ sites: o.sites, perSite: o.perSite, size: o.size, seed: o.seed });
}

/** Writes a site's samples into a fresh store at `path` (split: train for sources, test for the unseen site). */
function writeSiteStore(path: string, site: string, samples: Sample[], split: 'train' | 'test'): void {
  rmSync(path, { force: true });
  const store = openSqliteStore(path);
  try {
    const ds = store.createDataset({ name: site, kind: 'fundus', source: 'synthetic:fundus (fedseg demo)', channels: 3, classes: 2, classNames: ['disc', 'cup'] });
    store.addSamples(ds.id, samples.map((s) => ({ ...s, split })));
  } finally {
    store.close();
  }
}

/** One method on one leave-one-out fold, every party a separate process. */
export async function runDemoMethod(o: DemoOptions, data: { site: string; samples: Sample[] }[], unseen: string, method: TrainMode): Promise<MethodResult> {
  const t0 = Date.now();
  const dir = join(o.workDir, `${unseen}-${method}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 }); // site stores and hub state: docs/security.md §5
  const sources = data.filter((d) => d.site !== unseen);
  const held = data.find((d) => d.site === unseen);
  if (!held) throw new FedSegError('INVALID_ARGUMENT', `unknown unseen site '${unseen}'`);
  for (const d of data) writeSiteStore(join(dir, `${d.site}.db`), d.site, d.samples, d.site === unseen ? 'test' : 'train');
  const hubDb = join(dir, 'hub.db');
  const cfgPath = join(dir, 'hub.json');
  writeFileSync(cfgPath, JSON.stringify({
    name: `demo-${method}`, host: '127.0.0.1', port: 0, db: hubDb, strategy: method, rounds: o.rounds, minSites: sources.length,
    roundTimeoutMs: 60 * 60_000, evalTimeoutMs: 30 * 60_000, evaluate: 'eval', heartbeatMs: 5000, siteTimeoutMs: 10 * 60_000, exitWhenDone: true,
    model: { kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: o.baseWidth, depth: 5 } }, initSeed: o.seed,
    train: { localEpochs: o.localEpochs, batchSize: o.batchSize, lr: 1e-3, alpha: 0.003, maxStepsPerEpoch: 0 },
  }, null, 2));
  const hubBin = join(root, 'bin/fedseg-hub.mjs');
  const siteBin = join(root, 'bin/fedseg.mjs');
  const tokens: Record<string, string> = {};
  const enrol = async (names: string[], role: string) => {
    for (const l of await runCli([hubBin, 'add-site', ...names, '--role', role, '--db', hubDb, '--json'])) {
      if (!l.startsWith('{')) continue;
      const j = JSON.parse(l) as { site: string; token: string };
      tokens[j.site] = j.token;
    }
  };
  await enrol(sources.map((d) => d.site), 'train');
  await enrol([unseen], 'eval');

  const tag = `[${method === 'elcfs' ? 'ELCFS' : 'FedAvg'} | unseen ${unseen}]`;
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
    if (done) o.log(`${tag} round ${done[1]}/${o.rounds} aggregated (${done[2]}) ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    else if (ev) o.log(`${tag} round ${ev[1]} unseen-site ${ev[2]}`);
    else if (/excluded|rejected|failed/i.test(l)) o.log(`${tag} hub: ${l}`);
  });
  const procs: Proc[] = [hub];
  const killAll = () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  };
  try {
    await Promise.race([listening, hub.exited.then((c) => { throw new FedSegError('INTERNAL', `hub exited (${c}) before listening: ${hub.out.slice(-3).join(' | ')}`); })]);
    const url = `ws://127.0.0.1:${port}`;
    // The train sites run at once on this one machine: each gets its share of the cores for wasm's
    // threads (every site taking all of them only makes their threads wait for each other).
    const trainSites = data.filter((d) => d.site !== unseen).length;
    const threads = process.env.FEDSEG_THREADS ?? String(Math.max(1, Math.floor(availableParallelism() / Math.max(1, trainSites))));
    for (const d of data) {
      const role = d.site === unseen ? 'eval' : 'train';
      procs.push(start(d.site, [siteBin, 'site', '--share-spectra', '--hub', url, '--name', d.site, '--db', join(dir, `${d.site}.db`), '--role', role,
        '--backend', o.backend, '--quiet', '--seed', String(o.seed)], { FEDSEG_TOKEN: tokens[d.site]!, FEDSEG_THREADS: threads }));
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new FedSegError('TIMEOUT', `${tag} did not finish within ${(o.timeoutMs / 60000).toFixed(0)} min`)), o.timeoutMs);
    });
    try {
      const codes = await Promise.race([Promise.all(procs.map((p) => p.exited)), timeout,
        // A site process that fails stops the demo with its own one-line error.
        ...procs.slice(1).map((p) => p.exited.then((c) => (c === 0 ? new Promise<never>(() => {}) : Promise.reject(new FedSegError('INTERNAL', `${tag} site ${p.name} failed (exit ${c}): ${p.out.slice(-2).join(' | ')}`)))))]);
      if (codes[0] !== 0) throw new FedSegError('INTERNAL', `${tag} hub exited with ${codes[0]}: ${hub.out.slice(-3).join(' | ')}`);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    killAll();
  }
  const evalLines = await runCli([hubBin, 'evaluations', '--db', hubDb]);
  const evals = JSON.parse(evalLines.find((l) => l.startsWith('['))!) as { round: number; site: string; metrics: Record<string, number> }[];
  const rounds: RoundEval[] = evals.filter((e) => e.site === unseen).map((e) => ({ round: e.round, metrics: e.metrics }));
  const overlays = await finalOverlays(join(dir, `${unseen}.db`), held.samples.slice(0, o.overlays));
  return { method, unseen, rounds, elapsedMs: Date.now() - t0, overlays };
}

/** Predicts a few unseen images with the final global model kept in the eval site's store. */
async function finalOverlays(storePath: string, samples: Sample[]): Promise<Overlay[]> {
  if (samples.length === 0) return [];
  const store = openSqliteStore(storePath);
  try {
    const rec = listModelRecords(store).filter((r) => r.meta.source === 'global').at(-1);
    if (!rec) return [];
    const m = readModel(store, rec.info.id);
    const net = buildNetwork(m.spec);
    const weights = toWeightMap(m.arrays, net.shapes);
    try {
      const preds = await predict(net, weights, samples.map((s) => s.image));
      return samples.map((s, i) => ({ name: s.name, png: overlayPng(s.image, s.mask, preds[i]!.mask), dice: scoreSample(preds[i]!.mask, s).dice }));
    } finally {
      disposeWeights(weights);
    }
  } finally {
    store.close();
  }
}

export function demoSetup(o: DemoOptions, sites: string[]): DemoSetup {
  return { sites, size: o.size, perSite: o.perSite, rounds: o.rounds, baseWidth: o.baseWidth, batchSize: o.batchSize, localEpochs: o.localEpochs, backend: o.backend, seed: o.seed };
}
