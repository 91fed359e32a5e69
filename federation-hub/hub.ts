// The federation hub: a WebSocket server (optionally TLS) that enrols sites by token, collects and
// redistributes spectrum windows (ELCFS, ALGORITHMS.md §2), runs rounds with a min-sites quorum and a
// deadline, aggregates updates by streaming FedAvg (§1), checkpoints the global model after every round
// in its own SQLite state, asks eval (unseen) sites to evaluate each new global model, and serves
// GET /status. A failed or late site is data for the round (logged, excluded), never a crash.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { FedSegError, toErrorValue, type ErrorCode } from '../core/contract/errors.js';
import {
  CLOSE, decodeMessage, encodeMessage, PROTOCOL_VERSION, SITE_TO_HUB,
  type Capabilities, type DecodedFrame, type HubMessage, type MessageOf, type SiteRole,
} from '../core/contract/hub-protocol.js';
import { decodeWeights, encodeWeights, type NamedArray } from '../core/contract/weights.js';
import type { HubConfig } from './config.js';
import { FedAvgAccumulator } from './fedavg.js';
import { buildBank, checkWindows } from './spectrum-bank.js';
import { HubState } from './state.js';
import { hubStatus, type HubStatus } from './status.js';

export interface Session {
  name: string;
  role: SiteRole;
  ws: WebSocket;
  caps: Capabilities;
  connectedAt: number;
  lastSeen: number;
  progress?: number;
  progressRound?: number;
  /** Sources (site names) of the bank last sent, to resend when it changes. */
  bankKey?: string;
  awaitingInit?: boolean;
}

interface OpenRound {
  round: number;
  participants: Set<string>;
  pending: Set<string>;
  accepted: string[];
  rejected: { site: string; reason: string }[];
  metrics: Record<string, Record<string, number>>;
  acc: FedAvgAccumulator;
  deadline: number;
  /** Pending participants that disconnected, and since when. */
  goneSince: Map<string, number>;
}

interface Global {
  round: number;
  arrays: NamedArray[];
  /** The frame sent to sites (wireDtype) and its sha-256. */
  frame: Uint8Array;
  hash: string;
}

export type HubLog = (line: string) => void;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Hub {
  readonly state: HubState;
  private server?: http.Server | https.Server;
  private wss?: WebSocketServer;
  private readonly sessions = new Map<string, Session>();
  private global?: Global;
  private current?: OpenRound;
  private waiters: (() => void)[] = [];
  private heartbeat?: ReturnType<typeof setInterval>;
  private lastSweep = 0;
  private stopped = false;
  private stopping?: Promise<void>;
  private finished = false;
  private phase: 'starting' | 'init' | 'waiting' | 'round' | 'evaluating' | 'finished' | 'stopped' = 'starting';
  port = 0;

  constructor(readonly config: HubConfig, private readonly log: HubLog = () => {}) {
    this.state = new HubState(config.db);
  }

  /** Binds the server. Resolves with the port once listening. */
  async listen(): Promise<number> {
    const prevMode = this.state.getMeta('mode');
    if (prevMode && prevMode !== this.config.mode && this.state.lastCompletedRound() > 0)
      throw new FedSegError('INVALID_ARGUMENT', `hub state ${this.config.db} holds a ${prevMode} run; use another --db for a ${this.config.mode} run`);
    this.state.setMeta('mode', this.config.mode);
    this.state.setMeta('rounds', String(this.config.rounds));
    this.state.setMeta('name', this.config.name);
    const aborted = this.state.abortOpenRounds('hub restarted');
    if (aborted.length) this.log(`resuming: round(s) ${aborted.join(', ')} were open when the hub stopped; re-running`);
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.method === 'GET' && (req.url === '/status' || req.url === '/status/')) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.status()));
      } else if (req.method === 'GET' && req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      } else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found (try GET /status or a WebSocket upgrade)');
    };
    if (this.config.tls) {
      let cert: Buffer, key: Buffer;
      try {
        cert = readFileSync(this.config.tls.cert);
        key = readFileSync(this.config.tls.key);
      } catch (e) {
        throw new FedSegError('IO_ERROR', `cannot read TLS certificate/key: ${(e as Error).message}`);
      }
      this.server = https.createServer({ cert, key }, onRequest);
    } else this.server = http.createServer(onRequest);
    this.wss = new WebSocketServer({ server: this.server, maxPayload: this.config.maxPayload });
    this.wss.on('connection', (ws, req) => this.onConnection(ws, req.socket.remoteAddress ?? '?'));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', (e: NodeJS.ErrnoException) =>
        reject(new FedSegError('CONNECTION_FAILED', `hub cannot listen on ${this.config.host}:${this.config.port}: ${e.code ?? e.message}`)));
      this.server!.listen(this.config.port, this.config.host, () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.lastSweep = Date.now();
    this.heartbeat = setInterval(() => this.sweep(), this.config.heartbeatMs);
    this.heartbeat.unref();
    this.state.audit('hub_start', null, null, null, `listening on ${this.config.tls ? 'wss' : 'ws'}://${this.config.host}:${this.port}`);
    return this.port;
  }

  status(): HubStatus {
    return hubStatus(this, this.state, {
      phase: this.phase,
      sessions: [...this.sessions.values()],
      currentRound: this.current?.round ?? null,
      pending: this.current ? [...this.current.pending] : [],
    });
  }

  /** Runs every remaining round; resolves when the run is finished (or the hub is stopped). */
  async run(): Promise<void> {
    this.phase = 'init';
    await this.ensureGlobal();
    let r = this.state.lastCompletedRound() + 1;
    while (!this.stopped && r <= this.config.rounds) {
      this.phase = 'waiting';
      let lastLog = 0;
      await this.waitUntil(() => {
        const ready = this.readySites().length;
        if (Date.now() - lastLog > 30_000) {
          lastLog = Date.now();
          this.log(`round ${r}: waiting for quorum (${ready}/${this.config.minSites} sites ready)`);
        }
        return ready >= this.config.minSites;
      }, 5000);
      if (this.stopped) break;
      this.phase = 'round';
      if (await this.runRound(r)) r++;
      else await sleep(200);
    }
    if (this.stopped) return;
    this.phase = 'evaluating';
    await this.waitFinalEvaluations();
    this.phase = 'finished';
    this.finished = true;
    this.state.audit('run_finished', null, null, null, `${this.config.rounds} rounds`);
    this.log(`run finished after ${this.config.rounds} rounds`);
    for (const s of this.sessions.values()) this.sendBye(s, 'finished', 'the federated run is finished');
    if (this.config.exitWhenDone) {
      await sleep(300);
      await this.stop();
    }
  }

  /** Stops the hub (idempotent: every caller gets the same promise). */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.stopped = true;
    this.phase = 'stopped';
    this.notify();
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const s of this.sessions.values()) {
      if (!this.finished) this.sendBye(s, 'shutdown', 'the hub is shutting down');
      s.ws.close(this.finished ? CLOSE.finished : CLOSE.shutdown);
    }
    await new Promise<void>((r) => {
      const t = setTimeout(() => {
        for (const c of this.wss?.clients ?? []) c.terminate();
      }, 1000);
      this.wss?.close(() => {
        clearTimeout(t);
        r();
      });
      if (!this.wss) r();
    });
    this.server?.closeAllConnections?.();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.state.audit('hub_stop', null, null, null, '');
    this.state.close();
  }

  // ------------------------------------------------------------------ rounds
  private readySites(): Session[] {
    return [...this.sessions.values()].filter(
      (s) => s.role === 'train' && (this.config.mode === 'fedavg' || this.state.hasSpectra(s.name)),
    );
  }

  private async ensureGlobal(): Promise<void> {
    const ck = this.state.latestCheckpoint();
    if (ck) {
      this.setGlobal(ck.round, ck.weights);
      this.log(`global model: round ${ck.round} checkpoint (${ck.hash.slice(0, 12)})`);
      return;
    }
    if (this.config.initWeights) {
      let buf: Uint8Array;
      try {
        buf = readFileSync(this.config.initWeights);
      } catch (e) {
        throw new FedSegError('IO_ERROR', `cannot read initWeights ${this.config.initWeights}: ${(e as Error).message}`);
      }
      const arrays = decodeWeights(buf).arrays;
      const frame = encodeWeights(arrays);
      this.state.saveInitialCheckpoint(frame, sha256(frame), this.config.initWeights);
      this.setGlobal(0, frame);
      return;
    }
    // One global initialisation (ALGORITHMS.md §1): ask one train site to build the model from model.seed.
    while (!this.stopped && !this.global) {
      await this.waitUntil(() => this.stopped || !!this.global || [...this.sessions.values()].some((s) => s.role === 'train'), 5000);
      if (this.global || this.stopped) break;
      const asked = [...this.sessions.values()].find((s) => s.role === 'train' && !s.awaitingInit);
      if (!asked) continue;
      asked.awaitingInit = true;
      this.send(asked, { kind: 'init_ins' });
      const t0 = Date.now();
      await this.waitUntil(() => this.stopped || !!this.global || this.sessions.get(asked.name) !== asked || Date.now() - t0 > this.config.roundTimeoutMs, 1000);
      asked.awaitingInit = false;
    }
  }

  private setGlobal(round: number, stored: Uint8Array): void {
    const arrays = decodeWeights(stored).arrays;
    const frame = this.config.wireDtype === 'float16' ? encodeWeights(arrays, { dtype: 'float16' }) : stored;
    this.global = { round, arrays, frame, hash: sha256(frame) };
    this.notify();
  }

  private async runRound(r: number): Promise<boolean> {
    const g = this.global!;
    const parts = this.readySites();
    const round: OpenRound = {
      round: r, participants: new Set(parts.map((s) => s.name)), pending: new Set(parts.map((s) => s.name)),
      accepted: [], rejected: [], metrics: {}, acc: new FedAvgAccumulator(g.arrays, this.config.clipNorm),
      deadline: Date.now() + this.config.roundTimeoutMs, goneSince: new Map(),
    };
    this.current = round;
    this.state.openRound(r, this.config.mode, [...round.participants]);
    this.log(`round ${r}/${this.config.rounds} open: ${[...round.participants].join(', ')}`);
    for (const s of parts) this.sendTrain(s, round);
    // Done when everyone answered, at the deadline, or when every missing participant has been gone for
    // longer than rejoinGraceMs (a dead site does not hold the round until the deadline).
    const grace = this.config.rejoinGraceMs;
    await this.waitUntil(() => this.stopped || round.pending.size === 0 || Date.now() >= round.deadline ||
      [...round.pending].every((s) => Date.now() - (round.goneSince.get(s) ?? Infinity) > grace), 250);
    this.current = undefined;
    if (this.stopped) return false;
    for (const site of round.pending) {
      round.rejected.push({ site, reason: this.sessions.has(site) ? 'straggler: missed the round deadline' : 'dropped: disconnected and did not return in time' });
      this.state.audit('excluded', site, null, null, `round ${r}: ${round.rejected.at(-1)!.reason}`);
    }
    if (round.acc.count === 0) {
      this.state.abortRound(r, 'no valid update before the deadline', round.rejected);
      this.log(`round ${r}: no valid update; retrying`);
      return false;
    }
    const avg = round.acc.result();
    const frame = encodeWeights(avg);
    const hash = sha256(frame);
    this.state.completeRound({ round: r, accepted: round.accepted, rejected: round.rejected, numSamples: round.acc.totalSamples, metrics: round.metrics },
      frame, hash, this.config.keepCheckpoints);
    this.setGlobal(r, frame);
    this.log(`round ${r} done: ${round.accepted.length} update(s), ${round.acc.totalSamples} samples` +
      (round.rejected.length ? `; excluded ${round.rejected.map((x) => `${x.site} (${x.reason})`).join(', ')}` : ''));
    for (const s of this.sessions.values()) this.maybeEvaluate(s);
    return true;
  }

  private sendTrain(s: Session, round: OpenRound): void {
    const g = this.global!;
    if (this.config.mode === 'elcfs') this.sendBankIfStale(s);
    this.send(s, { kind: 'train_ins', round: round.round, mode: this.config.mode, globalHash: g.hash, deadline: round.deadline }, g.frame);
  }

  private sendBankIfStale(s: Session): void {
    const stored = this.state.listSpectra();
    const key = stored.filter((x) => x.site !== s.name).map((x) => `${x.site}:${x.count}`).join('|');
    if (s.bankKey === key) return;
    const bank = buildBank(s.name, stored, this.config.spectrumMaxPerSite);
    s.bankKey = key;
    this.send(s, { kind: 'spectrum_bank', sources: bank.sources.length, count: bank.arrays.length, version: stored.length }, bank.arrays);
  }

  private maybeEvaluate(s: Session): void {
    const g = this.global;
    if (!g || g.round === 0 || this.config.evaluate === 'none') return;
    if (this.config.evaluate === 'eval' && s.role !== 'eval') return;
    if (this.state.hasEvaluation(g.round, s.name)) return;
    this.send(s, { kind: 'evaluate_ins', round: g.round }, g.frame);
  }

  private async waitFinalEvaluations(): Promise<void> {
    if (this.config.evaluate === 'none') return;
    const last = this.state.lastCompletedRound();
    const evaluators = () => this.config.evaluate === 'all'
      ? [...this.sessions.values()].map((s) => s.name)
      : this.state.listSites().filter((s) => s.role === 'eval').map((s) => s.name);
    const t0 = Date.now();
    await this.waitUntil(() => this.stopped || Date.now() - t0 > this.config.evalTimeoutMs ||
      evaluators().every((n) => this.state.hasEvaluation(last, n) || (!this.sessions.has(n) && Date.now() - t0 > 5000)), 250);
  }

  // ------------------------------------------------------------------ connections
  private onConnection(ws: WebSocket, addr: string): void {
    let session: Session | undefined;
    const helloTimer = setTimeout(() => {
      if (!session) this.reject(ws, null, 'PROTOCOL_ERROR', 'no hello within 10 s', CLOSE.protocolError);
    }, 10_000);
    ws.on('error', (e: Error & { code?: string }) => {
      if (e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        const who = session?.name ?? addr;
        this.state.audit('rejected', session?.name ?? null, 'in', null, `message too large from ${who}: over maxPayload ${this.config.maxPayload} bytes`);
        this.log(`rejected an oversized message from ${who} (maxPayload ${this.config.maxPayload} bytes)`);
      }
    });
    ws.on('pong', () => {
      if (session) session.lastSeen = Date.now();
    });
    ws.on('close', () => {
      clearTimeout(helloTimer);
      if (session && this.sessions.get(session.name) === session) {
        this.dropSession(session);
        this.state.audit('leave', session.name, null, null, '');
        this.log(`site ${session.name} disconnected`);
        this.notify();
      }
    });
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      let frame: DecodedFrame;
      try {
        frame = decodeMessage(isBinary ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : buf.toString('utf8'), isBinary,
          { accept: SITE_TO_HUB, maxValues: Math.ceil(this.config.maxPayload / 2) });
      } catch (e) {
        const v = toErrorValue(e);
        this.state.audit('rejected', session?.name ?? null, 'in', buf.byteLength, `from ${session?.name ?? addr}: ${v.message}`);
        this.log(`rejected a message from ${session?.name ?? addr}: ${v.message}`);
        this.reject(ws, session ?? null, v.code, v.message, CLOSE.protocolError);
        return;
      }
      if (!session) {
        if (frame.msg.kind !== 'hello') {
          this.reject(ws, null, 'PROTOCOL_ERROR', `expected hello first, got '${frame.msg.kind}'`, CLOSE.protocolError);
          return;
        }
        clearTimeout(helloTimer);
        session = this.onHello(ws, frame.msg, addr, frame.bytes);
        return;
      }
      session.lastSeen = Date.now();
      if (frame.msg.kind !== 'heartbeat') this.state.audit('recv', session.name, 'in', frame.bytes, summarise(frame.msg));
      try {
        this.onMessage(session, frame);
      } catch (e) {
        const v = toErrorValue(e);
        this.state.audit('rejected', session.name, 'in', frame.bytes, `${frame.msg.kind}: ${v.message}`);
        this.log(`rejected ${frame.msg.kind} from ${session.name}: ${v.message}`);
        this.send(session, { kind: 'error', code: v.code, message: v.message });
      }
    });
  }

  private reject(ws: WebSocket, s: Session | null, code: ErrorCode, message: string, close: number): void {
    try {
      const m = encodeMessage({ kind: 'error', code, message });
      ws.send(m.data, () => ws.close(close, message.slice(0, 120)));
    } catch {
      ws.terminate();
    }
    if (s && this.sessions.get(s.name) === s) {
      this.dropSession(s);
      this.notify();
    }
  }

  /** Forgets a session; a pending participant of the open round starts its rejoin grace now. */
  private dropSession(s: Session): void {
    this.sessions.delete(s.name);
    if (this.current?.pending.has(s.name)) this.current.goneSince.set(s.name, Date.now());
  }

  private onHello(ws: WebSocket, m: MessageOf<'hello'>, addr: string, bytes: number): Session | undefined {
    if (m.protocol !== PROTOCOL_VERSION) {
      this.state.audit('rejected', m.site, 'in', bytes, `protocol version ${m.protocol} from ${addr}; hub speaks ${PROTOCOL_VERSION}`);
      this.reject(ws, null, 'VERSION_MISMATCH', `protocol version mismatch: site speaks ${m.protocol}, hub speaks ${PROTOCOL_VERSION}; update the older one`, CLOSE.versionMismatch);
      return undefined;
    }
    const role = this.state.authenticate(m.site, m.token);
    if (!role) {
      this.state.audit('rejected', m.site, 'in', bytes, `authentication failed from ${addr}`);
      this.log(`authentication failed for '${m.site}' from ${addr}`);
      this.reject(ws, null, 'AUTH_FAILED', `authentication failed for site '${m.site}': unknown site or wrong token`, CLOSE.authFailed);
      return undefined;
    }
    if (m.capabilities.role !== role) {
      this.reject(ws, null, 'AUTH_FAILED', `site '${m.site}' is enrolled as a ${role} site but connected as ${m.capabilities.role}`, CLOSE.authFailed);
      return undefined;
    }
    const existing = this.sessions.get(m.site);
    if (existing && existing.ws.readyState === existing.ws.OPEN) {
      // A live session with this name wins (a second instance is refused). A stale one (no pong or message
      // for 2 heartbeats: typically a half-open socket after a network drop) is replaced by the newcomer.
      if (Date.now() - existing.lastSeen < Math.max(2 * this.config.heartbeatMs, 1000)) {
        this.state.audit('rejected', m.site, 'in', bytes, `duplicate connection from ${addr}: '${m.site}' is already connected`);
        this.reject(ws, null, 'ALREADY_EXISTS', `site '${m.site}' is already connected (duplicate site name)`, CLOSE.duplicate);
        return undefined;
      }
      this.state.audit('replaced', m.site, 'in', bytes, `stale session (silent ${Date.now() - existing.lastSeen} ms) replaced by a new connection from ${addr}`);
      this.sessions.delete(m.site);
      existing.ws.terminate();
    }
    if (role === 'train' && !m.capabilities.modes.includes(this.config.mode)) {
      this.reject(ws, null, 'UNSUPPORTED', `site '${m.site}' cannot train in ${this.config.mode} mode`, CLOSE.protocolError);
      return undefined;
    }
    const s: Session = { name: m.site, role, ws, caps: m.capabilities, connectedAt: Date.now(), lastSeen: Date.now() };
    this.sessions.set(s.name, s);
    this.state.touchSite(s.name);
    this.state.audit('join', s.name, 'in', bytes, `${addr}; backend ${m.capabilities.backend}; role ${role}` + (m.resumeRound !== undefined ? `; resuming round ${m.resumeRound}` : ''));
    this.log(`site ${s.name} joined (${role}, backend ${m.capabilities.backend})`);
    const spectrumNeeded = this.config.mode === 'elcfs' && role === 'train' && !this.state.hasSpectra(s.name);
    this.send(s, {
      kind: 'welcome', protocol: PROTOCOL_VERSION, hub: this.config.name, mode: this.config.mode,
      round: this.current?.round ?? this.state.lastCompletedRound() + (this.finished ? 0 : 1), totalRounds: this.config.rounds,
      model: this.config.model, train: this.config.train, maxPayload: this.config.maxPayload, wireDtype: this.config.wireDtype,
      heartbeatMs: this.config.heartbeatMs, spectrumNeeded,
    });
    if (this.finished) {
      this.sendBye(s, 'finished', 'the federated run is finished');
      return s;
    }
    if (spectrumNeeded) this.send(s, { kind: 'spectrum_ins', alpha: this.config.train.alpha, maxWindows: 100000 });
    // Rejoin: a participant of the open round that has not answered gets its instructions again.
    if (this.current?.pending.has(s.name)) {
      this.current.goneSince.delete(s.name);
      this.sendTrain(s, this.current);
    }
    this.maybeEvaluate(s);
    this.notify();
    return s;
  }

  private onMessage(s: Session, f: DecodedFrame): void {
    const m = f.msg;
    switch (m.kind) {
      case 'heartbeat':
        s.progress = m.progress;
        s.progressRound = m.round;
        return;
      case 'bye':
        s.ws.close(CLOSE.normal);
        return;
      case 'error':
        this.state.audit('site_error', s.name, 'in', f.bytes, `${m.code}: ${m.message}`);
        this.log(`site ${s.name} reported ${m.code}: ${m.message}`);
        return;
      case 'init_res': {
        if (!s.awaitingInit || this.global) throw new FedSegError('PROTOCOL_ERROR', 'unexpected init_res');
        const arrays = f.arrays!;
        if (arrays.length === 0) throw new FedSegError('BAD_UPDATE', 'initial model has no weights');
        for (const a of arrays) for (const v of a.data) if (!Number.isFinite(v)) throw new FedSegError('BAD_UPDATE', `initial weight '${a.name}' is not finite`);
        const frame = encodeWeights(arrays);
        this.state.saveInitialCheckpoint(frame, sha256(frame), s.name);
        this.setGlobal(0, frame);
        return;
      }
      case 'spectrum_res': {
        if (s.role !== 'train') throw new FedSegError('PROTOCOL_ERROR', 'eval (unseen) sites do not share spectra');
        if (this.config.mode !== 'elcfs') throw new FedSegError('PROTOCOL_ERROR', 'this run does not use spectra (FedAvg mode)');
        checkWindows(f.arrays!, m.count, m.channels, m.halfWidth, 100000);
        this.state.saveSpectra(s.name, m.count, m.channels, m.halfWidth, f.attachment!.slice());
        this.log(`site ${s.name}: ${m.count} spectrum windows (${m.channels}x${2 * m.halfWidth + 1}^2)`);
        this.notify();
        return;
      }
      case 'train_res': {
        const r = this.current;
        if (!r || r.round !== m.round) throw new FedSegError('TIMEOUT', `update for round ${m.round} arrived after the round closed (late; excluded)`);
        if (!r.participants.has(s.name)) throw new FedSegError('PROTOCOL_ERROR', `site '${s.name}' is not a participant of round ${m.round}`);
        if (!r.pending.has(s.name)) throw new FedSegError('PROTOCOL_ERROR', `site '${s.name}' already answered round ${m.round}`);
        if (m.globalHash !== this.global!.hash) throw new FedSegError('BAD_UPDATE', `update for round ${m.round} was trained from another global model`);
        r.pending.delete(s.name);
        try {
          const v = r.acc.add(f.arrays!, m.numSamples);
          r.accepted.push(s.name);
          r.metrics[s.name] = { ...m.metrics, numSamples: m.numSamples, deltaNorm: v.deltaNorm, clipScale: v.scale };
          this.state.touchSite(s.name, m.numSamples);
        } catch (e) {
          const reason = toErrorValue(e).message;
          r.rejected.push({ site: s.name, reason });
          this.notify();
          throw e;
        }
        this.notify();
        return;
      }
      case 'evaluate_res':
        this.state.saveEvaluation({ round: m.round, site: s.name, numSamples: m.numSamples, metrics: m.metrics });
        this.log(`site ${s.name} evaluated round ${m.round}: ${Object.entries(m.metrics).slice(0, 4).map(([k, v]) => `${k}=${v.toFixed(4)}`).join(' ')}`);
        this.notify();
        return;
      default:
        throw new FedSegError('PROTOCOL_ERROR', `unexpected '${m.kind}'`);
    }
  }

  private send(s: Session, msg: HubMessage, weights?: NamedArray[] | Uint8Array): void {
    if (s.ws.readyState !== s.ws.OPEN) return;
    const e = encodeMessage(msg, weights);
    s.ws.send(e.data);
    if (msg.kind !== 'heartbeat') this.state.audit('send', s.name, 'out', e.bytes, summarise(msg));
  }

  private sendBye(s: Session, reason: 'finished' | 'shutdown', message: string): void {
    this.send(s, { kind: 'bye', reason, message });
  }

  /** Pings every site; drops those silent for longer than siteTimeoutMs. */
  private sweep(): void {
    const now = Date.now();
    // If this timer fired late, the hub's own event loop was blocked (a loaded machine, a long SQLite
    // write): frames from the sites sat unread meanwhile, so that time is not the sites' silence. Without
    // this, one stall longer than siteTimeoutMs dropped every site at once (seen under load: a reconnecting
    // participant then missed rejoinGraceMs, the round was aborted and the quorum could never be met again).
    const lag = now - this.lastSweep - this.config.heartbeatMs;
    this.lastSweep = now;
    if (lag > 0) for (const s of this.sessions.values()) s.lastSeen = Math.min(now, s.lastSeen + lag);
    for (const s of this.sessions.values()) {
      if (now - s.lastSeen > this.config.siteTimeoutMs) {
        this.state.audit('timeout', s.name, null, null, `silent for ${now - s.lastSeen} ms`);
        s.ws.terminate();
      } else if (s.ws.readyState === s.ws.OPEN) s.ws.ping();
    }
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when pred() holds; re-checked on every state change and at least every `pollMs`. */
  private async waitUntil(pred: () => boolean, pollMs: number): Promise<void> {
    while (!pred()) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

function summarise(m: HubMessage): string {
  switch (m.kind) {
    case 'hello': return `hello ${m.site} v${m.protocol}`;
    case 'train_ins': return `train_ins round ${m.round} (global model of round ${m.round - 1})`;
    case 'train_res': return `train_res round ${m.round}`;
    case 'evaluate_ins': case 'evaluate_res': return `${m.kind} round ${m.round}`;
    case 'spectrum_res': return `spectrum_res ${m.count} windows`;
    case 'spectrum_bank': return `spectrum_bank ${m.count} windows from ${m.sources} sites`;
    case 'error': return `error ${m.code}: ${m.message}`;
    default: return m.kind;
  }
}
