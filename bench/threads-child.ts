// One process of the thread-scaling bench (bench/threads.bench.ts): wasm with the thread count its parent
// set in FEDSEG_THREADS, timing a FedAvg step of the reference U-Net (batch 5, 128²), a 3x3 32->32 conv
// (batch 4, 128²) and a 384² inference; prints one JSON line. The wasm module's thread pool is sized when
// it starts, so each thread count needs its own process.
import { tf } from '../core/tf/tf.js';
import { initBackend } from '../core/backend.js';
import { buildNetwork } from '../core/models/registry.js';
import { generateFundusSites } from '../core/data/synthetic/fundus.js';
import { trainStep } from '../core/train/episodic-step.js';
import { imagesToTensor, masksToTensor } from '../core/train/batch.js';
import { Adam } from '../core/train/adam.js';
import { timeMedian } from './harness.js';

const runs = Number(process.argv[2] ?? 3);
const report = await initBackend({ backend: 'wasm' });
const samples = generateFundusSites({ sites: 1, perSite: 5, size: 128, seed: 1 })[0]!.samples;
const model = buildNetwork({ kind: 'unet', inChannels: 3, classes: 2 }).model;
const weights = model.init(1);
const adam = new Adam();
const x = imagesToTensor(samples.map((s) => s.image));
const y = masksToTensor(samples.map((s) => s.mask));
const fedavg = await timeMedian(() => trainStep(model, weights, adam, { x, y }, { mode: 'fedavg' }), runs, 1);
const cx = tf.randomNormal([4, 128, 128, 32], 0, 1, 'float32', 1) as tf.Tensor4D;
const cw = tf.randomNormal([3, 3, 32, 32], 0, 0.1, 'float32', 2) as tf.Tensor4D;
const conv = await timeMedian(() => tf.tidy(() => void tf.conv2d(cx, cw, 1, 'same').dataSync()), 2 * runs + 1, 2);
const x384 = tf.randomUniform([1, 384, 384, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
const infer = await timeMedian(() => tf.tidy(() => void model.forward(weights, x384).probs.dataSync()), runs, 1);
process.stdout.write(JSON.stringify({ threads: report.threads, fedavg, conv, infer }) + '\n');
