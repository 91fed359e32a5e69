// Budgets that keep a flood of bad clients from exhausting the browser-mode server (docs/security.md §9):
// sockets that have not yet sent a request or completed the WebSocket upgrade are few per address and
// timed out (the oldest one gives way to a new one, so idle sockets cannot lock a real page out), refused
// upgrades (a wrong session token, Host or Origin) have a per-address budget past which they are dropped
// without an answer or a log line, live WebSockets are capped per address and in all, and log lines are
// rate-limited so a flood cannot fill the disk either. Kept free of sockets' internals so it is unit-tested.
import type { Socket } from 'node:net';

export interface GuardLimits {
  /** Sockets per address that have sent no complete request yet; past it the oldest is closed. */
  pendingPerAddress: number;
  /** A socket that has not completed a request or the upgrade by then is closed (ms). */
  handshakeTimeoutMs: number;
  /** Refused upgrades per address per window that still get an answer and a log line. */
  refusalsPerWindow: number;
  windowMs: number;
  /** Live WebSocket clients per address and in all. */
  clientsPerAddress: number;
  clientsTotal: number;
  /** Log lines per window; the rest are counted in one summary line. */
  logLinesPerWindow: number;
}

export const DEFAULT_GUARD_LIMITS: GuardLimits = {
  pendingPerAddress: 32, handshakeTimeoutMs: 10_000, refusalsPerWindow: 20, windowMs: 10_000,
  clientsPerAddress: 16, clientsTotal: 64, logLinesPerWindow: 20,
};

/** Sockets that have not yet been answered, per remote address (insertion order = oldest first). */
export class PendingSockets {
  private readonly byAddress = new Map<string, Map<Socket, ReturnType<typeof setTimeout>>>();
  // A destroyed socket forgets its remoteAddress, so the address it came from is kept here.
  private readonly addressOf = new WeakMap<Socket, string>();
  evicted = 0;
  timedOut = 0;

  constructor(private readonly limits: Pick<GuardLimits, 'pendingPerAddress' | 'handshakeTimeoutMs'>) {}

  /** A new socket: it is closed unless settle() is called within the handshake timeout. */
  add(socket: Socket): void {
    const addr = socket.remoteAddress ?? '?';
    this.addressOf.set(socket, addr);
    let set = this.byAddress.get(addr);
    if (!set) this.byAddress.set(addr, (set = new Map()));
    while (set.size >= this.limits.pendingPerAddress) {
      const oldest = set.keys().next().value as Socket;
      this.settle(oldest);
      this.evicted++;
      oldest.destroy();
    }
    const timer = setTimeout(() => {
      if (!this.settle(socket)) return;
      this.timedOut++;
      socket.destroy();
    }, this.limits.handshakeTimeoutMs);
    timer.unref();
    set.set(socket, timer);
    socket.once('close', () => this.settle(socket));
  }

  /** The socket sent a request or completed the upgrade (or closed): no longer pending. */
  settle(socket: Socket): boolean {
    const addr = this.addressOf.get(socket) ?? '?';
    const set = this.byAddress.get(addr);
    const timer = set?.get(socket);
    if (!set || timer === undefined) return false;
    clearTimeout(timer);
    set.delete(socket);
    if (set.size === 0) this.byAddress.delete(addr);
    return true;
  }

  count(): number {
    let n = 0;
    for (const s of this.byAddress.values()) n += s.size;
    return n;
  }

  /** Closes every socket still pending (the server is stopping). */
  closeAll(): void {
    for (const s of this.byAddress.values()) for (const [sock, t] of s) { clearTimeout(t); sock.destroy(); }
    this.byAddress.clear();
  }
}

/** Counts events per key in fixed windows: allow() is true while the key is within its budget. */
export class WindowBudget {
  private readonly counts = new Map<string, { start: number; n: number }>();

  constructor(private readonly perWindow: number, private readonly windowMs: number, private readonly now: () => number = Date.now) {}

  allow(key: string): boolean {
    const t = this.now();
    let c = this.counts.get(key);
    if (!c || t - c.start >= this.windowMs) {
      if (this.counts.size > 1024) for (const [k, v] of this.counts) if (t - v.start >= this.windowMs) this.counts.delete(k);
      this.counts.set(key, (c = { start: t, n: 0 }));
    }
    c.n++;
    return c.n <= this.perWindow;
  }
}

/** Live clients per address and in all. */
export class ClientCount {
  private readonly byAddress = new Map<string, number>();
  private total = 0;

  constructor(private readonly limits: Pick<GuardLimits, 'clientsPerAddress' | 'clientsTotal'>) {}

  /** Why a new client from addr is refused, or null when it may connect. */
  refusal(addr: string): string | null {
    if (this.total >= this.limits.clientsTotal) return `too many app connections (${this.limits.clientsTotal})`;
    if ((this.byAddress.get(addr) ?? 0) >= this.limits.clientsPerAddress) return `too many app connections from ${addr} (${this.limits.clientsPerAddress})`;
    return null;
  }

  /** Counts a client in; the returned function counts it out (once). */
  add(addr: string): () => void {
    this.total++;
    this.byAddress.set(addr, (this.byAddress.get(addr) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.total--;
      const n = (this.byAddress.get(addr) ?? 1) - 1;
      if (n <= 0) this.byAddress.delete(addr);
      else this.byAddress.set(addr, n);
    };
  }

  size(): number {
    return this.total;
  }
}

/** At most `perWindow` lines per window; the lines left out are counted in the next line written. */
export function rateLimitedLog(write: (line: string) => void, perWindow: number, windowMs: number, now: () => number = Date.now): (line: string) => void {
  let start = now();
  let n = 0;
  let skipped = 0;
  return (line) => {
    const t = now();
    if (t - start >= windowMs) {
      start = t;
      n = 0;
    }
    if (n >= perWindow) {
      skipped++;
      return;
    }
    n++;
    const note = skipped ? ` (${skipped} similar line(s) left out)` : '';
    skipped = 0;
    try {
      write(line + note);
    } catch {
      /* a closed stdout must not stop the server */
    }
  };
}
