// Built-in multi-site fundus data (docs/algorithms.md §9 conventions: c0 = optic disc
// including the cup, c1 = cup). A deterministic, seeded stand-in for the DoFE/REFUGE domains that
// FedDG (Liu et al., CVPR 2021) generalises across: every site shares the anatomy model (dark circular
// field of view, orange fundus with texture and a macula, vessels leaving the disc, a bright disc
// ellipse with a brighter cup inside) but renders it with its own acquisition *style*: colour cast,
// gamma, contrast/brightness, illumination gradient, vignetting, blur and noise. The style is the
// domain shift; the anatomy (and so the masks) follows the same distribution at every site.
//
// Determinism: sample i of site k depends only on (seed, k, i, size), never on `sites`/`perSite`,
// and pixel values are quantised to integers 0..255 so that writing PNGs and re-importing them is
// lossless.
import type { ImageF32, MaskU8, Sample } from '../../contract/image.js';
import { createRng, mixSeed, type Rng } from '../../rng.js';
import { clamp, gaussianBlurHWC, smoothField, smoothstep } from './raster.js';
import { checkSiteOptions } from './site-options.js';

/** How one site's camera renders a fundus (all in [0, 1] linear-ish RGB units). */
export interface FundusStyle {
  name: string;
  /** Per-channel gain (R, G, B). */
  cast: [number, number, number];
  /** Output = input^gamma (after contrast). */
  gamma: number;
  /** (v - 0.5) * contrast + 0.5 + brightness. */
  contrast: number;
  brightness: number;
  /** Linear illumination ramp: multiplier 1 + strength * projection on `angle` (range +-strength). */
  gradientAngle: number;
  gradientStrength: number;
  /** Radial darkening toward the field edge: multiplier 1 - vignette * (r / R)^2. */
  vignette: number;
  /** Gaussian blur sigma in pixels at size 128 (scaled with size). */
  blur: number;
  /** Additive Gaussian noise std in [0, 1] units. */
  noise: number;
  /** Field-of-view radius relative to half the image size (> 1: the circle is clipped by the frame). */
  fovRadius: number;
  /** Strength of a bright light-reflex arc near the field edge (a camera artefact; 0 = none). */
  glare: number;
  /** Direction of the reflex arc (radians, image coordinates). */
  glareAngle: number;
}

/** The four fixed sites: clearly different styles (in the spirit of DoFE Domain1..4). */
export const FUNDUS_SITE_STYLES: readonly FundusStyle[] = [
  // Warm, crisp, high contrast, light vignetting.
  { name: 'Domain1', cast: [1.05, 0.95, 0.85], gamma: 1.0, contrast: 1.15, brightness: 0, gradientAngle: 0, gradientStrength: 0.1,
    vignette: 0.25, blur: 0.3, noise: 0.01, fovRadius: 0.98, glare: 0, glareAngle: 0 },
  // Dark, greenish, strong illumination gradient, blurry, field clipped by the frame.
  { name: 'Domain2', cast: [0.85, 1.0, 0.9], gamma: 1.5, contrast: 0.9, brightness: -0.05, gradientAngle: 2.3, gradientStrength: 0.45,
    vignette: 0.45, blur: 1.8, noise: 0.02, fovRadius: 1.15, glare: 0, glareAngle: 0 },
  // Pale, washed out, bluish, noisy, small field, a strong light reflex at the upper left.
  { name: 'Domain3', cast: [0.9, 0.95, 1.3], gamma: 0.8, contrast: 0.6, brightness: 0.08, gradientAngle: 4.0, gradientStrength: 0.15,
    vignette: 0.1, blur: 0.6, noise: 0.06, fovRadius: 0.9, glare: 0.45, glareAngle: 3.6 },
  // Bright, saturated red, strong vignetting, a faint reflex at the lower right.
  { name: 'Domain4', cast: [1.2, 0.8, 0.7], gamma: 0.65, contrast: 1.05, brightness: 0.05, gradientAngle: 1.0, gradientStrength: 0.2,
    vignette: 0.7, blur: 0.9, noise: 0.025, fovRadius: 1.0, glare: 0.25, glareAngle: 0.7 },
];

/** A random style within (and a little around) the span of the fixed ones. */
export function randomFundusStyle(rng: Rng, name: string): FundusStyle {
  return {
    name,
    cast: [rng.uniform(0.75, 1.25), rng.uniform(0.75, 1.15), rng.uniform(0.65, 1.35)],
    gamma: Math.exp(rng.uniform(Math.log(0.65), Math.log(1.6))),
    contrast: rng.uniform(0.65, 1.2),
    brightness: rng.uniform(-0.08, 0.1),
    gradientAngle: rng.uniform(0, 2 * Math.PI),
    gradientStrength: rng.uniform(0, 0.4),
    vignette: rng.uniform(0, 0.65),
    blur: rng.uniform(0, 1.6),
    noise: rng.uniform(0.005, 0.06),
    fovRadius: rng.uniform(0.88, 1.18),
    glare: rng.next() < 0.5 ? rng.uniform(0.15, 0.45) : 0,
    glareAngle: rng.uniform(0, 2 * Math.PI),
  };
}

export interface FundusOptions {
  /** Number of sites (>= 1). The first four use FUNDUS_SITE_STYLES, the rest random styles. */
  sites: number;
  perSite: number;
  /** Square image size in pixels (16..2048). */
  size: number;
  seed: number;
}

export interface FundusSite {
  site: string;
  style: FundusStyle;
  samples: Sample[];
}

/** The style of site k for a given seed (fixed for k < 4, seeded-random beyond). */
export function fundusSiteStyle(seed: number, k: number): FundusStyle {
  const fixed = FUNDUS_SITE_STYLES[k];
  if (fixed) return { ...fixed, cast: [...fixed.cast] };
  return randomFundusStyle(createRng(mixSeed(seed, 0x5717e, k)), `Domain${k + 1}`);
}

/** Generates `sites` fundus sites with `perSite` samples each (deterministic for the options). */
export function generateFundusSites(opts: FundusOptions): FundusSite[] {
  checkSiteOptions(opts, 'generateFundusSites');
  const out: FundusSite[] = [];
  for (let k = 0; k < opts.sites; k++) out.push(generateFundusSite(k, opts));
  return out;
}

/** Site k alone (0-based), identical to generateFundusSites(...)[k]. */
export function generateFundusSite(k: number, opts: Omit<FundusOptions, 'sites'>): FundusSite {
  checkSiteOptions({ ...opts, sites: k + 1 }, 'generateFundusSite');
  const style = fundusSiteStyle(opts.seed, k);
  const samples: Sample[] = [];
  for (let i = 0; i < opts.perSite; i++) {
    samples.push(generateFundusSample(style, opts.size, mixSeed(opts.seed, k, i), `${style.name}-${String(i).padStart(4, '0')}`));
  }
  return { site: style.name, style, samples };
}

interface Seg {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  w: number;
}

/** Random-walk vessel tree leaving the disc centre. */
function vesselSegments(rng: Rng, size: number, cx: number, cy: number, discR: number): Seg[] {
  const segs: Seg[] = [];
  const unit = size / 128;
  const step = 0.035 * size;
  const grow = (x: number, y: number, ang: number, w: number, steps: number, depth: number, bend: number): void => {
    for (let s = 0; s < steps && w > 0.5 * unit; s++) {
      ang += bend + rng.normal() * 0.18;
      const nx = x + Math.cos(ang) * step;
      const ny = y + Math.sin(ang) * step;
      segs.push({ x0: x, y0: y, x1: nx, y1: ny, w });
      x = nx;
      y = ny;
      w *= 0.965;
      if (depth < 2 && rng.next() < 0.12) {
        const side = rng.next() < 0.5 ? -1 : 1;
        grow(x, y, ang + side * rng.uniform(0.4, 0.9), w * 0.7, Math.floor(steps * 0.6), depth + 1, bend * 0.5);
      }
      if (x < -step || y < -step || x > size + step || y > size + step) break;
    }
  };
  // Two main arcades (up and down, curving toward the temporal side) plus a few nasal vessels.
  const temporal = rng.next() < 0.5 ? -1 : 1;
  const nMain = 4 + rng.int(3);
  for (let v = 0; v < nMain; v++) {
    const up = v % 2 === 0 ? -1 : 1;
    let ang: number;
    let bend: number;
    if (v < 2) {
      ang = up * Math.PI / 2 + rng.normal() * 0.2;
      bend = -up * temporal * 0.06; // curve the arcade toward the temporal side
    } else {
      ang = rng.uniform(0, 2 * Math.PI);
      bend = rng.normal() * 0.03;
    }
    const w0 = unit * (v < 2 ? rng.uniform(2.2, 2.8) : rng.uniform(1.3, 2.0));
    const sx = cx + Math.cos(ang) * discR * 0.15;
    const sy = cy + Math.sin(ang) * discR * 0.15;
    grow(sx, sy, ang, w0, 22 + rng.int(10), 0, bend);
  }
  return segs;
}

function paintVessels(cov: Float32Array, size: number, segs: Seg[]): void {
  for (const s of segs) {
    const r = s.w / 2 + 1;
    const xmin = Math.max(0, Math.floor(Math.min(s.x0, s.x1) - r));
    const xmax = Math.min(size - 1, Math.ceil(Math.max(s.x0, s.x1) + r));
    const ymin = Math.max(0, Math.floor(Math.min(s.y0, s.y1) - r));
    const ymax = Math.min(size - 1, Math.ceil(Math.max(s.y0, s.y1) + r));
    const dx = s.x1 - s.x0;
    const dy = s.y1 - s.y0;
    const len2 = dx * dx + dy * dy || 1e-9;
    for (let y = ymin; y <= ymax; y++) {
      for (let x = xmin; x <= xmax; x++) {
        const px = x + 0.5 - s.x0;
        const py = y + 0.5 - s.y0;
        const t = clamp((px * dx + py * dy) / len2, 0, 1);
        const ex = px - t * dx;
        const ey = py - t * dy;
        const d = Math.sqrt(ex * ex + ey * ey);
        const c = 1 - smoothstep(s.w / 2 - 0.5, s.w / 2 + 0.5, d);
        const i = y * size + x;
        if (c > cov[i]!) cov[i] = c;
      }
    }
  }
}

/**
 * Renders one fundus sample. `seed` fixes the anatomy, the per-sample style jitter and the noise;
 * `style` is the site's camera. Returns an RGB image with integer values 0..255 and a 2-class mask.
 */
export function generateFundusSample(style: FundusStyle, size: number, seed: number, name: string): Sample {
  const rng = createRng(seed);
  const S = size;
  const n = S * S;
  const unit = S / 128;

  // --- anatomy -----------------------------------------------------------------------------
  const fcx = S / 2 + rng.normal() * 0.01 * S;
  const fcy = S / 2 + rng.normal() * 0.01 * S;
  const fovR = (S / 2) * style.fovRadius * (1 + rng.normal() * 0.015);

  const rd = S * rng.uniform(0.1, 0.165);
  const ecc = rng.uniform(0, 0.22);
  const da = rd * (1 - ecc / 2);
  const db = rd * (1 + ecc / 2);
  const dth = rng.normal() * 0.35; // mostly vertically elongated (b along y)
  const dcx = S * (0.5 + rng.uniform(-0.17, 0.17));
  const dcy = S * (0.5 + rng.uniform(-0.15, 0.15));
  const cupK = rng.uniform(0.3, 0.7);
  const offMax = Math.max(0, Math.min(0.15, 1 - cupK - 0.06));
  const offAng = rng.uniform(0, 2 * Math.PI);
  const offR = rng.uniform(0, offMax);
  const cupU = Math.cos(offAng) * offR; // cup centre in the disc's normalised frame
  const cupV = Math.sin(offAng) * offR;
  const discBright = rng.uniform(0.85, 1.0);
  const cupBright = rng.uniform(0.9, 1.0);
  // Macula: a darker spot ~2.5 disc radii from the disc, toward the image centre.
  const toC = Math.atan2(S / 2 - dcy, S / 2 - dcx);
  const mx = dcx + Math.cos(toC) * rd * 2.6;
  const my = dcy + Math.sin(toC) * rd * 2.6;
  const mSig = 0.09 * S;
  const mInv = 1 / (2 * mSig * mSig);
  const base: [number, number, number] = [0.78 + rng.normal() * 0.03, 0.36 + rng.normal() * 0.03, 0.16 + rng.normal() * 0.02];
  const texLow = smoothField(rng, S, S, 4);
  const texHigh = smoothField(rng, S, S, 16);
  const vcov = new Float32Array(n);
  paintVessels(vcov, S, vesselSegments(rng, S, dcx, dcy, rd));

  // Per-sample jitter of the site's style (a site is not one fixed camera setting).
  const gamma = style.gamma * Math.exp(rng.normal() * 0.05);
  const bright = style.brightness + rng.normal() * 0.015;
  const gAng = style.gradientAngle + rng.normal() * 0.3;
  const gStr = style.gradientStrength * (1 + rng.normal() * 0.1);
  const gcos = Math.cos(gAng);
  const gsin = Math.sin(gAng);
  const glAng = style.glareAngle + rng.normal() * 0.35;
  const glStr = style.glare * (1 + rng.normal() * 0.1);

  const [cast0, cast1, cast2] = style.cast;
  const contrast = style.contrast;
  const ct = Math.cos(dth);
  const st = Math.sin(dth);
  const img = new Float32Array(n * 3);
  const mask = new Uint8Array(n * 2);
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const i = y * S + x;
      const px = x + 0.5;
      const py = y + 0.5;
      // Disc frame coordinates.
      const ddx = px - dcx;
      const ddy = py - dcy;
      const u = (ddx * ct + ddy * st) / da;
      const v = (-ddx * st + ddy * ct) / db;
      const rDisc = Math.sqrt(u * u + v * v);
      const cu = u - cupU;
      const cv = v - cupV;
      const rCup = Math.sqrt(cu * cu + cv * cv) / cupK;
      const inDisc = rDisc < 1;
      const inCup = inDisc && rCup < 1;
      mask[i * 2] = inDisc ? 1 : 0;
      mask[i * 2 + 1] = inCup ? 1 : 0;

      // Fundus background: base colour, texture, macula, natural radial falloff.
      const fr = Math.sqrt((px - fcx) * (px - fcx) + (py - fcy) * (py - fcy)) / fovR;
      const tex = 1 + 0.09 * texLow[i]! + 0.035 * texHigh[i]!;
      const md = ((px - mx) * (px - mx) + (py - my) * (py - my)) * mInv;
      const mac = 1 - 0.35 * Math.exp(-md);
      const fall = 1 - 0.25 * fr * fr;
      let r = base[0] * tex * mac * fall;
      let g = base[1] * tex * mac * fall;
      let b = base[2] * tex * mac * fall;
      // Disc (soft rim), brighter toward the cup; cup brighter still.
      const aDisc = 1 - smoothstep(0.88, 1.08, rDisc);
      if (aDisc > 0) {
        const glow = discBright * (0.92 + 0.08 * (1 - Math.min(1, rDisc)));
        r += aDisc * (0.97 * glow - r);
        g += aDisc * (0.74 * glow - g);
        b += aDisc * (0.45 * glow - b);
      }
      const aCup = 1 - smoothstep(0.82, 1.12, rCup);
      if (aCup > 0) {
        r += aCup * (1.0 * cupBright - r);
        g += aCup * (0.93 * cupBright - g);
        b += aCup * (0.78 * cupBright - b);
      }
      // Vessels: dark red, a little fainter on the disc.
      const vc = vcov[i]! * (inDisc ? 0.75 : 1);
      if (vc > 0) {
        r *= 1 - 0.3 * vc;
        g *= 1 - 0.6 * vc;
        b *= 1 - 0.55 * vc;
      }
      // Light-reflex arc near the field edge (camera artefact), whitish.
      if (glStr > 0) {
        let da = Math.atan2(py - fcy, px - fcx) - glAng;
        da -= 2 * Math.PI * Math.round(da / (2 * Math.PI));
        const rr = (fr - 0.8) / 0.08;
        const gl = glStr * Math.exp(-rr * rr - (da * da) / (2 * 0.45 * 0.45));
        r += gl * 0.95;
        g += gl * 0.9;
        b += gl * 0.8;
      }
      // Field of view (soft edge).
      const fov = 1 - smoothstep(1 - 1.5 / fovR, 1 + 0.5 / fovR, fr);

      // --- site style ---------------------------------------------------------------------
      const proj = ((px - S / 2) * gcos + (py - S / 2) * gsin) / (S / 2);
      const frc = fr < 1.2 ? fr : 1.2;
      const illum = (1 + gStr * proj) * (1 - style.vignette * frc * frc);
      const edge = 0.015 * (1 - fov);
      const k = illum * fov;
      img[i * 3] = Math.pow(clamp((r * cast0 * k + edge - 0.5) * contrast + 0.5 + bright, 0, 1), gamma);
      img[i * 3 + 1] = Math.pow(clamp((g * cast1 * k + edge - 0.5) * contrast + 0.5 + bright, 0, 1), gamma);
      img[i * 3 + 2] = Math.pow(clamp((b * cast2 * k + edge - 0.5) * contrast + 0.5 + bright, 0, 1), gamma);
    }
  }
  const blurred = gaussianBlurHWC(img, S, S, 3, style.blur * unit);
  const noiseStd = style.noise;
  for (let j = 0; j < blurred.length; j++) {
    const val = blurred[j]! + noiseStd * rng.normal();
    blurred[j] = Math.round(clamp(val, 0, 1) * 255);
  }
  const image: ImageF32 = { width: S, height: S, channels: 3, data: blurred };
  const m: MaskU8 = { width: S, height: S, classes: 2, data: mask };
  return { name, image, mask: m };
}
