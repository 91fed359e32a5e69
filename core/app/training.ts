// Training handlers: start/cancel/resume local training in a worker thread (job-worker.ts), relay its
// progress as `trainingProgress` events, and list runs with their per-epoch loss/Dice history.
// A run left 'running' in the store with no worker behind it (the app was closed or crashed) is
// reported as 'interrupted' and can be resumed from its last checkpoint — its own, or, when it was itself
// a resume killed before its first checkpoint, the newest one along the chain of runs it resumed.
// The engine is the source of truth for the running job: getTrainingState returns it with its run
// (settings and history so far), local or federated, so a page that comes back shows the same job.
import { TrainingConfig as TrainingConfigSchema, type AppHandlers, type RunSummary, type TrainingConfig, type TrainingProgress } from '../contract/app-api.js';
import { FedSegError } from '../contract/errors.js';
import type { JobOutcome, TrainingJob } from '../contract/job-messages.js';
import { listModelRecords } from '../run/checkpoints.js';
import type { RunInfo } from '../store/dataset-store.js';
import { type EngineContext, parseId, requireDataset } from './context.js';
import { spawnJobWorker, type JobWorker } from './spawn-worker.js';

interface Active {
  runId: number;
  job: JobWorker;
  last: TrainingProgress | null;
  /** The last step report (its losses and speed are what the final event shows). */
  lastStep: TrainingProgress | null;
  finished: Promise<void>;
}

export class TrainingManager {
  private active: Active | null = null;
  constructor(private readonly ctx: EngineContext) {}

  isRunning(): boolean {
    return this.active !== null;
  }

  private spawn(job: TrainingJob): void {
    let finish: (o: JobOutcome) => void = () => {};
    const jw = spawnJobWorker({ dbPath: this.ctx.dbPath, work: { kind: 'train', job } }, (m) => {
      if (m.t === 'progress') {
        a.last = m.p;
        if (m.p.phase === 'training') a.lastStep = m.p;
        this.ctx.emit('trainingProgress', m.p);
      } else if (m.t === 'done') finish(m.outcome);
    }, (why) => finish({ status: 'failed', modelId: null, message: why }));
    const worker = jw.worker;
    let settle!: () => void;
    const finished = new Promise<void>((r) => (settle = r));
    const a: Active = { runId: job.runId, job: jw, last: null, lastStep: null, finished };
    this.active = a;
    let done = false;
    finish = (o: JobOutcome) => {
      if (done) return;
      done = true;
      try {
        this.ctx.store.finishRun(job.runId, o.status, { message: o.message, modelId: o.modelId });
      } catch {
        /* the run may have been finished already */
      }
      const last = a.last;
      const st = a.lastStep;
      const phase = o.status === 'finished' ? 'done' : o.status;
      this.ctx.emit('trainingProgress', {
        runId: String(job.runId), mode: 'local', phase, round: null, totalRounds: null, fraction: last && last.totalSteps > 0 ? Math.min(1, last.step / last.totalSteps) : null, epoch: last?.epoch ?? 0, step: last?.step ?? 0, totalSteps: last?.totalSteps ?? 0,
        losses: st?.losses ?? {}, samplesPerSec: st?.samplesPerSec ?? 0, etaSec: 0, backend: last?.backend ?? '', message: o.message, dice: last?.dice ?? null,
      });
      if (this.active === a) this.active = null;
      void worker.terminate();
      settle();
    };
    worker.on('error', (e) => finish({ status: 'failed', modelId: null, message: `the training worker crashed: ${e.message}` }));
    worker.on('exit', (code) => finish({ status: 'failed', modelId: null, message: `the training worker stopped unexpectedly (exit code ${code})` }));
  }

  /** Set by the engine: true while federated participation runs (one heavy job at a time). */
  otherBusy: () => string | null = () => null;
  /** Set by the engine: the federated participation's progress while it runs. */
  otherState: () => TrainingProgress | null = () => null;
  /** Set by the engine: the run of the federated participation in progress (listed 'running', not 'interrupted'). */
  otherRunId: () => number | null = () => null;

  private checkIdle(): void {
    if (this.active) throw new FedSegError('ALREADY_EXISTS', 'a training is already running; cancel it or wait until it finishes');
    const other = this.otherBusy();
    if (other) throw new FedSegError('ALREADY_EXISTS', other);
  }

  /** resumeFromRunId: the run whose checkpoint the weights come from; resumedFrom: the run this one continues. */
  start(config: TrainingConfig, resumeFromRunId: number | null = null, resumedFrom: number | null = resumeFromRunId): number {
    this.checkIdle();
    for (const id of config.datasetIds) requireDataset(this.ctx.store, id);
    const run = this.ctx.store.createRun({ name: config.name, config: { ...config, mode: 'local', ...(resumedFrom !== null ? { resumedFrom } : {}) } });
    this.spawn({ runId: run.id, config, resumeFromRunId });
    return run.id;
  }

  cancel(runId: number): void {
    if (!this.active || this.active.runId !== runId) throw new FedSegError('NOT_FOUND', `run ${runId} is not running`);
    this.active.job.cancel();
  }

  resume(runId: number): number {
    const run = this.ctx.store.getRun(runId);
    if (!run) throw new FedSegError('NOT_FOUND', `there is no run ${runId}`);
    const all = this.ctx.store.listRuns();
    if (!this.canResume(run, all)) throw new FedSegError('INVALID_ARGUMENT', `run '${run.name}' cannot be resumed (it finished, was already resumed, or has no checkpoint)`);
    const parsed = TrainingConfigSchema.safeParse(run.config);
    if (!parsed.success) throw new FedSegError('CORRUPT_FILE', `run '${run.name}' does not record its training settings; it cannot be resumed`);
    const cfg = parsed.data;
    // The new run records which run it continues (the chain); the weights come from the newest checkpoint on it.
    const source = this.checkpointOf(run, all)!;
    const id = this.start({ ...cfg, name: cfg.name.endsWith('(resumed)') ? cfg.name : `${cfg.name} (resumed)` }, source.runId, runId);
    return id;
  }

  state(): TrainingProgress | null {
    return this.active?.last ?? null;
  }

  /** The running job's run (settings and history so far), local or federated. */
  activeRun(): RunSummary | null {
    const id = this.active?.runId ?? this.otherRunId();
    if (id === null) return null;
    return this.listRuns().find((r) => r.id === String(id)) ?? null;
  }

  private status(run: RunInfo): RunSummary['status'] {
    if (run.status === 'running') return this.active?.runId === run.id || this.otherRunId() === run.id ? 'running' : 'interrupted';
    return run.status === 'finished' ? 'done' : run.status;
  }

  /** The newest checkpoint of this run, or of the runs it resumed (a resume killed before its first checkpoint). */
  private checkpointOf(run: RunInfo, all: RunInfo[]): { runId: number; step: number } | null {
    const seen = new Set<number>();
    for (let r: RunInfo | undefined = run; r && !seen.has(r.id); r = all.find((x) => x.id === (r!.config as { resumedFrom?: number }).resumedFrom)) {
      seen.add(r.id);
      const last = listModelRecords(this.ctx.store, this.ctx.store, { runId: r.id }).at(-1);
      if (last) return { runId: r.id, step: last.meta.step ?? 0 };
    }
    return null;
  }

  private canResume(run: RunInfo, all: RunInfo[]): boolean {
    if ((run.config as { mode?: string }).mode === 'federated') return false;
    const st = this.status(run);
    if (st !== 'cancelled' && st !== 'interrupted' && st !== 'failed') return false;
    // Only the newest run of a chain is offered: resuming an older one would fork the run.
    if (all.some((r) => (r.config as { resumedFrom?: number }).resumedFrom === run.id)) return false;
    return this.checkpointOf(run, all) !== null;
  }

  listRuns(): RunSummary[] {
    const all = this.ctx.store.listRuns();
    return all
      .map((r) => {
        const ck = listModelRecords(this.ctx.store, this.ctx.store, { runId: r.id });
        const mode = (r.config as { mode?: string }).mode === 'federated' ? 'federated' : 'local';
        return {
          id: String(r.id),
          name: r.name,
          mode,
          status: this.status(r),
          createdAt: r.startedAt,
          config: r.config,
          history: this.ctx.store.listRoundMetrics(r.id).map((m) => ({
            step: Math.round(m.metrics.step ?? m.round), epoch: m.round, round: mode === 'federated' ? m.round : null,
            loss: m.metrics.loss ?? null, dice: m.metrics.dice ?? null,
          })),
          modelId: ck.length ? String(ck[ck.length - 1]!.info.id) : null,
          canResume: this.canResume(r, all),
          checkpointStep: mode === 'local' ? this.checkpointOf(r, all)?.step ?? null : null,
          message: typeof r.summary?.message === 'string' ? r.summary.message : '',
        } satisfies RunSummary;
      })
      .reverse();
  }

  async close(): Promise<void> {
    const a = this.active;
    if (!a) return;
    a.job.cancel();
    await Promise.race([a.finished, new Promise((r) => setTimeout(r, 3000))]);
    await a.job.worker.terminate();
  }
}

export function trainingHandlers(mgr: TrainingManager): Pick<AppHandlers, 'startTraining' | 'cancelTraining' | 'resumeTraining' | 'getTrainingState' | 'listRuns'> {
  return {
    async startTraining(cfg) {
      return { runId: String(mgr.start(cfg)) };
    },
    async cancelTraining({ runId }) {
      mgr.cancel(parseId(runId, 'run id'));
      return {};
    },
    async resumeTraining({ runId }) {
      return { runId: String(mgr.resume(parseId(runId, 'run id'))) };
    },
    async getTrainingState() {
      return { active: mgr.state() ?? mgr.otherState(), run: mgr.activeRun() };
    },
    async listRuns() {
      return mgr.listRuns();
    },
  };
}
