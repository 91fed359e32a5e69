import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createUNet } from '../models/unet.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { extractAmplitudeWindow } from '../freq/amplitude-interpolation.js';
import { trainLocal, type TrainProgress, type AmplitudeBankEntry } from './local-training.js';
import { Adam } from './adam.js';
import { assertNoLeaks, useBackend } from '../../test/helpers/leaks.js';
import { disposeWeights, cloneWeights } from '../models/weight-map.js';
import { createAscUNet } from '../models/asc-unet.js';

before(async () => {
  await useBackend();
});

const data = generateFundusSites({ sites: 3, perSite: 5, size: 16, seed: 9 });
const [own, ...others] = data;
const bank: AmplitudeBankEntry[] = others.map((d) => ({ site: d.site, windows: d.samples.map((s) => extractAmplitudeWindow(s.image, 0.07)) }));
const model = createUNet({ inChannels: 3, classes: 2, baseWidth: 4, depth: 3 });

test('trainLocal: steps, progress, seeded determinism, Adam state persists, no leaks', async () => {
  const w1 = model.init(1);
  const w2 = cloneWeights(w1);
  const a1 = new Adam();
  const a2 = new Adam();
  const progress: TrainProgress[] = [];
  const run = (w: typeof w1, adam: Adam, onProgress?: (p: TrainProgress) => void) =>
    trainLocal({ model, weights: w, samples: own!.samples, adam, mode: 'elcfs', seed: 4, batchSize: 2, amplitudeBank: bank, site: own!.site, ...(onProgress ? { onProgress } : {}) });
  const r = await run(w1, a1, (p) => progress.push(p));
  assert.equal(r.steps, 3);
  assert.equal(r.samples, 5);
  assert.deepEqual(progress.map((p) => p.step), [1, 2, 3]);
  assert.deepEqual(progress.map((p) => p.samplesDone), [2, 4, 5]);
  assert.equal(progress[2]!.etaSec, 0);
  assert.ok(progress.every((p) => p.samplesPerSec > 0 && p.losses.metaDice > 0 && p.losses.boundary > 0));
  await run(w2, a2);
  for (const n of Object.keys(w1)) assert.deepEqual(w1[n]!.dataSync(), w2[n]!.dataSync(), `weight ${n} differs between identical seeded runs`);
  assert.equal(a1.step, 3);
  // A second round continues the same Adam state; the tensor count must not change.
  await assertNoLeaks(() => run(w1, a1), 'trainLocal round 2');
  assert.equal(a1.step, 6);
  await assertNoLeaks(
    () => trainLocal({ model, weights: w1, samples: own!.samples, adam: a1, mode: 'fedavg', seed: 4, batchSize: 5, epochs: 2 }),
    'trainLocal fedavg',
  );
  await assertNoLeaks(
    () => trainLocal({ model, weights: w1, samples: own!.samples, adam: a1, mode: 'elcfs', seed: 5, batchSize: 5, amplitudeBank: bank, metaTest: 'all', lambda: 1 }),
    'trainLocal elcfs K-1 views',
  );
  [w1, w2].forEach(disposeWeights);
  a1.dispose();
  a2.dispose();
});

test('trainLocal: cancellation, and bad options are clear errors', async () => {
  const w = model.init(2);
  const adam = new Adam();
  const ctl = new AbortController();
  await assert.rejects(
    trainLocal({ model, weights: w, samples: own!.samples, adam, mode: 'fedavg', seed: 1, batchSize: 1, signal: ctl.signal, onProgress: (p) => p.step === 2 && ctl.abort() }),
    (e: Error & { code?: string }) => e.code === 'CANCELLED' && /after 2 of 5 steps/.test(e.message),
  );
  assert.equal(adam.step, 2);
  await assert.rejects(trainLocal({ model, weights: w, samples: own!.samples, adam, mode: 'elcfs', seed: 1 }), /amplitudeBank/);
  await assert.rejects(
    trainLocal({ model, weights: w, samples: own!.samples, adam, mode: 'elcfs', seed: 1, amplitudeBank: [{ site: own!.site, windows: bank[0]!.windows }], site: own!.site }),
    /at least one other source site/,
  );
  await assert.rejects(trainLocal({ model, weights: w, samples: [], adam, mode: 'fedavg', seed: 1 }), /no samples/);
  const gray = createUNet({ inChannels: 1, classes: 2, baseWidth: 4, depth: 3 });
  await assert.rejects(trainLocal({ model: gray, weights: w, samples: own!.samples, adam, mode: 'fedavg', seed: 1 }), /expects 1/);
  disposeWeights(w);
  adam.dispose();
});

test('any SegModel plugs in: ELCFS local training of the ASC U-Net (rate field + ASC convs)', async () => {
  const asc = createAscUNet({ inChannels: 3, classes: 2, baseWidth: 4, depth: 3 });
  const w = asc.init(1);
  const adam = new Adam();
  const run = () => trainLocal({ model: asc, weights: w, samples: own!.samples.slice(0, 2), adam, mode: 'elcfs', seed: 1, batchSize: 2, amplitudeBank: bank });
  const r = await run();
  assert.ok(r.meanLosses.boundary > 0 && Number.isFinite(r.meanLosses.total));
  await assertNoLeaks(run, 'ASC U-Net ELCFS step');
  disposeWeights(w);
  adam.dispose();
});
