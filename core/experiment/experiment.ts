// `fedseg experiment` (and `fedseg demo`): leave-one-site-out over several sites, several seeds and
// methods (docs/experiments.md). Every run (fold x method x seed) is a real federation on 127.0.0.1
// (federated-run.ts). The output directory holds the experiment's settings, one record per finished
// run and the report, rewritten after every run; starting the same command again skips the finished
// runs and resumes a killed one at its last completed round. Settings that change what a run computes
// (data, rounds, model, training, backend) must match the directory's; folds, seeds and methods may
// grow or shrink (finished runs of the same fold, method and seed are reused).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FedSegError } from '../contract/errors.js';
import type { TrainConfig } from '../contract/hub-protocol.js';
import type { ModelKind } from '../contract/model-spec.js';
import { runFederated } from './federated-run.js';
import { evaluateFinalModel } from './final-model.js';
import { formatText, renderHtml, type ReportSetup } from './report.js';
import { loadCheckedSites, prepareSites, type ExperimentData, type SiteInfo } from './site-data.js';
import { summarise, type ExperimentSummary, type RunRecord } from './summary.js';

export interface ExperimentSettings {
  data: ExperimentData;
  rounds: number;
  model: { kind: ModelKind; config: Record<string, number> };
  train: TrainConfig;
  backend: string;
}

export interface ExperimentOptions {
  settings: ExperimentSettings;
  /** Unseen sites by site name; empty = every site. */
  folds: string[];
  methods: string[];
  seeds: number[];
  /** Rounds averaged for the table (the last k). */
  lastK: number;
  out: string;
  inProcess: boolean;
  /** Per run. */
  timeoutMs: number;
  overlays: number;
  /** Keep each run's site stores and hub state (for inspection); by default removed once its record is written. */
  keepStores: boolean;
  /** Start over: remove what the output directory holds. */
  fresh: boolean;
  title: string;
  description: string[];
  log: (line: string) => void;
  /** Stops the experiment: the current run's processes are killed (it resumes on the next start). */
  signal?: AbortSignal;
  /** After each run and when one starts: runs done of the total, and the one in progress. */
  progress?: (p: ExperimentProgress) => void;
}

export interface ExperimentProgress {
  done: number;
  total: number;
  /** fold, method and seed of the run in progress, or null between runs. */
  current: { fold: string; method: string; seed: number } | null;
  /** The tables so far (core/experiment/report.ts tables()). */
  summary: ExperimentSummary | null;
}

export interface ExperimentResult {
  summary: ExperimentSummary;
  runs: RunRecord[];
  text: string;
  reportPath: string;
  resultsPath: string;
  ran: number;
  reused: number;
  elapsedMs: number;
}

const SETTINGS_FILE = 'experiment.json';

export function settingsDigest(s: ExperimentSettings): string {
  return createHash('sha256').update(JSON.stringify(s)).digest('hex').slice(0, 16);
}

/** A site by name, 1-based index or letter (A = the first). */
export function pickSite(names: readonly string[], u: string): string {
  if (names.includes(u)) return u;
  if (/^\d+$/.test(u) && names[Number(u) - 1]) return names[Number(u) - 1]!;
  if (/^[A-Za-z]$/.test(u) && names[u.toUpperCase().charCodeAt(0) - 65]) return names[u.toUpperCase().charCodeAt(0) - 65]!;
  throw new FedSegError('INVALID_ARGUMENT', `unseen site '${u}' is not one of the sites: ${names.join(', ')} (or 1..${names.length}, A..)`);
}

export const runKey = (fold: string, method: string, seed: number) => `${fold}__${method}__s${seed}`;

function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** The settings a directory was made with, or null for a new one; refuses a directory of other settings. */
function claimDirectory(o: ExperimentOptions): void {
  const path = join(o.out, SETTINGS_FILE);
  if (o.fresh) rmSync(o.out, { recursive: true, force: true });
  mkdirSync(o.out, { recursive: true, mode: 0o700 }); // site stores inside: docs/security.md §5
  const digest = settingsDigest(o.settings);
  if (existsSync(path)) {
    let have: { digest?: string; settings?: ExperimentSettings };
    try {
      have = JSON.parse(readFileSync(path, 'utf8')) as typeof have;
    } catch {
      throw new FedSegError('INVALID_INPUT', `${path} is not an experiment's settings file; use another --out (or --fresh to start over)`);
    }
    if (have.digest !== digest) {
      const a = JSON.stringify(have.settings ?? {});
      const b = JSON.stringify(o.settings);
      let i = 0;
      while (i < a.length && a[i] === b[i]) i++;
      throw new FedSegError('INVALID_ARGUMENT', `${o.out} holds an experiment with other settings (they differ at …${b.slice(Math.max(0, i - 30), i + 30)}… vs …${a.slice(Math.max(0, i - 30), i + 30)}…): ` +
        'use another --out, the same settings to continue it, or --fresh to start over');
    }
    return;
  }
  writeAtomic(path, JSON.stringify({ digest, settings: o.settings, createdAt: new Date().toISOString() }, null, 2));
}

function loadRecords(dir: string): Map<string, RunRecord> {
  const out = new Map<string, RunRecord>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    try {
      const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as RunRecord;
      if (r.key === f.slice(0, -5)) out.set(r.key, r);
    } catch {
      // A record that does not parse was cut short: its run is simply done again.
    }
  }
  return out;
}

export async function runExperiment(o: ExperimentOptions): Promise<ExperimentResult> {
  const t0 = Date.now();
  if (!o.methods.length) throw new FedSegError('INVALID_ARGUMENT', 'choose at least one method');
  if (!o.seeds.length) throw new FedSegError('INVALID_ARGUMENT', 'choose at least one seed');
  // The sites are read and checked first: a wrong store or mismatched datasets leave no directory behind.
  const loaded = loadCheckedSites(o.settings.data);
  claimDirectory(o);
  const sites = prepareSites(loaded, join(o.out, 'sites'));
  const names = sites.map((s) => s.name);
  const folds = o.folds.length ? [...new Set(o.folds.map((f) => pickSite(names, f)))] : names;
  const first = sites[0]!;
  const model = { kind: o.settings.model.kind, inChannels: first.channels, classes: first.classes, config: o.settings.model.config };
  const recordsDir = join(o.out, 'runs');
  const overlaysDir = join(o.out, 'overlays');
  mkdirSync(recordsDir, { recursive: true });
  mkdirSync(overlaysDir, { recursive: true });
  const records = loadRecords(recordsDir);
  // Seed-major: after the first seed every fold and method has a result.
  const plan = o.seeds.flatMap((seed) => folds.flatMap((fold) => o.methods.map((method) => ({ fold, method, seed, key: runKey(fold, method, seed) }))));
  const reused = plan.filter((p) => records.has(p.key)).length;
  if (reused) o.log(`continuing ${o.out}: ${reused} of ${plan.length} run(s) already done`);
  let ran = 0;
  let runMs = plan.reduce((t, p) => t + (records.get(p.key)?.elapsedMs ?? 0), 0);
  const startedAt = new Date(t0).toISOString();
  const write = () => {
    const runs = plan.map((p) => records.get(p.key)).filter((r): r is RunRecord => !!r);
    const summary = summarise(runs, {
      classes: first.classNames, lastK: o.lastK, folds, methods: o.methods,
      trainSites: (fold) => names.filter((n) => n !== fold),
    });
    const setup: ReportSetup = {
      title: o.title, description: o.description, sites: sites.map((s) => ({ name: s.name, dataset: s.dataset, images: s.images })),
      folds, methods: o.methods, seeds: o.seeds, rounds: o.settings.rounds, startedAt, elapsedMs: runMs, pending: plan.length - runs.length,
    };
    const resultsPath = join(o.out, 'results.json');
    const reportPath = join(o.out, 'report.html');
    writeAtomic(resultsPath, JSON.stringify({ settings: o.settings, folds, methods: o.methods, seeds: o.seeds, lastK: o.lastK, sites, summary, runs }, null, 2));
    writeAtomic(reportPath, renderHtml(setup, summary, runs));
    return { summary, runs, resultsPath, reportPath };
  };
  const done = () => plan.filter((x) => records.has(x.key)).length;
  const first0 = reused ? write().summary : null;
  o.progress?.({ done: done(), total: plan.length, current: null, summary: first0 });
  for (const [i, p] of plan.entries()) {
    if (records.has(p.key)) continue;
    if (o.signal?.aborted) throw new FedSegError('CANCELLED', 'the experiment was stopped; the same settings continue it');
    o.progress?.({ done: done(), total: plan.length, current: { fold: p.fold, method: p.method, seed: p.seed }, summary: null });
    const tag = `[${i + 1}/${plan.length} ${p.method} | unseen ${p.fold} | seed ${p.seed}]`;
    const dir = join(o.out, 'work', p.key);
    const r = await runFederated({
      dir, sites: sites.map((s) => ({ name: s.name, store: s.store, role: s.name === p.fold ? 'eval' : 'train' })),
      strategy: p.method, rounds: o.settings.rounds, model, train: o.settings.train, seed: p.seed, backend: o.settings.backend,
      inProcess: o.inProcess, timeoutMs: o.timeoutMs, log: o.log, tag, ...(o.signal ? { signal: o.signal } : {}),
    });
    if (r.rounds.length < o.settings.rounds) o.log(`${tag} note: the unseen site evaluated ${r.rounds.length} of ${o.settings.rounds} rounds`);
    const final = await evaluateFinalModel(join(dir, `${p.fold}.db`), o.overlays);
    const overlays = final.overlays.map((ov, k) => {
      const file = `overlays/${p.key}-${k}.png`;
      writeAtomic(join(o.out, file), ov.png);
      return { name: ov.name, file, dice: ov.dice };
    });
    const rec: RunRecord = {
      key: p.key, fold: p.fold, method: p.method, seed: p.seed, rounds: r.rounds, final: { round: final.round, perImage: final.perImage }, overlays,
      bytesFromSite: r.bytesFromSite, bytesToSite: r.bytesToSite, elapsedMs: r.elapsedMs, resumedAfterRound: r.resumedAfterRound, finishedAt: new Date().toISOString(),
    };
    writeAtomic(join(recordsDir, `${p.key}.json`), JSON.stringify(rec));
    records.set(p.key, rec);
    ran++;
    runMs += r.elapsedMs;
    if (!o.keepStores) rmSync(dir, { recursive: true, force: true });
    const last = r.rounds.at(-1)?.metrics ?? {};
    o.log(`${tag} done in ${(r.elapsedMs / 1000).toFixed(0)} s: final ${first.classNames.map((c, k) => `${c} Dice ${((last[`dice_c${k}`] ?? NaN) * 100).toFixed(1)}`).join(', ')}`);
    // Written after every run, whoever listens: a stopped experiment's report shows what it has.
    const now = write().summary;
    o.progress?.({ done: done(), total: plan.length, current: null, summary: now });
  }
  const w = write();
  return { ...w, text: formatText(w.summary), ran, reused, elapsedMs: Date.now() - t0 };
}

export type { SiteInfo };
