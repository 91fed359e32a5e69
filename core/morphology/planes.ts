// Helpers between multi-label HWC masks (core/contract/image.ts MaskU8) and the single-plane 0/1
// Uint8Array masks that morphology and metrics take (ALGORITHMS.md §4, §6 work per structure).
import { FedSegError } from '../contract/errors.js';
import type { MaskU8 } from '../contract/image.js';

/** Class plane c of an HWC multi-label mask, as a row-major h*w Uint8Array. */
export function maskPlane(mask: MaskU8, c: number): Uint8Array {
  const { width: w, height: h, classes: C, data } = mask;
  if (!Number.isInteger(c) || c < 0 || c >= C) {
    throw new FedSegError('INVALID_ARGUMENT', `maskPlane: class ${c} out of range (mask has ${C} classes)`);
  }
  if (data.length !== h * w * C) {
    throw new FedSegError('SHAPE_MISMATCH', `maskPlane: mask holds ${data.length} values, ${h}x${w}x${C} expected`);
  }
  const out = new Uint8Array(h * w);
  for (let i = 0, j = c; i < out.length; i++, j += C) out[i] = data[j]!;
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
