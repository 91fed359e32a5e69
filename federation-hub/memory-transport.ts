// The in-memory twin of ws-transport.ts: connections are pairs of in-process ends that deliver each
// message asynchronously (as a socket would), enforce the receiver's size limit (close 1009, as ws
// does) and close both ends together. Its `connector` is a contract Connector, so the real site client
// runs against the real hub with no socket at all: fast, deterministic round tests.
import { FedSegError } from '../core/contract/errors.js';
import type { Connection, ConnectionEvents, Connector } from '../core/contract/transport.js';
import type { HubTransport, TransportHandlers } from './transport.js';

const TOO_LARGE = 1009;

class End implements Connection {
  peer!: End;
  private ev?: ConnectionEvents;
  private queue: (() => void)[] = [];
  private closed = false;
  constructor(readonly remote: string, private readonly maxIn: number) {}

  listen(ev: ConnectionEvents): void {
    this.ev = ev;
    const q = this.queue;
    this.queue = [];
    for (const f of q) f();
  }

  /** Runs f once listeners are attached, on a later tick (never re-entrantly). */
  deliver(f: (ev: ConnectionEvents) => void): void {
    setImmediate(() => {
      const run = () => this.ev && f(this.ev);
      if (this.ev) run();
      else this.queue.push(run);
    });
  }

  isOpen(): boolean {
    return !this.closed;
  }

  send(data: Uint8Array | string, done?: () => void): void {
    if (this.closed) return;
    const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    const copy = typeof data === 'string' ? data : data.slice();
    const peer = this.peer;
    if (bytes > peer.maxIn) {
      peer.deliver((ev) => ev.onError?.({ code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', message: 'Max payload size exceeded' }));
      this.shut(TOO_LARGE, '');
    } else peer.deliver((ev) => ev.onMessage(copy, typeof copy !== 'string'));
    if (done) setImmediate(done);
  }

  close(code: number, reason = ''): void {
    this.shut(code, reason);
  }

  terminate(): void {
    this.shut(1006, '');
  }

  ping(): void {
    if (!this.closed) this.deliver((ev) => ev.onPong?.());
  }

  private shut(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.peer.closed = true;
    this.deliver((ev) => ev.onClose(code, reason));
    this.peer.deliver((ev) => ev.onClose(code, reason));
  }
}

export class MemoryTransport implements HubTransport {
  private h?: TransportHandlers;
  private readonly open = new Set<End>();
  private n = 0;
  url = 'memory://hub';

  /** @param maxPayload the hub's inbound message limit */
  constructor(private readonly maxPayload: number) {}

  async listen(h: TransportHandlers): Promise<number> {
    this.h = h;
    return 0;
  }

  /** Opens a connection to this hub, as the site client's Connector. */
  readonly connector: Connector = (url, opts) => {
    if (!url.startsWith('memory://')) throw new FedSegError('INVALID_ARGUMENT', `bad hub URL '${url}' for the in-memory transport`);
    const client = new End(url, opts.maxPayload);
    const server = new End(`memory-site-${++this.n}`, this.maxPayload);
    client.peer = server;
    server.peer = client;
    const h = this.h;
    if (!h) {
      client.deliver((ev) => ev.onError?.({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED (in-memory hub is not listening)' }));
      client.terminate();
      return client;
    }
    this.open.add(server);
    setImmediate(() => {
      h.connection(server);
      client.deliver((ev) => ev.onOpen?.());
    });
    return client;
  };

  async close(): Promise<void> {
    this.h = undefined;
    for (const c of this.open) c.terminate();
    this.open.clear();
  }
}
