// Network input for app inference and app training, identical in both so a model sees at inference
// what it saw in training: HWC float image -> [1, H', W', C] tensor, per-image per-channel z-scored
// (the U-Net's instance norm makes the scale nearly irrelevant; z-scoring keeps 0..255 fundus and
// z-scored MRI alike), zero-padded so H', W' are multiples of 2^(depth-1) (the U-Net pools depth-1
// times). Predictions are cropped back to H x W.
import type { ImageF32 } from '../contract/image.js';
import { tf } from '../tf/tf.js';

export function paddedSize(n: number, depth: number): number {
  const m = 2 ** Math.max(0, depth - 1);
  return Math.ceil(n / m) * m;
}

/** Per-channel z-score of an HWC image into a new Float32Array (constant channels become 0). */
export function standardise(img: ImageF32): Float32Array {
  const { width: w, height: h, channels: c, data } = img;
  const out = new Float32Array(data.length);
  for (let k = 0; k < c; k++) {
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < w * h; i++) {
      const v = data[i * c + k]!;
      s += v;
      s2 += v * v;
    }
    const mean = s / (w * h);
    const sd = Math.sqrt(Math.max(0, s2 / (w * h) - mean * mean));
    const inv = sd > 1e-6 ? 1 / sd : 0;
    for (let i = 0; i < w * h; i++) out[i * c + k] = (data[i * c + k]! - mean) * inv;
  }
  return out;
}

/** [1, H', W', C] input tensor (caller disposes). */
export function inputTensor(img: ImageF32, depth: number): tf.Tensor4D {
  const H = paddedSize(img.height, depth);
  const W = paddedSize(img.width, depth);
  const z = standardise(img);
  if (H === img.height && W === img.width) return tf.tensor4d(z, [1, img.height, img.width, img.channels]);
  const out = new Float32Array(H * W * img.channels);
  for (let y = 0; y < img.height; y++) out.set(z.subarray(y * img.width * img.channels, (y + 1) * img.width * img.channels), y * W * img.channels);
  return tf.tensor4d(out, [1, H, W, img.channels]);
}

/** Crops an HWC array of a padded [H', W', C] map back to [h, w, C]. */
export function cropHWC(data: Float32Array, paddedW: number, h: number, w: number, c: number): Float32Array {
  if (paddedW === w && data.length === h * w * c) return data;
  const out = new Float32Array(h * w * c);
  for (let y = 0; y < h; y++) out.set(data.subarray(y * paddedW * c, y * paddedW * c + w * c), y * w * c);
  return out;
}
