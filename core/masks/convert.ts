// Conversions between the mask layouts FedSeg uses, in one place:
//  - MaskU8 (core/contract/image.ts): HWC multi-label, channel c = binary mask of structure c (fundus:
//    c0 = optic disc including the cup, c1 = cup; docs/algorithms.md §3);
//  - planes: one row-major h*w 0/1 Uint8Array per structure (what morphology and metrics work on,
//    §4 and §6 are per structure);
//  - class maps: one integer per pixel, 0 = background, c + 1 = the deepest nested structure c set
//    (what softmax networks are trained on, §7);
//  - softmax outputs (background + classes probabilities) back to nested multi-label masks.
import { FedSegError } from '../contract/errors.js';
import type { MaskU8 } from '../contract/image.js';

/** Class plane c of an HWC multi-label mask, as a row-major h*w Uint8Array (any non-zero -> 1). */
export function maskPlane(mask: MaskU8, c: number): Uint8Array {
  const { width: w, height: h, classes: C, data } = mask;
  if (!Number.isInteger(c) || c < 0 || c >= C) {
    throw new FedSegError('INVALID_ARGUMENT', `maskPlane: class ${c} out of range (mask has ${C} classes)`);
  }
  if (data.length !== h * w * C) {
    throw new FedSegError('SHAPE_MISMATCH', `maskPlane: mask holds ${data.length} values, ${h}x${w}x${C} expected`);
  }
  const out = new Uint8Array(h * w);
  for (let i = 0, j = c; i < out.length; i++, j += C) out[i] = data[j]! ? 1 : 0;
  return out;
}

/** Builds an HWC multi-label mask from per-class planes (all h*w long). */
export function stackPlanes(planes: Uint8Array[], h: number, w: number): MaskU8 {
  const C = planes.length;
  if (C === 0) throw new FedSegError('INVALID_ARGUMENT', 'stackPlanes: no planes given');
  const data = new Uint8Array(h * w * C);
  planes.forEach((p, c) => {
    if (p.length !== h * w) throw new FedSegError('SHAPE_MISMATCH', `stackPlanes: plane ${c} has ${p.length} values, ${h}x${w} expected`);
    for (let i = 0, j = c; i < p.length; i++, j += C) data[j] = p[i]!;
  });
  return { width: w, height: h, classes: C, data };
}

/** Nested multi-label mask -> class index per pixel (0 = background, c + 1 = deepest channel c set). */
export function nestedMaskToClasses(mask: MaskU8): Int32Array {
  const n = mask.width * mask.height;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let k = 0;
    for (let c = 0; c < mask.classes; c++) if (mask.data[i * mask.classes + c]) k = c + 1;
    out[i] = k;
  }
  return out;
}

/**
 * Softmax output (HWC, background + `classes` nested classes) -> multi-label mask: channel c is set
 * where the arg-max class is c + 1 or deeper (the inverse of nestedMaskToClasses). No component
 * filtering: cell images hold many objects.
 */
export function softmaxToNestedMask(probs: Float32Array, h: number, w: number, classes: number): MaskU8 {
  const k = classes + 1;
  if (probs.length !== h * w * k) throw new FedSegError('SHAPE_MISMATCH', `softmaxToNestedMask: ${probs.length} values, ${h}x${w}x${k} expected`);
  const data = new Uint8Array(h * w * classes);
  for (let i = 0; i < h * w; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (probs[i * k + j]! > probs[i * k + best]!) best = j;
    for (let c = 0; c < best; c++) data[i * classes + c] = 1;
  }
  return { width: w, height: h, classes, data };
}

/** 0/1 float copy of a mask's data (network targets). */
export function maskToFloat(mask: MaskU8, out = new Float32Array(mask.data.length), offset = 0): Float32Array {
  const d = mask.data;
  for (let j = 0; j < d.length; j++) out[offset + j] = d[j]! ? 1 : 0;
  return out;
}
