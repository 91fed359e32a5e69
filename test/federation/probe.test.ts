// Connection tests against a real hub on loopback (docs/federation.md, "Connection tests"): a probe is
// authenticated and welcomed like a site but never takes a place under the site's name, so the site
// joining right after its own test is never refused as a duplicate of it, and a probe is never asked
// for windows, the initial model or an update. And a site that answers the initial-model request with an
// error makes the hub ask another site at once instead of waiting out the round timeout.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { probeHub } from '../../core/app/hub-probe.js';
import { FedSegError } from '../../core/contract/errors.js';
import type { ModelSpec } from '../../core/contract/model-spec.js';
import type { NamedArray } from '../../core/contract/weights.js';
import { FakeTrainer } from './helpers/fake-trainer.js';
import { identityOf, site, startHub, tempDir, waitFor, within } from './helpers/hub-harness.js';
import { nextChallenge, rawConn, sendHello } from './helpers/raw-hello.js';

const connected = (hub: { status(): { sites: { name: string; connected: boolean }[] } }, name: string) =>
  hub.status().sites.some((s) => s.name === name && s.connected);

test('a connection test is welcomed and closed, holds no place, and the site joins right after it', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, tokens } = await startHub(dir, { mode: 'elcfs', rounds: 1, minSites: 2, evaluate: 'none' }, [{ name: 'A' }, { name: 'B' }]);
    const run = hub.run();

    // A raw probe sees the challenge, the welcome and a normal close: never spectrum_ins or init_ins,
    // though the run is waiting for sites and wants windows from every one.
    const { ws, nonce, got, closed } = await rawConn(url);
    await sendHello(ws, { site: 'A', token: tokens.A!, identity: identityOf(url, 'A'), caps: { probe: true }, nonce: Promise.resolve(nonce) });
    assert.equal(await within(closed, 10_000, 'the hub closing the test'), 1000);
    assert.deepEqual(got.map((m) => m.kind), ['welcome']);
    assert.equal(connected(hub, 'A'), false, 'a probe is not a connected site');
    assert.equal(hub.state.listAudit({ event: 'probe', site: 'A' }).length, 1);

    // The app's probe, then the real site at once, many times over: each test passes and the site is
    // never refused as a duplicate of its own test.
    for (let i = 0; i < 5; i++) {
      const r = await probeHub({ hubUrl: url, site: 'B', token: tokens.B!, identity: identityOf(url, 'B') });
      assert.equal(r.problem, 'ok', r.detail);
    }
    // A probe still open (its hello sent, the hub's close not yet processed) while A joins: A is admitted.
    const open = new WebSocket(url);
    const openNonce = nextChallenge(open);
    await sendHello(open, { site: 'A', identity: identityOf(url, 'A'), caps: { probe: true }, nonce: openNonce });
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 2 }));
    await waitFor(() => connected(hub, 'A'), 20_000, 'A connected');

    // While A's session is live, a test under A's name says so, and A's session stays.
    const dup = await probeHub({ hubUrl: url, site: 'A', identity: identityOf(url, 'A'), token: tokens.A! });
    assert.equal(dup.problem, 'auth');
    assert.match(dup.detail, /ALREADY_EXISTS/);
    assert.equal(connected(hub, 'A'), true, 'the site stays connected after a test under its name');

    const b = site(url, 'B', tokens.B!, new FakeTrainer({ target: 3, samples: 2 }));
    await within(Promise.all([a.promise, b.promise, run]), 60_000, 'the run after the tests');
    assert.equal(hub.status().phase, 'finished');
    // The only refusal is the test made while A was live; the sites themselves were never refused.
    const rejected = hub.state.listAudit({ event: 'rejected' }).map((e) => e.detail);
    assert.equal(rejected.length, 1, JSON.stringify(rejected));
    assert.match(rejected[0]!, /^connection test from .*'A' is already connected$/);
    assert.ok(!a.events.some((e) => e.type === 'refused'));
    await hub.stop();
  } finally {
    cleanup();
  }
});

/** A trainer whose site cannot build the initial model (its operator's store lacks the model kind, say). */
class NoInitTrainer extends FakeTrainer {
  override async initWeights(_spec: ModelSpec, _seed: number): Promise<NamedArray[]> {
    throw new FedSegError('UNSUPPORTED', 'this site cannot build the model');
  }
}

test('a site that cannot build the initial model: the hub asks another site at once', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    // The round timeout is far longer than the test's bound: waiting it out would fail the test.
    const { hub, url, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 2, evaluate: 'none', roundTimeoutMs: 600_000 }, [{ name: 'Bad' }, { name: 'Good' }]);
    const run = hub.run();
    const badTrainer = new NoInitTrainer({ target: 1, samples: 2 });
    const goodTrainer = new FakeTrainer({ target: 3, samples: 2 });
    const bad = site(url, 'Bad', tokens.Bad!, badTrainer);
    await waitFor(() => connected(hub, 'Bad'), 20_000, 'Bad connected');
    const good = site(url, 'Good', tokens.Good!, goodTrainer);
    await within(Promise.all([bad.promise, good.promise, run]), 30_000, 'the run');
    assert.equal(hub.status().phase, 'finished');
    assert.ok(badTrainer.trained.length === 1 && goodTrainer.trained.length === 1, 'both sites trained the round');
    const errors = hub.state.listAudit({ event: 'site_error', site: 'Bad' });
    assert.ok(errors.some((e) => /cannot build the model/.test(e.detail)), JSON.stringify(errors));
    await hub.stop();
  } finally {
    cleanup();
  }
});
