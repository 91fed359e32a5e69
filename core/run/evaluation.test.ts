// The run API's prediction and evaluation: evaluation = prediction + the reference post-processing +
// per-image metrics + aggregation (docs/algorithms.md §6), for sigmoid and softmax networks; the
// network input is the spec's (normalisation, padding) and predictions come back cropped to the image.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from '../tf/tf.js';
import { generateFundusSites } from '../data/synthetic/fundus.js';
import { generateCellSites } from '../data/synthetic/cells.js';
import { aggregateEvaluations, evaluateMasks, postprocess } from '../metrics/evaluate.js';
import { softmaxToNestedMask } from '../masks/convert.js';
import { buildNetwork } from '../models/registry.js';
import { disposeWeights } from '../models/weight-map.js';
import { assertNoLeaks, useBackend } from '../../test/helpers/leaks.js';
import { evaluateNetwork } from './evaluation.js';
import { inferenceInput, standardise } from './network-input.js';
import { predict, predictProbabilities } from './predict.js';

before(async () => {
  await useBackend();
});

const data = generateFundusSites({ sites: 1, perSite: 5, size: 16, seed: 9 })[0]!.samples;

test('evaluation = predictProbabilities + postprocess + evaluateMasks + aggregate, per image (sigmoid)', async () => {
  const net = buildNetwork({ kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: 4, depth: 3 } });
  const w = net.model.init(3);
  const ev = await assertNoLeaks(() => evaluateNetwork(net, w, data, { batchSize: 2, threshold: 0.5 }));
  const { probs } = await assertNoLeaks(() => predictProbabilities(net, w, data.map((s) => s.image)));
  // The same as the network's own forward pass on the raw pixels (input 'none', no padding needed).
  const direct = tf.tidy(() => {
    const x = tf.concat(data.map((s) => tf.tensor4d(s.image.data, [1, 16, 16, 3])));
    return net.model.forward(w, x).probs.dataSync();
  });
  assert.deepEqual(probs[1], Float32Array.from(direct.subarray(16 * 16 * 2, 2 * 16 * 16 * 2)));
  const manual = aggregateEvaluations(data.map((s, i) => evaluateMasks(postprocess(probs[i]!, 16, 16, 2, 0.5), s.mask)));
  assert.equal(ev.images, data.length);
  assert.deepEqual(ev.meanDice, manual.meanDice);
  assert.deepEqual(ev.emptyPred, manual.emptyPred);
  assert.equal(ev.perImage.length, data.length);
  assert.equal(ev.hd95Unit, 'px');
  await assert.rejects(evaluateNetwork(net, w, data, { batchSize: 0 }), /batchSize/);
  disposeWeights(w);
});

test('softmax networks predict nested masks by arg-max and evaluate the same way', async () => {
  const cells = generateCellSites({ size: 16, perSite: 3, seed: 2 })[0]!.samples;
  const net = buildNetwork({ kind: 'ascnet-7', inChannels: 1, classes: 2 });
  assert.equal(net.outputChannels, 3);
  const w = net.model.init(1);
  const preds = await assertNoLeaks(() => predict(net, w, cells.map((s) => s.image), { withRate: true }));
  preds.forEach((p) => {
    assert.deepEqual(p.mask, softmaxToNestedMask(p.probs, 16, 16, 2));
    assert.equal(p.rate!.length, 16 * 16);
  });
  const ev = await evaluateNetwork(net, w, cells);
  assert.deepEqual(ev.meanDice, aggregateEvaluations(cells.map((s, i) => evaluateMasks(preds[i]!.mask, s.mask))).meanDice);
  disposeWeights(w);
});

test('inference pads to the size multiple and crops back; z-score input is per image and channel', async () => {
  const net = buildNetwork({ kind: 'unet', inChannels: 3, classes: 2, input: { normalise: 'zscore' }, config: { baseWidth: 4, depth: 3 } });
  const img = { ...data[0]!.image, width: 14, height: 15, data: data[0]!.image.data.slice(0, 14 * 15 * 3) };
  const inp = inferenceInput([img], net);
  try {
    assert.deepEqual(inp.x.shape, [1, 16, 16, 3]);
    const x = inp.x.dataSync();
    const z = standardise(img);
    assert.equal(x[0], z[0]);
    assert.equal(x[(1 * 16 + 0) * 3], z[(1 * 14 + 0) * 3], 'row 1 starts at padded row 1');
    assert.equal(x[(0 * 16 + 15) * 3], 0, 'padding is zero');
  } finally {
    inp.x.dispose();
  }
  const w = net.model.init(2);
  const [p] = await predict(net, w, [img]);
  assert.equal(p!.probs.length, 14 * 15 * 2);
  assert.equal(p!.mask.width, 14);
  disposeWeights(w);
  await assert.rejects(predict(net, w, [{ ...img, channels: 1, data: new Float32Array(14 * 15) }]), /3-channel images but the image has 1/);
});
