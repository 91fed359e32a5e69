// "Test connection": reach the hub, authenticate with Hello (core/contract/hub-protocol.ts), wait for
// Welcome, then leave politely (Bye). Every failure is classified and explained in plain words for an
// operator (docs/product.md: NVFlare #3740 — "the site cannot reach the server and nothing says why"):
// bad address, DNS, refused, timeout, TLS, bad token, version mismatch, something that is not a hub.
// A hub whose certificate this computer does not trust is reported with the certificate's fingerprint,
// so the operator can compare it with the coordinator's and pin it (core/federation/tls-trust.ts).
import WebSocket from 'ws';
import type { ConnectionProblem, ConnectionReport, HubInfo } from '../contract/app-api.js';
import { CLOSE, decodeMessage, encodeMessage, HUB_TO_SITE, PROTOCOL_VERSION, type WelcomeMsg } from '../contract/hub-protocol.js';
import { describeSpec, MODEL_KINDS } from '../contract/model-spec.js';
import { signedHello, type SiteIdentity } from '../contract/site-identity.js';
import { enforcePin, fetchFingerprint, isLoopbackHost, normaliseFingerprint, siteTransportPolicy, tlsOptions } from '../federation/tls-trust.js';

export interface ProbeOptions {
  hubUrl: string;
  site: string;
  /** The enrolment token (binds the site's key on first contact; checked when given). */
  token?: string;
  /**
   * The site's key pair (its store's). Required: the first accepted Hello binds its key at the hub, so
   * a probe with a throwaway key would lock the site's real key out.
   */
  identity: SiteIdentity;
  /** The role the site is enrolled with. */
  role?: 'train' | 'eval';
  timeoutMs?: number;
  /** PEM CA for self-signed hubs. */
  ca?: string | Buffer;
  /** A pinned certificate fingerprint (trust on first use). */
  trustedFingerprint?: string | null;
  /** Test hook: the protocol version sent in Hello. */
  protocolVersion?: number;
}

const SITE_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EPROTO', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ECONNRESET_TLS',
]);

/**
 * Normalises what an operator types: hub.example.org:8443, https://..., ws://... -> ws(s) URL. Without a
 * scheme, a remote host gets wss:// (tokens and weights must not cross a network in the clear) and a
 * loopback host ws://.
 */
export function normaliseHubUrl(input: string): URL | null {
  let s = input.trim();
  if (!s) return null;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    let host = '';
    try {
      host = new URL(`ws://${s}`).hostname;
    } catch {
      return null;
    }
    s = `${isLoopbackHost(host) ? 'ws' : 'wss'}://${s}`;
  }
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return null;
  }
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') return null;
  if (!u.hostname) return null;
  return u;
}

function report(problem: ConnectionProblem, message: string, detail: string, extra: Partial<ConnectionReport> = {}): ConnectionReport {
  return { ok: problem === 'ok', problem, message, detail, hubVersion: null, latencyMs: null, hub: null, fingerprint: null, ...extra };
}

/** What a Welcome says about the hub, as the settings keep it. */
export function hubInfo(w: WelcomeMsg): HubInfo {
  return {
    name: w.hub, strategy: w.mode, round: w.round, totalRounds: w.totalRounds, model: describeSpec(w.model), inChannels: w.model.inChannels,
    alpha: w.train.alpha, sharesWindows: w.spectrumNeeded,
    privacy: w.privacy ? { epsilonPerRound: w.privacy.epsilonPerRound, epsilonTotal: w.privacy.epsilonTotal, delta: w.privacy.delta, noiseMultiplier: w.privacy.noiseMultiplier } : null,
  };
}

/** Classifies a socket-level error into an operator-readable report. */
export function explainSocketError(err: Error & { code?: string }, url: URL): ConnectionReport {
  const code = err.code ?? '';
  const host = url.hostname;
  const port = url.port || (url.protocol === 'wss:' ? '443' : '80');
  const detail = `${code ? code + ': ' : ''}${err.message}`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME')
    return report('dns', `The name “${host}” could not be found. Check the spelling of the hub address, or ask IT whether this computer can resolve it (DNS).`, detail);
  if (code === 'ECONNREFUSED')
    return report('refused', `The computer “${host}” answered, but nothing is accepting connections on port ${port}. The hub may not be running, or the port is wrong.`, detail);
  if (code === 'ETIMEDOUT' || code === 'ENETUNREACH' || code === 'EHOSTUNREACH' || /handshake has timed out/i.test(err.message))
    return report('timeout', `No answer from “${host}” on port ${port}. A firewall or proxy may be blocking the connection; ask IT to allow outgoing connections to this address.`, detail);
  if (TLS_CODES.has(code) || /certificate|ssl|tls/i.test(err.message))
    return report('tls', `A secure (TLS) connection to the hub could not be set up. The hub's certificate is not trusted by this computer, has expired, or does not match the address. Ask the coordinator for the right certificate.`, detail);
  const m = /Unexpected server response: (\d+)/.exec(err.message);
  if (m) return report('protocol', `Something answered at this address (HTTP ${m[1]}), but it is not a FedSeg hub. Check the address and port.`, detail);
  if (code === 'ECONNRESET' || code === 'EPIPE')
    return report(url.protocol === 'ws:' ? 'protocol' : 'tls', `The connection was cut by the other side. If the hub uses a secure address, use wss:// instead of ws:// (or the reverse).`, detail);
  return report('unknown', 'The connection failed for a reason FedSeg does not recognise. The technical detail below may help IT.', detail);
}

/** probeHub, and for an untrusted wss:// certificate the fingerprint the operator may compare and pin. */
export async function probeHub(opts: ProbeOptions): Promise<ConnectionReport> {
  if (opts.trustedFingerprint && !normaliseFingerprint(opts.trustedFingerprint))
    return report('tls', 'The trusted certificate fingerprint is not a SHA-256 fingerprint (64 hexadecimal digits, usually written AA:BB:…).', `fingerprint '${opts.trustedFingerprint}'`);
  const r = await probeOnce(opts);
  const url = normaliseHubUrl(opts.hubUrl);
  if (r.problem !== 'tls' || !url || url.protocol !== 'wss:') return r;
  const fp = await fetchFingerprint(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port || 443));
  if (!fp) return r;
  const pinned = opts.trustedFingerprint ? normaliseFingerprint(opts.trustedFingerprint) : null;
  const advice = pinned && pinned !== fp
    ? ' The hub now presents a different certificate from the one this site trusted. Do not trust it until the coordinator confirms the new fingerprint.'
    : ' If the hub uses its own (self-signed) certificate, ask the coordinator to read out its SHA-256 fingerprint; if it matches the one shown here, choose “Trust this certificate”, or paste the coordinator\'s CA certificate instead.';
  return { ...r, message: r.message + advice, fingerprint: fp };
}

function probeOnce(opts: ProbeOptions): Promise<ConnectionReport> {
  const url = normaliseHubUrl(opts.hubUrl);
  if (!url) return Promise.resolve(report('url', 'The hub address is not valid. It looks like wss://hub.example.org:8443 (ask your coordinator).', `could not parse '${opts.hubUrl}'`));
  if (!SITE_RE.test(opts.site))
    return Promise.resolve(report('auth', 'The site name may only use letters, digits, dot, dash and underscore (1 to 64 characters, starting with a letter or digit).', `site '${opts.site}'`));
  if (!opts.token) return Promise.resolve(report('auth', 'No join token is entered. The coordinator gives each site a token when it is enrolled.', 'empty token'));
  try {
    siteTransportPolicy(url.toString(), { insecure: false });
  } catch (e) {
    return Promise.resolve(report('url', `The address starts with ws://, which sends this site's traffic unencrypted to another computer. Use the hub's wss:// address (ask your coordinator).`, (e as Error).message));
  }
  const timeoutMs = opts.timeoutMs ?? 6000;
  return new Promise((resolve) => {
    const t0 = performance.now();
    let settled = false;
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs, maxPayload: 1 << 20, ...tlsOptions({ ca: opts.ca, trustedFingerprint: opts.trustedFingerprint }) });
    enforcePin(ws, opts.trustedFingerprint, (why) => finish(report('tls', 'The hub presented a different certificate from the one this site trusts, so FedSeg did not send the token.', why)));
    const finish = (r: ConnectionReport) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.removeAllListeners('message');
      ws.on('error', () => undefined);
      if (ws.readyState === WebSocket.OPEN) {
        // Resolve once the hub has closed the test's session (or after 2 s): a Join right after a
        // successful test would otherwise race the hub into refusing the site's name as still connected.
        const done = setTimeout(() => {
          ws.terminate();
          resolve(r);
        }, 2000);
        ws.once('close', () => {
          clearTimeout(done);
          resolve(r);
        });
        try {
          const bye = encodeMessage({ kind: 'bye', reason: 'leaving', message: 'connection test' });
          ws.send(bye.data, { binary: bye.binary }, () => ws.close(CLOSE.normal, 'connection test'));
        } catch {
          ws.close();
        }
        return;
      }
      ws.terminate();
      resolve(r);
    };
    const timer = setTimeout(
      () => finish(report('timeout', `The hub did not answer within ${Math.round(timeoutMs / 1000)} s. A firewall or proxy may be blocking the connection, or the hub is overloaded.`, 'no Welcome before the deadline')),
      timeoutMs,
    );
    const identity = opts.identity;
    // The hub speaks first: its challenge, which the Hello signs.
    const answer = (nonce: string) => {
      try {
        const hello = encodeMessage(signedHello({
          nonce, site: opts.site, identity, token: opts.token, protocol: opts.protocolVersion ?? PROTOCOL_VERSION,
          capabilities: { backend: 'connection-test', modes: ['fedavg', 'elcfs'], kinds: [...MODEL_KINDS], float16: false, role: opts.role ?? 'train', probe: true },
        }));
        ws.send(hello.data, { binary: hello.binary });
      } catch (e) {
        finish(report('unknown', 'FedSeg could not build its greeting message.', (e as Error).message));
      }
    };
    ws.on('message', (data, isBinary) => {
      let msg;
      try {
        msg = decodeMessage(new Uint8Array(data as Buffer), isBinary, { accept: HUB_TO_SITE }).msg;
      } catch (e) {
        return finish(report('protocol', 'The hub sent a message FedSeg does not understand. The hub and this app may be different versions.', (e as Error).message));
      }
      if (msg.kind === 'challenge') return answer(msg.nonce);
      const latencyMs = performance.now() - t0;
      if (msg.kind === 'welcome')
        return finish(report('ok', `This site can reach the hub “${msg.hub}” and its token was accepted. The federation is at round ${msg.round} of ${msg.totalRounds}.`, `protocol ${msg.protocol}, ${msg.mode}`, { hubVersion: `protocol ${msg.protocol}`, latencyMs, hub: hubInfo(msg) }));
      if (msg.kind === 'error') {
        if (msg.code === 'AUTH_FAILED') return finish(report('auth', 'The hub is reachable but did not accept this site name and token. Check the token (it is case-sensitive) or ask the coordinator to enrol this site again.', `${msg.code}: ${msg.message}`, { latencyMs }));
        if (msg.code === 'VERSION_MISMATCH') return finish(report('version', 'The hub runs a different version of FedSeg. Update this app (or ask the coordinator which version to use).', `${msg.code}: ${msg.message}`, { latencyMs }));
        if (msg.code === 'ALREADY_EXISTS') return finish(report('auth', 'A site with this name is already connected to the hub. If that is this computer, leave the federation first; otherwise pick the right site name.', `${msg.code}: ${msg.message}`, { latencyMs }));
        return finish(report('protocol', `The hub refused the connection: ${msg.message}`, `${msg.code}: ${msg.message}`, { latencyMs }));
      }
      // Anything else before Welcome is unexpected but means a hub answered.
      return finish(report('protocol', 'The hub answered in an unexpected way.', `first message: ${msg.kind}`, { latencyMs }));
    });
    ws.on('close', (code, reason) => {
      const r = reason.toString();
      if (code === CLOSE.authFailed) return finish(report('auth', 'The hub did not accept this site name and token. Check the token or ask the coordinator to enrol this site again.', `close ${code} ${r}`));
      if (code === CLOSE.versionMismatch) return finish(report('version', 'The hub runs a different version of FedSeg. Update this app (or ask the coordinator which version to use).', `close ${code} ${r}`));
      if (code === CLOSE.duplicate) return finish(report('auth', 'A site with this name is already connected to the hub.', `close ${code} ${r}`));
      finish(report('protocol', 'The hub closed the connection before accepting this site.', `close ${code} ${r}`));
    });
    ws.on('error', (err) => finish(explainSocketError(err as Error & { code?: string }, url)));
  });
}
