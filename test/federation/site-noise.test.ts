// An enrolled site (or whoever holds its key) flooding the hub with rejected messages and errors
// (docs/security.md §6): every one cost an audit row before; now a burst is audited, the site is then
// disconnected with RATE_LIMITED and refused at hello until its budget refills, and the other sites'
// rounds go on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { decodeMessage, encodeMessage, HUB_TO_SITE, type HubMessage } from '../../core/contract/hub-protocol.js';
import { FakeTrainer } from './helpers/fake-trainer.js';
import { identityOf, site, startHub, tempDir, waitFor, within } from './helpers/hub-harness.js';
import { sendHello } from './helpers/raw-hello.js';

test('a site flooding errors and rejected messages is cut off after a bounded number of audit rows; the run goes on', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 1, evaluate: 'none' }, [{ name: 'A' }, { name: 'F' }]);
    const ws = new WebSocket(url);
    const got: HubMessage[] = [];
    ws.on('message', (d: Buffer, bin: boolean) => got.push(decodeMessage(new Uint8Array(d), bin, { accept: HUB_TO_SITE }).msg));
    const closed = new Promise<number>((r) => ws.once('close', (c) => r(c)));
    await sendHello(ws, { site: 'F', token: tokens.F!, identity: identityOf(url, 'F') });
    await waitFor(() => got.some((m) => m.kind === 'welcome'), 10_000, 'welcome');
    // 1000 messages: errors and unsolicited evaluation results, alternately.
    for (let i = 0; i < 1000; i++) {
      ws.send(encodeMessage(i % 2 ? { kind: 'error', code: 'INTERNAL', message: `noise ${i}` } : { kind: 'evaluate_res', round: 900 + i, numSamples: 1, metrics: {} }).data);
    }
    assert.equal(await within(closed, 10_000, 'the flooding site is disconnected'), 4003);
    assert.ok(got.some((m) => m.kind === 'error' && m.code === 'RATE_LIMITED'), JSON.stringify(got.filter((m) => m.kind === 'error').slice(-2)));
    const rows = hub.state.listAudit({ site: 'F' }).filter((r) => r.event === 'rejected' || r.event === 'site_error').length;
    assert.ok(rows <= 50, `${rows} audit rows for the flood`);
    // Refused at hello while its budget is spent, even with its key.
    const again = new WebSocket(url);
    const againGot: HubMessage[] = [];
    again.on('message', (d: Buffer, bin: boolean) => againGot.push(decodeMessage(new Uint8Array(d), bin, { accept: HUB_TO_SITE }).msg));
    const againClosed = new Promise<number>((r) => again.once('close', (c) => r(c)));
    await sendHello(again, { site: 'F', identity: identityOf(url, 'F') });
    assert.equal(await within(againClosed, 10_000, 'refused'), 4003);
    assert.ok(againGot.some((m) => m.kind === 'error' && m.code === 'RATE_LIMITED'));
    // The honest site's run is unaffected.
    const run = hub.run();
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 2 }));
    await within(Promise.all([a.promise, run]), 20_000, 'run');
    assert.equal(hub.state.lastCompletedRound(), 1);
    await hub.stop();
  } finally {
    cleanup();
  }
});
