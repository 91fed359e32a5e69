// Browser-mode request checks, kept pure so they are unit-tested without sockets.
// Threat model: the server listens on 127.0.0.1 only, but any web page the operator opens can try to
// reach it (CSRF, DNS rebinding). So every request must (1) carry the random session token as the first
// path segment, (2) name our own host in the Host header (defeats DNS rebinding), and the WebSocket
// upgrade must (3) come from our own origin. Responses carry a strict Content-Security-Policy.
import { timingSafeEqual, randomBytes } from 'node:crypto';

export function newSessionToken(): string {
  return randomBytes(24).toString('base64url');
}

export function tokenMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Hosts we answer to: the loopback names with our port. */
export function allowedHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`];
}

export function hostAllowed(hostHeader: string | undefined, port: number): boolean {
  return hostHeader !== undefined && allowedHosts(port).includes(hostHeader.toLowerCase());
}

export function originAllowed(origin: string | undefined, port: number): boolean {
  return origin !== undefined && allowedHosts(port).some((h) => origin.toLowerCase() === `http://${h}`);
}

/**
 * Splits `/<token>/<rest>` and checks the token. Returns the rest (always starting with '/') or null.
 * Only the path is used; query strings are ignored.
 */
export function authorisePath(rawUrl: string | undefined, token: string): string | null {
  if (!rawUrl || !rawUrl.startsWith('/')) return null;
  const path = rawUrl.split('?')[0]!;
  const m = /^\/([^/]+)(\/.*)?$/.exec(path);
  if (!m || !tokenMatches(m[1]!, token)) return null;
  return m[2] ?? '/';
}

/** The CSP for the renderer: only our own scripts, styles and socket; no remote content, no eval. */
export function contentSecurityPolicy(port: number): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src 'self' ws://127.0.0.1:${port} ws://localhost:${port}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

export function securityHeaders(port: number): Record<string, string> {
  return {
    'Content-Security-Policy': contentSecurityPolicy(port),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'X-Frame-Options': 'DENY',
    'Cache-Control': 'no-store',
  };
}
