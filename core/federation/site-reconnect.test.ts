// After a closed connection the site gives up with the right error, finishes, or retries with backoff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLOSE } from '../contract/hub-protocol.js';
import { afterClose, type CloseContext } from './site-reconnect.js';

const base: CloseContext = {
  code: 1006, reason: '', lastError: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }, hubUrl: 'ws://h:1', wasWelcomed: false,
  everConnected: false, attempts: 1, msSinceConnected: 0, firstAttempts: 3, giveUpAfterMs: 1000, backoff: { initialMs: 100, maxMs: 1000 }, random: () => 0.5,
};

test('fatal closes, finish, first-connection failures, give-up after a long loss, and backoff', () => {
  const code = (c: Partial<CloseContext>) => { const r = afterClose({ ...base, ...c }); return 'fail' in r ? r.fail.code : 'finish' in r ? 'finish' : r.retryInMs; };
  assert.equal(code({ code: CLOSE.authFailed }), 'AUTH_FAILED');
  assert.equal(code({ code: CLOSE.versionMismatch }), 'VERSION_MISMATCH');
  assert.equal(code({ code: CLOSE.tooLarge }), 'MESSAGE_TOO_LARGE');
  assert.equal(code({ code: CLOSE.duplicate }), 'ALREADY_EXISTS');
  assert.equal(code({ code: CLOSE.duplicate, everConnected: true }), 200, 'a duplicate after a drop is the own stale session: retry');
  assert.equal(code({ code: CLOSE.finished }), 'finish');
  assert.equal(code({ attempts: 3 }), 'CONNECTION_FAILED');
  const r = afterClose({ ...base, attempts: 3 });
  assert.ok('fail' in r && /cannot reach hub at ws:\/\/h:1: connection refused/.test(r.fail.message));
  assert.equal(code({ everConnected: true, msSinceConnected: 5000 }), 'CONNECTION_FAILED');
  assert.equal(code({ attempts: 2 }), 400, '100 ms x 2^2, jitter factor 1');
  assert.equal(code({ everConnected: true, wasWelcomed: true, attempts: 7 }), 100, 'a welcomed session retries at once');
  assert.equal(code({ everConnected: true, attempts: 20 }), 1000, 'capped at maxMs');
});
