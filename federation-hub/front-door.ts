// The hub's front door at the socket level (docs/security.md §6): caps on open connections (in total,
// and per address until authenticated), a deadline for the WebSocket upgrade (TLS included), and a byte
// budget from the upgrade until the Hello is accepted, counted on the socket's 'data' events so a client
// that never said hello cannot make the hub buffer a large frame: past the budget the socket is
// destroyed, whatever ws has collected so far (at most the budget plus one read) is dropped with it.
// What the door closed is counted and logged as one line per interval, never per connection.
import type { Socket } from 'node:net';
import { addressKey } from './auth-limiter.js';

export interface FrontDoorLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  handshakeTimeoutMs: number;
  preAuthBytes: number;
}

/** What one accepted socket may still do; handed to its Connection (ws-wrap.ts). */
export interface DoorPass {
  /** The Hello was accepted: no byte budget, no per-address slot from now on. */
  authenticated(): void;
  readonly isAuthenticated: boolean;
  /** Called (once) before the door destroys the socket for going over the budget. */
  onViolation(cb: (e: { code: string; message: string }) => void): void;
}

interface Entry {
  addr: string;
  authenticated: boolean;
  upgraded: boolean;
  deadline?: ReturnType<typeof setTimeout>;
  violation?: (e: { code: string; message: string }) => void;
  stopCounting?: () => void;
}

type Drop = 'total' | 'perAddress' | 'handshake' | 'budget';

/** The key of one TCP connection, the same for its raw socket and a TLS socket over it. */
const keyOf = (s: Socket) => `${s.remoteAddress ?? '?'}|${s.remotePort ?? 0}`;

export class FrontDoor {
  private readonly entries = new Map<string, Entry>();
  private readonly preAuth = new Map<string, number>();
  private drops: Record<Drop, number> = { total: 0, perAddress: 0, handshake: 0, budget: 0 };
  private timer?: ReturnType<typeof setInterval>;

  constructor(private readonly l: FrontDoorLimits, private readonly log: (line: string) => void, private readonly intervalMs = 60_000) {}

  /** Open connections now, and those not yet authenticated. */
  counts(): { open: number; preAuth: number } {
    let pre = 0;
    for (const n of this.preAuth.values()) pre += n;
    return { open: this.entries.size, preAuth: pre };
  }

  /** What the door closed since the last summary line. */
  dropped(): Readonly<Record<Drop, number>> {
    return { ...this.drops };
  }

  /** A new TCP connection (the server's 'connection' event): admitted, or destroyed at once. */
  admit(raw: Socket): void {
    const addr = addressKey(raw.remoteAddress ?? '?');
    if (this.entries.size >= this.l.maxConnections) return this.drop(raw, 'total');
    if ((this.preAuth.get(addr) ?? 0) >= this.l.maxConnectionsPerAddress) return this.drop(raw, 'perAddress');
    const key = keyOf(raw);
    const e: Entry = { addr, authenticated: false, upgraded: false };
    this.entries.set(key, e);
    this.preAuth.set(addr, (this.preAuth.get(addr) ?? 0) + 1);
    this.arm(e, raw);
    raw.once('close', () => {
      clearTimeout(e.deadline);
      e.stopCounting?.();
      if (this.entries.get(key) === e) this.entries.delete(key);
      if (!e.authenticated) this.release(addr);
    });
  }

  /** A plain HTTP request on a socket (e.g. GET /status): its keep-alive gets another deadline. */
  request(socket: Socket): void {
    const e = this.entries.get(keyOf(socket));
    if (e && !e.upgraded) this.arm(e, socket);
  }

  /**
   * The socket asks for a WebSocket upgrade (before ws takes it): from here every byte counts against the
   * budget until the Hello is accepted. Null for a socket the door does not know (destroyed already).
   */
  upgrade(socket: Socket, head: number): DoorPass | null {
    const e = this.entries.get(keyOf(socket));
    if (!e || socket.destroyed) return null;
    e.upgraded = true;
    clearTimeout(e.deadline);
    let bytes = head;
    let judging = false;
    const count = (d: Buffer) => {
      bytes += d.length;
      if (bytes <= this.l.preAuthBytes || e.authenticated || judging) return;
      // Judged once ws has parsed this chunk (it does so synchronously in its own listener): a Hello in
      // the same chunk as what follows it authenticates the connection first.
      judging = true;
      queueMicrotask(() => {
        if (e.authenticated || socket.destroyed) return;
        e.stopCounting?.();
        this.drops.budget++;
        e.violation?.({ code: 'PRE_AUTH_LIMIT', message: `sent over ${this.l.preAuthBytes} bytes before its hello was accepted` });
        socket.destroy();
      });
    };
    // Registered before ws's own listener, so nothing past the chunk that crosses the budget is read.
    socket.on('data', count);
    e.stopCounting = () => socket.off('data', count);
    return {
      authenticated: () => {
        if (e.authenticated) return;
        e.authenticated = true;
        e.stopCounting?.();
        this.release(e.addr);
      },
      get isAuthenticated() {
        return e.authenticated;
      },
      onViolation: (cb) => (e.violation = cb),
    };
  }

  /** Starts the summary line timer. */
  start(): void {
    this.timer ??= setInterval(() => this.report(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.report();
  }

  private report(): void {
    const d = this.drops;
    const n = d.total + d.perAddress + d.handshake + d.budget;
    if (n === 0) return;
    const parts = [
      d.total && `${d.total} over the cap of ${this.l.maxConnections} open connections`,
      d.perAddress && `${d.perAddress} over the cap of ${this.l.maxConnectionsPerAddress} unauthenticated connections per address`,
      d.handshake && `${d.handshake} without a WebSocket upgrade within ${this.l.handshakeTimeoutMs} ms`,
      d.budget && `${d.budget} over the ${this.l.preAuthBytes}-byte budget before hello`,
    ].filter(Boolean);
    this.log(`front door: closed ${n} connection(s) since the last report: ${parts.join(', ')}`);
    this.drops = { total: 0, perAddress: 0, handshake: 0, budget: 0 };
  }

  private arm(e: Entry, socket: Socket): void {
    clearTimeout(e.deadline);
    e.deadline = setTimeout(() => {
      if (e.upgraded || socket.destroyed) return;
      this.drops.handshake++;
      socket.destroy();
    }, this.l.handshakeTimeoutMs);
    e.deadline.unref();
  }

  private drop(raw: Socket, why: Drop): void {
    this.drops[why]++;
    raw.destroy();
  }

  private release(addr: string): void {
    const n = (this.preAuth.get(addr) ?? 1) - 1;
    if (n > 0) this.preAuth.set(addr, n);
    else this.preAuth.delete(addr);
  }
}
