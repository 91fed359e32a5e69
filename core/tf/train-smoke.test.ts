// End-to-end check that the wasm backend TRAINS a conv net with FedSeg's kernels/gradients
// (conv 3×3 → relu → maxPool 2 → conv → nearest upsample 2× → conv 1×1 → sigmoid, BCE + soft Dice
// loss, Adam), and that the identical code runs on cpu with the same trajectory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tf } from './tf.js';
import { initBackend } from '../backend.js';
import { assertNoLeaks } from '../../test/helpers/leaks.js';
import { randn } from '../../test/helpers/compare-backends.js';

const B = 2, S = 16, STEPS = 12;

/** Disk masks (one per batch item, different centres) and noisy images that show them. */
function data(): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(B * S * S), y = new Float32Array(B * S * S);
  const noise = randn(B * S * S, 11);
  for (let b = 0; b < B; b++) {
    const cy = 6 + 4 * b, cx = 9 - 3 * b;
    for (let i = 0; i < S; i++) {
      for (let j = 0; j < S; j++) {
        const k = (b * S + i) * S + j;
        y[k] = (i - cy) ** 2 + (j - cx) ** 2 <= 16 ? 1 : 0;
        x[k] = y[k]! + 0.3 * noise[k]!;
      }
    }
  }
  return { x, y };
}

async function train(backend: 'wasm' | 'cpu'): Promise<number[]> {
  await initBackend({ backend });
  const { x: xs, y: ys } = data();
  return assertNoLeaks(async () => {
    const shapes: Record<string, number[]> = { w1: [3, 3, 1, 8], w2: [3, 3, 8, 8], w3: [1, 1, 8, 1], b3: [1] };
    const vars = Object.fromEntries(
      Object.entries(shapes).map(([k, s], i) => {
        const n = s.reduce((a, b) => a * b, 1);
        const fanIn = s.length === 4 ? s[0]! * s[1]! * s[2]! : 1;
        const init = randn(n, 100 + i).map((v) => (k === 'b3' ? 0 : v * Math.sqrt(2 / fanIn)));
        return [k, tf.tidy(() => tf.variable(tf.tensor(init, s)))];
      }),
    ) as Record<string, tf.Variable>;
    const x = tf.tensor4d(xs, [B, S, S, 1]);
    const y = tf.tensor4d(ys, [B, S, S, 1]);
    const opt = tf.train.adam(0.02);
    const losses: number[] = [];
    const lossFn = () => {
      const h1 = tf.relu(tf.conv2d(x, vars.w1 as tf.Tensor4D, 1, 'same'));
      const p = tf.maxPool(h1, 2, 2, 'same');
      const h2 = tf.relu(tf.conv2d(p, vars.w2 as tf.Tensor4D, 1, 'same'));
      const up = tf.image.resizeNearestNeighbor(h2, [S, S]);
      const prob = tf.sigmoid(tf.add(tf.conv2d(up, vars.w3 as tf.Tensor4D, 1, 'valid'), vars.b3!));
      const eps = 1e-6;
      const pc = tf.clipByValue(prob, eps, 1 - eps);
      const bce = tf.neg(tf.mean(tf.add(tf.mul(y, tf.log(pc)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, pc))))));
      const inter = tf.sum(tf.mul(prob, y));
      const dice = tf.sub(1, tf.div(tf.add(tf.mul(2, inter), 1), tf.add(tf.add(tf.sum(prob), tf.sum(y)), 1)));
      return tf.add(bce, dice) as tf.Scalar;
    };
    for (let s = 0; s < STEPS; s++) {
      const l = opt.minimize(lossFn, true, Object.values(vars))!;
      losses.push(l.dataSync()[0]!);
      l.dispose();
    }
    opt.dispose();
    tf.dispose([x, y, ...Object.values(vars)]);
    return losses;
  }, `training on ${backend}`);
}

test('a tiny conv net trains with Adam on wasm (loss decreases) and the same code runs on cpu', async () => {
  const wasm = await train('wasm');
  assert.ok(wasm.every(Number.isFinite), `wasm losses finite: ${wasm}`);
  assert.ok(wasm[STEPS - 1]! < 0.8 * wasm[0]!, `wasm loss should drop by >20%: ${wasm.map((v) => v.toFixed(3)).join(' ')}`);
  const cpu = await train('cpu');
  assert.ok(cpu[STEPS - 1]! < 0.8 * cpu[0]!, `cpu loss should drop by >20%: ${cpu.map((v) => v.toFixed(3)).join(' ')}`);
  // same initial weights and data: same trajectory up to float rounding
  cpu.forEach((v, i) => assert.ok(Math.abs(v - wasm[i]!) < 1e-3 * (1 + Math.abs(v)), `step ${i}: cpu ${v} vs wasm ${wasm[i]}`));
});
