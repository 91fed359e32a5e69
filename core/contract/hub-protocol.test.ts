// Hub protocol: every message round-trips through encode/decode; tensors travel as binary frames;
// unknown keys, wrong kinds, missing/extra attachments and bad JSON are rejected with PROTOCOL_ERROR.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ATTACHMENT_KINDS, decodeMessage, encodeMessage, HUB_TO_SITE, PROTOCOL_VERSION, SITE_TO_HUB, type HubMessage } from './hub-protocol.js';

const w = [{ name: 'a/w', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) }];
const hash = 'a'.repeat(64);
const samples: HubMessage[] = [
  { kind: 'challenge', protocol: PROTOCOL_VERSION, nonce: 'c'.repeat(64) },
  {
    kind: 'hello', protocol: PROTOCOL_VERSION, site: 'A', token: 't', identity: { publicKey: `${'A'.repeat(43)}=`, signature: `${'B'.repeat(86)}==` },
    capabilities: { backend: 'wasm', modes: ['elcfs'], kinds: ['unet'], float16: true, role: 'train', maxPayload: 1 << 20 },
  },
  { kind: 'spectrum_ins', alpha: 0.01, maxWindows: 10, maxHalfWidth: 2 },
  { kind: 'error', code: 'AUTH_FAILED', message: 'no' },
  {
    kind: 'welcome', protocol: PROTOCOL_VERSION, hub: 'h', runId: 'ab'.repeat(8), mode: 'elcfs', round: 1, totalRounds: 2,
    model: { kind: 'asc-unet', inChannels: 3, classes: 2, input: { normalise: 'zscore' }, config: { baseWidth: 8, depth: 3, rateBeta: 1 } },
    train: { localEpochs: 1, batchSize: 5, lr: 1e-3, alpha: 0.003, maxStepsPerEpoch: 0 }, maxPayload: 1024, wireDtype: 'float32', heartbeatMs: 100, spectrumNeeded: true,
  },
  { kind: 'heartbeat', t: 1, round: 2, progress: 0.5 },
  { kind: 'train_ins', round: 1, mode: 'elcfs', globalHash: hash, deadline: 5, timeLeftMs: 1000 },
  { kind: 'train_res', round: 1, globalHash: hash, numSamples: 4, metrics: { loss: 0.5 } },
  { kind: 'spectrum_res', count: 1, channels: 3, halfWidth: 0 },
  { kind: 'evaluate_res', round: 1, numSamples: 3, metrics: { dice_c0: 0.9 } },
  { kind: 'bye', reason: 'finished' },
];

test('messages round-trip; tensor kinds are binary frames, the rest text', () => {
  for (const m of samples) {
    const att = ATTACHMENT_KINDS.has(m.kind) ? w : undefined;
    const e = encodeMessage(m, att);
    assert.equal(e.binary, !!att);
    const d = decodeMessage(e.data, e.binary);
    assert.deepEqual(d.msg, m);
    if (att) {
      assert.deepEqual(d.arrays![0]!.shape, [2, 3]);
      assert.deepEqual([...d.arrays![0]!.data], [1, 2, 3, 4, 5, 6.5]);
      // raw little-endian float32, not a JSON number array
      assert.ok(!new TextDecoder().decode(e.data as Uint8Array).includes('6.5'));
    }
  }
});

test('float16 attachments halve the payload', () => {
  const big = [{ name: 'x', shape: [1000], data: new Float32Array(1000).fill(0.25) }];
  const m: HubMessage = { kind: 'train_ins', round: 1, mode: 'fedavg', globalHash: hash, deadline: 1, timeLeftMs: 1 };
  const a = encodeMessage(m, big).bytes;
  const b = encodeMessage(m, big, { dtype: 'float16' }).bytes;
  assert.ok(b < a * 0.6, `${b} vs ${a}`);
  assert.equal(decodeMessage(encodeMessage(m, big, { dtype: 'float16' }).data, true).arrays![0]!.data[7], 0.25);
});

test('invalid messages are rejected with PROTOCOL_ERROR naming the problem', () => {
  const bad: [string | Uint8Array, boolean, RegExp][] = [
    ['{not json', false, /not valid JSON/],
    [JSON.stringify({ kind: 'nope' }), false, /nope/],
    [JSON.stringify({ ...samples[0], extra: 'image pixels' }), false, /extra|Unrecognized/i],
    [JSON.stringify({ kind: 'train_res', round: 1, globalHash: hash, numSamples: 4, metrics: { loss: 0.5 } }), false, /binary frame/],
    [JSON.stringify({ kind: 'heartbeat', t: 'x' }), false, /t/],
    [new Uint8Array([1, 2, 3]), true, /shorter/],
    [new Uint8Array(16), true, /magic/],
  ];
  for (const [data, bin, re] of bad) assert.throws(() => decodeMessage(data, bin), (e: Error & { code?: string }) => e.code === 'PROTOCOL_ERROR' && re.test(e.message), String(data));
  const text = encodeMessage({ kind: 'init_ins', seed: 1 }).data as string;
  assert.throws(() => decodeMessage(text, false, { accept: SITE_TO_HUB }).msg, /not accepted/);
  assert.doesNotThrow(() => decodeMessage(text, false, { accept: HUB_TO_SITE }));
  assert.throws(() => encodeMessage(samples.find((m) => m.kind === 'train_ins')!), /needs a tensor attachment/);
  assert.throws(() => encodeMessage(samples[1]!, w), /must not carry/);
  assert.throws(() => encodeMessage({ kind: 'train_res', round: 1, globalHash: hash, numSamples: 1, metrics: { loss: NaN } }, w), /invalid/);
});
