// The site side of the federation (docs/algorithms.md §1-2): connects to the hub (ws/wss, or any
// contract Connector), authenticates, uploads its amplitude windows (ELCFS), receives the spectrum bank,
// trains locally when asked and sends its weights, evaluates global models when asked (eval/unseen
// sites), and keeps every global model it receives in its store with the model's spec. It reconnects
// with exponential backoff and rejoins the open round; a finished update is kept in the store (run
// API checkpoints: run, round and the hash of the global model it came from), so after a dropped
// connection or a crash it is re-sent instead of retrained. Local work stops when the round's
// deadline passes (the hub would exclude a late update anyway). Every payload sent or received is
// written to the site's audit log with its size (docs/product.md "What leaves this hospital").
import { createHash } from 'node:crypto';
import { FedSegError, toErrorValue } from '../contract/errors.js';
import {
  CLOSE, decodeMessage, DEFAULT_MAX_PAYLOAD, encodeMessage, errorFromMessage, HUB_TO_SITE, PROTOCOL_VERSION,
  type DecodedFrame, type HubMessage, type MessageOf, type SiteRole, type WelcomeMsg,
} from '../contract/hub-protocol.js';
import type { SiteEvent } from '../contract/site-events.js';
import { newSiteIdentity, signedHello, type SiteIdentity } from '../contract/site-identity.js';
import { DEFAULT_SITE_POLICY, refuseSpectrumRequest, refuseTraining, refuseWindowSize, windowBudget, type Refusal, type SitePolicy } from '../contract/site-policy.js';
import type { Connection } from '../contract/transport.js';
import { encodeWeights, type NamedArray } from '../contract/weights.js';
import { findUpdate, pendingRound, saveGlobalModel, saveUpdate } from '../run/checkpoints.js';
import { auditKind, auditWriterFor, describeMessage, isTransientStoreError } from './site-audit.js';
import type { SiteClientOptions, SiteRunSummary } from './site-options.js';
import { parseBank, spectrumUpload } from './site-spectra.js';
import type { SpectrumWindow, TrainResult } from './trainer.js';
import { afterClose } from './site-reconnect.js';
import { wsConnector } from './ws-connection.js';

export type { SiteEvent };

export type { SiteClientOptions, SiteLedger, SiteRunSummary } from './site-options.js';

const FATAL: ReadonlySet<string> = new Set(['AUTH_FAILED', 'VERSION_MISMATCH', 'ALREADY_EXISTS', 'UNSUPPORTED']);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Identifies one federated run: the hub's address and the run id it announces (optimiser state, updates and globals are kept per run). */
export const federationRunKey = (hubUrl: string, runId: string) => `${hubUrl}#${runId}`;

/** A model from the hub with NaN or Inf in it would only train or evaluate into garbage: refused with the reason. */
function requireFinite(arrays: NamedArray[], what: string): void {
  for (const a of arrays) for (let i = 0; i < a.data.length; i++) if (!Number.isFinite(a.data[i]!)) throw new FedSegError('BAD_UPDATE', `${what} holds a non-finite value in '${a.name}'`);
}

/** Runs the site until the hub says the run is finished. Rejects with a FedSegError on fatal errors. */
export function runSite(opts: SiteClientOptions): Promise<SiteRunSummary> {
  return new SiteClient(opts).run();
}

class SiteClient {
  private conn?: Connection;
  private welcome?: WelcomeMsg;
  private everConnected = false;
  private attempts = 0;
  private reconnects = 0;
  private lastConnectedAt = 0;
  private bank: SpectrumWindow[][] = [];
  private training?: { round: number; globalHash: string };
  private evalQueue: Promise<void> = Promise.resolve();
  private summary: SiteRunSummary = { roundsTrained: 0, roundsEvaluated: 0, reconnects: 0, refused: 0, lastMetrics: null };
  private resolve!: (s: SiteRunSummary) => void;
  private reject!: (e: Error) => void;
  private done = false;
  private heartbeat?: ReturnType<typeof setInterval>;
  private progress?: { round: number; fraction: number };
  private readonly role: SiteRole;
  /** The site's key pair: the caller's (kept in its store) or, for a one-off client, one made now. */
  private readonly identity: SiteIdentity;
  private readonly policy: SitePolicy;
  /** Aborted when the client stops (finished, failed or cancelled): local training/evaluation stop too. */
  private readonly work = new AbortController();

  constructor(private readonly o: SiteClientOptions) {
    this.role = o.role ?? 'train';
    this.identity = o.identity ?? newSiteIdentity();
    this.policy = o.policy ?? DEFAULT_SITE_POLICY;
  }

  /** Answers a request the site's policy does not allow: the hub is told why, the audit log and the operator too. */
  private refuse(request: string, r: Refusal, round?: number): void {
    this.summary.refused++;
    this.send({ kind: 'error', code: r.code, message: `site ${this.o.site} refused ${request}: ${r.message}`, ...(round !== undefined ? { round } : {}) });
    this.emit({ type: 'refused', request, code: r.code, message: r.message });
  }

  run(): Promise<SiteRunSummary> {
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.o.signal?.addEventListener('abort', () => this.fail(new FedSegError('CANCELLED', 'site stopped')), { once: true });
      this.connect();
    });
  }

  private emit(e: SiteEvent): void {
    this.o.onEvent?.(e);
  }

  private stop(): void {
    // Audit rows still waiting for a locked store get one more try before the client ends.
    auditWriterFor(this, this.o.ledger).flush();
    this.done = true;
    this.stopHeartbeat();
    this.work.abort();
  }

  private finish(): void {
    if (this.done) return;
    this.stop();
    this.summary.reconnects = this.reconnects;
    this.conn?.close(CLOSE.normal);
    this.resolve(this.summary);
  }

  private fail(e: Error): void {
    if (this.done) return;
    this.stop();
    this.conn?.terminate();
    this.reject(e);
  }

  private get runKey(): string {
    return federationRunKey(this.o.hubUrl, this.requireWelcome().runId);
  }

  private connect(): void {
    if (this.done) return;
    this.attempts++;
    this.emit({ type: 'connecting', attempt: this.attempts, url: this.o.hubUrl });
    let conn: Connection;
    try {
      conn = (this.o.connect ?? wsConnector)(this.o.hubUrl, { maxPayload: this.o.maxPayload ?? DEFAULT_MAX_PAYLOAD, handshakeTimeoutMs: 10_000, ...(this.o.ca ? { ca: this.o.ca } : {}), ...(this.o.trustedFingerprint ? { trustedFingerprint: this.o.trustedFingerprint } : {}) });
    } catch (e) {
      this.fail(e instanceof FedSegError ? e : new FedSegError('INVALID_ARGUMENT', `bad hub URL '${this.o.hubUrl}': ${(e as Error).message}`));
      return;
    }
    this.conn = conn;
    let lastError: { code?: string; message: string } | undefined;
    let fatal: FedSegError | undefined;
    // A peer that accepts the connection but never welcomes this site (not a FedSeg hub, or a hung one) is
    // dropped after a while, and the usual reconnect rules apply.
    const welcomeTimer = setTimeout(() => {
      if (this.conn === conn && !this.welcome && !this.done) {
        lastError = { code: 'ETIMEDOUT', message: 'the hub did not welcome this site within 30 s' };
        conn.terminate();
      }
    }, this.o.welcomeTimeoutMs ?? 30_000);
    welcomeTimer.unref?.();
    conn.listen({
      // The hub speaks first (its challenge); the Hello answers it (see handle()).
      onError: (e) => {
        lastError = e;
        if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
          fatal = new FedSegError('MESSAGE_TOO_LARGE', `the hub sent a message larger than this site's maxPayload (${this.o.maxPayload ?? DEFAULT_MAX_PAYLOAD} bytes)`);
      },
      onMessage: (raw, isBinary) => {
        this.o.tap?.('in', raw, isBinary);
        const bytes = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.byteLength;
        let f: DecodedFrame;
        try {
          f = decodeMessage(raw, isBinary, { accept: HUB_TO_SITE });
        } catch (e) {
          const v = toErrorValue(e);
          this.audit('in', 'malformed', bytes, v.message);
          this.send({ kind: 'error', code: v.code, message: `site ${this.o.site} rejected a hub message: ${v.message}` });
          return;
        }
        this.audit('in', auditKind[f.msg.kind], f.bytes, describeMessage(f.msg));
        // A hub speaking another protocol says so in its challenge: nothing more can be understood.
        if (f.msg.kind === 'challenge' && f.msg.protocol !== PROTOCOL_VERSION) {
          fatal = new FedSegError('VERSION_MISMATCH', `protocol version mismatch: the hub speaks ${f.msg.protocol}, this site speaks ${PROTOCOL_VERSION}; update the older one`);
          conn.close(CLOSE.versionMismatch, 'protocol version mismatch');
          return;
        }
        // Fatal before a welcome; but a site that was connected before retries a duplicate-name refusal (the
        // hub replaces its own stale session of a dropped connection after 2 heartbeats).
        if (f.msg.kind === 'error' && !this.welcome && FATAL.has(f.msg.code) && !(this.everConnected && f.msg.code === 'ALREADY_EXISTS'))
          fatal = errorFromMessage(f.msg);
        void this.handle(f).catch((e: unknown) => {
          const v = toErrorValue(e);
          this.send({ kind: 'error', code: v.code, message: v.message });
          if (e instanceof FedSegError && (e.code === 'MESSAGE_TOO_LARGE' || e.code === 'INTERNAL')) this.fail(e);
          else this.emit({ type: 'hub-error', code: v.code, message: `local: ${v.message}` });
        });
      },
      onClose: (code, reason) => {
        clearTimeout(welcomeTimer);
        this.onClose(conn, code, reason, lastError, fatal);
      },
    });
  }

  private onClose(conn: Connection, code: number, reason: string, lastError: { code?: string; message: string } | undefined, fatal: FedSegError | undefined): void {
    if (this.conn !== conn) return;
    this.stopHeartbeat();
    const wasWelcomed = !!this.welcome;
    this.welcome = undefined;
    if (this.done) return;
    if (fatal) return this.fail(fatal);
    const next = afterClose({
      code, reason, lastError, hubUrl: this.o.hubUrl, wasWelcomed, everConnected: this.everConnected, attempts: this.attempts,
      msSinceConnected: Date.now() - this.lastConnectedAt, firstAttempts: this.o.firstAttempts ?? 3, giveUpAfterMs: this.o.giveUpAfterMs ?? 15 * 60_000,
      backoff: this.o.backoff ?? {}, random: Math.random,
    });
    if ('fail' in next) return this.fail(next.fail);
    if ('finish' in next) return this.finish();
    if (wasWelcomed) this.attempts = 0;
    this.reconnects++;
    this.emit({ type: 'disconnected', code, reason: next.reason, retryInMs: next.retryInMs });
    setTimeout(() => this.connect(), next.retryInMs);
  }

  private send(msg: HubMessage, weights?: NamedArray[] | Uint8Array): number {
    const conn = this.conn;
    if (!conn || !conn.isOpen()) return 0;
    const e = encodeMessage(msg, weights, { dtype: this.welcome?.wireDtype ?? 'float32' });
    const max = this.welcome?.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    if (e.bytes > max) throw new FedSegError('MESSAGE_TOO_LARGE', `${msg.kind} is ${e.bytes} bytes; the hub accepts at most ${max} (raise the hub's maxPayload or use --float16)`);
    this.o.tap?.('out', e.data, e.binary);
    conn.send(e.data);
    this.audit('out', auditKind[msg.kind], e.bytes, describeMessage(msg));
    return e.bytes;
  }

  private audit(direction: 'in' | 'out', kind: string, bytes: number, summary: string): void {
    // Called from socket and timer callbacks, so it never throws (docs/security.md §9): rows a locked store
    // cannot take now wait in memory and are written in order later.
    const onTrouble = (message: string) => this.emit({ type: 'hub-error', code: 'DB_ERROR', message: `local: ${message}` });
    auditWriterFor(this, this.o.ledger, { onTrouble }).append({ direction, kind, bytes, peer: this.o.hubUrl, summary });
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    const every = this.welcome?.heartbeatMs ?? this.o.heartbeatMs ?? 10_000;
    this.heartbeat = setInterval(() => {
      this.send({ kind: 'heartbeat', t: Date.now(), ...(this.progress ? { round: this.progress.round, progress: this.progress.fraction } : {}) });
    }, every);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private async handle(f: DecodedFrame): Promise<void> {
    const m = f.msg;
    switch (m.kind) {
      case 'challenge': {
        if (this.welcome) throw new FedSegError('PROTOCOL_ERROR', 'a second challenge on one connection');
        const resume = this.training?.round ?? pendingRound(this.o.ledger);
        this.send(signedHello({
          nonce: m.nonce, site: this.o.site, identity: this.identity, token: this.o.token, resumeRound: resume, protocol: this.o.protocolVersion ?? PROTOCOL_VERSION,
          capabilities: {
            backend: this.o.trainer.backend, modes: ['fedavg', 'elcfs'], kinds: [...this.o.trainer.kinds], float16: true, role: this.role,
            maxPayload: this.o.maxPayload ?? DEFAULT_MAX_PAYLOAD,
          },
        }));
        return;
      }
      case 'welcome':
        this.welcome = m;
        this.everConnected = true;
        this.lastConnectedAt = Date.now();
        this.attempts = 0;
        this.startHeartbeat();
        this.emit({ type: 'connected', welcome: m });
        return;
      case 'error':
        this.emit({ type: 'hub-error', code: m.code, message: m.message });
        return;
      case 'bye':
        if (m.reason === 'finished') {
          this.emit({ type: 'finished', rounds: this.welcome?.totalRounds ?? 0 });
          await this.evalQueue;
          this.finish();
        }
        return;
      case 'heartbeat':
        return;
      case 'init_ins': {
        const w = this.requireWelcome();
        const no = refuseTraining(this.role, 'init_ins');
        if (no) return this.refuse('init_ins', no);
        this.send({ kind: 'init_res' }, await this.o.trainer.initWeights(w.model, m.seed));
        return;
      }
      case 'spectrum_ins':
        return this.onSpectrumRequest(m);
      case 'spectrum_bank':
        this.bank = parseBank(f.arrays!);
        this.emit({ type: 'bank', sources: m.sources, count: m.count });
        return;
      case 'train_ins': {
        const no = refuseTraining(this.role, 'train_ins');
        if (no) return this.refuse(`train_ins for round ${m.round}`, no, m.round);
        return this.onTrain(m, f.attachment!, f.arrays!);
      }
      case 'evaluate_ins':
        return this.onEvaluate(m, f.arrays!);
      case 'global_model':
        this.keepGlobal(m.round, f.arrays!);
        return;
      default:
        throw new FedSegError('PROTOCOL_ERROR', `unexpected '${m.kind}' from the hub`);
    }
  }

  private requireWelcome(): WelcomeMsg {
    if (!this.welcome) throw new FedSegError('PROTOCOL_ERROR', 'instruction before welcome');
    return this.welcome;
  }

  private async onSpectrumRequest(m: MessageOf<'spectrum_ins'>): Promise<void> {
    const what = `spectrum_ins (alpha ${m.alpha}, up to ${m.maxWindows} windows)`;
    const no = refuseSpectrumRequest(this.policy, this.role, m);
    if (no) return this.refuse(what, no);
    const up = spectrumUpload(await this.o.trainer.spectrumWindows(m.alpha, windowBudget(this.policy, m)));
    const tooBig = refuseWindowSize(this.policy, m, up.halfWidth);
    if (tooBig) return this.refuse(what, tooBig);
    const bytes = this.send({ kind: 'spectrum_res', count: up.arrays.length, channels: up.channels, halfWidth: up.halfWidth }, encodeWeights(up.arrays));
    this.emit({ type: 'spectrum-sent', count: up.arrays.length, bytes, channels: up.channels, halfWidth: up.halfWidth });
  }

  private onProgress(round: number, fraction: number, work: 'train' | 'evaluate', note?: string, detail?: { step: number; steps: number; losses: Record<string, number> }): void {
    this.progress = { round, fraction };
    this.emit({ type: 'progress', round, fraction, work, ...(note ? { note } : {}), ...(detail ?? {}) });
  }

  private onEvaluate(m: MessageOf<'evaluate_ins'>, arrays: NamedArray[]): void {
    const w = this.requireWelcome();
    requireFinite(arrays, `the global model of round ${m.round} to evaluate`);
    this.evalQueue = this.evalQueue.then(async () => {
      const r = await this.o.trainer.evaluate({
        round: m.round, model: w.model, global: arrays, signal: this.work.signal,
        onProgress: (fraction, note) => this.onProgress(m.round, fraction, 'evaluate', note),
      });
      this.progress = undefined;
      this.keepGlobal(m.round, arrays);
      this.send({ kind: 'evaluate_res', round: m.round, numSamples: r.numSamples, metrics: r.metrics });
      this.summary.roundsEvaluated++;
      this.summary.lastMetrics = r.metrics;
      this.emit({ type: 'evaluated', round: m.round, metrics: r.metrics });
    }).catch((e: unknown) => {
      const v = toErrorValue(e);
      this.send({ kind: 'error', code: v.code, message: `evaluation of round ${m.round} failed: ${v.message}`, round: m.round });
    });
  }

  private async onTrain(m: MessageOf<'train_ins'>, frame: Uint8Array, global: NamedArray[]): Promise<void> {
    const w = this.requireWelcome();
    const runKey = this.runKey;
    // Resend a finished update (after a dropped connection, a hub restart or our own crash) instead of retraining.
    const kept = findUpdate(this.o.ledger, runKey, m.round, m.globalHash, this.o.trainer.dataKey);
    if (kept) {
      const bytes = this.send({ kind: 'train_res', round: m.round, globalHash: m.globalHash, numSamples: kept.meta.numSamples, metrics: kept.meta.metrics }, kept.arrays);
      this.emit({ type: 'round-sent', round: m.round, bytes, resent: true, metrics: kept.meta.metrics });
      return;
    }
    if (this.training && this.training.round === m.round && this.training.globalHash === m.globalHash) return; // already on it
    if (sha256(frame) !== m.globalHash) throw new FedSegError('PROTOCOL_ERROR', `global model for round ${m.round} does not match its hash`);
    requireFinite(global, `the global model for round ${m.round}`);
    this.training = { round: m.round, globalHash: m.globalHash };
    const deadline = Date.now() + m.timeLeftMs;
    this.emit({ type: 'round-start', round: m.round, totalRounds: w.totalRounds, mode: m.mode, deadline });
    this.keepGlobal(m.round - 1, global);
    // Local work stops with the client or when the round's deadline passes.
    const stopAt = new AbortController();
    const onStop = () => stopAt.abort();
    this.work.signal.addEventListener('abort', onStop, { once: true });
    const timer = setTimeout(onStop, m.timeLeftMs);
    let res: TrainResult;
    try {
      res = await this.o.trainer.train({
        round: m.round, mode: m.mode, model: w.model, runKey, config: w.train, global, bank: this.bank, signal: stopAt.signal,
        onProgress: (fraction, note, detail) => this.onProgress(m.round, fraction, 'train', note, detail),
      });
    } catch (e) {
      if (stopAt.signal.aborted && !this.work.signal.aborted)
        throw new FedSegError('TIMEOUT', `round ${m.round}: the hub's deadline passed before local training finished; no update was sent (${toErrorValue(e).message})`);
      throw e;
    } finally {
      clearTimeout(timer);
      this.work.signal.removeEventListener('abort', onStop);
      this.training = undefined;
      this.progress = undefined;
    }
    const dropped = res.metrics.bankDropped ?? 0;
    if (dropped > 0) {
      const kept = this.bank.reduce((t, g) => t + g.length, 0) - dropped;
      const reason = res.metrics.cfsiSkipped ? 'none of the received windows fit this site\'s images, so this round trained without frequency-space interpolation' : 'they do not fit this site\'s images (channels or window size)';
      this.audit('in', 'spectrum-bank', 0, `${dropped} received window(s) left out of round ${m.round}: ${reason}`);
      this.emit({ type: 'bank-dropped', dropped, kept: Math.max(0, kept), reason });
    }
    // Keep the update until the hub has it (crash-safe). A store locked by another process must not
    // cost the round's work (docs/security.md §9): the update is sent anyway, only not kept for a resend.
    try {
      saveUpdate(this.o.ledger, {
        runKey, round: m.round, globalHash: m.globalHash, numSamples: res.numSamples, metrics: res.metrics,
        ...(this.o.trainer.dataKey !== undefined ? { dataKey: this.o.trainer.dataKey } : {}),
      }, res.weights);
    } catch (e) {
      if (!isTransientStoreError(e)) throw e;
      this.emit({ type: 'hub-error', code: 'DB_ERROR', message: `local: the store is locked by another process, so round ${m.round}'s update is sent without a crash-safe copy` });
    }
    this.summary.roundsTrained++;
    this.summary.lastMetrics = res.metrics;
    const bytes = this.send({ kind: 'train_res', round: m.round, globalHash: m.globalHash, numSamples: res.numSamples, metrics: res.metrics }, res.weights);
    if (bytes) this.emit({ type: 'round-sent', round: m.round, bytes, resent: false, metrics: res.metrics });
  }

  /** Keeps every global model (with the hub's spec) in the site's store; round 0 (the untrained start) is not kept. */
  private keepGlobal(round: number, arrays: NamedArray[]): void {
    const w = this.welcome;
    // Rounds the run does not have are not kept: a hub cannot fill the site's disk with made-up rounds.
    if (!w || round < 1 || round > w.totalRounds) return;
    const record = { spec: w.model, arrays, hub: this.o.hubUrl, hubName: w.hub, runKey: this.runKey, round, totalRounds: w.totalRounds };
    this.saveGlobal(record, 0);
  }

  /** Keeps a global model; while another process holds the store's lock it tries again later (up to ~2 min) instead of losing it. */
  private saveGlobal(record: Parameters<typeof saveGlobalModel>[1], attempt: number): void {
    let info: ReturnType<typeof saveGlobalModel>;
    try {
      info = saveGlobalModel(this.o.ledger, record);
    } catch (e) {
      if (!isTransientStoreError(e) || attempt >= 24) throw e;
      const t = setTimeout(() => {
        try {
          this.saveGlobal(record, attempt + 1);
        } catch (err) {
          this.emit({ type: 'hub-error', code: 'DB_ERROR', message: `local: the global model of round ${record.round} could not be kept: ${toErrorValue(err).message}` });
        }
      }, 5000);
      t.unref?.();
      return;
    }
    if (info) this.emit({ type: 'global-model', round: record.round, modelId: info.id });
  }
}
