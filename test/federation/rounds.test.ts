// Hub + sites (real SQLite, light trainer) over a real WebSocket on 127.0.0.1 and, for the round logic,
// also over the in-memory transport (same hub and site client, no socket): ELCFS rounds with the spectrum
// bank, FedAvg by sample count, evaluation by an eval (unseen) site, checkpoints and audit on both sides.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { sendHello } from './helpers/raw-hello.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeWeights, encodeWeights } from '../../core/contract/weights.js';
import { HubStatusSchema } from '../../core/contract/hub-status.js';
import type { ModelKind } from '../../core/contract/model-spec.js';
import { listModelRecords } from '../../core/run/checkpoints.js';
import { issueAdminToken } from '../../federation-hub/admin-token.js';
import { formatStatus } from '../../federation-hub/status.js';
import { FakeTrainer } from './helpers/fake-trainer.js';
import { identityOf, site, startHub, tempDir, TRANSPORTS, waitFor, within } from './helpers/hub-harness.js';

for (const transport of TRANSPORTS) test(`ELCFS run: 3 train sites + 1 eval site, FedAvg by sample count, bank excludes own and eval windows (${transport})`, { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, tokens } = await startHub(dir, { mode: 'elcfs', rounds: 3, minSites: 3 },
      [{ name: 'A' }, { name: 'B' }, { name: 'C' }, { name: 'U', role: 'eval' }], { transport });
    const run = hub.run();
    const targets = { A: 1, B: 2, C: 4 } as const;
    const samples = { A: 10, B: 20, C: 10 } as const;
    const sites = (['A', 'B', 'C'] as const).map((n) => site(url, n, tokens[n]!, new FakeTrainer({ target: targets[n], samples: samples[n], windows: 2 + (n === 'B' ? 1 : 0) })));
    const evalTrainer = new FakeTrainer({ target: 0, samples: 5 });
    const u = site(url, 'U', tokens.U!, evalTrainer, { role: 'eval' });
    const results = await within(Promise.all([...sites.map((s) => s.promise), u.promise, run]), 20_000, 'run');
    for (const r of results.slice(0, 3)) assert.equal((r as { roundsTrained: number }).roundsTrained, 3);
    assert.deepEqual(evalTrainer.evaluated, [1, 2, 3]);

    // FedAvg by sample count: with step 0.5 every weight w becomes w + 0.5 (sum_k N_k t_k / N - w).
    const st = hub.state;
    const init = decodeWeights(st.checkpoint(0)!.weights).arrays;
    let expect = init.map((a) => Float64Array.from(a.data));
    const tbar = (10 * 1 + 20 * 2 + 10 * 4) / 40;
    for (let r = 1; r <= 3; r++) {
      expect = expect.map((e) => e.map((w) => w + 0.5 * (tbar - w)));
      const got = decodeWeights(st.checkpoint(r)!.weights).arrays;
      got.forEach((g, k) => g.data.forEach((v, i) => assert.ok(Math.abs(v - expect[k]![i]!) < 1e-5, `round ${r} ${g.name}[${i}]`)));
    }
    // Bank: A sees windows of B (3 uploaded) and C (2 uploaded), never its own (target 1 -> values ~100),
    // never the eval site's; each source contributes the same number of windows (spectrumPerSource), so
    // the bank does not tell A how many images B and C have.
    const bankA = (sites[0]!.trainer as FakeTrainer).banks[0]!;
    assert.equal(bankA.length, 2);
    assert.deepEqual(bankA.map((g) => g.length), [64, 64]);
    assert.deepEqual(bankA.map((g) => new Set(g.map((w) => w.data[0])).size).sort(), [2, 3], 'every uploaded window is in the bank');
    for (const g of bankA) for (const w of g) assert.ok(w.data[0]! >= 200, 'A must not receive its own windows');
    const bankB = (sites[1]!.trainer as FakeTrainer).banks[0]!;
    for (const g of bankB) for (const w of g) assert.ok(w.data[0]! < 200 || w.data[0]! >= 400);
    // Rounds recorded, evaluations stored, audit on both sides.
    assert.deepEqual(st.listRounds().map((r) => [r.round, r.status, r.accepted.length]), [[1, 'done', 3], [2, 'done', 3], [3, 'done', 3]]);
    assert.deepEqual(st.listEvaluations().map((e) => [e.round, e.site]), [[1, 'U'], [2, 'U'], [3, 'U']]);
    const out = sites[0]!.ledger.listAudit({ direction: 'out' });
    assert.ok(out.some((a) => a.kind === 'weights-update' && a.bytes > 0));
    assert.ok(out.some((a) => a.kind === 'amplitude-window'));
    assert.ok(!out.some((a) => a.summary.includes(tokens.A!)), 'the token is never logged');
    assert.equal(u.ledger.listAudit({ kind: 'amplitude-window' }).length, 0, 'an eval site never sends windows');
    // Every site keeps every global model, with the hub's spec: the eval site from evaluate_ins, the
    // train sites from train_ins and the final model the hub sends when the run finishes. One round
    // numbering everywhere: A's copy of round 3 holds exactly the hub's round-3 checkpoint, and the audit
    // log names the model that came with train_ins of round 3 'global model of round 2'.
    for (const l of [u.ledger, sites[0]!.ledger]) {
      const g = listModelRecords(l).filter((r) => r.meta.source === 'global');
      assert.deepEqual(g.map((r) => r.info.round), [1, 2, 3]);
      assert.ok(g.every((r) => r.meta.model.kind === 'unet'));
    }
    const gA = listModelRecords(sites[0]!.ledger).filter((r) => r.meta.source === 'global' && r.info.round === 3)[0]!;
    assert.deepEqual(decodeWeights(sites[0]!.ledger.loadCheckpoint(gA.info.id)).arrays, decodeWeights(st.checkpoint(3)!.weights).arrays);
    const gotGlobals = sites[0]!.ledger.listAudit({ kind: 'global-model' }).map((x) => x.summary);
    assert.ok(gotGlobals.some((x) => x.startsWith('global model of round 2 ') && x.includes('to train round 3')), gotGlobals.join(' | '));
    assert.ok(st.listAudit({ event: 'send' }).some((x) => x.detail === 'train_ins round 3 (global model of round 2)'));
    assert.ok(st.listAudit({ event: 'round_done' }).length === 3);
    // Status document (GET /status over ws with the admin token; the same document in memory): sites, rounds, last metrics.
    const admin = { authorization: `Bearer ${issueAdminToken(hub.state)}` };
    const status = HubStatusSchema.parse(transport === 'ws' ? await (await fetch(`${url.replace('ws:', 'http:')}/status`, { headers: admin })).json() : hub.status());
    assert.equal(status.phase, 'finished');
    assert.equal(status.lastCompletedRound, 3);
    assert.deepEqual(status.sites.map((x) => [x.name, x.role]), [['A', 'train'], ['B', 'train'], ['C', 'train'], ['U', 'eval']]);
    assert.equal(status.sites.find((x) => x.name === 'B')!.numSamples, 20);
    assert.deepEqual(status.rounds.map((r) => r.accepted.length), [3, 3, 3]);
    assert.equal(status.evaluations.at(-1)!.round, 3);
    assert.match(formatStatus(status), /3\/3 done/);
    await hub.stop();
  } finally {
    cleanup();
  }
});

for (const transport of TRANSPORTS) test(`FedAvg mode sends no spectra at all (${transport})`, { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 2, minSites: 2, evaluate: 'none' }, [{ name: 'A' }, { name: 'B' }], { transport });
    const run = hub.run();
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 3 }));
    const b = site(url, 'B', tokens.B!, new FakeTrainer({ target: 3, samples: 1 }));
    await within(Promise.all([a.promise, b.promise, run]), 15_000, 'run');
    for (const s of [a, b]) {
      const kinds = new Set(s.ledger.listAudit().map((x) => x.kind));
      assert.ok(!kinds.has('amplitude-window') && !kinds.has('spectrum-bank'), [...kinds].join(','));
    }
    assert.equal(hub.state.lastCompletedRound(), 2);
    await hub.stop();
  } finally {
    cleanup();
  }
});

test('a stale session (half-open socket, no pongs) is replaced when its site reconnects', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 1, evaluate: 'none' }, [{ name: 'S' }]);
    // A connection that authenticates and then goes silent (does not answer pings), like a dropped network path.
    const stale = new WebSocket(url, { autoPong: false });
    await sendHello(stale, { site: 'S', token: tokens.S!, identity: identityOf(url, 'S') });
    await new Promise((r) => setTimeout(r, 1300));
    const run = hub.run();
    const s = site(url, 'S', tokens.S!, new FakeTrainer({ target: 1, samples: 2 }));
    const r = await within(s.promise, 20_000, 'site');
    await within(run, 10_000, 'run');
    assert.equal(r.roundsTrained, 1);
    assert.ok(hub.state.listAudit({ event: 'replaced' }).length === 1);
    stale.terminate();
    await hub.stop();
  } finally {
    cleanup();
  }
});

for (const transport of TRANSPORTS) test(`a dropped connection mid-round: the site reconnects, rejoins the open round and its update counts (${transport})`, { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 2, minSites: 2, evaluate: 'none', roundTimeoutMs: 10_000 }, [{ name: 'A' }, { name: 'B' }], { transport });
    const run = hub.run();
    let dropped = false;
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 2, workMs: 300, onTrain: (r) => {
      if (r.round === 1 && !dropped) { dropped = true; hub.sessions.get('A')!.conn.terminate(); } // the network path dies while A trains
    } }));
    const b = site(url, 'B', tokens.B!, new FakeTrainer({ target: 3, samples: 2, workMs: 50 }));
    const [ra] = await within(Promise.all([a.promise, b.promise, run]), 30_000, 'run');
    assert.ok(ra.reconnects >= 1);
    assert.deepEqual((a.trainer as FakeTrainer).trained, [1, 2], 'round 1 was trained once, not restarted');
    assert.deepEqual(hub.state.listRounds().map((r) => r.accepted.sort()), [['A', 'B'], ['A', 'B']]);
    assert.ok(a.events.some((e) => e.type === 'disconnected'));
    await hub.stop();
  } finally {
    cleanup();
  }
});

for (const transport of TRANSPORTS) test(`float16 on the wire: half-size weight messages, FedAvg within half precision (${transport})`, { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 2, evaluate: 'none', wireDtype: 'float16' }, [{ name: 'A' }, { name: 'B' }], { transport });
    const run = hub.run();
    const shapes = { w: [1000] };
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 1, step: 1, shapes }));
    const b = site(url, 'B', tokens.B!, new FakeTrainer({ target: 3, samples: 3, step: 1, shapes }));
    await within(Promise.all([a.promise, b.promise, run]), 20_000, 'run');
    const avg = decodeWeights(hub.state.checkpoint(1)!.weights).arrays[0]!.data;
    for (const v of avg) assert.ok(Math.abs(v - 2.5) < 2e-3, String(v));
    const sent = [...a.ledger.listAudit({ kind: 'weights-update' }), ...a.ledger.listAudit({ kind: 'initial-model' })].map((x) => x.bytes);
    for (const n of sent) assert.ok(n > 2000 && n < 3000, `float16 frame of 1000 values is ~2 KB, got ${n}`);
    await hub.stop();
  } finally {
    cleanup();
  }
});

for (const transport of TRANSPORTS) test(`initWeights: the hub starts from a weights file and asks no site to build the model (${transport})`, { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const init = [{ name: 'w', shape: [4], data: Float32Array.from([1, 2, 3, 4]) }];
    const file = join(dir, 'init.fsw');
    writeFileSync(file, encodeWeights(init));
    const { hub, url, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 1, evaluate: 'none', initWeights: file }, [{ name: 'A' }], { transport });
    const run = hub.run();
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 5, samples: 1, step: 0.5 }));
    await within(Promise.all([a.promise, run]), 20_000, 'run');
    assert.equal(a.ledger.listAudit({ kind: 'initial-model' }).length, 0);
    assert.deepEqual([...decodeWeights(hub.state.checkpoint(1)!.weights).arrays[0]!.data], [3, 3.5, 4, 4.5]);
    await hub.stop();
  } finally {
    cleanup();
  }
});

for (const transport of TRANSPORTS) test(`a participant that disconnects and stays away is excluded after rejoinGraceMs, not at the deadline (${transport})`, { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    // rejoinGraceMs is far below the deadline but not tiny: a participant that is merely slow to reconnect
    // on a loaded machine (A, if the hub drops it) must not be mistaken for one that is gone for good.
    const { hub, url, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 2, evaluate: 'none', roundTimeoutMs: 60_000, rejoinGraceMs: 2000 },
      [{ name: 'A' }, { name: 'B' }], { transport });
    const b0 = new AbortController();
    const b = site(url, 'B', tokens.B!, new FakeTrainer({ target: 3, samples: 1, workMs: 8000 }), { signal: b0.signal });
    await waitFor(() => b.events.some((e) => e.type === 'connected'), 20_000, 'B connected');
    const run = hub.run();
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 1, onTrain: (r) => { if (r.round === 1) b0.abort(); } }));
    const t0 = Date.now();
    await within(Promise.all([a.promise, run]), 45_000, 'run');
    assert.ok(Date.now() - t0 < 40_000, 'did not wait for the 60 s deadline');
    await assert.rejects(b.promise, { code: 'CANCELLED' });
    const r1 = hub.state.listRounds()[0]!;
    assert.deepEqual([r1.status, r1.participants.sort(), r1.accepted], ['done', ['A', 'B'], ['A']]);
    assert.ok(r1.rejected.some((x) => x.site === 'B' && /dropped/.test(x.reason)), JSON.stringify(r1));
    await hub.stop();
  } finally {
    cleanup();
  }
});

test('a stall of the hub\'s own event loop is not counted as site silence; a really silent site is still dropped', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 2, evaluate: 'none', siteTimeoutMs: 1000 }, [{ name: 'A' }, { name: 'S' }]);
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 1 }));
    await waitFor(() => a.events.some((e) => e.type === 'connected'), 20_000, 'A connected');
    // The process is blocked for 2.5 x siteTimeoutMs (what a loaded machine or a long synchronous step does
    // to hub and site alike): A's heartbeats sit unread, which is not A's silence.
    const t = Date.now();
    while (Date.now() - t < 2500) { /* busy */ }
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(hub.state.listAudit({ event: 'timeout' }).length, 0, 'A was dropped for the hub\'s own stall');
    assert.ok(!a.events.some((e) => e.type === 'disconnected'));
    // A site that authenticates and then answers nothing (no pongs, no heartbeats) is dropped after siteTimeoutMs.
    const silent = new WebSocket(url, { autoPong: false });
    await sendHello(silent, { site: 'S', token: tokens.S!, identity: identityOf(url, 'S') });
    const closed = new Promise<void>((r) => silent.once('close', () => r()));
    await within(closed, 20_000, 'silent site dropped');
    assert.deepEqual(hub.state.listAudit({ event: 'timeout' }).map((x) => x.site), ['S']);
    await hub.stop();
  } finally {
    cleanup();
  }
});

test('a site that cannot build the hub\'s network is refused at hello with the reason', { timeout: 30_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 1, evaluate: 'none' }, [{ name: 'A' }], { transport: 'memory' });
    class CellsOnly extends FakeTrainer {
      override readonly kinds = ['ascnet-7'] as const satisfies readonly ModelKind[];
    }
    const a = site(url, 'A', tokens.A!, new CellsOnly({ target: 1, samples: 1 }));
    await assert.rejects(a.promise, (e: Error & { code?: string }) => e.code === 'UNSUPPORTED' && /cannot build this hub's 'unet' network/.test(e.message));
    assert.ok(hub.state.listAudit({ event: 'rejected' }).some((x) => /cannot build/.test(x.detail)));
    await hub.stop();
  } finally {
    cleanup();
  }
});

test('local training stops at the round deadline; the late site is excluded and told nothing was sent', { timeout: 30_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 2, evaluate: 'none', roundTimeoutMs: 1500 }, [{ name: 'A' }, { name: 'B' }], { transport: 'memory' });
    const run = hub.run();
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 1 }));
    const slow = new FakeTrainer({ target: 3, samples: 1, workMs: 20_000 });
    const b = site(url, 'B', tokens.B!, slow);
    const t0 = Date.now();
    await within(Promise.all([a.promise, b.promise, run]), 20_000, 'run');
    assert.ok(Date.now() - t0 < 15_000, 'B did not train for its full 20 s');
    assert.deepEqual(slow.trained, [], 'B stopped before finishing round 1');
    assert.ok(b.events.some((e) => e.type === 'round-start' && e.deadline !== null));
    assert.ok(b.events.some((e) => e.type === 'hub-error' && e.code === 'TIMEOUT' && /deadline passed.*no update was sent/.test(e.message)), JSON.stringify(b.events));
    const r1 = hub.state.listRounds()[0]!;
    assert.deepEqual([r1.status, r1.accepted], ['done', ['A']]);
    assert.ok(r1.rejected.some((x) => x.site === 'B' && /straggler/.test(x.reason)));
    assert.ok(hub.state.listAudit({ event: 'site_error' }).some((x) => x.site === 'B' && /TIMEOUT/.test(x.detail)));
    await hub.stop();
  } finally {
    cleanup();
  }
});
