// Sample lists -> batch tensors (NHWC float32) and shape checks shared by training and evaluation.
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import type { ImageF32, MaskU8, Sample } from '../contract/image.js';
import { maskToFloat } from '../masks/convert.js';
import type { SegModel } from '../models/seg-model.js';

/**
 * Checks that every sample fits the model and that all share one size; returns [H, W]. `maskClasses`:
 * mask channels the model is trained on (softmax models output one more, background).
 */
export function checkSamples(samples: Sample[], model: SegModel, what: string, maskClasses = model.classes): [number, number] {
  if (!Array.isArray(samples) || samples.length === 0) throw new FedSegError('INVALID_ARGUMENT', `${what}: no samples`);
  const { height: h, width: w } = samples[0]!.image;
  for (const s of samples) {
    const { image: im, mask: m } = s;
    if (!im || !m) throw new FedSegError('INVALID_INPUT', `${what}: sample '${s.name}' lacks an image or a mask`);
    if (im.height !== h || im.width !== w || m.height !== h || m.width !== w)
      throw new FedSegError('SHAPE_MISMATCH', `${what}: sample '${s.name}' is ${im.width}x${im.height} (mask ${m.width}x${m.height}), others are ${w}x${h}`);
    if (im.channels !== model.inChannels) throw new FedSegError('SHAPE_MISMATCH', `${what}: sample '${s.name}' has ${im.channels} channels, model '${model.kind}' expects ${model.inChannels}`);
    if (m.classes !== maskClasses) throw new FedSegError('SHAPE_MISMATCH', `${what}: mask of '${s.name}' has ${m.classes} classes, model '${model.kind}' is trained on ${maskClasses}`);
    if (im.data.length !== h * w * im.channels || m.data.length !== h * w * m.classes)
      throw new FedSegError('SHAPE_MISMATCH', `${what}: sample '${s.name}' data length does not match its dimensions`);
  }
  return [h, w];
}

export function imagesToTensor(images: ImageF32[]): tf.Tensor4D {
  const { height: h, width: w, channels: c } = images[0]!;
  const buf = new Float32Array(images.length * h * w * c);
  images.forEach((im, i) => buf.set(im.data, i * h * w * c));
  return tf.tensor4d(buf, [images.length, h, w, c]);
}

export function masksToTensor(masks: MaskU8[]): tf.Tensor4D {
  const { height: h, width: w, classes: c } = masks[0]!;
  const buf = new Float32Array(masks.length * h * w * c);
  masks.forEach((m, i) => maskToFloat(m, buf, i * h * w * c));
  return tf.tensor4d(buf, [masks.length, h, w, c]);
}
