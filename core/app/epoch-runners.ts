// One training epoch, two ways, behind one interface so training-job.ts can checkpoint, evaluate and
// cancel between epochs the same way for every model kind:
//  - sigmoid U-Nets (unet, asc-unet): D's trainLocal (ALGORITHMS.md §5: ELCFS episodic meta step with
//    CFSI views + boundary loss, or plain Dice steps), Adam state kept for resume;
//  - softmax ASCNet-7: E's softmax trainer (ALGORITHMS.md §7: softmax cross-entropy, Adam beta2 0.9),
//    also on D's Adam, so its state is checkpointed for resume too.
// Readbacks (losses, optimiser state) are awaited: webgpu in Node has no synchronous dataSync.
import { FedSegError } from '../contract/errors.js';
import type { Sample } from '../contract/image.js';
import type { NamedArray } from '../contract/weights.js';
import { nestedMaskToClasses } from '../data/synthetic/cells.js';
import { createSoftmaxTrainer } from '../models/ascnet.js';
import type { SegModel, WeightMap } from '../models/seg-model.js';
import { createRng } from '../rng.js';
import { tf } from '../tf/tf.js';
import { Adam } from '../train/adam.js';
import { imagesToTensor } from '../train/batch.js';
import { trainLocal, type AmplitudeBankEntry } from '../train/local-training.js';

export interface StepReport {
  step: number;
  losses: Record<string, number>;
  samplesPerSec: number;
}

export interface EpochRunner {
  /** Runs one epoch; throws FedSegError('CANCELLED') when signal aborts (completed steps kept). */
  runEpoch(epoch: number, onStep: (r: StepReport) => void, signal: AbortSignal): Promise<void>;
  weights(): WeightMap;
  /** Optimiser state to checkpoint (null when the optimiser cannot be serialised); awaited readback. */
  optimiserState(): Promise<NamedArray[] | null>;
  dispose(): void;
}

export function sigmoidRunner(o: {
  model: SegModel; weights: WeightMap; adam: Adam; samples: Sample[]; batchSize: number; seed: number; elcfs: boolean; bank: AmplitudeBankEntry[];
}): EpochRunner {
  return {
    async runEpoch(epoch, onStep, signal) {
      await trainLocal({
        model: o.model, weights: o.weights, samples: o.samples, adam: o.adam, mode: o.elcfs ? 'elcfs' : 'fedavg', seed: o.seed * 1000 + epoch, epochs: 1,
        batchSize: o.batchSize, amplitudeBank: o.bank, signal,
        onProgress: (p) =>
          onStep({
            step: p.step, samplesPerSec: p.samplesPerSec,
            losses: o.elcfs ? { total: p.losses.total, diceLoss: p.losses.inner, metaDiceLoss: p.losses.metaDice, boundary: p.losses.boundary } : { total: p.losses.total, diceLoss: p.losses.inner },
          }),
      });
    },
    weights: () => o.weights,
    optimiserState: () => o.adam.toNamedArraysAsync(),
    dispose() {
      tf.dispose(Object.values(o.weights));
      o.adam.dispose();
    },
  };
}

/** `adam`: optimiser to continue with (resume; the runner takes ownership), else a fresh ASCNet Adam. */
export function softmaxRunner(o: { model: SegModel; init: WeightMap; samples: Sample[]; batchSize: number; seed: number; learningRate: number; adam?: Adam }): EpochRunner {
  const trainer = createSoftmaxTrainer(o.model as Parameters<typeof createSoftmaxTrainer>[0], o.init, o.adam ? { adam: o.adam } : { lr: o.learningRate });
  tf.dispose(Object.values(o.init));
  const labels = o.samples.map((s) => nestedMaskToClasses(s.mask));
  return {
    async runEpoch(epoch, onStep, signal) {
      const rng = createRng(o.seed * 1000 + epoch);
      const order = rng.shuffle(o.samples.map((_, i) => i));
      const t0 = performance.now();
      let done = 0;
      for (let b = 0, step = 1; b < order.length; b += o.batchSize, step++) {
        if (signal.aborted) throw new FedSegError('CANCELLED', `training cancelled after ${step - 1} step(s) of this epoch`);
        const idx = order.slice(b, b + o.batchSize);
        const { height: h, width: w } = o.samples[idx[0]!]!.image;
        const lab = new Int32Array(idx.length * h * w);
        idx.forEach((i, j) => lab.set(labels[i]!, j * h * w));
        const x = imagesToTensor(idx.map((i) => o.samples[i]!.image));
        const y = tf.tensor3d(lab, [idx.length, h, w], 'int32');
        let loss: number;
        try {
          loss = await trainer.step(x, y);
        } finally {
          tf.dispose([x, y]);
        }
        done += idx.length;
        onStep({ step, losses: { total: loss, crossEntropy: loss }, samplesPerSec: done / Math.max(1e-9, (performance.now() - t0) / 1000) });
        await new Promise((r) => setImmediate(r));
      }
    },
    weights: () => trainer.weights(),
    optimiserState: () => trainer.adam.toNamedArraysAsync(),
    dispose: () => trainer.dispose(),
  };
}
