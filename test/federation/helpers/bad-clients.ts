// Clients that misbehave at the hub's front door (docs/security.md §6), written on node:net so a test
// controls every byte: a TCP socket that never upgrades, a WebSocket upgrade followed by garbage, one
// frame announcing 60 MiB streamed from a small buffer (the client never holds the frame), and a Hello
// with a wrong token. Each may bind its own loopback source address (127.0.0.x), so a test can play
// several remote addresses on one machine.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';
import { decodeMessage, encodeMessage, HUB_TO_SITE, PROTOCOL_VERSION } from '../../../core/contract/hub-protocol.js';
import { newSiteIdentity, signedHello } from '../../../core/contract/site-identity.js';
import { RAW_CAPS } from './raw-hello.js';

export interface RawEnd {
  socket: Socket;
  /** Resolves when the socket is closed (by either side). */
  closed: Promise<void>;
  /** Bytes the hub sent. */
  received: () => Buffer;
}

/** A TCP connection to the hub from `from` (a loopback address), nothing sent yet. */
export function tcp(port: number, from = '127.0.0.1'): Promise<RawEnd> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: from });
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, closed, received: () => Buffer.concat(chunks) }));
    socket.once('close', () => reject(new Error('closed before connecting')));
  });
}

/** A TCP connection that completed the WebSocket upgrade (the hub's challenge may follow). */
export async function upgraded(port: number, from = '127.0.0.1'): Promise<RawEnd> {
  const end = await tcp(port, from);
  end.socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      const s = end.received().toString('latin1');
      if (s.includes('\r\n\r\n')) {
        end.socket.off('data', check);
        if (s.startsWith('HTTP/1.1 101')) resolve();
        else reject(new Error(`upgrade refused: ${s.split('\r\n')[0]}`));
      }
    };
    end.socket.on('data', check);
    void end.closed.then(() => reject(new Error('closed during the upgrade')));
  });
  return end;
}

/** A client frame header (masked with a zero key, so zero payload bytes stay zeros on the wire). */
export function frameHeader(length: number, opcode = 0x2): Buffer {
  const h = Buffer.alloc(14);
  h[0] = 0x80 | opcode;
  h[1] = 0x80 | 127;
  h.writeBigUInt64BE(BigInt(length), 2);
  // bytes 10..13: the mask key, 0 0 0 0
  return h;
}

/**
 * After the upgrade, announces one binary frame of `length` bytes and streams zeros until the hub stops
 * reading or closes. Resolves with the bytes the socket took before it was closed.
 */
export async function oversized(port: number, length: number, from = '127.0.0.1'): Promise<{ written: number }> {
  const end = await upgraded(port, from);
  const chunk = Buffer.alloc(256 * 1024);
  let written = 0;
  let open = true;
  void end.closed.then(() => (open = false));
  end.socket.write(frameHeader(length));
  while (open && written < length) {
    const n = Math.min(chunk.length, length - written);
    written += n;
    if (!end.socket.write(n === chunk.length ? chunk : chunk.subarray(0, n)))
      await Promise.race([new Promise((r) => end.socket.once('drain', r)), end.closed]);
  }
  await end.closed;
  return { written: end.socket.bytesWritten };
}

/** After the upgrade, a text frame that is not a protocol message. */
export async function garbage(port: number, from = '127.0.0.1'): Promise<RawEnd> {
  const end = await upgraded(port, from);
  const body = Buffer.from('{"kind": nonsense', 'utf8');
  const h = Buffer.from([0x81, 0x80 | body.length, 0, 0, 0, 0]);
  end.socket.write(Buffer.concat([h, body]));
  return end;
}

/** What the hub answered a Hello (or a connection) with: its error code and the close code. */
export interface HelloOutcome {
  code: string | null;
  close: number;
}

/**
 * A WebSocket client that answers the challenge with a correctly signed Hello for `site` with a wrong
 * token; resolves with the hub's error code (RATE_LIMITED arrives instead of a challenge).
 */
export function wrongTokenHello(port: number, site: string, from = '127.0.0.1'): Promise<HelloOutcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}`, { localAddress: from });
    let code: string | null = null;
    ws.on('message', (d: Buffer, bin: boolean) => {
      let m;
      try {
        m = decodeMessage(new Uint8Array(d), bin, { accept: HUB_TO_SITE }).msg;
      } catch {
        return;
      }
      if (m.kind === 'challenge') {
        const identity = newSiteIdentity();
        ws.send(encodeMessage(signedHello({ nonce: m.nonce, site, identity, token: 'fst_wrong', protocol: PROTOCOL_VERSION, capabilities: RAW_CAPS })).data);
      } else if (m.kind === 'error') code = m.code;
    });
    ws.on('error', () => {});
    ws.once('close', (close: number) => resolve({ code, close }));
  });
}
