// Region masks of the boundary-oriented contrastive loss (docs/algorithms.md §4, FedDG Eq. 5-7):
// boundary ring   = M - erode(M, 1 iteration)
// background ring = dilate(M, `iterations` iterations, default 5) - M
// structuring element: 3x3 cross (scipy default), outside the image counts as 0.
import { binaryDilation, binaryErosion } from './binary.js';

/** Pixels of the mask that disappear under one erosion (mask AND NOT erode(mask)). */
export function boundaryRing(mask: Uint8Array, h: number, w: number): Uint8Array {
  const er = binaryErosion(mask, h, w, 1);
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = mask[i]! & (er[i]! ^ 1);
  return out;
}

/** Pixels added by `iterations` dilations (dilate(mask) AND NOT mask). */
export function backgroundRing(mask: Uint8Array, h: number, w: number, iterations = 5): Uint8Array {
  const dil = binaryDilation(mask, h, w, iterations);
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < out.length; i++) out[i] = dil[i]! & (mask[i]! ^ 1);
  return out;
}
