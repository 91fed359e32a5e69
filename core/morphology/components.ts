// Connected components with 4-connectivity (scipy.ndimage.label with its default cross structure)
// and keep-largest-component, the evaluation post-processing of docs/algorithms.md §6.
// Labels are 1..count, numbered in raster order of each component's first pixel (as scipy does);
// background is 0.
import { checkMask } from './validate.js';

/** Labels the 4-connected components of an h x w 0/1 mask. */
export function labelComponents4(mask: Uint8Array, h: number, w: number): { labels: Int32Array; count: number } {
  checkMask(mask, h, w, 'labelComponents4');
  const n = h * w;
  const labels = new Int32Array(n);
  const stack = new Int32Array(n);
  let count = 0;
  for (let s = 0; s < n; s++) {
    if (mask[s] === 0 || labels[s] !== 0) continue;
    count++;
    labels[s] = count;
    let top = 0;
    stack[top++] = s;
    while (top > 0) {
      const i = stack[--top]!;
      const y = (i / w) | 0;
      const x = i - y * w;
      if (x > 0 && mask[i - 1] === 1 && labels[i - 1] === 0) { labels[i - 1] = count; stack[top++] = i - 1; }
      if (x < w - 1 && mask[i + 1] === 1 && labels[i + 1] === 0) { labels[i + 1] = count; stack[top++] = i + 1; }
      if (y > 0 && mask[i - w] === 1 && labels[i - w] === 0) { labels[i - w] = count; stack[top++] = i - w; }
      if (y < h - 1 && mask[i + w] === 1 && labels[i + w] === 0) { labels[i + w] = count; stack[top++] = i + w; }
    }
  }
  return { labels, count };
}

/**
 * Keeps only the largest 4-connected component. Ties go to the component whose first pixel comes
 * first in raster order (lowest label). An empty mask stays empty (the reference code turned it into
 * all ones — a bug FedSeg does not copy, docs/algorithms.md §6).
 */
export function keepLargestComponent(mask: Uint8Array, h: number, w: number): Uint8Array {
  const { labels, count } = labelComponents4(mask, h, w);
  const out = new Uint8Array(mask.length);
  if (count === 0) return out;
  const sizes = new Int32Array(count + 1);
  for (let i = 0; i < labels.length; i++) sizes[labels[i]!]!++;
  let best = 1;
  for (let l = 2; l <= count; l++) if (sizes[l]! > sizes[best]!) best = l;
  for (let i = 0; i < labels.length; i++) out[i] = labels[i] === best ? 1 : 0;
  return out;
}
