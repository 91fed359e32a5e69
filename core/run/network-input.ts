// How images become network input, in one place for training, evaluation and the Segment view (so a
// model sees at inference exactly what it saw in training): the spec's input normalisation
// (core/contract/model-spec.ts InputSpec: 'none' = pixel values as stored, the reference protocol;
// 'zscore' = per image and channel), and at inference zero padding up to the network's size multiple
// (a U-Net pools depth - 1 times), with predictions cropped back to the image.
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import type { ImageF32 } from '../contract/image.js';
import type { InputSpec } from '../contract/model-spec.js';
import type { Network } from '../models/registry.js';

/** Per-channel z-score of an HWC image into a new array (constant channels become 0). */
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

/** The image's values as the network reads them (the same array when nothing changes). */
export function normalised(img: ImageF32, input: InputSpec): Float32Array {
  return input.normalise === 'zscore' ? standardise(img) : img.data;
}

export function paddedSize(n: number, multiple: number): number {
  return Math.ceil(n / multiple) * multiple;
}

function checkImages(images: ImageF32[], net: Network, what: string): { h: number; w: number; c: number } {
  if (images.length === 0) throw new FedSegError('INVALID_ARGUMENT', `${what}: no images`);
  const { height: h, width: w, channels: c } = images[0]!;
  for (const im of images) {
    if (im.height !== h || im.width !== w || im.channels !== c) throw new FedSegError('SHAPE_MISMATCH', `${what}: images in one batch must share their size and channels`);
    if (im.data.length !== h * w * c) throw new FedSegError('SHAPE_MISMATCH', `${what}: an image's data does not match its ${w}x${h}x${c} size`);
  }
  if (c !== net.spec.inChannels)
    throw new FedSegError('SHAPE_MISMATCH', `${what}: this model takes ${net.spec.inChannels}-channel images but the image has ${c}; choose a model trained on this kind of data`);
  return { h, w, c };
}

/**
 * Training input: normalised, unpadded (training images must already fit the network; trainingFit
 * says why when they do not). Caller disposes.
 */
export function trainingInput(net: Network): (images: ImageF32[]) => tf.Tensor4D {
  return (images) => {
    const { h, w, c } = checkImages(images, net, 'training');
    const buf = new Float32Array(images.length * h * w * c);
    images.forEach((im, i) => buf.set(normalised(im, net.spec.input), i * h * w * c));
    return tf.tensor4d(buf, [images.length, h, w, c]);
  };
}

/** null when h x w images can be trained on as they are, else the reason in plain words. */
export function trainingFit(net: Network, h: number, w: number): string | null {
  const m = net.sizeMultiple;
  if (h % m === 0 && w % m === 0) return null;
  return `images are ${w}x${h} but this ${net.spec.kind} (depth ${'depth' in net.spec.config ? net.spec.config.depth : '?'}) needs sides that are multiples of ${m}`;
}

export interface InferenceInput {
  x: tf.Tensor4D;
  height: number;
  width: number;
  paddedHeight: number;
  paddedWidth: number;
}

/** Inference input: normalised and zero-padded to the network's size multiple. Caller disposes x. */
export function inferenceInput(images: ImageF32[], net: Network): InferenceInput {
  const { h, w, c } = checkImages(images, net, 'inference');
  const H = paddedSize(h, net.sizeMultiple);
  const W = paddedSize(w, net.sizeMultiple);
  const buf = new Float32Array(images.length * H * W * c);
  images.forEach((im, i) => {
    const z = normalised(im, net.spec.input);
    const base = i * H * W * c;
    if (H === h && W === w) buf.set(z, base);
    else for (let y = 0; y < h; y++) buf.set(z.subarray(y * w * c, (y + 1) * w * c), base + y * W * c);
  });
  return { x: tf.tensor4d(buf, [images.length, H, W, c]), height: h, width: w, paddedHeight: H, paddedWidth: W };
}

/** Image i's [h, w, c] map out of a batch of padded [H, W, c] maps. */
export function cropOutput(all: Float32Array, i: number, inp: InferenceInput, c: number): Float32Array {
  const { height: h, width: w, paddedHeight: H, paddedWidth: W } = inp;
  const base = i * H * W * c;
  if (H === h && W === w) return all.slice(base, base + h * w * c);
  const out = new Float32Array(h * w * c);
  for (let y = 0; y < h; y++) out.set(all.subarray(base + y * W * c, base + y * W * c + w * c), y * w * c);
  return out;
}
