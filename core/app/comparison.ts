// The Train page's "Compare methods" (docs/experiments.md): a coordinator's local copy of several sites'
// datasets, each dataset one site, compared leave-one-site-out over seeds by the experiment runner
// (core/experiment), every run a hub process and one site process per dataset on 127.0.0.1, so the
// engine's own thread only orchestrates. One heavy job at a time (no local training or federation
// meanwhile). The comparison's settings and output directory are kept in the store: after the app was
// closed mid-way the page shows it as interrupted, with its tables so far, and Resume continues it
// where it stopped (finished runs are kept, a killed run resumes at its last round).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ComparisonConfig as ComparisonConfigSchema, type AppHandlers, type ComparisonConfig, type ComparisonState } from '../contract/app-api.js';
import { FedSegError, toErrorValue } from '../contract/errors.js';
import { runExperiment, type ExperimentProgress } from '../experiment/experiment.js';
import { methodLabel, tables } from '../experiment/report.js';
import { prepareSites } from '../experiment/site-data.js';
import type { ExperimentSummary } from '../experiment/summary.js';
import { type EngineContext, requireDataset } from './context.js';

const SETTING = 'comparison.last';

interface Kept {
  config: ComparisonConfig;
  out: string;
  datasets: { id: string; name: string }[];
  /** Hub site name -> dataset name (site names are dataset names made valid). */
  siteNames: Record<string, string>;
  state: ComparisonState['state'];
  message: string;
  startedAt: string;
}

/** The deepest U-Net (at most 5 levels) whose pooling divides the image side. */
export function depthFor(width: number, height: number): number {
  let d = 5;
  while (d > 2 && (width % 2 ** (d - 1) || height % 2 ** (d - 1))) d--;
  return d;
}

export class ComparisonManager {
  private running: { ac: AbortController; done: Promise<void> } | null = null;
  private live: { done: number; total: number; current: string | null; summary: ExperimentSummary | null } = { done: 0, total: 0, current: null, summary: null };
  /** Set by the engine: what else is running (local training, federation), or null. */
  otherBusy: () => string | null = () => null;

  constructor(private readonly ctx: EngineContext) {}

  busyMessage(): string | null {
    return this.running ? 'a method comparison is running; stop it first (Train page, Compare methods)' : null;
  }

  private kept(): Kept | null {
    const k = this.ctx.store.getSetting<Kept>(SETTING);
    return k && typeof k === 'object' && typeof k.out === 'string' ? k : null;
  }

  private keep(k: Kept): void {
    this.ctx.store.setSetting(SETTING, k);
  }

  /** The tables of the comparison's results file (what a stopped or finished one has). */
  private summaryOnDisk(out: string): ExperimentSummary | null {
    try {
      return (JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { summary: ExperimentSummary }).summary;
    } catch {
      return null;
    }
  }

  state(): ComparisonState {
    const k = this.kept();
    if (!k) return { state: 'idle', config: null, datasets: [], runsDone: 0, runsTotal: 0, current: null, message: '', results: [], differences: [], reportPath: null, startedAt: null };
    const summary = this.live.summary ?? this.summaryOnDisk(k.out);
    const t = summary ? tables(summary) : null;
    // The tables name the sites as the datasets are named on this computer.
    const named = (rows: string[][]) => rows.map((r, i) => (i === 0 ? r : [k.siteNames[r[0]!] ?? r[0]!, ...r.slice(1)]));
    const report = join(k.out, 'report.html');
    const state = k.state === 'running' && !this.running ? 'interrupted' : k.state;
    return {
      state, config: k.config, datasets: k.datasets, runsDone: this.live.done, runsTotal: this.live.total, current: this.running ? this.live.current : null,
      message: state === 'interrupted' ? 'the app was closed during this comparison; Resume continues it where it stopped' : k.message,
      results: t && t.results.length > 1 ? named(t.results) : [], differences: t && t.diffs.length > 1 ? named(t.diffs) : [], reportPath: existsSync(report) ? report : null, startedAt: k.startedAt,
    };
  }

  private emit(): void {
    this.ctx.emit('comparisonProgress', this.state());
  }

  start(config: ComparisonConfig): ComparisonState {
    if (this.running) throw new FedSegError('ALREADY_EXISTS', 'a method comparison is already running');
    const other = this.otherBusy();
    if (other) throw new FedSegError('ALREADY_EXISTS', other);
    const datasets = config.datasetIds.map((id) => ({ id, name: requireDataset(this.ctx.store, id).name }));
    if (new Set(config.datasetIds).size !== config.datasetIds.length) throw new FedSegError('INVALID_ARGUMENT', 'a dataset is chosen twice');
    for (const u of config.unseen) if (!config.datasetIds.includes(u)) throw new FedSegError('INVALID_ARGUMENT', `the unseen dataset ${u} is not among the chosen datasets`);
    const last = this.kept();
    const same = (a: ComparisonConfig, b: ComparisonConfig) => JSON.stringify({ ...a, resume: false }) === JSON.stringify({ ...b, resume: false });
    const resume = config.resume && last !== null && same(last.config, config) && existsSync(last.out);
    if (config.resume && !resume) throw new FedSegError('NOT_FOUND', 'there is no stopped comparison with these settings to resume; start a new one');
    const out = resume ? last!.out : join(dirname(this.ctx.dbPath), 'comparisons', new Date().toISOString().replace(/[:.]/g, '-'));
    // Checked now, so a mismatch is an error of this call, not a failure later (and the sites are prepared once).
    const sites = prepareSites({ source: 'store', db: this.ctx.dbPath, datasets: config.datasetIds }, join(out, 'sites'));
    const depth = depthFor(sites[0]!.width, sites[0]!.height);
    const kept: Kept = { config, out, datasets, siteNames: Object.fromEntries(sites.map((x) => [x.name, x.dataset])), state: 'running', message: '', startedAt: resume ? last!.startedAt : new Date().toISOString() };
    this.keep(kept);
    const ac = new AbortController();
    this.live = { done: 0, total: 0, current: 'preparing', summary: null };
    const names = new Map(sites.map((x) => [x.name, x.dataset]));
    const onProgress = (p: ExperimentProgress) => {
      this.live = {
        done: p.done, total: p.total, summary: p.summary ?? this.live.summary,
        current: p.current ? `${methodLabel(p.current.method)}, unseen ${names.get(p.current.fold) ?? p.current.fold}, seed ${p.current.seed}` : null,
      };
      this.emit();
    };
    const done = runExperiment({
      settings: {
        data: { source: 'store', db: this.ctx.dbPath, datasets: config.datasetIds }, rounds: config.rounds,
        model: { kind: 'unet', config: { baseWidth: config.baseWidth, depth } },
        train: { localEpochs: 1, batchSize: config.batchSize, lr: 1e-3, alpha: 0.003, maxStepsPerEpoch: 0 }, backend: 'wasm',
      },
      folds: config.unseen.map((id) => sites[config.datasetIds.indexOf(id)]!.name), methods: config.methods,
      seeds: Array.from({ length: config.seeds }, (_, i) => i + 1), lastK: Math.min(5, config.rounds), out, inProcess: false,
      timeoutMs: 6 * 3600_000, overlays: 4, keepStores: false, fresh: false,
      title: `Method comparison: ${config.methods.map(methodLabel).join(' vs ')} on this computer's datasets`,
      description: [`Each dataset plays one site: ${datasets.map((d) => d.name).join(', ')}. U-Net base width ${config.baseWidth}, depth ${depth}; ${config.rounds} rounds x 1 local epoch, batch ${config.batchSize}, Adam lr 0.001.`],
      log: () => {}, signal: ac.signal, progress: onProgress,
    }).then(() => {
      this.keep({ ...kept, state: 'done', message: `finished: ${this.live.total} run(s)` });
    }, (e: unknown) => {
      const err = toErrorValue(e);
      const cancelled = err.code === 'CANCELLED' || ac.signal.aborted;
      this.keep({ ...kept, state: cancelled ? 'cancelled' : 'failed', message: cancelled ? 'stopped; Resume continues it where it stopped' : err.message });
    }).finally(() => {
      this.running = null;
      this.live = { ...this.live, current: null };
      this.emit();
    });
    this.running = { ac, done };
    const s = this.state();
    this.emit();
    return s;
  }

  async cancel(): Promise<ComparisonState> {
    const r = this.running;
    if (!r) throw new FedSegError('NOT_FOUND', 'no method comparison is running');
    r.ac.abort();
    await r.done;
    return this.state();
  }

  async close(): Promise<void> {
    const r = this.running;
    if (!r) return;
    r.ac.abort();
    await r.done;
    // Closing the app is not the operator stopping it: the next start offers to resume.
    const k = this.kept();
    if (k) this.keep({ ...k, state: 'running' });
  }
}

export function comparisonHandlers(m: ComparisonManager): Pick<AppHandlers, 'startComparison' | 'cancelComparison' | 'getComparison'> {
  return {
    async startComparison(config) {
      return m.start(ComparisonConfigSchema.parse(config));
    },
    async cancelComparison() {
      return m.cancel();
    },
    async getComparison() {
      return m.state();
    },
  };
}
