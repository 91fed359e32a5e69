// The hub's connected sites: every new connection must say hello (protocol version, enrolled name and
// token, capabilities) within helloTimeoutMs; messages are decoded and validated
// (core/contract/hub-protocol.ts) before anything else sees them, every message in or out is audited
// with its size, a live duplicate name is refused while a stale one (half-open socket after a network
// drop) is replaced, and silent sites are dropped by the heartbeat sweep. A bad message is answered
// with an error, never a crash. Before the Hello is accepted (docs/security.md §6) only one small
// 'hello' text frame is decoded (its kind is read from the header first), failures are rate limited
// per address (auth-limiter.ts: past the limit a connection is refused with RATE_LIMITED before any
// work) and their audit rows are sampled.
import { randomBytes } from 'node:crypto';
import { FedSegError, toErrorValue, type ErrorCode } from '../core/contract/errors.js';
import { keyFingerprint, verifyHelloSignature } from '../core/contract/site-identity.js';
import {
  CLOSE, decodeMessage, DEFAULT_MAX_PAYLOAD, encodeMessage, peekKind, PROTOCOL_VERSION, SITE_TO_HUB,
  type Capabilities, type DecodedFrame, type HelloMsg, type HubMessage, type SiteRole,
} from '../core/contract/hub-protocol.js';
import type { Connection } from '../core/contract/transport.js';
import type { NamedArray } from '../core/contract/weights.js';
import { addressKey, AuthLimiter } from './auth-limiter.js';
import type { HubConfig } from './config.js';
import type { HubState } from './state.js';
import type { StrategySite } from './strategies/strategy.js';

export interface Session extends StrategySite {
  readonly name: string;
  readonly role: SiteRole;
  readonly conn: Connection;
  readonly caps: Capabilities;
  readonly connectedAt: number;
  lastSeen: number;
  progress?: number;
  progressRound?: number;
  awaitingInit?: boolean;
  /** A connection test (capabilities.probe): welcomed, then closed; never registered or asked for work. */
  readonly probe?: boolean;
}

export interface SessionEvents {
  /** Refuses a site before it is welcomed (e.g. it cannot build the model); null admits it. */
  admit(hello: HelloMsg, role: SiteRole): { code: ErrorCode; message: string } | null;
  /** A site was admitted: the hub welcomes it and hands out its work. */
  joined(s: Session, hello: HelloMsg): void;
  /** A validated message from an admitted site; throwing answers the site with that error. */
  message(s: Session, f: DecodedFrame): void;
  /** An error an admitted site reported (after it was counted against the site's budget). */
  siteError(s: Session, code: string, message: string): void;
  left(s: Session): void;
  /** A connection test passed authentication and admission: the hub answers it with a welcome. */
  probed(s: Session): void;
}

export type HubLog = (line: string) => void;

/** A site may report a larger limit than this, but the hub never builds messages beyond it. */
const MAX_SITE_PAYLOAD = 1 << 30;

/** The largest first message decoded: a Hello (key, signature, capabilities) is well under 2 KiB. */
const MAX_HELLO_BYTES = 16 * 1024;
/** WebSocket close code 1013 "try again later": a rate-limited connection. */
const CLOSE_TRY_LATER = 1013;
/** Pre-authentication failures written in full per minute, all addresses together (the rest are summed up). */
const FULL_FAILURE_ROWS_PER_MINUTE = 50;
/**
 * An enrolled site's rejected messages and reported errors, per site (docs/security.md §6): each costs
 * an audit row, so a site (or a stolen key) flooding them is cut off past a burst and refused until
 * its budget refills, and the rows past the sampling budget are summed up instead of written.
 */
const SITE_NOISE = {
  burst: 50, perMinute: 30, intervalMs: 60_000, fullRowsPerInterval: 100,
  words: { refused: 'hello(s) refused after a flood', unlogged: 'rejected message(s) or error(s) not logged one by one', keys: 'site(s)' },
} as const;

export class Sessions {
  private readonly byName = new Map<string, Session>();
  private timer?: ReturnType<typeof setInterval>;
  /** Set by closeAll: late events of closing connections are ignored (the state may be closed already). */
  private closed = false;
  private lastSweep = 0;
  private readonly limiter: AuthLimiter;
  private readonly noise: AuthLimiter;

  constructor(private readonly config: HubConfig, private readonly state: HubState, private readonly log: HubLog, private readonly events: SessionEvents) {
    this.limiter = new AuthLimiter(
      { burst: config.authFailBurst, perMinute: config.authFailPerMinute, intervalMs: 60_000, fullRowsPerInterval: FULL_FAILURE_ROWS_PER_MINUTE },
      (summary) => {
        this.state.audit('rate_limited', null, 'in', null, summary);
        this.log(`rate limiting: ${summary}`);
      },
    );
    this.noise = new AuthLimiter(SITE_NOISE, (summary) => {
      this.state.audit('rate_limited', null, 'in', null, `enrolled sites: ${summary}`);
    });
  }

  /**
   * An authenticated site's rejected message or reported error: audited while its budget allows; a
   * site that spent it is disconnected (and refused at hello until the budget refills). True when it
   * was cut off.
   */
  private siteNoise(s: Session, event: 'rejected' | 'site_error', bytes: number | null, detail: string): boolean {
    const v = this.noise.failure(s.name);
    if (v.full) {
      this.state.audit(event, s.name, 'in', bytes, detail);
      this.log(event === 'rejected' ? `rejected a message from ${s.name}: ${detail}` : `site ${s.name} reported ${detail}`);
    }
    if (!v.nowLimited) return false;
    const why = `site '${s.name}' sent too many rejected messages or errors; try again in a minute`;
    this.state.audit('rate_limited', s.name, 'in', null, why);
    this.log(why);
    this.reject(s.conn, s, 'RATE_LIMITED', why, CLOSE.protocolError);
    return true;
  }

  all(): Session[] {
    return [...this.byName.values()];
  }

  get(name: string): Session | undefined {
    return this.byName.get(name);
  }

  /** Takes over a new connection from the transport. */
  accept(conn: Connection): void {
    if (this.closed) return conn.terminate();
    if (this.limiter.refuse(conn.remote)) {
      // Before any work: no challenge, no decoding, no audit row (the limiter sums these up).
      conn.listen({ onMessage: () => {}, onClose: () => {}, onError: () => {} });
      const message = `too many failed attempts from ${addressKey(conn.remote)}; try again in a minute`;
      conn.send(encodeMessage({ kind: 'error', code: 'RATE_LIMITED', message }).data, () => conn.close(CLOSE_TRY_LATER, 'rate limited'));
      return;
    }
    let session: Session | undefined;
    /** Set once this connection was refused before its Hello was accepted: whatever it sends next is ignored. */
    let refused = false;
    const refuse = (code: ErrorCode, message: string, close: number) => {
      refused = true;
      this.reject(conn, null, code, message, close);
    };
    // Every connection gets its own nonce: the Hello must sign it (docs/security.md §2), so a recorded
    // Hello is worthless on any other connection.
    const nonce = randomBytes(32).toString('hex');
    conn.send(encodeMessage({ kind: 'challenge', protocol: PROTOCOL_VERSION, nonce }).data);
    const helloTimer = setTimeout(() => {
      if (session || refused || this.closed) return;
      const why = `no hello within ${this.config.helloTimeoutMs / 1000} s`;
      this.preAuthFailure(conn.remote, null, null, `from ${conn.remote}: ${why}`);
      refuse('PROTOCOL_ERROR', why, CLOSE.protocolError);
    }, this.config.helloTimeoutMs);
    conn.listen({
      onError: (e) => {
        if (this.closed) return;
        if (!session && (e.code === 'PRE_AUTH_LIMIT' || e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')) {
          // The transport dropped (or is dropping) the socket; count it against the address.
          if (!refused) this.preAuthFailure(conn.remote, null, null, `from ${conn.remote}: ${e.code === 'PRE_AUTH_LIMIT' ? e.message : `a message over maxPayload ${this.config.maxPayload} bytes`} (before hello)`);
          refused = true;
          return;
        }
        if (e.code !== 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' || !session) return;
        // An enrolled site's oversized message counts against its budget like any rejected message.
        this.siteNoise(session, 'rejected', null, `too large: over maxPayload ${this.config.maxPayload} bytes`);
      },
      onPong: () => {
        if (session) session.lastSeen = Date.now();
      },
      onClose: () => {
        clearTimeout(helloTimer);
        if (!this.closed && session && this.byName.get(session.name) === session) {
          this.byName.delete(session.name);
          this.state.audit('leave', session.name, null, null, '');
          this.log(`site ${session.name} disconnected`);
          this.events.left(session);
        }
      },
      onMessage: (data, isBinary) => {
        if (this.closed || refused) return;
        const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
        if (!session) {
          // Only a small 'hello' text frame is decoded before authentication; anything else is refused
          // from its size, type and header alone.
          const kind = isBinary || size > MAX_HELLO_BYTES ? null : peekKind(data, false);
          if (kind !== 'hello') {
            const why = isBinary ? 'expected a hello text frame first, got a binary frame'
              : size > MAX_HELLO_BYTES ? `the first message is ${size} bytes; a hello is at most ${MAX_HELLO_BYTES}`
                : kind === null ? 'the first message is not valid JSON with a kind (expected hello)' : `expected hello first, got '${kind}'`;
            this.preAuthFailure(conn.remote, null, size, `from ${conn.remote}: ${why}`);
            refuse('PROTOCOL_ERROR', why, CLOSE.protocolError);
            return;
          }
        }
        let frame: DecodedFrame;
        try {
          frame = decodeMessage(data, isBinary, { accept: SITE_TO_HUB, maxValues: Math.ceil(this.config.maxPayload / 2) });
        } catch (e) {
          const v = toErrorValue(e);
          if (!session) {
            this.preAuthFailure(conn.remote, null, size, `from ${conn.remote}: ${v.message}`);
            refuse(v.code, v.message, CLOSE.protocolError);
            return;
          }
          if (!this.siteNoise(session, 'rejected', size, `from ${session.name}: ${v.message}`)) this.reject(conn, session, v.code, v.message, CLOSE.protocolError);
          return;
        }
        if (!session) {
          if (frame.msg.kind !== 'hello') {
            refuse('PROTOCOL_ERROR', `expected hello first, got '${frame.msg.kind}'`, CLOSE.protocolError);
            return;
          }
          clearTimeout(helloTimer);
          session = this.onHello(conn, frame.msg, frame.bytes, nonce);
          if (session) conn.authenticated?.();
          else refused = true;
          return;
        }
        // A connection test's session ends with its welcome: whatever it sends afterwards is not work.
        if (session.probe) return;
        session.lastSeen = Date.now();
        if (frame.msg.kind !== 'heartbeat') this.state.audit('recv', session.name, 'in', frame.bytes, summarise(frame.msg));
        try {
          this.onMessage(session, frame);
        } catch (e) {
          const v = toErrorValue(e);
          if (!this.siteNoise(session, 'rejected', frame.bytes, `${frame.msg.kind}: ${v.message}`)) this.send(session, { kind: 'error', code: v.code, message: v.message });
        }
      },
    });
  }

  private onMessage(s: Session, f: DecodedFrame): void {
    const m = f.msg;
    switch (m.kind) {
      case 'heartbeat':
        s.progress = m.progress;
        s.progressRound = m.round;
        return;
      case 'bye':
        s.conn.close(CLOSE.normal);
        return;
      case 'error':
        this.siteNoise(s, 'site_error', f.bytes, `${m.code}: ${m.message}`);
        this.events.siteError(s, m.code, m.message);
        return;
      case 'hello':
        throw new FedSegError('PROTOCOL_ERROR', 'hello was already received on this connection');
      default:
        this.events.message(s, f);
    }
  }

  /**
   * A failed attempt before authentication: counted against the address (auth-limiter.ts) and audited
   * as 'rejected' with a log line while the sampling allows; the limiter's summary row covers the rest.
   */
  private preAuthFailure(remote: string, site: string | null, bytes: number | null, detail: string, line = `rejected ${detail}`): void {
    const v = this.limiter.failure(remote);
    if (v.full) {
      this.state.audit('rejected', site, 'in', bytes, detail);
      this.log(line);
    }
    if (v.nowLimited)
      this.log(`rate limiting ${addressKey(remote)}: ${this.config.authFailBurst} failed attempts before authentication; its connections are refused with RATE_LIMITED until it regains one (${this.config.authFailPerMinute} per minute)`);
  }

  private reject(conn: Connection, s: Session | null, code: ErrorCode, message: string, close: number): void {
    try {
      conn.send(encodeMessage({ kind: 'error', code, message }).data, () => conn.close(close, message.slice(0, 120)));
    } catch {
      conn.terminate();
    }
    if (s && this.byName.get(s.name) === s) {
      this.byName.delete(s.name);
      this.events.left(s);
    }
  }

  private onHello(conn: Connection, m: HelloMsg, bytes: number, nonce: string): Session | undefined {
    const addr = conn.remote;
    if (m.protocol !== PROTOCOL_VERSION) {
      this.preAuthFailure(addr, m.site, bytes, `protocol version ${m.protocol} from ${addr}; hub speaks ${PROTOCOL_VERSION}`);
      this.reject(conn, null, 'VERSION_MISMATCH', `protocol version mismatch: site speaks ${m.protocol}, hub speaks ${PROTOCOL_VERSION}; update the older one`, CLOSE.versionMismatch);
      return undefined;
    }
    const verdict = verifyHelloSignature(m, nonce)
      ? this.state.authenticateHello(m.site, m.token, m.identity.publicKey)
      : { fail: `authentication failed for site '${m.site}': the hello's signature does not match its key and this connection's challenge` };
    if ('fail' in verdict) {
      this.preAuthFailure(addr, m.site, bytes, `${verdict.fail} (from ${addr})`, `authentication failed for '${m.site}' from ${addr}`);
      this.reject(conn, null, 'AUTH_FAILED', verdict.fail, CLOSE.authFailed);
      return undefined;
    }
    const role = verdict.role;
    if (this.noise.refuse(m.site)) {
      this.reject(conn, null, 'RATE_LIMITED', `site '${m.site}' sent too many rejected messages or errors; try again in a minute`, CLOSE.protocolError);
      return undefined;
    }
    if (verdict.bound) this.log(`site ${m.site} enrolled its key ${keyFingerprint(m.identity.publicKey)}`);
    if (m.capabilities.role !== role) {
      this.reject(conn, null, 'AUTH_FAILED', `site '${m.site}' is enrolled as a ${role} site but connected as ${m.capabilities.role}`, CLOSE.authFailed);
      return undefined;
    }
    const existing = this.byName.get(m.site);
    // A connection test (capabilities.probe) is admitted like a participant but takes no place under the
    // site's name: a site that tests and joins at once is never refused as a duplicate of its own test,
    // and a test never replaces the site's session (a live one makes the test report it as connected).
    const probe = m.capabilities.probe === true;
    if (existing && existing.conn.isOpen()) {
      // A live session with this name wins (a second instance is refused). A stale one (no pong or message
      // for 2 heartbeats: typically a half-open socket after a network drop) is replaced by the newcomer.
      if (Date.now() - existing.lastSeen < Math.max(2 * this.config.heartbeatMs, 1000)) {
        this.state.audit('rejected', m.site, 'in', bytes, `${probe ? 'connection test' : 'duplicate connection'} from ${addr}: '${m.site}' is already connected`);
        this.reject(conn, null, 'ALREADY_EXISTS', `site '${m.site}' is already connected (duplicate site name)`, CLOSE.duplicate);
        return undefined;
      }
      if (!probe) {
        this.state.audit('replaced', m.site, 'in', bytes, `stale session (silent ${Date.now() - existing.lastSeen} ms) replaced by a new connection from ${addr}`);
        this.byName.delete(m.site);
        existing.conn.terminate();
      }
    }
    const refusal = this.events.admit(m, role);
    if (refusal) {
      this.state.audit('rejected', m.site, 'in', bytes, probe ? `connection test from ${addr}: ${refusal.message}` : refusal.message);
      this.reject(conn, null, refusal.code, refusal.message, CLOSE.protocolError);
      return undefined;
    }
    const s: Session = {
      name: m.site, role, conn, caps: m.capabilities, connectedAt: Date.now(), lastSeen: Date.now(), notes: new Map(),
      maxPayload: Math.min(m.capabilities.maxPayload ?? DEFAULT_MAX_PAYLOAD, MAX_SITE_PAYLOAD), ...(probe ? { probe } : {}),
    };
    if (probe) {
      // Welcomed, then closed: never registered, so never asked for work.
      this.state.audit('probe', s.name, 'in', bytes, `connection test from ${addr}; role ${role}`);
      this.log(`site ${s.name}: connection test from ${addr} passed`);
      this.events.probed(s);
      conn.close(CLOSE.normal, 'connection test done');
      return s;
    }
    this.byName.set(s.name, s);
    this.state.touchSite(s.name);
    this.state.audit('join', s.name, 'in', bytes, `${addr}; backend ${m.capabilities.backend}; role ${role}` + (m.resumeRound !== undefined ? `; resuming round ${m.resumeRound}` : ''));
    this.log(`site ${s.name} joined (${role}, backend ${m.capabilities.backend})`);
    this.events.joined(s, m);
    return s;
  }

  /**
   * Sends one message; false when the connection is closed or the message is larger than the site
   * accepts (it would only make the site drop the connection): that is audited and logged instead.
   */
  send(s: Session, msg: HubMessage, weights?: NamedArray[] | Uint8Array): boolean {
    if (!s.conn.isOpen()) return false;
    const e = encodeMessage(msg, weights);
    if (e.bytes > s.maxPayload) {
      this.state.audit('not_sent', s.name, 'out', e.bytes, `${summarise(msg)}: ${e.bytes} bytes, over the site's limit of ${s.maxPayload}`);
      this.log(`not sending ${msg.kind} to ${s.name}: ${e.bytes} bytes, over the site's limit of ${s.maxPayload} bytes`);
      return false;
    }
    s.conn.send(e.data);
    if (msg.kind !== 'heartbeat') this.state.audit('send', s.name, 'out', e.bytes, summarise(msg));
    return true;
  }

  bye(s: Session, reason: 'finished' | 'shutdown', message: string): void {
    this.send(s, { kind: 'bye', reason, message });
  }

  /** Starts the heartbeat sweep (pings every site, drops those silent for longer than siteTimeoutMs). */
  startSweeps(): void {
    this.limiter.start();
    this.noise.start();
    this.lastSweep = Date.now();
    this.timer = setInterval(() => this.sweep(), this.config.heartbeatMs);
    this.timer.unref();
  }

  private sweep(): void {
    const now = Date.now();
    // If this timer fired late, the hub's own event loop was blocked (a loaded machine, a long SQLite
    // write): frames from the sites sat unread meanwhile, so that time is not the sites' silence. Without
    // this, one stall longer than siteTimeoutMs dropped every site at once (a reconnecting participant
    // then missed rejoinGraceMs, the round was aborted and the quorum could never be met again).
    const lag = now - this.lastSweep - this.config.heartbeatMs;
    this.lastSweep = now;
    if (lag > 0) for (const s of this.byName.values()) s.lastSeen = Math.min(now, s.lastSeen + lag);
    for (const s of this.byName.values()) {
      if (now - s.lastSeen > this.config.siteTimeoutMs) {
        this.state.audit('timeout', s.name, null, null, `silent for ${now - s.lastSeen} ms`);
        s.conn.terminate();
      } else s.conn.ping();
    }
  }

  /** Says goodbye to every site and closes its connection. */
  closeAll(finished: boolean): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.limiter.stop();
    this.noise.stop();
    for (const s of this.byName.values()) {
      if (!finished) this.bye(s, 'shutdown', 'the hub is shutting down');
      s.conn.close(finished ? CLOSE.finished : CLOSE.shutdown);
    }
  }
}

export function summarise(m: HubMessage): string {
  switch (m.kind) {
    case 'hello': return `hello ${m.site} v${m.protocol}`;
    case 'train_ins': return `train_ins round ${m.round} (global model of round ${m.round - 1})`;
    case 'train_res': return `train_res round ${m.round}`;
    case 'evaluate_ins': case 'evaluate_res': return `${m.kind} round ${m.round}`;
    case 'global_model': return `global_model round ${m.round}${m.final ? ' (final)' : ''}`;
    case 'spectrum_res': return `spectrum_res ${m.count} windows`;
    case 'spectrum_bank': return `spectrum_bank ${m.count} windows from ${m.sources} sites`;
    case 'error': return `error ${m.code}: ${m.message}`;
    default: return m.kind;
  }
}
