// Adam (Kingma & Ba 2015) exactly as torch.optim.Adam (no weight decay, no amsgrad), the optimiser of
// the FedDG reference (docs/algorithms.md §1: lr 1e-3, betas 0.9/0.999, state kept per site across rounds,
// never averaged):
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  t += 1
//   theta -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// State is keyed by weight name and serialises to NamedArray[] so a site can checkpoint it.
// On the webgpu backend the same update runs as FedSeg's fused WGSL programs (core/tf/webgpu-fused.ts,
// 3 dispatches per weight instead of ~12); every other backend keeps the tf-ops form below (torch order
// of operations). Snapshots: toNamedArraysAsync() works on every backend; toNamedArrays() needs a
// backend with synchronous readback (not webgpu in Node).
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import type { NamedArray } from '../contract/weights.js';
import type { WeightMap } from '../models/seg-model.js';
import { fusedAdamStep } from '../tf/webgpu-fused.js';

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export const ADAM_DEFAULTS: AdamConfig = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
const PREFIX_M = 'adam.m/';
const PREFIX_V = 'adam.v/';
const STEP = 'adam.step';
const CONFIG = 'adam.config';

export class Adam {
  readonly config: AdamConfig;
  step = 0;
  private readonly m = new Map<string, tf.Tensor>();
  private readonly v = new Map<string, tf.Tensor>();

  constructor(config: Partial<AdamConfig> = {}) {
    this.config = { ...ADAM_DEFAULTS, ...config };
    const { lr, beta1, beta2, eps } = this.config;
    if (!(lr > 0) || !(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0))
      throw new FedSegError('INVALID_ARGUMENT', `Adam: need lr > 0, betas in [0, 1), eps > 0; got ${JSON.stringify(this.config)}`);
  }

  /** One update: replaces every weights[name] that has a gradient with a new tensor (old one disposed). */
  apply(weights: WeightMap, grads: WeightMap): void {
    const { lr, beta1, beta2, eps } = this.config;
    this.step += 1;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    for (const [name, g] of Object.entries(grads)) {
      const w = weights[name];
      if (!w) throw new FedSegError('INVALID_ARGUMENT', `Adam: gradient for unknown weight '${name}'`);
      if (g.shape.some((d, i) => d !== w.shape[i])) throw new FedSegError('SHAPE_MISMATCH', `Adam: gradient '${name}' [${g.shape}] vs weight [${w.shape}]`);
      const m0 = this.m.get(name);
      const v0 = this.v.get(name);
      if (tf.getBackend() === 'webgpu') {
        const r = fusedAdamStep(w, g, m0 ?? null, v0 ?? null, this.config, this.step);
        m0?.dispose();
        v0?.dispose();
        this.m.set(name, r.m);
        this.v.set(name, r.v);
        w.dispose();
        weights[name] = r.w;
        continue;
      }
      const [m1, v1, w1] = tf.tidy(() => {
        const m = m0 ? tf.add(tf.mul(m0, beta1), tf.mul(g, 1 - beta1)) : tf.mul(g, 1 - beta1);
        const v = v0 ? tf.add(tf.mul(v0, beta2), tf.mul(tf.square(g), 1 - beta2)) : tf.mul(tf.square(g), 1 - beta2);
        const upd = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), eps));
        return [m, v, tf.sub(w, tf.mul(upd, lr))];
      });
      m0?.dispose();
      v0?.dispose();
      this.m.set(name, m1!);
      this.v.set(name, v1!);
      w.dispose();
      weights[name] = w1!;
    }
  }

  /**
   * Snapshot for checkpoints (plain arrays, no tensors). Synchronous readback: not on webgpu in Node
   * (throws FedSegError UNSUPPORTED there); use toNamedArraysAsync, which works everywhere.
   */
  toNamedArrays(): NamedArray[] {
    return this.snapshot((t) => Float32Array.from(t.dataSync() as Float32Array));
  }

  /** toNamedArrays with awaited readbacks (every backend, webgpu included). Same result. */
  async toNamedArraysAsync(): Promise<NamedArray[]> {
    const tensors = [...this.m.values(), ...this.v.values()];
    const data = await Promise.all(tensors.map((t) => t.data() as Promise<Float32Array>));
    const byTensor = new Map(tensors.map((t, i) => [t, data[i]!]));
    return this.snapshot((t) => Float32Array.from(byTensor.get(t)!));
  }

  private snapshot(read: (t: tf.Tensor) => Float32Array): NamedArray[] {
    const out: NamedArray[] = [
      { name: STEP, shape: [1], data: new Float32Array([this.step]) },
      { name: CONFIG, shape: [4], data: new Float32Array([this.config.lr, this.config.beta1, this.config.beta2, this.config.eps]) },
    ];
    for (const [name, t] of this.m) out.push({ name: PREFIX_M + name, shape: [...t.shape], data: read(t) });
    for (const [name, t] of this.v) out.push({ name: PREFIX_V + name, shape: [...t.shape], data: read(t) });
    return out;
  }

  /** Restores a snapshot made by toNamedArrays. `config` overrides the stored hyper-parameters. */
  static fromNamedArrays(arrays: NamedArray[], config?: Partial<AdamConfig>): Adam {
    const step = arrays.find((a) => a.name === STEP);
    if (!step || step.data.length !== 1 || !Number.isInteger(step.data[0]) || step.data[0]! < 0)
      throw new FedSegError('CORRUPT_FILE', `Adam state: missing or bad '${STEP}' entry`);
    const stored = arrays.find((a) => a.name === CONFIG);
    // Hyper-parameters are stored as float32; decimal settings (1e-3, 0.999, 1e-8) are recovered exactly
    // by rounding to 7 significant digits.
    const dec = (i: number) => Number(stored!.data[i]!.toPrecision(7));
    const base: Partial<AdamConfig> = stored && stored.data.length === 4 ? { lr: dec(0), beta1: dec(1), beta2: dec(2), eps: dec(3) } : {};
    const adam = new Adam({ ...base, ...config });
    adam.step = step.data[0]!;
    for (const a of arrays) {
      const isM = a.name.startsWith(PREFIX_M);
      if (!isM && !a.name.startsWith(PREFIX_V)) continue;
      const name = a.name.slice((isM ? PREFIX_M : PREFIX_V).length);
      (isM ? adam.m : adam.v).set(name, tf.tensor(a.data, a.shape, 'float32'));
    }
    for (const name of adam.m.keys()) if (!adam.v.has(name)) throw new FedSegError('CORRUPT_FILE', `Adam state: '${name}' has m but no v`);
    return adam;
  }

  /** Names with optimiser state. */
  names(): string[] {
    return [...this.m.keys()];
  }

  /**
   * null when every moment belongs to one of `weights` with the same shape, else why not (state of
   * another network must not be applied: its moments would broadcast or fail mid-step).
   */
  mismatch(weights: readonly { name: string; shape: readonly number[] }[]): string | null {
    const shapes = new Map(weights.map((w) => [w.name, w.shape]));
    for (const [name, t] of this.m) {
      const s = shapes.get(name);
      if (!s) return `optimiser state has '${name}', which the model does not`;
      if (s.length !== t.shape.length || s.some((d, i) => d !== t.shape[i])) return `optimiser state of '${name}' is [${t.shape}], the model's weight is [${s}]`;
    }
    return null;
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
