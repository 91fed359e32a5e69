// A child process for the threaded-wasm tests: initialises wasm (thread count from FEDSEG_THREADS), runs
// one ELCFS training step (episodic meta step + boundary loss, Adam) and one forward pass of a small
// U-Net with fixed seeds, prints the result as one JSON line, and then simply returns: a process whose
// wasm threads held the event loop open would never exit, which the test detects.
import { tf } from '../../core/tf/tf.js';
import { initBackend, describeBackend } from '../../core/backend.js';
import { buildNetwork } from '../../core/models/registry.js';
import { generateFundusSites } from '../../core/data/synthetic/fundus.js';
import { boundaryRegions } from '../../core/losses/boundary-loss.js';
import { trainStep } from '../../core/train/episodic-step.js';
import { imagesToTensor, masksToTensor } from '../../core/train/batch.js';
import { Adam } from '../../core/train/adam.js';

const report = await initBackend({ backend: 'wasm' });
const [site] = generateFundusSites({ sites: 1, perSite: 2, size: 32, seed: 4 });
const samples = site!.samples;
const model = buildNetwork({ kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: 4, depth: 3 } }).model;
const weights = model.init(7);
const x = imagesToTensor(samples.map((s) => s.image));
const y = masksToTensor(samples.map((s) => s.mask));
const meta = [tf.tidy(() => tf.reverse(x, 2)) as tf.Tensor4D];
const losses = await trainStep(model, weights, new Adam(), { x, y, meta, regions: boundaryRegions(samples.map((s) => s.mask)) }, { mode: 'elcfs' });
const probs = tf.tidy(() => Array.from(model.forward(weights, x).probs.dataSync()));
const out = {
  threads: report.threads,
  described: describeBackend(report),
  losses,
  weights: Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, Array.from(v.dataSync())])),
  probs,
};
process.stdout.write(JSON.stringify(out) + '\n');
