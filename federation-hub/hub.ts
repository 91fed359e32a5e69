// The federation hub, composed from its parts: a transport (ws-transport.ts: WebSocket + TLS + GET
// /status; or the in-memory twin), the connected sites (sessions.ts: hello, auth, audit, heartbeats),
// the rounds (round-runner.ts: quorum, deadline, checkpoints, evaluation) and the aggregation strategy
// (strategies/: FedAvg, ELCFS = FedAvg + the spectrum bank). This file only wires them together, checks
// that a joining site can take part, and welcomes it.
import { randomBytes } from 'node:crypto';
import { FedSegError } from '../core/contract/errors.js';
import { PROTOCOL_VERSION, type HelloMsg, type HubMessage, type SiteRole } from '../core/contract/hub-protocol.js';
import type { HubStatus } from '../core/contract/hub-status.js';
import { privacyBudget } from '../core/contract/privacy.js';
import type { HubConfig } from './config.js';
import { RoundRunner } from './round-runner.js';
import { Sessions, type HubLog, type Session } from './sessions.js';
import { HubState } from './state.js';
import { hubStatus } from './status.js';
import { createStrategy } from './strategies/index.js';
import type { Strategy } from './strategies/strategy.js';
import type { HubTransport } from './transport.js';
import { WsTransport, wsTransportOptions } from './ws-transport.js';

export type { HubLog, Session };

export class Hub {
  readonly state: HubState;
  readonly strategy: Strategy;
  readonly sessions: Sessions;
  private readonly rounds: RoundRunner;
  private readonly transport: HubTransport;
  private runId = '';
  private stopping?: Promise<void>;
  port = 0;

  constructor(readonly config: HubConfig, private readonly log: HubLog = () => {}, transport?: HubTransport) {
    this.state = new HubState(config.db);
    this.transport = transport ?? new WsTransport(wsTransportOptions(config, this.state, (l) => this.log(l)));
    this.strategy = createStrategy(config.strategy, {
      config, state: this.state, log: (l) => this.log(l),
      send: (site, msg, weights) => this.sessions.send(site as Session, msg, weights),
      changed: () => this.rounds.notify(),
    });
    this.sessions = new Sessions(config, this.state, (l) => this.log(l), {
      admit: (hello, role) => this.admit(hello, role),
      joined: (s) => this.welcome(s),
      message: (s, f) => {
        if (!this.strategy.onMessage(s, f)) this.rounds.message(s, f);
      },
      siteError: (s, code, message) => this.rounds.siteError(s, code, message),
      left: (s) => this.rounds.left(s),
      probed: (s) => this.sessions.send(s, this.welcomeMessage(s)),
    });
    this.rounds = new RoundRunner(config, this.state, this.strategy, this.sessions, (l) => this.log(l));
  }

  /** The address sites connect to (once listening). */
  get url(): string {
    return this.transport.url;
  }

  /** Binds the transport. Resolves with the port once listening. */
  async listen(): Promise<number> {
    const prev = this.state.getMeta('strategy') ?? this.state.getMeta('mode');
    if (prev && prev !== this.config.strategy && this.state.lastCompletedRound() > 0)
      throw new FedSegError('INVALID_ARGUMENT', `hub state ${this.config.db} holds a ${prev} run; use another --db for a ${this.config.strategy} run`);
    const prevModel = this.state.getMeta('model');
    if (prevModel && prevModel !== JSON.stringify(this.config.model) && this.state.lastCompletedRound() > 0)
      throw new FedSegError('INVALID_ARGUMENT', `hub state ${this.config.db} holds a run of another model (${prevModel}); use another --db for this one`);
    this.runId = this.state.getMeta('runId') ?? randomBytes(16).toString('hex');
    for (const [k, v] of Object.entries({
      runId: this.runId, strategy: this.config.strategy, rounds: String(this.config.rounds), name: this.config.name,
      minSites: String(this.config.minSites), model: JSON.stringify(this.config.model),
    })) this.state.setMeta(k, v);
    const aborted = this.state.abortOpenRounds('hub restarted');
    if (aborted.length) this.log(`resuming: round(s) ${aborted.join(', ')} were open when the hub stopped; re-running`);
    this.port = await this.transport.listen({ connection: (c) => this.sessions.accept(c), status: () => this.status() });
    this.sessions.startSweeps();
    this.state.audit('hub_start', null, null, null, `listening on ${this.transport.url}`);
    return this.port;
  }

  status(): HubStatus {
    return hubStatus(this.state, { name: this.config.name, strategy: this.strategy.name, rounds: this.config.rounds, minSites: this.config.minSites, dp: this.config.dp }, {
      phase: this.rounds.phase, sessions: this.sessions.all(), currentRound: this.rounds.currentRound, deadline: this.rounds.deadline, pending: this.rounds.pending,
    });
  }

  /** Runs every remaining round; resolves when the run is finished (or the hub is stopped). */
  async run(): Promise<void> {
    await this.rounds.run();
    if (this.rounds.finished && this.config.exitWhenDone) {
      await new Promise((r) => setTimeout(r, 300));
      await this.stop();
    }
  }

  /** Stops the hub (idempotent: every caller gets the same promise). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.rounds.stop();
      this.sessions.closeAll(this.rounds.finished);
      await this.transport.close();
      this.state.audit('hub_stop', null, null, null, '');
      this.state.close();
    })();
    return this.stopping;
  }

  private admit(m: HelloMsg, role: SiteRole): { code: 'UNSUPPORTED'; message: string } | null {
    if (role === 'train' && !m.capabilities.modes.includes(this.strategy.localMode))
      return { code: 'UNSUPPORTED', message: `site '${m.site}' cannot train in ${this.strategy.localMode} mode (strategy ${this.strategy.name})` };
    if (!m.capabilities.kinds.includes(this.config.model.kind))
      return { code: 'UNSUPPORTED', message: `site '${m.site}' cannot build this hub's '${this.config.model.kind}' network (it builds ${m.capabilities.kinds.join(', ') || 'none'}); update FedSeg at the site` };
    return null;
  }

  private welcomeMessage(s: Session): HubMessage {
    const owes = this.strategy.owes(s);
    return {
      kind: 'welcome', protocol: PROTOCOL_VERSION, hub: this.config.name, runId: this.runId, mode: this.strategy.localMode,
      round: this.rounds.roundForWelcome(), totalRounds: this.config.rounds, model: this.config.model, train: this.config.train,
      maxPayload: this.config.maxPayload, wireDtype: this.config.wireDtype, heartbeatMs: this.config.heartbeatMs, spectrumNeeded: owes,
      // The run's DP budget (docs/security.md §8), so a site knows what it agrees to before it trains.
      ...(this.config.dp ? { privacy: privacyBudget(this.config.dp, this.config.rounds) } : {}),
    };
  }

  private welcome(s: Session): void {
    this.sessions.send(s, this.welcomeMessage(s));
    if (!this.rounds.finished) this.strategy.onJoin(s);
    this.rounds.joined(s);
  }
}
