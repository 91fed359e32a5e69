// What a site does when its connection to the hub closes: give up with the reason (refused as too
// large, wrong token, other protocol version, a duplicate name before ever being connected, a hub that
// cannot be reached at all, or one lost for longer than giveUpAfterMs), finish (the hub says the run is
// over), or try again after an exponential backoff with jitter (immediately-ish after a drop from a
// welcomed session). Pure, so each case is easy to see.
import { FedSegError } from '../contract/errors.js';
import { CLOSE } from '../contract/hub-protocol.js';
import { describeSocketError } from './ws-connection.js';

export interface CloseContext {
  code: number;
  reason: string;
  lastError: { code?: string; message: string } | undefined;
  hubUrl: string;
  wasWelcomed: boolean;
  everConnected: boolean;
  /** Failed attempts since the last welcome. */
  attempts: number;
  msSinceConnected: number;
  firstAttempts: number;
  giveUpAfterMs: number;
  backoff: { initialMs?: number; maxMs?: number };
  random: () => number;
}

export type CloseOutcome = { fail: FedSegError } | { finish: true } | { retryInMs: number; reason: string };

export function afterClose(c: CloseContext): CloseOutcome {
  const { code, reason } = c;
  const why = describeSocketError(c.lastError);
  if (code === CLOSE.tooLarge) return { fail: new FedSegError('MESSAGE_TOO_LARGE', `the hub refused a message as too large: ${reason || 'max payload exceeded'}`) };
  if (code === CLOSE.authFailed) return { fail: new FedSegError('AUTH_FAILED', reason || 'authentication failed') };
  if (code === CLOSE.versionMismatch) return { fail: new FedSegError('VERSION_MISMATCH', reason || 'protocol version mismatch') };
  if (code === CLOSE.duplicate && !c.everConnected) return { fail: new FedSegError('ALREADY_EXISTS', reason || 'duplicate site name') };
  if (code === CLOSE.finished) return { finish: true };
  if (!c.everConnected && c.attempts >= c.firstAttempts) return { fail: new FedSegError('CONNECTION_FAILED', `cannot reach hub at ${c.hubUrl}: ${why}`) };
  if (c.everConnected && c.msSinceConnected > c.giveUpAfterMs) return { fail: new FedSegError('CONNECTION_FAILED', `lost the hub at ${c.hubUrl} and could not reconnect: ${why}`) };
  const n = c.wasWelcomed ? 0 : Math.min(c.attempts, 8);
  const delay = Math.min(c.backoff.maxMs ?? 10_000, (c.backoff.initialMs ?? 500) * 2 ** n) * (0.75 + 0.5 * c.random());
  return { retryInMs: Math.round(delay), reason: reason || why };
}
