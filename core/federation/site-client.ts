// The site side of the federation (ALGORITHMS.md §1-2): connects to the hub over ws/wss, authenticates,
// uploads its amplitude windows (ELCFS), receives the spectrum bank, trains locally when asked and sends
// its weights, evaluates global models when asked (eval/unseen sites). It reconnects with exponential
// backoff and rejoins the open round; a finished update is kept in the site's store (with the hash of
// the global model it came from), so after a dropped connection or a crash of the site it is re-sent
// instead of retrained. Every payload sent or received is written to the site's audit log with its size
// (PRODUCT.md "What leaves this hospital"). Only what the protocol schema names goes on the wire.
import { createHash } from 'node:crypto';
import WebSocket from 'ws';
import { FedSegError, toErrorValue } from '../contract/errors.js';
import {
  BANK_ENTRY_RE, CLOSE, decodeMessage, DEFAULT_MAX_PAYLOAD, encodeMessage, errorFromMessage, HUB_TO_SITE, PROTOCOL_VERSION, windowEntryName,
  type DecodedFrame, type HubMessage, type MessageOf, type SiteRole, type WelcomeMsg,
} from '../contract/hub-protocol.js';
import { decodeWeights, encodeWeights, type NamedArray } from '../contract/weights.js';
import type { DatasetStore } from '../store/dataset-store.js';
import type { SiteTrainer, SpectrumWindow, TrainResult } from './trainer.js';

/** The part of the site's store the client uses (audit log, checkpoints, settings). */
export type SiteLedger = Pick<DatasetStore, 'appendAudit' | 'saveCheckpoint' | 'listCheckpoints' | 'loadCheckpoint' | 'deleteCheckpoint' | 'getSetting' | 'setSetting'>;

export type SiteEvent =
  | { type: 'connecting'; attempt: number; url: string }
  | { type: 'connected'; welcome: WelcomeMsg }
  | { type: 'disconnected'; code: number; reason: string; retryInMs: number }
  | { type: 'spectrum-sent'; count: number; bytes: number }
  | { type: 'bank'; sources: number; count: number }
  | { type: 'round-start'; round: number; totalRounds: number; mode: string }
  | { type: 'progress'; round: number; fraction: number; work: 'train' | 'evaluate'; note?: string }
  | { type: 'round-sent'; round: number; bytes: number; resent: boolean; metrics: Record<string, number> }
  | { type: 'evaluated'; round: number; metrics: Record<string, number> }
  | { type: 'hub-error'; code: string; message: string }
  | { type: 'finished'; rounds: number };

export interface SiteClientOptions {
  hubUrl: string;
  site: string;
  token: string;
  role?: SiteRole;
  trainer: SiteTrainer;
  ledger: SiteLedger;
  /** PEM CA certificate(s) to trust for wss:// (self-signed hubs). */
  ca?: string | Buffer;
  /** Largest frame accepted from the hub (bytes). */
  maxPayload?: number;
  /** Backoff between reconnects. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Give up when no connection could be made for this long (ms) after having been connected. */
  giveUpAfterMs?: number;
  /** Connection attempts before the FIRST successful connection (a wrong URL fails fast). */
  firstAttempts?: number;
  /** Heartbeat period (ms) while working; the hub's value from Welcome wins. */
  heartbeatMs?: number;
  onEvent?: (e: SiteEvent) => void;
  /** Sees every frame on the wire (tests inspect them). */
  tap?: (dir: 'in' | 'out', data: Uint8Array | string, binary: boolean) => void;
  signal?: AbortSignal;
  /** Test hook: override the protocol version sent in Hello. */
  protocolVersion?: number;
}

export interface SiteRunSummary {
  roundsTrained: number;
  roundsEvaluated: number;
  reconnects: number;
  lastMetrics: Record<string, number> | null;
}

interface PendingUpdate {
  round: number;
  globalHash: string;
  checkpointId: number;
  numSamples: number;
  metrics: Record<string, number>;
}

const PENDING_KEY = 'federation.pendingUpdate';
const FATAL: ReadonlySet<string> = new Set(['AUTH_FAILED', 'VERSION_MISMATCH', 'ALREADY_EXISTS', 'UNSUPPORTED']);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const auditKind: Record<HubMessage['kind'], string> = {
  hello: 'hello', welcome: 'welcome', error: 'error', bye: 'bye', heartbeat: 'heartbeat', init_ins: 'init-request', init_res: 'initial-model',
  spectrum_ins: 'spectrum-request', spectrum_res: 'amplitude-window', spectrum_bank: 'spectrum-bank', train_ins: 'global-model',
  train_res: 'weights-update', evaluate_ins: 'global-model', evaluate_res: 'evaluation-metrics',
};

function describe(m: HubMessage): string {
  switch (m.kind) {
    case 'hello': return `hello as ${m.site} (protocol ${m.protocol}, ${m.capabilities.role})`; // the token is never logged
    case 'welcome': return `welcome from ${m.hub}: ${m.mode}, round ${m.round}/${m.totalRounds}`;
    case 'spectrum_res': return `${m.count} amplitude windows ${m.channels}x${2 * m.halfWidth + 1}x${2 * m.halfWidth + 1}`;
    case 'spectrum_bank': return `${m.count} windows from ${m.sources} other sites`;
    // Round numbering (same as the hub's checkpoints and status): the global model "of round r" is the one
    // produced by round r; train_ins for round r carries the model of round r-1 (round 0 = initial model),
    // which is also the round this site's 'federation-global' checkpoint is saved under.
    case 'train_ins': return `global model of round ${m.round - 1} (${m.round === 1 ? 'initial model' : 'after round ' + (m.round - 1)}), to train round ${m.round} (${m.mode})`;
    case 'train_res': return `weights trained in round ${m.round}, ${m.numSamples} samples, metrics ${Object.keys(m.metrics).join(',')}`;
    case 'evaluate_ins': return `global model of round ${m.round} to evaluate`;
    case 'evaluate_res': return `evaluation of round ${m.round} on ${m.numSamples} samples`;
    case 'error': return `${m.code}: ${m.message}`;
    case 'bye': return `${m.reason}${m.message ? `: ${m.message}` : ''}`;
    default: return m.kind;
  }
}

/** Runs the site until the hub says the run is finished. Rejects with a FedSegError on fatal errors. */
export function runSite(opts: SiteClientOptions): Promise<SiteRunSummary> {
  return new SiteClient(opts).run();
}

class SiteClient {
  private ws?: WebSocket;
  private welcome?: WelcomeMsg;
  private everConnected = false;
  private attempts = 0;
  private reconnects = 0;
  private lastConnectedAt = 0;
  private bank: SpectrumWindow[][] = [];
  private training?: { round: number; globalHash: string };
  private evalQueue: Promise<void> = Promise.resolve();
  private summary: SiteRunSummary = { roundsTrained: 0, roundsEvaluated: 0, reconnects: 0, lastMetrics: null };
  private resolve!: (s: SiteRunSummary) => void;
  private reject!: (e: Error) => void;
  private done = false;
  private heartbeat?: ReturnType<typeof setInterval>;
  private progress?: { round: number; fraction: number };
  private readonly role: SiteRole;
  /** Aborted when the client stops (finished, failed or cancelled): local training/evaluation stop too. */
  private readonly work = new AbortController();

  constructor(private readonly o: SiteClientOptions) {
    this.role = o.role ?? 'train';
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

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.stopHeartbeat();
    this.work.abort();
    this.summary.reconnects = this.reconnects;
    this.ws?.close(CLOSE.normal);
    this.resolve(this.summary);
  }

  private fail(e: Error): void {
    if (this.done) return;
    this.done = true;
    this.stopHeartbeat();
    this.work.abort();
    try {
      this.ws?.terminate();
    } catch {
      /* already closed */
    }
    this.reject(e);
  }

  private pending(): PendingUpdate | undefined {
    return this.o.ledger.getSetting<PendingUpdate>(PENDING_KEY) ?? undefined;
  }

  private connect(): void {
    if (this.done) return;
    this.attempts++;
    this.emit({ type: 'connecting', attempt: this.attempts, url: this.o.hubUrl });
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.o.hubUrl, {
        maxPayload: this.o.maxPayload ?? DEFAULT_MAX_PAYLOAD,
        handshakeTimeout: 10_000,
        ...(this.o.ca ? { ca: this.o.ca } : {}),
      });
    } catch (e) {
      this.fail(new FedSegError('INVALID_ARGUMENT', `bad hub URL '${this.o.hubUrl}': ${(e as Error).message}`));
      return;
    }
    this.ws = ws;
    let lastError: Error | undefined;
    let fatal: FedSegError | undefined;
    ws.on('open', () => {
      const pend = this.pending();
      this.send({
        kind: 'hello', protocol: this.o.protocolVersion ?? PROTOCOL_VERSION, site: this.o.site, token: this.o.token,
        capabilities: { backend: this.o.trainer.backend, modes: ['fedavg', 'elcfs'], float16: true, role: this.role },
        ...(pend ? { resumeRound: pend.round } : this.training ? { resumeRound: this.training.round } : {}),
      });
    });
    ws.on('error', (e: Error & { code?: string }) => {
      lastError = e;
      if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
        fatal = new FedSegError('MESSAGE_TOO_LARGE', `the hub sent a message larger than this site's maxPayload (${this.o.maxPayload ?? DEFAULT_MAX_PAYLOAD} bytes)`);
    });
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      const raw = isBinary ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : buf.toString('utf8');
      this.o.tap?.('in', raw, isBinary);
      let f: DecodedFrame;
      try {
        f = decodeMessage(raw, isBinary, { accept: HUB_TO_SITE });
      } catch (e) {
        const v = toErrorValue(e);
        this.audit('in', 'malformed', buf.byteLength, v.message);
        this.send({ kind: 'error', code: v.code, message: `site ${this.o.site} rejected a hub message: ${v.message}` });
        return;
      }
      this.audit('in', auditKind[f.msg.kind], f.bytes, describe(f.msg));
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
    });
    ws.on('close', (code: number, reasonBuf: Buffer) => {
      if (this.ws !== ws) return;
      this.stopHeartbeat();
      const wasWelcomed = !!this.welcome;
      this.welcome = undefined;
      if (this.done) return;
      const reason = reasonBuf.toString();
      if (fatal) return this.fail(fatal);
      if (code === CLOSE.tooLarge) return this.fail(new FedSegError('MESSAGE_TOO_LARGE', `the hub refused a message as too large: ${reason || 'max payload exceeded'}`));
      if (code === CLOSE.authFailed) return this.fail(new FedSegError('AUTH_FAILED', reason || 'authentication failed'));
      if (code === CLOSE.versionMismatch) return this.fail(new FedSegError('VERSION_MISMATCH', reason || 'protocol version mismatch'));
      if (code === CLOSE.duplicate && !this.everConnected) return this.fail(new FedSegError('ALREADY_EXISTS', reason || 'duplicate site name'));
      if (code === CLOSE.finished) return this.finish();
      if (!this.everConnected && this.attempts >= (this.o.firstAttempts ?? 3))
        return this.fail(new FedSegError('CONNECTION_FAILED', `cannot reach hub at ${this.o.hubUrl}: ${explain(lastError)}`));
      if (this.everConnected && Date.now() - this.lastConnectedAt > (this.o.giveUpAfterMs ?? 15 * 60_000))
        return this.fail(new FedSegError('CONNECTION_FAILED', `lost the hub at ${this.o.hubUrl} and could not reconnect: ${explain(lastError)}`));
      const b = this.o.backoff ?? {};
      const n = wasWelcomed ? 0 : Math.min(this.attempts, 8);
      const delay = Math.min(b.maxMs ?? 10_000, (b.initialMs ?? 500) * 2 ** n) * (0.75 + 0.5 * Math.random());
      if (wasWelcomed) this.attempts = 0;
      this.reconnects++;
      this.emit({ type: 'disconnected', code, reason: reason || explain(lastError), retryInMs: Math.round(delay) });
      setTimeout(() => this.connect(), delay);
    });
  }

  private send(msg: HubMessage, weights?: NamedArray[] | Uint8Array): number {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return 0;
    const dtype = this.welcome?.wireDtype ?? 'float32';
    const e = encodeMessage(msg, weights, { dtype });
    const max = this.welcome?.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    if (e.bytes > max) throw new FedSegError('MESSAGE_TOO_LARGE', `${msg.kind} is ${e.bytes} bytes; the hub accepts at most ${max} (raise the hub's maxPayload or use --float16)`);
    this.o.tap?.('out', e.data, e.binary);
    ws.send(e.data);
    this.audit('out', auditKind[msg.kind], e.bytes, describe(msg));
    return e.bytes;
  }

  private audit(direction: 'in' | 'out', kind: string, bytes: number, summary: string): void {
    this.o.ledger.appendAudit({ direction, kind, bytes, peer: this.o.hubUrl, summary });
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
        const weights = await this.o.trainer.initWeights(w.model);
        this.send({ kind: 'init_res' }, weights);
        return;
      }
      case 'spectrum_ins': {
        const wins = await this.o.trainer.spectrumWindows(m.alpha, m.maxWindows);
        if (wins.length === 0) throw new FedSegError('INVALID_INPUT', 'this site has no training images to share spectra of');
        const { channels, halfWidth } = wins[0]!;
        const side = 2 * halfWidth + 1;
        const arrays = wins.map((w, i) => {
          if (w.channels !== channels || w.halfWidth !== halfWidth) throw new FedSegError('SHAPE_MISMATCH', 'amplitude windows differ in size');
          return { name: windowEntryName(i), shape: [channels, side, side], data: w.data };
        });
        const bytes = this.send({ kind: 'spectrum_res', count: arrays.length, channels, halfWidth }, encodeWeights(arrays));
        this.emit({ type: 'spectrum-sent', count: arrays.length, bytes });
        return;
      }
      case 'spectrum_bank': {
        const groups = new Map<number, SpectrumWindow[]>();
        for (const a of f.arrays!) {
          const mm = BANK_ENTRY_RE.exec(a.name);
          if (!mm || a.shape.length !== 3) throw new FedSegError('PROTOCOL_ERROR', `bad spectrum bank entry '${a.name}'`);
          const src = Number(mm[1]);
          if (!groups.has(src)) groups.set(src, []);
          groups.get(src)!.push({ channels: a.shape[0]!, halfWidth: (a.shape[1]! - 1) / 2, data: a.data });
        }
        this.bank = [...groups.values()];
        this.emit({ type: 'bank', sources: m.sources, count: m.count });
        return;
      }
      case 'train_ins':
        return this.onTrain(m, f.attachment!, f.arrays!);
      case 'evaluate_ins': {
        const arrays = f.arrays!;
        const w = this.requireWelcome();
        this.evalQueue = this.evalQueue.then(async () => {
          const r = await this.o.trainer.evaluate({
            round: m.round, model: w.model, global: arrays, signal: this.work.signal,
            onProgress: (fraction, note) => this.onProgress(m.round, fraction, 'evaluate', note),
          });
          this.progress = undefined;
          this.saveGlobal(m.round, encodeWeights(arrays), w.model.kind);
          this.send({ kind: 'evaluate_res', round: m.round, numSamples: r.numSamples, metrics: r.metrics });
          this.summary.roundsEvaluated++;
          this.summary.lastMetrics = r.metrics;
          this.emit({ type: 'evaluated', round: m.round, metrics: r.metrics });
        }).catch((e: unknown) => {
          const v = toErrorValue(e);
          this.send({ kind: 'error', code: v.code, message: `evaluation of round ${m.round} failed: ${v.message}`, round: m.round });
        });
        return;
      }
      default:
        throw new FedSegError('PROTOCOL_ERROR', `unexpected '${m.kind}' from the hub`);
    }
  }

  private requireWelcome(): WelcomeMsg {
    if (!this.welcome) throw new FedSegError('PROTOCOL_ERROR', 'instruction before welcome');
    return this.welcome;
  }

  private onProgress(round: number, fraction: number, work: 'train' | 'evaluate', note?: string): void {
    this.progress = { round, fraction };
    this.emit({ type: 'progress', round, fraction, work, ...(note ? { note } : {}) });
  }

  private async onTrain(m: MessageOf<'train_ins'>, frame: Uint8Array, global: NamedArray[]): Promise<void> {
    const w = this.requireWelcome();
    // Resend a finished update (after a dropped connection, a hub restart or our own crash) instead of retraining.
    const pend = this.pending();
    if (pend && pend.round === m.round && pend.globalHash === m.globalHash) {
      const blob = this.o.ledger.loadCheckpoint(pend.checkpointId);
      const bytes = this.send({ kind: 'train_res', round: m.round, globalHash: m.globalHash, numSamples: pend.numSamples, metrics: pend.metrics }, decodeWeights(blob).arrays);
      this.emit({ type: 'round-sent', round: m.round, bytes, resent: true, metrics: pend.metrics });
      return;
    }
    if (this.training && this.training.round === m.round && this.training.globalHash === m.globalHash) return; // already on it
    if (sha256(frame) !== m.globalHash) throw new FedSegError('PROTOCOL_ERROR', `global model for round ${m.round} does not match its hash`);
    this.training = { round: m.round, globalHash: m.globalHash };
    this.emit({ type: 'round-start', round: m.round, totalRounds: w.totalRounds, mode: m.mode });
    this.saveGlobal(m.round - 1, frame, w.model.kind);
    let res: TrainResult;
    try {
      res = await this.o.trainer.train({
        round: m.round, mode: m.mode, model: w.model, config: w.train, global, bank: m.mode === 'elcfs' ? this.bank : [], signal: this.work.signal,
        onProgress: (fraction, note) => this.onProgress(m.round, fraction, 'train', note),
      });
    } finally {
      this.training = undefined;
      this.progress = undefined;
    }
    // Keep the update until the hub has it (crash-safe): checkpoint + a pointer in settings.
    const blob = encodeWeights(res.weights);
    const old = this.pending();
    const ck = this.o.ledger.saveCheckpoint({ name: 'federation-update', blob, round: m.round, modelKind: w.model.kind, meta: { globalHash: m.globalHash } });
    this.o.ledger.setSetting(PENDING_KEY, { round: m.round, globalHash: m.globalHash, checkpointId: ck.id, numSamples: res.numSamples, metrics: res.metrics } satisfies PendingUpdate);
    if (old) this.tryDelete(old.checkpointId);
    this.summary.roundsTrained++;
    this.summary.lastMetrics = res.metrics;
    const bytes = this.send({ kind: 'train_res', round: m.round, globalHash: m.globalHash, numSamples: res.numSamples, metrics: res.metrics },
      w.wireDtype === 'float32' ? blob : res.weights);
    if (bytes) this.emit({ type: 'round-sent', round: m.round, bytes, resent: false, metrics: res.metrics });
  }

  /** Keeps the newest global model in the site's store (for resume, inspection and the demo's overlays). */
  private saveGlobal(round: number, frame: Uint8Array, kind: string): void {
    const prev = this.o.ledger.listCheckpoints().filter((c) => c.name === 'federation-global');
    if (prev.some((c) => c.round === round)) return;
    const blob = this.welcome?.wireDtype === 'float16' ? encodeWeights(decodeWeights(frame).arrays) : frame;
    this.o.ledger.saveCheckpoint({ name: 'federation-global', blob, round, modelKind: kind, meta: { hub: this.o.hubUrl } });
    for (const c of prev) this.tryDelete(c.id);
  }

  private tryDelete(id: number): void {
    try {
      this.o.ledger.deleteCheckpoint(id);
    } catch {
      /* already gone */
    }
  }
}

function explain(e: (Error & { code?: string }) | undefined): string {
  if (!e) return 'connection closed';
  const c = e.code ?? '';
  if (c === 'ECONNREFUSED') return 'connection refused (is the hub running, and is the port right?)';
  if (c === 'ENOTFOUND' || c === 'EAI_AGAIN') return 'host name not found (DNS)';
  if (c === 'ETIMEDOUT') return 'timed out (firewall or wrong address?)';
  if (c === 'ECONNRESET') return 'connection reset';
  if (/certificate|self.signed|SSL|TLS/i.test(e.message) || c.startsWith('ERR_TLS') || c.includes('CERT'))
    return `TLS error: ${e.message} (pass the hub's certificate with --ca)`;
  return e.message || c || 'unknown error';
}

