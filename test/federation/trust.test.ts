// Trust between participants (docs/security.md §3), attacked on loopback: a hub (or anyone posing as
// one) asking a site for more than its policy allows, a site poisoning the spectrum bank (wrong
// channels, oversized windows, absurd amplitudes, re-uploads), a site amplifying the bank past the
// others' message limits, an unsolicited evaluation result, a global model larger than a site accepts.
// Each reproduces the attack and asserts the safe outcome: nothing beyond the policy leaves the site,
// nothing invalid enters the bank, and the honest sites finish their rounds.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import WebSocket, { WebSocketServer } from 'ws';
import { DEFAULT_SITE_POLICY, type SitePolicy } from '../../core/contract/site-policy.js';
import {
  decodeMessage, encodeMessage, HUB_TO_SITE, PROTOCOL_VERSION, SITE_TO_HUB, windowEntryName, type HubMessage, type MessageOf,
} from '../../core/contract/hub-protocol.js';
import { ModelSpecSchema } from '../../core/contract/model-spec.js';
import { decodeWeights, encodeWeights } from '../../core/contract/weights.js';
import { generateFundusSites } from '../../core/data/synthetic/fundus.js';
import { runSite, type SiteEvent } from '../../core/federation/site-client.js';
import { Participation } from '../../core/run/participation.js';
import { createMemoryStore } from '../../core/store/memory-store.js';
import { participantData } from '../../core/store/sample-source.js';
import { FakeTrainer } from './helpers/fake-trainer.js';
import { CONSENTING, site, startHub, tempDir, waitFor, within } from './helpers/hub-harness.js';
import { sendHello } from './helpers/raw-hello.js';

const MODEL = ModelSpecSchema.parse({ kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: 4, depth: 2 } });

/**
 * A hostile hub: welcomes whoever says hello, then sends `script`'s messages and finally bye. Records
 * every message the site sent.
 */
async function hostileHub(script: (say: (m: HubMessage, weights?: Uint8Array) => void) => void) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const got: { msg: HubMessage; arrays?: number }[] = [];
  wss.on('connection', (ws) => {
    const say = (m: HubMessage, weights?: Uint8Array) => { const e = encodeMessage(m, weights); ws.send(e.data); };
    say({ kind: 'challenge', protocol: PROTOCOL_VERSION, nonce: 'e'.repeat(64) });
    ws.on('message', (d: Buffer, bin: boolean) => {
      const f = decodeMessage(new Uint8Array(d), bin, { accept: SITE_TO_HUB });
      got.push({ msg: f.msg, ...(f.arrays ? { arrays: f.arrays.length } : {}) });
      if (f.msg.kind !== 'hello') return;
      say({
        kind: 'welcome', protocol: PROTOCOL_VERSION, hub: 'hostile', runId: 'ab'.repeat(8), mode: 'elcfs', round: 1, totalRounds: 1, model: MODEL,
        train: { localEpochs: 1, batchSize: 2, lr: 1e-3, alpha: 0.49, maxStepsPerEpoch: 1 }, maxPayload: 64 << 20, wireDtype: 'float32', heartbeatMs: 60_000, spectrumNeeded: true,
      });
      script(say);
      setTimeout(() => say({ kind: 'bye', reason: 'finished' }), 1500);
    });
  });
  const port = (wss.address() as { port: number }).port;
  return { url: `ws://127.0.0.1:${port}`, got, close: () => new Promise<void>((r) => wss.close(() => r())) };
}

const spectrumIns = (alpha: number): MessageOf<'spectrum_ins'> => ({ kind: 'spectrum_ins', alpha, maxWindows: 100000, maxHalfWidth: 512 });

/** A hand-made site: authenticates, waits for the hub's spectrum request, then uploads whatever it is told. */
async function rawUploader(url: string, name: string, token: string) {
  const ws = new WebSocket(url);
  const replies: HubMessage[] = [];
  const asked = new Promise<void>((resolve) => ws.on('message', (d: Buffer, bin: boolean) => {
    const m = decodeMessage(new Uint8Array(d), bin, { accept: HUB_TO_SITE }).msg;
    replies.push(m);
    if (m.kind === 'spectrum_ins') resolve();
  }));
  await sendHello(ws, { site: name, token });
  await within(asked, 10_000, `${name}: spectrum_ins`);
  const upload = (channels: number, hw: number, value: number) => {
    const side = 2 * hw + 1;
    const arrays = [0, 1].map((i) => ({ name: windowEntryName(i), shape: [channels, side, side], data: new Float32Array(channels * side * side).fill(value) }));
    ws.send(encodeMessage({ kind: 'spectrum_res', count: 2, channels, halfWidth: hw }, arrays).data);
  };
  return { ws, replies, upload };
}

function fundusStore(size: number) {
  const d = generateFundusSites({ sites: 1, perSite: 2, size, seed: 3 })[0]!;
  const store = createMemoryStore();
  const ds = store.createDataset({ name: d.site, kind: 'fundus', channels: 3, classes: 2 });
  store.addSamples(ds.id, d.samples);
  return { store, data: participantData(store, ds.id) };
}

async function runAgainst(url: string, o: { policy?: SitePolicy; role?: 'train' | 'eval'; trainer?: FakeTrainer | Participation; store?: ReturnType<typeof createMemoryStore> }) {
  const events: SiteEvent[] = [];
  const ledger = o.store ?? createMemoryStore();
  const trainer = o.trainer ?? new FakeTrainer({ target: 1, samples: 2 });
  const s = await within(runSite({ hubUrl: url, site: 'victim', token: 't', role: o.role ?? 'train', ...(o.policy ? { policy: o.policy } : {}), trainer, ledger, firstAttempts: 1, onEvent: (e) => events.push(e) }), 20_000, 'site');
  return { s, events, ledger };
}

test('a site sends only what its policy allows, whatever the hub asks', { timeout: 60_000 }, async () => {
  // A real site (the run API's Participation) on 64x64 images. Before: asked at alpha 0.49 it sent 3x63x63 windows (96.9% of each spectrum).
  const hub = await hostileHub((say) => {
    say(spectrumIns(0.49));
    say(spectrumIns(0.04));
  });
  try {
    const { store, data } = fundusStore(64);
    const trainer = new Participation({ ledger: store, data, site: 'victim', backend: 'cpu' });
    const { s, events } = await runAgainst(hub.url, { policy: { ...CONSENTING, maxAlpha: 0.5, maxHalfWidth: 2 }, trainer, store });
    trainer.dispose();
    const sent = hub.got.filter((g) => g.msg.kind === 'spectrum_res').map((g) => g.msg as MessageOf<'spectrum_res'>);
    // alpha 0.49 -> b = 31 (63x63) is refused by the policy's b <= 2; alpha 0.04 -> b = 2 (5x5) goes out.
    assert.deepEqual(sent.map((m) => [m.channels, m.halfWidth, m.count]), [[3, 2, 2]]);
    const refusals = hub.got.filter((g) => g.msg.kind === 'error').map((g) => g.msg as MessageOf<'error'>);
    assert.equal(refusals.length, 1);
    assert.equal(refusals[0]!.code, 'POLICY_REFUSED');
    assert.match(refusals[0]!.message, /63x63 windows; its policy allows at most 5x5/);
    assert.equal(s.refused, 1);
    assert.ok(events.some((e) => e.type === 'refused' && /63x63/.test(e.message)));
    assert.ok(store.listAudit({ direction: 'out' }).some((a) => a.direction === 'out' && /POLICY_REFUSED/.test(a.summary)), 'the refusal is in the audit log');
  } finally {
    await hub.close();
  }
});

test('without consent no window leaves; an unseen site shares no spectra and never trains', { timeout: 60_000 }, async () => {
  const weights = encodeWeights([{ name: 'w', shape: [2], data: Float32Array.from([1, 2]) }]);
  const hash = createHash('sha256').update(weights).digest('hex');
  const hub = await hostileHub((say) => {
    say(spectrumIns(0.003));
    say({ kind: 'train_ins', round: 1, mode: 'elcfs', globalHash: hash, deadline: Date.now() + 60_000, timeLeftMs: 60_000 }, weights);
  });
  try {
    // A train site whose operator did not consent: the windows stay home (CONSENT_REQUIRED); training is allowed.
    const t1 = new FakeTrainer({ target: 1, samples: 2 });
    await runAgainst(hub.url, { policy: DEFAULT_SITE_POLICY, trainer: t1 });
    assert.equal(hub.got.filter((g) => g.msg.kind === 'spectrum_res').length, 0);
    assert.deepEqual(hub.got.filter((g) => g.msg.kind === 'error').map((g) => (g.msg as MessageOf<'error'>).code), ['CONSENT_REQUIRED']);
    assert.deepEqual(t1.trained, [1]);
    hub.got.length = 0;
    // An eval (unseen) site, even with consent: no spectra, no training on its held-out data, no weights sent.
    // Before: it sent its windows and, on train_ins, trained and sent 54 weight tensors.
    const t2 = new FakeTrainer({ target: 1, samples: 2 });
    await runAgainst(hub.url, { policy: CONSENTING, role: 'eval', trainer: t2 });
    assert.deepEqual(t2.trained, []);
    assert.equal(hub.got.filter((g) => g.msg.kind === 'spectrum_res' || g.msg.kind === 'train_res').length, 0);
    assert.deepEqual(hub.got.filter((g) => g.msg.kind === 'error').map((g) => (g.msg as MessageOf<'error'>).code), ['POLICY_REFUSED', 'POLICY_REFUSED']);
  } finally {
    await hub.close();
  }
});

test('spectrum poisoning: wrong channels, oversized windows, absurd amplitudes and re-uploads never enter the bank; ELCFS goes on', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, tokens } = await startHub(dir, { mode: 'elcfs', rounds: 2, minSites: 2, evaluate: 'none' },
      [{ name: 'A' }, { name: 'B' }, { name: 'P1' }, { name: 'P2' }, { name: 'P3' }, { name: 'S' }]);
    // S uploads valid windows, then tries again with others (a re-upload mid-run): refused, the first kept.
    const S = await rawUploader(url, 'S', tokens.S!);
    S.upload(3, 1, 777);
    await waitFor(() => hub.state.hasSpectra('S'), 10_000, 'S windows stored');
    S.upload(3, 2, 888);
    await waitFor(() => S.replies.some((m) => m.kind === 'error'), 10_000, 'refusal of the re-upload');
    assert.match((S.replies.find((m) => m.kind === 'error') as MessageOf<'error'>).message, /already in the bank/);
    S.ws.close();
    // P2 ignores the hub's half-width bound (a client of its own: FedSeg's refuses to send such windows).
    const P2 = await rawUploader(url, 'P2', tokens.P2!);
    P2.upload(3, 40, 5);
    // Before: P1's 1-channel windows were stored and sent to everyone, every honest ELCFS round failed with SHAPE_MISMATCH.
    site(url, 'P1', tokens.P1!, new FakeTrainer({ target: 9, samples: 4, windowShape: { channels: 1, halfWidth: 1 } }));
    site(url, 'P3', tokens.P3!, new FakeTrainer({ target: 9, samples: 4, windowShape: { channels: 3, halfWidth: 1, value: 1e30 } }));
    const rejected = () => new Set(hub.state.listAudit({ event: 'rejected' }).map((x) => x.site));
    await waitFor(() => ['P1', 'P2', 'P3'].every((p) => rejected().has(p)), 20_000, 'the poisoned uploads refused');
    P2.ws.close();
    const run = hub.run();
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 4 }));
    const b = site(url, 'B', tokens.B!, new FakeTrainer({ target: 3, samples: 4 }));
    await within(Promise.all([a.promise, b.promise, run]), 60_000, 'honest run');
    for (const p of ['P1', 'P2', 'P3']) assert.equal(hub.state.hasSpectra(p), false, `${p}'s windows were stored`);
    const why = hub.state.listAudit({ event: 'rejected' }).map((x) => `${x.site}: ${x.detail}`).join('\n');
    assert.match(why, /P1: .*1 channel\(s\); this run's model takes 3/);
    assert.match(why, /P2: .*half-width 40; the hub asked for at most 6/);
    assert.match(why, /P3: .*invalid amplitude \(1\.00000001504\d*e\+30\)/);
    assert.deepEqual(hub.state.listRounds().map((r) => [r.status, r.accepted.sort().join(',')]), [['done', 'A,B'], ['done', 'A,B']]);
    // A's bank: B's and S's first windows only (values ~300 and 777), never anything of P1-P3 (9xx) nor S's re-upload (888).
    const bank = (a.trainer as FakeTrainer).banks[0]!;
    const values = new Set(bank.flat().map((w) => Math.round(w.data[0]!)));
    assert.deepEqual([...values].sort(), [300, 301, 302, 777]);
    for (const g of bank) for (const w of g) assert.equal(w.channels, 3);
    await hub.stop();
  } finally {
    cleanup();
  }
});

test('bank amplification: a site uploading the most the hub accepts cannot push the others over their limits', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    // All windows kept (spectrumPerSource 0) so only the size bound limits the bank. The attacker uploads
    // 3000 windows of 3x13x13 (6.1 MB, under the hub's 8 MiB); the honest sites accept 1 MiB.
    // Before: the bank sent to A and B was over their limit and both exited with MESSAGE_TOO_LARGE.
    const { hub, url, tokens } = await startHub(dir, { mode: 'elcfs', rounds: 2, minSites: 3, evaluate: 'none', maxPayload: 8 << 20, spectrumPerSource: 0 },
      [{ name: 'A' }, { name: 'B' }, { name: 'M' }]);
    const run = hub.run();
    const small = { maxPayload: 1 << 20 };
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 4 }), small);
    const b = site(url, 'B', tokens.B!, new FakeTrainer({ target: 3, samples: 4 }), small);
    const m = site(url, 'M', tokens.M!, new FakeTrainer({ target: 9, samples: 4, windows: 3000, windowShape: { channels: 3, halfWidth: 6 } }), { policy: { ...CONSENTING, maxHalfWidth: 64 } });
    await within(Promise.all([a.promise, b.promise, m.promise, run]), 60_000, 'run');
    assert.deepEqual(hub.state.listRounds().map((r) => r.accepted.sort().join(',')), ['A,B,M', 'A,B,M']);
    const banks = hub.state.listAudit({ event: 'send' }).filter((x) => /spectrum_bank/.test(x.detail) && x.site !== 'M');
    assert.ok(banks.length >= 2);
    for (const x of banks) assert.ok(x.bytes! < (1 << 20) / 2 + 4096, `bank of ${x.bytes} bytes to ${x.site}`);
    // Every source gives the same number of windows, so the bank size does not reveal M's 3000.
    const bankA = (a.trainer as FakeTrainer).banks[0]!;
    assert.equal(new Set(bankA.map((g) => g.length)).size, 1);
  } finally {
    cleanup();
  }
});

test('an unsolicited evaluation result is refused and not stored; a model larger than a site accepts fails only that site\'s round', { timeout: 90_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 2, evaluate: 'none' }, [{ name: 'A' }, { name: 'T' }, { name: 'D' }]);
    const ws = new WebSocket(url);
    const replies: HubMessage[] = [];
    ws.on('message', (d: Buffer, bin: boolean) => replies.push(decodeMessage(new Uint8Array(d), bin, { accept: HUB_TO_SITE }).msg));
    await sendHello(ws, { site: 'T', token: tokens.T! });
    await waitFor(() => replies.some((m) => m.kind === 'welcome'), 10_000, 'welcome');
    // Before: stored as T's evaluation of round 999.
    ws.send(encodeMessage({ kind: 'evaluate_res', round: 999, numSamples: 5, metrics: { dice_c0: 1 } }).data);
    await waitFor(() => replies.some((m) => m.kind === 'error'), 10_000, 'refusal');
    assert.match((replies.find((m) => m.kind === 'error') as MessageOf<'error'>).message, /was not requested/);
    assert.deepEqual(hub.state.listEvaluations(), []);
    ws.close();
    // D accepts 4 KiB; the global model (2,000 floats) is 8 KB: the hub sends it nothing and excludes it with the reason.
    const shapes = { w: [2000] };
    const run = hub.run();
    const aSite = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 4, shapes }));
    await waitFor(() => hub.state.listAudit({ event: 'init_model' }).length === 1, 20_000, 'initial model');
    site(url, 'D', tokens.D!, new FakeTrainer({ target: 2, samples: 4, shapes }), { maxPayload: 4096 });
    await within(Promise.all([aSite.promise, run]), 40_000, 'run');
    const r = hub.state.listRounds()[0]!;
    assert.equal(r.status, 'done');
    assert.ok(r.accepted.includes('A'));
    assert.deepEqual(r.accepted, ['A']);
    assert.match(r.rejected.find((x) => x.site === 'D')?.reason ?? '', /larger than the site accepts \(4096 bytes\)/);
    assert.ok(hub.state.listAudit({ event: 'not_sent' }).some((x) => x.site === 'D'), 'the oversized message was not sent to D');
    assert.equal(decodeWeights(hub.state.checkpoint(1)!.weights).arrays[0]!.data.length, 2000);
  } finally {
    cleanup();
  }
});

test('a global model with NaN in it is refused, not trained from', { timeout: 60_000 }, async () => {
  const weights = encodeWeights([{ name: 'w', shape: [3], data: Float32Array.from([1, NaN, 2]) }]);
  const hash = createHash('sha256').update(weights).digest('hex');
  const hub = await hostileHub((say) => say({ kind: 'train_ins', round: 1, mode: 'fedavg', globalHash: hash, deadline: Date.now() + 60_000, timeLeftMs: 60_000 }, weights));
  try {
    const t = new FakeTrainer({ target: 1, samples: 2 });
    await runAgainst(hub.url, { policy: CONSENTING, trainer: t });
    assert.deepEqual(t.trained, []);
    assert.equal(hub.got.filter((g) => g.msg.kind === 'train_res').length, 0);
    const err = hub.got.find((g) => g.msg.kind === 'error')?.msg as MessageOf<'error'> | undefined;
    assert.equal(err?.code, 'BAD_UPDATE');
    assert.match(err!.message, /non-finite value in 'w'/);
  } finally {
    await hub.close();
  }
});
