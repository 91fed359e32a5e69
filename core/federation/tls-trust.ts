// How a site decides to trust a wss:// hub: the system's CAs, a private CA the coordinator handed out
// (PEM), or trust on first use — the operator compares the certificate's SHA-256 fingerprint with the
// one the coordinator read out (`openssl x509 -noout -fingerprint -sha256`) and pins it. A pinned hub
// is accepted only while it presents exactly that certificate; a changed certificate is refused.
// docs/federation.md "Self-signed hubs" describes the operator's side. And the site's transport rule
// (docs/security.md §2, Transport): plain ws:// only to this computer unless the operator says
// `insecure`, and a warning when NODE_TLS_REJECT_UNAUTHORIZED=0 turns certificate checks off.
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { FedSegError } from '../contract/errors.js';
import { isLoopbackHost } from '../contract/loopback.js';

export { isLoopbackHost };

/**
 * The site's transport rule for a hub URL: throws INVALID_ARGUMENT for plain ws:// to a host other than
 * this computer unless `insecure`; returns the warnings to show (ws:// allowed by `insecure`, and
 * NODE_TLS_REJECT_UNAUTHORIZED=0 in `env`). A malformed URL is left to the connection to report.
 */
export function siteTransportPolicy(url: string, o: { insecure?: boolean | undefined }, env: Record<string, string | undefined> = process.env): string[] {
  const warnings: string[] = [];
  let u: URL | null = null;
  try {
    u = new URL(url);
  } catch {
    /* reported by the connection itself */
  }
  if (u && u.protocol === 'ws:' && !isLoopbackHost(u.hostname)) {
    if (!o.insecure)
      throw new FedSegError('INVALID_ARGUMENT', `refusing plain ws:// to ${u.host}, which is not this computer: the site's token, key proof and model updates would cross the network unencrypted; ` +
        `use the hub's wss:// address (wss://${u.host}), or pass --insecure (fedseg site; ConnectOptions.insecure) on a network you trust`);
    warnings.push(`WARNING: connecting to ${u.host} over plain ws:// (--insecure): anyone on the network path can read and alter this site's traffic`);
  }
  if (env.NODE_TLS_REJECT_UNAUTHORIZED === '0')
    warnings.push('WARNING: NODE_TLS_REJECT_UNAUTHORIZED=0 is set: TLS certificates are not checked, so anything on the network path can pose as the hub; ' +
      'unset it and trust a self-signed hub with --ca FILE or --trust-fingerprint instead');
  return warnings;
}

/** Normalises a fingerprint as typed or copied (any case, with or without colons or spaces) to AA:BB:... */
export function normaliseFingerprint(s: string): string | null {
  const hex = s.replace(/^sha-?256\s*[:=]?\s*/i, '').replace(/[\s:]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return null;
  return hex.match(/../g)!.join(':');
}

/** The TLS options for ws / https: a private CA, or (pinned) no chain check — the pin is checked on upgrade. */
export function tlsOptions(o: { ca?: string | Uint8Array | undefined; trustedFingerprint?: string | null | undefined }): { ca?: Buffer; rejectUnauthorized?: boolean } {
  const out: { ca?: Buffer; rejectUnauthorized?: boolean } = {};
  if (o.ca && o.ca.length > 0) out.ca = Buffer.from(o.ca);
  if (o.trustedFingerprint) out.rejectUnauthorized = false;
  return out;
}

/** The SHA-256 fingerprint of the certificate a TLS socket's peer presented, or null. */
export function peerFingerprint(socket: unknown): string | null {
  const s = socket as Partial<TLSSocket> | null;
  if (!s || typeof s.getPeerCertificate !== 'function') return null;
  const cert = s.getPeerCertificate();
  return cert && typeof cert.fingerprint256 === 'string' ? cert.fingerprint256.toUpperCase() : null;
}

/**
 * Checks a pinned fingerprint when the WebSocket upgrade answer arrives — before 'open', so no Hello
 * (and no token) is sent to a hub presenting another certificate. Returns an error message or null.
 */
export function checkPin(res: IncomingMessage, pinned: string | null | undefined): string | null {
  if (!pinned) return null;
  const want = normaliseFingerprint(pinned);
  const got = peerFingerprint(res.socket);
  if (!got) return 'the hub did not present a certificate, but this site pinned one (use the wss:// address)';
  if (got !== want) return `the hub presented a certificate with fingerprint ${got}, not the trusted ${want}: it changed or this is not the hub — ask the coordinator before trusting it`;
  return null;
}

/** Attaches the pin check to a ws client's upgrade; `fail` is called (once) on a mismatch. */
export function enforcePin(ws: { on(ev: 'upgrade', cb: (res: IncomingMessage) => void): unknown; terminate(): void }, pinned: string | null | undefined, fail: (why: string) => void): void {
  if (!pinned) return;
  ws.on('upgrade', (res) => {
    const why = checkPin(res, pinned);
    if (why) {
      fail(why);
      ws.terminate();
    }
  });
}

/** Reads the certificate a TLS server presents (no verification, nothing sent) so an operator can compare its fingerprint. */
export function fetchFingerprint(host: string, port: number, timeoutMs = 4000): Promise<string | null> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      sock.destroy();
      resolve(v);
    };
    const sock = tlsConnect({ host, port, servername: /^[\d.]+$|:/.test(host) ? undefined : host, rejectUnauthorized: false }, () => finish(peerFingerprint(sock)));
    sock.on('error', () => finish(null));
    const t = setTimeout(() => finish(null), timeoutMs);
  });
}
