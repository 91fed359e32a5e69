// A raw WebSocket client's side of the hub's handshake (docs/security.md §2), for tests that speak the
// protocol by hand: wait for the hub's challenge, answer it with a signed Hello.
import WebSocket from 'ws';
import { decodeMessage, encodeMessage, HUB_TO_SITE, PROTOCOL_VERSION, type Capabilities, type HubMessage } from '../../../core/contract/hub-protocol.js';
import { newSiteIdentity, signedHello, type SiteIdentity } from '../../../core/contract/site-identity.js';

export const RAW_CAPS: Capabilities = { backend: 'raw', modes: ['elcfs', 'fedavg'], kinds: ['unet'], float16: false, role: 'train' };

/**
 * The hub's challenge nonce: the first message on every connection. Call it before the socket opens
 * (the challenge can arrive in the same packet as the upgrade answer).
 */
export function nextChallenge(ws: WebSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    const onMsg = (d: Buffer, bin: boolean) => {
      try {
        const m = decodeMessage(new Uint8Array(d), bin, { accept: HUB_TO_SITE }).msg;
        if (m.kind !== 'challenge') return reject(new Error(`expected a challenge first, got '${m.kind}'`));
        ws.off('message', onMsg);
        resolve(m.nonce);
      } catch (e) {
        reject(e as Error);
      }
    };
    ws.on('message', onMsg);
    ws.once('close', () => reject(new Error('closed before a challenge')));
  });
}

/** Answers the challenge with a signed Hello; resolves with the identity used. */
export async function sendHello(ws: WebSocket, o: { site: string; token?: string; identity?: SiteIdentity; protocol?: number; caps?: Partial<Capabilities>; nonce?: Promise<string> }): Promise<SiteIdentity> {
  const nonce = await (o.nonce ?? nextChallenge(ws));
  const identity = o.identity ?? newSiteIdentity();
  ws.send(encodeMessage(signedHello({ nonce, site: o.site, identity, token: o.token, protocol: o.protocol ?? PROTOCOL_VERSION, capabilities: { ...RAW_CAPS, ...o.caps } })).data);
  return identity;
}

/** Opens a raw connection; collects what the hub says after its challenge. */
export async function rawConn(url: string) {
  const ws = new WebSocket(url);
  const nonce = nextChallenge(ws);
  const got: HubMessage[] = [];
  const closed = new Promise<number>((r) => ws.once('close', (c) => r(c)));
  await nonce;
  ws.on('message', (d: Buffer, bin: boolean) => got.push(decodeMessage(new Uint8Array(d), bin, { accept: HUB_TO_SITE }).msg));
  return { ws, nonce: await nonce, got, closed };
}
