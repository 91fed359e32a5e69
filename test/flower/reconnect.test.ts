// A FedSeg SuperNode outlives its SuperLink (docs/flower.md §3): killed and restarted on the same
// address, the SuperLink forgets every node (its state is in memory); the site notices, retries with
// backoff, registers and activates again and goes on serving, without being restarted itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SiteEvent } from '../../core/contract/site-events.js';
import { newFlowerIdentity } from '../../core/flower/flower-identity.js';
import { runFlowerSite } from '../../core/flower/supernode.js';
import { FakeTrainer } from '../federation/helpers/fake-trainer.js';
import { waitFor } from '../federation/helpers/hub-harness.js';
import { flowerMissing, SuperLink } from './helpers/superlink.js';

const missing = flowerMissing();

test('a SuperLink killed and restarted: the site reconnects, activates again and keeps serving', { skip: missing ?? false, timeout: 240_000 }, async () => {
  const link = await SuperLink.start();
  const events: SiteEvent[] = [];
  const audit: { kind: string; summary: string }[] = [];
  const ac = new AbortController();
  // Transport only: the arithmetic trainer stands in for the learner (test/flower/flower-federation.test.ts runs the real one).
  const done = runFlowerSite({
    address: link.fleet, site: 'site-r', identity: newFlowerIdentity(), trainer: new FakeTrainer({ target: 1, samples: 2 }), runs: 0, pollMs: 200,
    backoff: { initialMs: 300, maxMs: 2000 }, ledger: { appendAudit: (e: { kind: string; summary: string }) => audit.push(e) } as never, signal: ac.signal, onEvent: (e) => events.push(e),
  });
  try {
    await waitFor(() => events.some((e) => e.type === 'flower-node'), 60_000, 'the first activation');
    await link.restart(1500);
    await waitFor(() => events.filter((e) => e.type === 'flower-node').length >= 2, 120_000, 'the activation after the restart');
    const lost = events.findIndex((e) => e.type === 'disconnected');
    assert.ok(lost > 0, 'the lost SuperLink was reported');
    assert.match((events[lost] as { reason: string }).reason, /cannot reach the Flower SuperLink/);
    assert.equal(audit.filter((a) => a.kind === 'hello').length, 2);
    ac.abort();
    await assert.rejects(done, /site stopped/);
  } finally {
    ac.abort();
    await done.catch(() => undefined);
    await link.stop();
  }
});
