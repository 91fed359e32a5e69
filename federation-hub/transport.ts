// How the hub meets its sites: a transport accepts connections (core/contract/transport.ts) and hands
// each to the hub; the round logic never sees a socket. Implementations: ws-transport.ts (WebSocket,
// optional TLS, plus GET /status and /healthz on the same port, behind the front door of
// docs/security.md §6) and memory-transport.ts (an in-memory twin for fast round tests, with a
// client-side Connector the real site client uses).
import type { HubStatus } from '../core/contract/hub-status.js';
import type { Connection } from '../core/contract/transport.js';

export interface TransportHandlers {
  connection(conn: Connection): void;
  /**
   * The full status document. A transport with an HTTP side serves it only to the admin token and
   * shows everyone else its public view (federation-hub/status.ts publicStatus).
   */
  status(): HubStatus;
}

export interface HubTransport {
  /** Starts accepting connections; resolves with the bound port (0 where there is none). */
  listen(handlers: TransportHandlers): Promise<number>;
  /** The address sites connect to, once listening. */
  readonly url: string;
  /** Stops accepting; open connections are dropped after a short grace (idempotent). */
  close(): Promise<void>;
}
