// Federation handlers: settings (hub URL, site name, token in the site's store), "Test connection"
// (hub-probe.ts), join/leave (the site client in the job worker, federation-job.ts) and the live state:
// site events from the worker plus the hub's public GET /status (sites and round) while joined.
import type { AppHandlers, FederationStatus, TrainingProgress } from '../contract/app-api.js';
import { FedSegError } from '../contract/errors.js';
import { HubStatusSchema } from '../contract/hub-status.js';
import type { JobOutcome } from '../contract/job-messages.js';
import { describeSpec } from '../contract/model-spec.js';
import type { SiteEvent } from '../contract/site-events.js';
import { type EngineContext, requireDataset } from './context.js';
import { normaliseHubUrl, probeHub } from './hub-probe.js';
import { spawnJobWorker, type JobWorker } from './spawn-worker.js';

const SETTINGS_KEY = 'app.federation';
const TOKEN_KEY = 'app.federation.token';

interface Saved {
  hubUrl: string;
  siteName: string;
}

export class FederationManager {
  private worker: JobWorker | null = null;
  private status: FederationStatus;
  private poll: ReturnType<typeof setInterval> | null = null;
  private backend = '';
  private runId: number | null = null;
  /** Set by the engine: a message when local training runs (one heavy job at a time). */
  otherBusy: () => string | null = () => null;

  constructor(private readonly ctx: EngineContext) {
    const s = this.settings();
    this.status = { state: 'idle', hubUrl: s.hubUrl, siteName: s.siteName, message: 'not connected', model: null, round: null, sites: [] };
  }

  busyMessage(): string | null {
    return this.worker ? 'this site is taking part in a federation; leave it before training locally' : null;
  }

  settings(): Saved {
    const s = this.ctx.store.getSetting<Saved>(SETTINGS_KEY);
    return { hubUrl: s?.hubUrl ?? '', siteName: s?.siteName ?? '' };
  }

  tokenSet(): boolean {
    return !!this.ctx.store.getSetting<string>(TOKEN_KEY);
  }

  save(hubUrl: string, siteName: string, token?: string): void {
    this.ctx.store.transaction(() => {
      this.ctx.store.setSetting(SETTINGS_KEY, { hubUrl, siteName });
      if (token !== undefined && token !== '') this.ctx.store.setSetting(TOKEN_KEY, token);
    });
    if (!this.worker) this.update({ hubUrl, siteName });
  }

  current(): FederationStatus {
    return this.status;
  }

  private update(p: Partial<FederationStatus>): void {
    this.status = { ...this.status, ...p };
    this.ctx.emit('federationStatus', this.status);
  }

  private progress(p: Omit<TrainingProgress, 'runId' | 'mode' | 'backend' | 'dice' | 'losses' | 'samplesPerSec' | 'etaSec' | 'epoch' | 'step' | 'totalSteps'> & Partial<TrainingProgress>): void {
    this.ctx.emit('trainingProgress', {
      runId: String(this.runId ?? 0), mode: 'federated', backend: this.backend, dice: null, losses: {}, samplesPerSec: 0, etaSec: null, epoch: 0, step: 0, totalSteps: 100, ...p,
    });
  }

  private onSite(e: SiteEvent): void {
    const round = this.status.round;
    switch (e.type) {
      case 'connecting':
        return this.update({ state: this.status.state === 'reconnecting' || this.status.state === 'connected' || this.status.state === 'training' ? 'reconnecting' : 'connecting', message: `connecting to the hub (attempt ${e.attempt})` });
      case 'connected':
        void this.pollHub();
        return this.update({
          state: 'connected', message: `connected to ${e.welcome.hub} (${e.welcome.mode})`, model: describeSpec(e.welcome.model),
          round: { number: e.welcome.round, phase: 'waiting', deadline: null, quorum: null },
        });
      case 'disconnected':
        return this.update({ state: 'reconnecting', message: `connection lost (${e.reason || e.code}); retrying in ${Math.round(e.retryInMs / 1000)} s` });
      case 'spectrum-sent':
        return this.update({ message: `shared ${e.count} amplitude window(s)` });
      case 'bank':
        return this.update({ message: `received ${e.count} amplitude window(s) from ${e.sources} other site(s)` });
      case 'round-start':
        this.update({ state: 'training', message: `round ${e.round} of ${e.totalRounds}`, round: { number: e.round, phase: 'training', deadline: e.deadline === null ? null : new Date(e.deadline).toISOString(), quorum: null } });
        return this.progress({ phase: 'training', round: e.round, message: `round ${e.round} of ${e.totalRounds}` });
      case 'progress':
        return this.progress({
          phase: e.work === 'train' ? 'training' : 'evaluating', round: e.round, step: e.step ?? Math.round(e.fraction * 100), totalSteps: e.steps ?? 100,
          losses: e.losses ?? {}, message: e.note ?? `${e.work} ${Math.round(e.fraction * 100)}%`,
        });
      case 'round-sent':
        this.update({ state: 'connected', message: `sent the update for round ${e.round}`, round: { number: e.round, phase: 'waiting for other sites', deadline: null, quorum: null } });
        return this.progress({
          phase: 'waiting', round: e.round, step: e.metrics.steps ?? 1, totalSteps: e.metrics.steps ?? 1, message: `update sent (${e.bytes} bytes)`,
          losses: Object.fromEntries(Object.entries(e.metrics).filter(([k]) => k.startsWith('loss_')).map(([k, v]) => [k.slice(5), v])),
        });
      case 'evaluated':
        return this.update({ message: `evaluated the global model of round ${e.round}` });
      case 'global-model':
        return this.update({ message: `kept the global model of round ${e.round} (Segment lists it)` });
      case 'hub-error':
        return this.update({ message: `hub: ${e.message}` });
      case 'finished':
        return this.update({ state: 'finished', message: `the federation finished after ${e.rounds} round(s)`, round: round ? { ...round, phase: 'finished' } : null });
    }
  }

  /** Reads the hub's public status page (sites, round); `always` also after the site stopped. */
  private async pollHub(always = false): Promise<void> {
    const u = normaliseHubUrl(this.status.hubUrl);
    if (!u) return;
    u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
    u.pathname = '/status';
    try {
      const res = await fetch(u, { signal: AbortSignal.timeout(3000) });
      if (!res.ok) return;
      const parsed = HubStatusSchema.safeParse(await res.json());
      if (!parsed.success) return;
      const s = parsed.data;
      const sites = s.sites.map((x) => ({ name: x.name, state: x.connected ? 'connected' : 'offline', lastSeen: x.lastSeen ? new Date(x.lastSeen).toISOString() : null }));
      const round = s.currentRound
        ? { number: s.currentRound, phase: s.phase, deadline: s.deadline === null ? null : new Date(s.deadline).toISOString(), quorum: s.minSites }
        : this.status.round;
      if ((always || this.worker) && JSON.stringify({ sites, round }) !== JSON.stringify({ sites: this.status.sites, round: this.status.round })) this.update({ sites, round });
    } catch {
      /* the status page is optional (TLS with a private CA, proxies); the site client reports the rest */
    }
  }

  join(datasetIds: string[]): FederationStatus {
    if (this.worker) throw new FedSegError('ALREADY_EXISTS', 'this site is already taking part; leave first');
    const other = this.otherBusy();
    if (other) throw new FedSegError('ALREADY_EXISTS', other);
    const { hubUrl, siteName } = this.settings();
    const token = this.ctx.store.getSetting<string>(TOKEN_KEY) ?? '';
    if (!normaliseHubUrl(hubUrl)) throw new FedSegError('INVALID_ARGUMENT', 'set a valid hub address on the Federation page first');
    if (!siteName || !token) throw new FedSegError('INVALID_ARGUMENT', 'set this site\'s name and join token on the Federation page first');
    const d = requireDataset(this.ctx.store, datasetIds[0]!);
    const run = this.ctx.store.createRun({ name: `Federation ${siteName} @ ${hubUrl}`, config: { mode: 'federated', hubUrl, siteName, datasetIds } });
    this.runId = run.id;
    let finish: (o: JobOutcome) => void = () => {};
    const job = spawnJobWorker({ dbPath: this.ctx.dbPath, work: { kind: 'federate', job: { runId: run.id, hubUrl: normaliseHubUrl(hubUrl)!.toString(), site: siteName, token, datasetId: d.id } } }, (m) => {
      if (m.t === 'site') this.onSite(m.e);
      else if (m.t === 'backend') this.backend = m.backend;
      else if (m.t === 'done') finish(m.outcome);
    }, (why) => finish({ status: 'failed', modelId: null, message: why }));
    const worker = job.worker;
    this.worker = job;
    this.status = { state: 'connecting', hubUrl, siteName, message: `joining with dataset '${d.name}'`, model: null, round: null, sites: [] };
    this.ctx.emit('federationStatus', this.status);
    this.poll = setInterval(() => void this.pollHub(), 3000);
    let done = false;
    finish = (o: JobOutcome) => {
      if (done) return;
      done = true;
      if (this.poll) clearInterval(this.poll);
      this.poll = null;
      this.worker = null;
      try {
        this.ctx.store.finishRun(run.id, o.status, { message: o.message });
      } catch {
        /* already finished */
      }
      const round = this.status.round && o.status === 'finished' ? { ...this.status.round, phase: 'finished' } : this.status.round;
      this.update({ state: o.status === 'failed' ? 'error' : o.status === 'finished' ? 'finished' : 'idle', message: o.status === 'cancelled' ? 'left the federation' : o.message, round });
      void this.pollHub(true);
      void worker.terminate();
    };
    worker.on('error', (e) => finish({ status: 'failed', modelId: null, message: `the federation worker crashed: ${e.message}` }));
    worker.on('exit', (code) => finish({ status: 'failed', modelId: null, message: `the federation worker stopped (exit code ${code})` }));
    return this.status;
  }

  async leave(): Promise<FederationStatus> {
    const job = this.worker;
    if (!job) return this.status;
    const w = job.worker;
    job.cancel();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        void w.terminate();
        resolve();
      }, 5000);
      w.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
    return this.status;
  }

  async close(): Promise<void> {
    await this.leave();
  }
}

export function federationHandlers(ctx: EngineContext, fed: FederationManager): Pick<AppHandlers,
  'getFederationSettings' | 'saveFederationSettings' | 'testConnection' | 'joinFederation' | 'leaveFederation' | 'getFederationStatus'> {
  return {
    async getFederationSettings() {
      return { ...fed.settings(), tokenSet: fed.tokenSet() };
    },
    async saveFederationSettings({ hubUrl, siteName, token }) {
      if (hubUrl && !normaliseHubUrl(hubUrl)) throw new FedSegError('INVALID_ARGUMENT', `'${hubUrl}' is not a hub address (example: wss://hub.example.org:8443)`);
      fed.save(hubUrl, siteName, token);
      return { ...fed.settings(), tokenSet: fed.tokenSet() };
    },
    async testConnection(args) {
      const saved = fed.settings();
      const token = args.token || ctx.store.getSetting<string>(TOKEN_KEY) || '';
      return probeHub({ hubUrl: args.hubUrl ?? saved.hubUrl, site: args.siteName ?? saved.siteName, token });
    },
    async joinFederation({ datasetIds }) {
      return fed.join(datasetIds);
    },
    async leaveFederation() {
      return fed.leave();
    },
    async getFederationStatus() {
      return fed.current();
    },
  };
}
