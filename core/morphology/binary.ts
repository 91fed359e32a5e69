// Binary erosion / dilation equal to scipy.ndimage.binary_erosion / binary_dilation with their
// defaults in 2-D: structuring element generate_binary_structure(2, 1) (the 3x3 cross), border_value 0
// (pixels outside the image count as 0), `iterations` repeated applications.
// Used by docs/algorithms.md §4 (boundary / background rings of the boundary-oriented contrastive loss) and
// §6 (medpy's surface = mask XOR erode(mask)).
import { checkIterations, checkMask } from './validate.js';

function erodeOnce(src: Uint8Array, dst: Uint8Array, h: number, w: number): void {
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const i = row + x;
      // Out-of-image neighbours are 0, so any pixel on the image border erodes away.
      dst[i] =
        src[i]! & (y > 0 ? src[i - w]! : 0) & (y < h - 1 ? src[i + w]! : 0) & (x > 0 ? src[i - 1]! : 0) & (x < w - 1 ? src[i + 1]! : 0);
    }
  }
}

function dilateOnce(src: Uint8Array, dst: Uint8Array, h: number, w: number): void {
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const i = row + x;
      dst[i] =
        src[i]! | (y > 0 ? src[i - w]! : 0) | (y < h - 1 ? src[i + w]! : 0) | (x > 0 ? src[i - 1]! : 0) | (x < w - 1 ? src[i + 1]! : 0);
    }
  }
}

function iterate(op: typeof erodeOnce, mask: Uint8Array, h: number, w: number, iterations: number): Uint8Array {
  let a = new Uint8Array(mask);
  let b = new Uint8Array(mask.length);
  for (let k = 0; k < iterations; k++) {
    op(a, b, h, w);
    const t = a;
    a = b;
    b = t;
  }
  return a;
}

/** scipy.ndimage.binary_erosion(mask, iterations=iterations) on an h x w 0/1 mask. Returns a new mask. */
export function binaryErosion(mask: Uint8Array, h: number, w: number, iterations = 1): Uint8Array {
  checkMask(mask, h, w, 'binaryErosion');
  checkIterations(iterations, 'binaryErosion');
  return iterate(erodeOnce, mask, h, w, iterations);
}

/** scipy.ndimage.binary_dilation(mask, iterations=iterations) on an h x w 0/1 mask. Returns a new mask. */
export function binaryDilation(mask: Uint8Array, h: number, w: number, iterations = 1): Uint8Array {
  checkMask(mask, h, w, 'binaryDilation');
  checkIterations(iterations, 'binaryDilation');
  return iterate(dilateOnce, mask, h, w, iterations);
}

/** Erosion without input checks, for callers that validated already (metrics hot path). */
export function erodeUnchecked(mask: Uint8Array, h: number, w: number): Uint8Array {
  const out = new Uint8Array(mask.length);
  erodeOnce(mask, out, h, w);
  return out;
}
