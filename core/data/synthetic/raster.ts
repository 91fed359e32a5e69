// Small raster helpers shared by the synthetic generators (fundus, prostate; cells may reuse them).
// Everything is plain typed-array code, deterministic for a given Rng stream: no Math.random, no
// platform-dependent iteration order. Single-channel planes are Float32Array of length h*w, row-major.
import type { Rng } from '../../rng.js';

/**
 * A smooth random field in [-1, 1]: a (grid+1)^2 lattice of uniform values, bicubically (Catmull-Rom
 * weights, clamped) interpolated to h x w. `grid` controls the number of bumps across the image.
 */
export function smoothField(rng: Rng, h: number, w: number, grid: number): Float32Array {
  const g = Math.max(1, Math.floor(grid));
  const n = g + 3; // one extra node on each side for the cubic stencil
  const lat = new Float32Array(n * n);
  for (let i = 0; i < lat.length; i++) lat[i] = rng.next() * 2 - 1;
  const out = new Float32Array(h * w);
  const cr = (t: number, p0: number, p1: number, p2: number, p3: number): number =>
    p1 + 0.5 * t * (p2 - p0 + t * (2 * p0 - 5 * p1 + 4 * p2 - p3 + t * (3 * (p1 - p2) + p3 - p0)));
  const rowTmp = new Float32Array(4);
  for (let y = 0; y < h; y++) {
    const fy = (y / Math.max(1, h - 1)) * g;
    const iy = Math.min(g - 1, Math.floor(fy));
    const ty = fy - iy;
    for (let x = 0; x < w; x++) {
      const fx = (x / Math.max(1, w - 1)) * g;
      const ix = Math.min(g - 1, Math.floor(fx));
      const tx = fx - ix;
      for (let k = 0; k < 4; k++) {
        const r = (iy + k) * n + ix;
        rowTmp[k] = cr(tx, lat[r]!, lat[r + 1]!, lat[r + 2]!, lat[r + 3]!);
      }
      const v = cr(ty, rowTmp[0]!, rowTmp[1]!, rowTmp[2]!, rowTmp[3]!);
      out[y * w + x] = v < -1 ? -1 : v > 1 ? 1 : v;
    }
  }
  return out;
}

/** Separable Gaussian blur of an HWC float image in place-free fashion (returns a new array). */
export function gaussianBlurHWC(data: Float32Array, h: number, w: number, c: number, sigma: number): Float32Array {
  if (!(sigma > 0.05)) return data.slice();
  const r = Math.max(1, Math.ceil(sigma * 3));
  const k = new Float32Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) {
    const v = Math.exp(-(i * i) / (2 * sigma * sigma));
    k[i + r] = v;
    s += v;
  }
  for (let i = 0; i < k.length; i++) k[i]! /= s;
  const tmp = new Float32Array(data.length);
  const out = new Float32Array(data.length);
  // Horizontal pass (clamped borders).
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let i = -r; i <= r; i++) {
          const xx = x + i < 0 ? 0 : x + i >= w ? w - 1 : x + i;
          acc += k[i + r]! * data[(y * w + xx) * c + ch]!;
        }
        tmp[(y * w + x) * c + ch] = acc;
      }
    }
  }
  // Vertical pass.
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let i = -r; i <= r; i++) {
          const yy = y + i < 0 ? 0 : y + i >= h ? h - 1 : y + i;
          acc += k[i + r]! * tmp[(yy * w + x) * c + ch]!;
        }
        out[(y * w + x) * c + ch] = acc;
      }
    }
  }
  return out;
}

/** A rotated ellipse; `inside` gives the normalised radius (<= 1 inside). */
export interface Ellipse {
  cx: number;
  cy: number;
  /** Semi-axis along the rotated x direction (pixels). */
  a: number;
  /** Semi-axis along the rotated y direction (pixels). */
  b: number;
  /** Rotation in radians. */
  theta: number;
}

/** Normalised elliptical radius of pixel centre (x + 0.5, y + 0.5): < 1 inside, 1 on the boundary. */
export function ellipseRadius(e: Ellipse, x: number, y: number): number {
  const dx = x + 0.5 - e.cx;
  const dy = y + 0.5 - e.cy;
  const ct = Math.cos(e.theta);
  const st = Math.sin(e.theta);
  const u = (dx * ct + dy * st) / e.a;
  const v = (-dx * st + dy * ct) / e.b;
  return Math.sqrt(u * u + v * v);
}

/** Smoothstep from 0 (t <= e0) to 1 (t >= e1). */
export function smoothstep(e0: number, e1: number, t: number): number {
  const x = Math.min(1, Math.max(0, (t - e0) / (e1 - e0)));
  return x * x * (3 - 2 * x);
}

export function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
