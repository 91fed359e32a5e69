// Federated rounds (docs/algorithms.md §1), independent of sockets: one global initialisation (a
// checkpoint, an initWeights file, or one train site asked to build the model from initSeed), then per
// round a quorum of ready train sites (minSites), the global model sent to each, updates folded in by
// the strategy's aggregator until everyone answered, the deadline passed, or every missing participant
// has been gone longer than rejoinGraceMs; the new global model is checkpointed with the round in ONE
// transaction (a killed hub resumes at the last completed round) and sent to the evaluating sites.
// After the last round the final model goes to every connected site. A failed or late site is data
// for the round (logged, excluded), never a crash.
import { createHash } from 'node:crypto';
import { FedSegError, toErrorValue } from '../core/contract/errors.js';
import type { DecodedFrame, HubMessage, MessageOf } from '../core/contract/hub-protocol.js';
import { decodeWeights, encodeWeights, type NamedArray } from '../core/contract/weights.js';
import { Changes } from './changes.js';
import type { HubConfig } from './config.js';
import { acceptInitialModel, initialFromFile } from './initial-model.js';
import type { Session } from './sessions.js';
import type { HubState } from './state.js';
import type { Aggregator, Strategy } from './strategies/strategy.js';

export interface Peers {
  all(): Session[];
  get(name: string): Session | undefined;
  /** false when it was not sent (closed, or larger than the site accepts). */
  send(s: Session, msg: HubMessage, weights?: NamedArray[] | Uint8Array): boolean;
  bye(s: Session, reason: 'finished' | 'shutdown', message: string): void;
}

interface OpenRound {
  round: number;
  participants: Set<string>;
  pending: Set<string>;
  accepted: string[];
  rejected: { site: string; reason: string }[];
  metrics: Record<string, Record<string, number>>;
  agg: Aggregator;
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

export type RunnerPhase = 'starting' | 'init' | 'waiting' | 'round' | 'evaluating' | 'finished' | 'stopped';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class RoundRunner {
  phase: RunnerPhase = 'starting';
  finished = false;
  private stopped = false;
  private global?: Global;
  private current?: OpenRound;
  private readonly changes = new Changes();

  constructor(private readonly config: HubConfig, private readonly state: HubState, private readonly strategy: Strategy, private readonly peers: Peers, private readonly log: (l: string) => void) {}

  get currentRound(): number | null {
    return this.current?.round ?? null;
  }

  get pending(): string[] {
    return this.current ? [...this.current.pending] : [];
  }

  get deadline(): number | null {
    return this.current?.deadline ?? null;
  }

  /** The round a joining site is told about. */
  roundForWelcome(): number {
    return this.current?.round ?? this.state.lastCompletedRound() + (this.finished ? 0 : 1);
  }

  /** Runs every remaining round; resolves when the run is finished (or stop() was called). */
  async run(): Promise<void> {
    this.phase = 'init';
    await this.ensureGlobal();
    let r = this.state.lastCompletedRound() + 1;
    while (!this.stopped && r <= this.config.rounds) {
      this.phase = 'waiting';
      let lastLog = 0;
      // stopped first: a hub stopped while waiting for its quorum must not keep polling (and reading a closed state).
      await this.waitUntil(() => {
        if (this.stopped) return true;
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
    for (const s of this.peers.all()) this.farewell(s);
  }

  stop(): void {
    this.stopped = true;
    this.phase = 'stopped';
    this.notify();
  }

  /** Wakes the waits (a site joined or left, readiness may have changed). */
  notify(): void {
    this.changes.notify();
  }

  // ------------------------------------------------------------------ sites
  /** A newly welcomed site: the final model once the run is over; otherwise the open round's instructions again (rejoin) and any pending evaluation. */
  joined(s: Session): void {
    if (this.finished) return this.farewell(s);
    if (this.current?.pending.has(s.name)) {
      this.current.goneSince.delete(s.name);
      this.sendTrain(s, this.current);
    }
    this.maybeEvaluate(s);
    this.notify();
  }

  /** A site's connection ended; a pending participant of the open round starts its rejoin grace now. */
  left(s: Session): void {
    if (this.current?.pending.has(s.name)) this.current.goneSince.set(s.name, Date.now());
    this.notify();
  }

  /**
   * An error a site reported. One from the site asked for the initial model while that request is open
   * means it will not build it (it cannot, or its operator refused): the hub asks another site at once
   * instead of waiting out the round timeout with no global model.
   */
  siteError(s: Session, code: string, message: string): void {
    if (!s.awaitingInit || this.global) return;
    s.notes.set('initFailed', `${code}: ${message}`);
    this.log(`site ${s.name} did not build the initial model (${code}: ${message}); asking another site`);
    this.notify();
  }

  /** The run's messages from sites (the strategy had its turn first). */
  message(s: Session, f: DecodedFrame): void {
    const m = f.msg;
    switch (m.kind) {
      case 'init_res':
        return this.onInitRes(s, f.arrays!);
      case 'train_res':
        return this.onTrainRes(s, m, f.arrays!);
      case 'evaluate_res': {
        // Only an answer to this hub's own request counts: an unsolicited result (another round, a site
        // never asked) would otherwise stand in the record as that site's evaluation.
        const asked = s.notes.get('evaluateAsked') as Set<number> | undefined;
        if (!asked?.has(m.round)) throw new FedSegError('PROTOCOL_ERROR', `evaluate_res for round ${m.round} was not requested from site '${s.name}'`);
        asked.delete(m.round);
        this.state.saveEvaluation({ round: m.round, site: s.name, numSamples: m.numSamples, metrics: m.metrics });
        this.log(`site ${s.name} evaluated round ${m.round}: ${Object.entries(m.metrics).slice(0, 4).map(([k, v]) => `${k}=${v.toFixed(4)}`).join(' ')}`);
        this.notify();
        return;
      }
      default:
        throw new FedSegError('PROTOCOL_ERROR', `unexpected '${m.kind}'`);
    }
  }

  private farewell(s: Session): void {
    const g = this.global;
    if (g && g.round > 0) this.peers.send(s, { kind: 'global_model', round: g.round, final: true }, g.frame);
    this.peers.bye(s, 'finished', 'the federated run is finished');
  }

  // ------------------------------------------------------------------ the global model
  private readySites(): Session[] {
    return this.peers.all().filter((s) => s.role === 'train' && this.strategy.ready(s));
  }

  private async ensureGlobal(): Promise<void> {
    const ck = this.state.latestCheckpoint();
    if (ck) {
      this.setGlobal(ck.round, ck.weights);
      this.log(`global model: round ${ck.round} checkpoint (${ck.hash.slice(0, 12)})`);
      return;
    }
    const fromFile = initialFromFile(this.config, this.state);
    if (fromFile) return this.setGlobal(0, fromFile);
    // One global initialisation (docs/algorithms.md §1): ask one train site to build the model from initSeed.
    // A session that answered the request with an error is not asked again (it may reconnect: a new
    // session is asked afresh).
    const askable = (s: Session) => s.role === 'train' && !s.awaitingInit && !s.notes.has('initFailed');
    while (!this.stopped && !this.global) {
      await this.waitUntil(() => this.stopped || !!this.global || this.peers.all().some(askable), 5000);
      if (this.global || this.stopped) break;
      const asked = this.peers.all().find(askable);
      if (!asked) continue;
      asked.awaitingInit = true;
      this.log(`asking site ${asked.name} to build the initial model (seed ${this.config.initSeed})`);
      this.peers.send(asked, { kind: 'init_ins', seed: this.config.initSeed });
      const t0 = Date.now();
      await this.waitUntil(() => this.stopped || !!this.global || this.peers.get(asked.name) !== asked || asked.notes.has('initFailed') ||
        Date.now() - t0 > this.config.roundTimeoutMs, 1000);
      asked.awaitingInit = false;
    }
  }

  private onInitRes(s: Session, arrays: NamedArray[]): void {
    if (!s.awaitingInit || this.global) throw new FedSegError('PROTOCOL_ERROR', 'unexpected init_res');
    this.setGlobal(0, acceptInitialModel(this.state, s.name, arrays));
    this.log(`initial model from site ${s.name} (${arrays.length} arrays)`);
  }

  private setGlobal(round: number, stored: Uint8Array): void {
    const arrays = decodeWeights(stored).arrays;
    const frame = this.config.wireDtype === 'float16' ? encodeWeights(arrays, { dtype: 'float16' }) : stored;
    this.global = { round, arrays, frame, hash: sha256(frame) };
    this.notify();
  }

  // ------------------------------------------------------------------ rounds
  private async runRound(r: number): Promise<boolean> {
    const g = this.global!;
    const parts = this.readySites();
    const round: OpenRound = {
      round: r, participants: new Set(parts.map((s) => s.name)), pending: new Set(parts.map((s) => s.name)),
      accepted: [], rejected: [], metrics: {}, agg: this.strategy.aggregator(g.arrays),
      deadline: Date.now() + this.config.roundTimeoutMs, goneSince: new Map(),
    };
    this.current = round;
    this.state.openRound(r, this.strategy.name, [...round.participants]);
    this.log(`round ${r}/${this.config.rounds} open: ${[...round.participants].join(', ')}`);
    for (const s of parts) this.sendTrain(s, round);
    const grace = this.config.rejoinGraceMs;
    await this.waitUntil(() => this.stopped || round.pending.size === 0 || Date.now() >= round.deadline ||
      [...round.pending].every((s) => Date.now() - (round.goneSince.get(s) ?? Infinity) > grace), 250);
    this.current = undefined;
    if (this.stopped) return false;
    for (const site of round.pending) {
      round.rejected.push({ site, reason: this.peers.get(site) ? 'straggler: missed the round deadline' : 'dropped: disconnected and did not return in time' });
      this.state.audit('excluded', site, null, null, `round ${r}: ${round.rejected.at(-1)!.reason}`);
    }
    if (round.agg.count === 0) {
      this.state.abortRound(r, 'no valid update before the deadline', round.rejected);
      this.log(`round ${r}: no valid update; retrying`);
      return false;
    }
    const frame = encodeWeights(round.agg.result());
    // What the strategy derived per site (FedDG-GA's weights) joins what the site reported.
    for (const [site, extra] of Object.entries(round.agg.siteMetrics?.() ?? {}))
      if (round.metrics[site]) round.metrics[site] = { ...round.metrics[site], ...extra };
    const hash = sha256(frame);
    this.state.completeRound({ round: r, accepted: round.accepted, rejected: round.rejected, numSamples: round.agg.totalSamples, metrics: round.metrics },
      frame, hash, this.config.keepCheckpoints);
    this.setGlobal(r, frame);
    this.log(`round ${r} done: ${round.accepted.length} update(s), ${round.agg.totalSamples} samples` +
      (round.rejected.length ? `; excluded ${round.rejected.map((x) => `${x.site} (${x.reason})`).join(', ')}` : ''));
    for (const s of this.peers.all()) this.maybeEvaluate(s);
    return true;
  }

  private sendTrain(s: Session, round: OpenRound): void {
    const g = this.global!;
    this.strategy.beforeTrain(s);
    const sent = this.peers.send(s, {
      kind: 'train_ins', round: round.round, mode: this.strategy.localMode, globalHash: g.hash, deadline: round.deadline,
      timeLeftMs: Math.max(0, round.deadline - Date.now()),
    }, g.frame);
    // A model larger than the site accepts is that site's failure for the round, never a stall.
    if (!sent && s.conn.isOpen() && round.pending.delete(s.name)) {
      round.rejected.push({ site: s.name, reason: `the global model (${g.frame.byteLength} bytes) is larger than the site accepts (${s.maxPayload} bytes)` });
      this.notify();
    }
  }

  private onTrainRes(s: Session, m: MessageOf<'train_res'>, arrays: NamedArray[]): void {
    const r = this.current;
    if (!r || r.round !== m.round) throw new FedSegError('TIMEOUT', `update for round ${m.round} arrived after the round closed (late; excluded)`);
    if (!r.participants.has(s.name)) throw new FedSegError('PROTOCOL_ERROR', `site '${s.name}' is not a participant of round ${m.round}`);
    if (!r.pending.has(s.name)) throw new FedSegError('PROTOCOL_ERROR', `site '${s.name}' already answered round ${m.round}`);
    if (m.globalHash !== this.global!.hash) throw new FedSegError('BAD_UPDATE', `update for round ${m.round} was trained from another global model`);
    r.pending.delete(s.name);
    try {
      const v = r.agg.add(arrays, m.numSamples, s.name, m.metrics);
      r.accepted.push(s.name);
      r.metrics[s.name] = { ...m.metrics, numSamples: m.numSamples, deltaNorm: v.deltaNorm, clipScale: v.scale };
      this.state.touchSite(s.name, m.numSamples);
    } catch (e) {
      r.rejected.push({ site: s.name, reason: toErrorValue(e).message });
      throw e;
    } finally {
      this.notify();
    }
  }

  private maybeEvaluate(s: Session): void {
    const g = this.global;
    if (!g || g.round === 0 || this.config.evaluate === 'none') return;
    if (this.config.evaluate === 'eval' && s.role !== 'eval') return;
    if (this.state.hasEvaluation(g.round, s.name)) return;
    if (!this.peers.send(s, { kind: 'evaluate_ins', round: g.round }, g.frame)) return;
    const asked = (s.notes.get('evaluateAsked') as Set<number> | undefined) ?? new Set<number>();
    asked.add(g.round);
    s.notes.set('evaluateAsked', asked);
  }

  private async waitFinalEvaluations(): Promise<void> {
    if (this.config.evaluate === 'none') return;
    const last = this.state.lastCompletedRound();
    const evaluators = () => this.config.evaluate === 'all'
      ? this.peers.all().map((s) => s.name)
      : this.state.listSites().filter((s) => s.role === 'eval').map((s) => s.name);
    const t0 = Date.now();
    await this.waitUntil(() => this.stopped || Date.now() - t0 > this.config.evalTimeoutMs ||
      evaluators().every((n) => this.state.hasEvaluation(last, n) || (!this.peers.get(n) && Date.now() - t0 > 5000)), 250);
  }

  private waitUntil(pred: () => boolean, pollMs: number): Promise<void> {
    return this.changes.until(pred, pollMs);
  }
}
