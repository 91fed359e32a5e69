// One end of a message connection between a site and a hub: a WebSocket (ws/wss) in deployment, an
// in-memory twin in tests (federation-hub/memory-transport.ts). Both ends and both implementations
// share this shape, so the site client and the hub's round logic never depend on sockets. One message
// = one protocol message (core/contract/hub-protocol.ts framing).

/** Callbacks of a connection; set once with listen(). */
export interface ConnectionEvents {
  /** The connection is established (client ends). */
  onOpen?(): void;
  onMessage(data: Uint8Array | string, binary: boolean): void;
  onClose(code: number, reason: string): void;
  /** A transport error; `code` as the ws library names it (e.g. WS_ERR_UNSUPPORTED_MESSAGE_LENGTH, ECONNREFUSED). */
  onError?(err: { code?: string; message: string }): void;
  /** The peer answered a ping. */
  onPong?(): void;
}

export interface Connection {
  /** The peer's address (hub side) or the URL (site side), for logs. */
  readonly remote: string;
  isOpen(): boolean;
  /** Queues one message; `done` runs once it was handed to the transport. */
  send(data: Uint8Array | string, done?: () => void): void;
  close(code: number, reason?: string): void;
  /** Drops the connection without a closing handshake. */
  terminate(): void;
  ping(): void;
  listen(events: ConnectionEvents): void;
  /**
   * Hub ends: the peer proved who it is (its Hello was accepted). A transport that holds connections
   * to pre-authentication limits (docs/security.md §6) lifts them from here on.
   */
  authenticated?(): void;
}

export interface ConnectOptions {
  /** Largest message accepted from the peer (bytes). */
  maxPayload: number;
  /** PEM CA certificate(s) to trust for wss:// (self-signed hubs). */
  ca?: string | Uint8Array;
  /** A pinned certificate fingerprint (trust on first use): only a hub presenting it is accepted. */
  trustedFingerprint?: string;
  handshakeTimeoutMs: number;
  /**
   * Allows plain ws:// to a host other than this computer (docs/security.md §2, Transport); without it
   * such a URL is refused before any connection is made.
   */
  insecure?: boolean;
  /** Receives transport warnings (plain ws:// off loopback, NODE_TLS_REJECT_UNAUTHORIZED=0); default: console.warn, once per message. */
  onWarning?: (message: string) => void;
}

/** Opens a client connection (throws INVALID_ARGUMENT for a malformed URL). */
export type Connector = (url: string, opts: ConnectOptions) => Connection;
