// Gradients of tf.image.resizeNearestNeighbor / resizeBilinear as explicit linear maps.
// Both resizes are separable linear maps of the image: y[b,:,:,c] = A_h · x[b,:,:,c] · A_wᵀ, with
// interpolation matrices A (out×in) built here from EXACTLY the source-coordinate rules of tfjs 4.22's
// forward kernels (cpu ResizeNearestNeighbor.js / ResizeBilinear.js: effective sizes with
// alignCorners, half-pixel centres, floor/round, border clamp). The gradient is the adjoint
//   dx = A_hᵀ · dy · A_w
// computed with two matMuls (plus a reshape-sum fast path for integer nearest upsampling), so it is
// differentiable to any order.
// Why: measured with the adjoint identity <resize(x), r> = <x, ∇>, tfjs 4.22's stock gradients are
// wrong for nearest on cpu (all non-trivial cases), for nearest and bilinear with halfPixelCenters on
// wasm, and the cpu ResizeBilinearGrad returns a transposed shape for non-square images.
import { tf } from './tfjs.js';

export type ResizeKind = 'nearest' | 'bilinear';

/** Interpolation matrix [outSize × inSize] (row-major) of one axis, as the tfjs forward kernels compute it. */
export function resizeMatrix(kind: ResizeKind, inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): Float32Array {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effIn / effOut;
  const a = new Float32Array(outSize * inSize);
  for (let r = 0; r < outSize; r++) {
    if (kind === 'nearest') {
      const frac = halfPixelCenters ? ratio * (r + 0.5) : ratio * r;
      let src = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
      if (halfPixelCenters) src = Math.max(0, src);
      a[r * inSize + src] = 1;
    } else {
      const frac = halfPixelCenters ? ratio * (r + 0.5) - 0.5 : ratio * r;
      const lo = Math.max(0, Math.floor(frac));
      const hi = Math.min(inSize - 1, Math.ceil(frac));
      const w = frac - lo;
      a[r * inSize + lo]! += 1 - w;
      a[r * inSize + hi]! += w;
    }
  }
  return a;
}

/** dL/dx of resize(x: [B,H,W,C] -> [B,oh,ow,C]) given dy. */
export function resizeGrad(kind: ResizeKind, dy: tf.Tensor4D, inH: number, inW: number, alignCorners: boolean, halfPixelCenters: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, oh, ow, c] = dy.shape;
    const fh = oh / inH, fw = ow / inW;
    if (kind === 'nearest' && !alignCorners && Number.isInteger(fh) && Number.isInteger(fw)) {
      // integer upsampling: each input pixel is copied to an fh×fw block (also with half-pixel centres)
      return tf.sum(tf.reshape(dy, [b, inH, fh, inW, fw, c]), [2, 4]) as tf.Tensor4D;
    }
    const ah = tf.tensor2d(resizeMatrix(kind, inH, oh, alignCorners, halfPixelCenters), [oh, inH]);
    const aw = tf.tensor2d(resizeMatrix(kind, inW, ow, alignCorners, halfPixelCenters), [ow, inW]);
    const t = tf.reshape(tf.transpose(dy, [0, 3, 1, 2]), [b * c * oh, ow]);
    const t1 = tf.reshape(tf.matMul(t, aw), [b * c, oh, inW]); // · A_w
    const t2 = tf.reshape(tf.transpose(t1, [0, 2, 1]), [b * c * inW, oh]);
    const t3 = tf.reshape(tf.matMul(t2, ah), [b, c, inW, inH]); // A_hᵀ ·
    return tf.transpose(t3, [0, 3, 2, 1]) as tf.Tensor4D;
  });
}
