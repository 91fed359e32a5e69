// 2-D FFT for any H x W with numpy.fft conventions (docs/algorithms.md §2, FedDG Eq. 1-3):
//   fft2:  F[u,v] = sum_{y,x} f[y,x] exp(-2 pi i (u y / H + v x / W))      (unnormalised)
//   ifft2: f[y,x] = 1/(H W) sum_{u,v} F[u,v] exp(+2 pi i (u y / H + v x / W))
// fftshift2 / ifftshift2 equal numpy.fft.fftshift / ifftshift over both axes (DC moves to
// (floor(H/2), floor(W/2))). Row transforms, then column transforms, each with a cached 1-D plan
// (mixed radix 2/3/4 + small primes, Bluestein otherwise; see fft1d.ts). Real input transforms
// two rows per complex FFT.
import { FedSegError } from '../contract/errors.js';
import { getPlan } from './fft1d.js';

export interface Complex2D {
  re: Float64Array;
  im: Float64Array;
}

type Numeric = Float64Array | Float32Array;

function check(re: ArrayLike<number>, im: ArrayLike<number> | null, h: number, w: number, fn: string): void {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new FedSegError('INVALID_ARGUMENT', `${fn}: height and width must be positive integers, got ${h}x${w}`);
  }
  if (re.length !== h * w) {
    throw new FedSegError('SHAPE_MISMATCH', `${fn}: real part has ${re.length} values but ${h}x${w} = ${h * w} expected`);
  }
  if (im && im.length !== h * w) {
    throw new FedSegError('SHAPE_MISMATCH', `${fn}: imaginary part has ${im.length} values but ${h}x${w} = ${h * w} expected`);
  }
  for (let i = 0; i < re.length; i++) {
    if (!Number.isFinite(re[i]!) || (im && !Number.isFinite(im[i]!))) {
      throw new FedSegError('INVALID_INPUT', `${fn}: non-finite value (NaN or Infinity) at index ${i}`);
    }
  }
}

function forward2(re: Float64Array, im: Float64Array | null, h: number, w: number): Complex2D {
  const outRe = new Float64Array(h * w);
  const outIm = new Float64Array(h * w);
  const pw = getPlan(w);
  const ph = getPlan(h);
  const rowRe = new Float64Array(w);
  const rowIm = new Float64Array(w);
  let y0 = 0;
  if (im === null && h > 1) {
    // Real input: transform two rows at once as z = a + i b, then split with
    // A[k] = (Z[k] + conj Z[-k]) / 2 and B[k] = (Z[k] - conj Z[-k]) / (2i).
    const nextRow = re.subarray(w); // nextRow[y * w + x] = re[(y + 1) * w + x]
    for (; y0 + 1 < h; y0 += 2) {
      pw.forward(re, nextRow, y0 * w, 1, rowRe, rowIm);
      const oa = y0 * w;
      const ob = oa + w;
      for (let k = 0; k < w; k++) {
        const nk = k === 0 ? 0 : w - k;
        const zr = rowRe[k]!;
        const zi = rowIm[k]!;
        const cr = rowRe[nk]!;
        const ci = -rowIm[nk]!;
        outRe[oa + k] = 0.5 * (zr + cr);
        outIm[oa + k] = 0.5 * (zi + ci);
        outRe[ob + k] = 0.5 * (zi - ci);
        outIm[ob + k] = -0.5 * (zr - cr);
      }
    }
  }
  for (let y = y0; y < h; y++) {
    pw.forward(re, im, y * w, 1, rowRe, rowIm);
    outRe.set(rowRe, y * w);
    outIm.set(rowIm, y * w);
  }
  if (h > 1) {
    const colRe = new Float64Array(h);
    const colIm = new Float64Array(h);
    for (let x = 0; x < w; x++) {
      ph.forward(outRe, outIm, x, w, colRe, colIm);
      for (let y = 0, i = x; y < h; y++, i += w) {
        outRe[i] = colRe[y]!;
        outIm[i] = colIm[y]!;
      }
    }
  }
  return { re: outRe, im: outIm };
}

/** numpy.fft.fft2 of an h x w row-major complex array (im null = real input). Returns new arrays. */
export function fft2(re: Float64Array, im: Float64Array | null, h: number, w: number): Complex2D {
  check(re, im, h, w, 'fft2');
  return forward2(re, im, h, w);
}

/** numpy.fft.ifft2 (divides by h*w). Returns new arrays. */
export function ifft2(re: Float64Array, im: Float64Array | null, h: number, w: number): Complex2D {
  check(re, im, h, w, 'ifft2');
  // ifft(X) = conj(fft(conj(X))) / N
  const negIm = new Float64Array(h * w);
  if (im) for (let i = 0; i < negIm.length; i++) negIm[i] = -im[i]!;
  const out = forward2(re, negIm, h, w);
  const s = 1 / (h * w);
  for (let i = 0; i < out.re.length; i++) {
    out.re[i] = out.re[i]! * s;
    out.im[i] = -out.im[i]! * s;
  }
  return out;
}

function shift<T extends Numeric>(data: T, h: number, w: number, sy: number, sx: number, fn: string): T {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0 || data.length % (h * w) !== 0) {
    throw new FedSegError('SHAPE_MISMATCH', `${fn}: ${data.length} values do not form ${h}x${w} planes`);
  }
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const plane = h * w;
  for (let base = 0; base < data.length; base += plane) {
    for (let y = 0; y < h; y++) {
      const ty = (y + sy) % h;
      for (let x = 0; x < w; x++) {
        out[base + ty * w + ((x + sx) % w)] = data[base + y * w + x]!;
      }
    }
  }
  return out;
}

/** numpy.fft.fftshift over both axes of each h x w plane in data (planes stacked channel-major). */
export function fftshift2<T extends Numeric>(data: T, h: number, w: number): T {
  return shift(data, h, w, h >> 1, w >> 1, 'fftshift2');
}

/** numpy.fft.ifftshift over both axes (inverse of fftshift2; differs from it for odd sizes). */
export function ifftshift2<T extends Numeric>(data: T, h: number, w: number): T {
  return shift(data, h, w, h - (h >> 1), w - (w >> 1), 'ifftshift2');
}
