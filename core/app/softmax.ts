// Softmax segmentation networks (ASCNet-N, Zhang et al. ISBI 2020; ALGORITHMS.md §7) predict one class
// per pixel: 0 = background, c + 1 = the deepest nested structure c (cells.ts nestedMaskToClasses).
import type { MaskU8 } from '../contract/image.js';

/**
 * Softmax output (background + K nested classes, ASCNet) -> multi-label mask: channel c is set where the
 * arg-max class is c + 1 or deeper (the inverse of cells.ts nestedMaskToClasses). No component filtering:
 * cell images hold many objects.
 */
export function nestedFromSoftmax(probs: Float32Array, h: number, w: number, classes: number): MaskU8 {
  const k = classes + 1;
  const data = new Uint8Array(h * w * classes);
  for (let i = 0; i < h * w; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (probs[i * k + j]! > probs[i * k + best]!) best = j;
    for (let c = 0; c < best; c++) data[i * classes + c] = 1;
  }
  return { width: w, height: h, classes, data };
}
