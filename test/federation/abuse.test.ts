// Abuse and fault cases on loopback (real hub, ws, SQLite; light trainer): wrong token, wrong protocol
// version, duplicate site name, malformed messages, an oversized message, a NaN update — each is
// rejected with the right error code, and the federated run still finishes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { PROTOCOL_VERSION } from '../../core/contract/hub-protocol.js';
import { FakeTrainer } from './helpers/fake-trainer.js';
import { sendHello } from './helpers/raw-hello.js';
import { site, startHub, tempDir, waitFor, within } from './helpers/hub-harness.js';

/** A raw ws client: collects decoded text frames and the close code. */
function raw(url: string) {
  const ws = new WebSocket(url);
  const got: { kind: string; code?: string; message?: string }[] = [];
  const opened = new Promise<void>((r, j) => { ws.once('open', () => r()); ws.once('error', j); });
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  // The hub's opening challenge is the handshake, not an answer: keep only what follows it.
  let gotNonce!: (n: string) => void;
  const nonce = new Promise<string>((r) => (gotNonce = r));
  ws.on('message', (d, bin) => {
    if (bin) return;
    const m = JSON.parse(d.toString()) as { kind: string; nonce?: string };
    if (m.kind === 'challenge') gotNonce(m.nonce!);
    else got.push(m);
  });
  ws.on('error', () => {});
  return { ws, got, opened, closed, nonce };
}


test('wrong token, wrong version, duplicate name, malformed, oversized and NaN updates are rejected; the run finishes', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, tokens } = await startHub(dir, { mode: 'elcfs', rounds: 3, minSites: 3, maxPayload: 32 * 1024, roundTimeoutMs: 4000 },
      [{ name: 'A' }, { name: 'B' }, { name: 'N' }]);
    const run = hub.run();
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 4, workMs: 40 }));
    const b = site(url, 'B', tokens.B!, new FakeTrainer({ target: 3, samples: 4, workMs: 40 }));
    const n = site(url, 'N', tokens.N!, new FakeTrainer({ target: 9, samples: 4, nan: true }));

    // Wrong token / unknown site -> AUTH_FAILED (the same answer, so enrolment is not revealed).
    const wrong = site(url, 'A', 'fst_wrong', new FakeTrainer({ target: 0, samples: 1 }));
    await assert.rejects(wrong.promise, (e: Error & { code?: string }) => e.code === 'AUTH_FAILED' && /authentication failed/.test(e.message));
    const unknown = site(url, 'Z', tokens.A!, new FakeTrainer({ target: 0, samples: 1 }));
    await assert.rejects(unknown.promise, { code: 'AUTH_FAILED' });
    // Wrong protocol version -> VERSION_MISMATCH.
    const old = site(url, 'B', tokens.B!, new FakeTrainer({ target: 0, samples: 1 }), { protocolVersion: 0 });
    await assert.rejects(old.promise, (e: Error & { code?: string }) => e.code === 'VERSION_MISMATCH' && e.message.includes(`site speaks 0, hub speaks ${PROTOCOL_VERSION}`));
    // Duplicate site name while A is connected -> ALREADY_EXISTS.
    await waitFor(() => a.events.some((e) => e.type === 'connected'), 20_000, 'A connect');
    const dup = site(url, 'A', tokens.A!, new FakeTrainer({ target: 0, samples: 1 }));
    await assert.rejects(dup.promise, (e: Error & { code?: string }) => e.code === 'ALREADY_EXISTS' && /duplicate/.test(e.message));

    // Malformed: not JSON, unknown kind, an extra field, a garbage binary frame, a message before hello.
    for (const payload of ['{not json', JSON.stringify({ kind: 'gimme' }), JSON.stringify({ kind: 'heartbeat', t: 1, pixels: [1, 2] }), Buffer.from([9, 9, 9, 9, 9, 9, 9, 9, 9])]) {
      const c = raw(url);
      await c.opened;
      c.ws.send(payload);
      assert.equal(await c.closed, 4003);
      assert.equal(c.got[0]?.kind, 'error');
      assert.equal(c.got[0]?.code, 'PROTOCOL_ERROR');
    }
    // Malformed after a valid hello: authenticated as a 4th enrolled site, then a bad train_res.
    const tokM = hub.state.addSite('M', 'train');
    const m = raw(url);
    await m.opened;
    await sendHello(m.ws, { site: 'M', token: tokM, nonce: m.nonce });
    m.ws.send(JSON.stringify({ kind: 'train_res', round: 1, numSamples: -1, metrics: {} }));
    assert.equal(await m.closed, 4003);
    assert.ok(m.got.some((x) => x.kind === 'welcome'));
    assert.ok(m.got.some((x) => x.kind === 'error' && x.code === 'PROTOCOL_ERROR'));
    // Oversized: a frame over maxPayload (32 KiB) is refused with close 1009 and logged.
    const tokO = hub.state.addSite('O', 'train');
    const o = raw(url);
    await o.opened;
    await sendHello(o.ws, { site: 'O', token: tokO, nonce: o.nonce });
    o.ws.send(Buffer.alloc(64 * 1024, 1));
    assert.equal(await o.closed, 1009);

    await within(Promise.all([a.promise, b.promise, n.promise, run]), 30_000, 'run');
    // NaN update: rejected every round with a logged reason; rounds aggregated A and B only.
    const rounds = hub.state.listRounds();
    assert.deepEqual(rounds.map((r) => r.status), ['done', 'done', 'done']);
    for (const r of rounds) {
      assert.deepEqual(r.accepted.sort(), ['A', 'B']);
      assert.ok(r.rejected.some((x) => x.site === 'N' && /non-finite/.test(x.reason)), JSON.stringify(r.rejected));
    }
    assert.ok(n.events.some((e) => e.type === 'hub-error' && e.code === 'BAD_UPDATE'));
    const rejected = hub.state.listAudit({ event: 'rejected' }).map((x) => x.detail);
    for (const re of [/authentication failed/, /protocol version 0/, /duplicate connection/, /not valid JSON/, /too large/, /non-finite/])
      assert.ok(rejected.some((d) => re.test(d)), `audit lacks ${re}: ${rejected.join(' | ')}`);
    await hub.stop();
  } finally {
    cleanup();
  }
});

test('a site whose weights exceed the hub maxPayload fails with MESSAGE_TOO_LARGE before sending', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    // 20000 float32 = 80 KB of weights (here the initial model the hub asks for) vs a 60 KiB maxPayload.
    const { hub, url, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 1, maxPayload: 60 * 1024 }, [{ name: 'A' }]);
    void hub.run();
    const big = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 4, shapes: { big: [20000] } }));
    await assert.rejects(within(big.promise, 10_000, 'big'), (e: Error & { code?: string }) => e.code === 'MESSAGE_TOO_LARGE' && /at most 61440/.test(e.message));
    assert.ok(big.ledger.listAudit({ direction: 'out', kind: 'initial-model' }).length === 0, 'nothing oversized was sent');
    await hub.stop();
  } finally {
    cleanup();
  }
});
