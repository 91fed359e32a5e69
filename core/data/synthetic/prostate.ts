// Built-in multi-site prostate MRI-like data (docs/algorithms.md §9: SAML's six sites, one
// channel, labels {1, 2} merged to one gland class, per-volume z-score, slices without prostate exist).
// Each site holds volumes of `depth` axial slices. Anatomy per volume: a pelvis (body ellipse with a
// bright subcutaneous fat ring, textured muscle, two pelvic bones), a dark rectum behind the gland,
// a bright bladder above it in the upper slices, and the gland: an ellipsoid whose cross-section
// shrinks toward its apex/base (so the first and last slices have no gland), with a darker,
// heterogeneous central/transition zone and a brighter peripheral-zone crescent. Site style: a
// smooth multiplicative bias field, contrast (gamma), blur and Rician noise; every volume is then
// z-scored over all its voxels.
import type { Sample } from '../../contract/image.js';
import { createRng, mixSeed, type Rng } from '../../rng.js';
import { clamp, gaussianBlurHWC, smoothField, smoothstep } from './raster.js';
import { checkSiteOptions } from './site-options.js';

export interface ProstateStyle {
  name: string;
  /** Amplitude of log bias field (multiplier exp(biasStrength * field)). */
  biasStrength: number;
  /** Number of bias bumps across the image. */
  biasGrid: number;
  gamma: number;
  /** Rician noise std relative to the tissue range [0, 1]. */
  noise: number;
  /** Blur sigma in pixels at size 128. */
  blur: number;
  /** Gland-to-background contrast multiplier (1 = nominal). */
  glandContrast: number;
}

/** Six fixed sites named like SAML's (RUNMC, BMC, I2CVB, UCL, BIDMC, HK), with distinct styles. */
export const PROSTATE_SITE_STYLES: readonly ProstateStyle[] = [
  { name: 'RUNMC', biasStrength: 0.15, biasGrid: 2, gamma: 1.0, noise: 0.02, blur: 0.3, glandContrast: 1.0 },
  { name: 'BMC', biasStrength: 0.45, biasGrid: 2, gamma: 1.3, noise: 0.05, blur: 0.8, glandContrast: 0.8 },
  { name: 'I2CVB', biasStrength: 0.3, biasGrid: 3, gamma: 0.75, noise: 0.03, blur: 1.2, glandContrast: 1.2 },
  { name: 'UCL', biasStrength: 0.6, biasGrid: 1, gamma: 1.1, noise: 0.015, blur: 0.5, glandContrast: 0.9 },
  { name: 'BIDMC', biasStrength: 0.25, biasGrid: 4, gamma: 1.6, noise: 0.07, blur: 0.2, glandContrast: 0.7 },
  { name: 'HK', biasStrength: 0.35, biasGrid: 2, gamma: 0.65, noise: 0.04, blur: 1.5, glandContrast: 1.1 },
];

export function randomProstateStyle(rng: Rng, name: string): ProstateStyle {
  return {
    name,
    biasStrength: rng.uniform(0.1, 0.6),
    biasGrid: 1 + rng.int(4),
    gamma: Math.exp(rng.uniform(Math.log(0.65), Math.log(1.6))),
    noise: rng.uniform(0.01, 0.07),
    blur: rng.uniform(0, 1.5),
    glandContrast: rng.uniform(0.7, 1.2),
  };
}

export interface ProstateOptions {
  sites: number;
  /** Slices per site (grouped into volumes of `depth` slices; the last volume may be shorter). */
  perSite: number;
  size: number;
  seed: number;
  /** Slices per volume (default 20). */
  depth?: number;
}

export interface ProstateSite {
  site: string;
  style: ProstateStyle;
  samples: Sample[];
}

export function prostateSiteStyle(seed: number, k: number): ProstateStyle {
  const fixed = PROSTATE_SITE_STYLES[k];
  if (fixed) return { ...fixed };
  return randomProstateStyle(createRng(mixSeed(seed, 0x9405, k)), `Site${k + 1}`);
}

function checkProstateOptions(opts: Omit<ProstateOptions, 'sites'> & { sites: number }, what: string): void {
  checkSiteOptions(opts, what, [['depth', opts.depth ?? 20, 3, 512]]);
}

export function generateProstateSites(opts: ProstateOptions): ProstateSite[] {
  checkProstateOptions(opts, 'generateProstateSites');
  const out: ProstateSite[] = [];
  for (let k = 0; k < opts.sites; k++) out.push(generateProstateSite(k, opts));
  return out;
}

/** Site k alone (0-based), identical to generateProstateSites(...)[k]. */
export function generateProstateSite(k: number, opts: Omit<ProstateOptions, 'sites'>): ProstateSite {
  const depth = opts.depth ?? 20;
  checkProstateOptions({ ...opts, sites: k + 1 }, 'generateProstateSite');
  const style = prostateSiteStyle(opts.seed, k);
  const samples: Sample[] = [];
  for (let v = 0; samples.length < opts.perSite; v++) {
    const vol = generateProstateVolume(style, opts.size, depth, mixSeed(opts.seed, k, v));
    const caseName = `${style.name}-case${String(v).padStart(2, '0')}`;
    for (let z = 0; z < vol.length && samples.length < opts.perSite; z++) {
      samples.push({ ...vol[z]!, name: `${caseName}-s${String(z).padStart(3, '0')}` });
    }
  }
  return { site: style.name, style, samples };
}

/** One z-scored volume as `depth` slices (names are slice indices; callers rename). */
export function generateProstateVolume(style: ProstateStyle, size: number, depth: number, seed: number): Sample[] {
  const rng = createRng(seed);
  const S = size;
  const n = S * S;
  const unit = S / 128;
  // Volume anatomy.
  const bcx = S / 2 + rng.normal() * 0.015 * S;
  const bcy = S / 2 + rng.normal() * 0.015 * S;
  const ba = S * rng.uniform(0.4, 0.46);
  const bb = S * rng.uniform(0.3, 0.36);
  const gcx = bcx + rng.normal() * 0.02 * S;
  const gcy = bcy + S * 0.02 + rng.normal() * 0.02 * S;
  const ga = S * rng.uniform(0.085, 0.14);
  const gb = ga * rng.uniform(0.7, 0.9);
  const gth = rng.normal() * 0.15;
  const zc = (depth - 1) * rng.uniform(0.42, 0.58);
  const hz = (depth - 1) * rng.uniform(0.25, 0.33); // gland half-extent in slices
  const texA = smoothField(rng, S, S, 10);
  const texB = smoothField(rng, S, S, 22);
  const bias = smoothField(rng, S, S, style.biasGrid);
  const gamma = style.gamma * Math.exp(rng.normal() * 0.05);
  const ct = Math.cos(gth);
  const st = Math.sin(gth);

  const vol = new Float32Array(n * depth);
  const masks: Uint8Array[] = [];
  for (let z = 0; z < depth; z++) {
    const dz = (z - zc) / hz;
    const gScale = Math.abs(dz) < 1 ? Math.sqrt(1 - dz * dz) : 0;
    const zf = z / Math.max(1, depth - 1); // 0 = apex (low), 1 = base (bladder side)
    const bladderR = smoothstep(0.45, 0.85, zf) * 0.16 * S;
    const mask = new Uint8Array(n);
    const slice = new Float32Array(n);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const i = y * S + x;
        const px = x + 0.5;
        const py = y + 0.5;
        const bx = (px - bcx) / ba;
        const by = (py - bcy) / bb;
        const rb = Math.sqrt(bx * bx + by * by);
        let v = 0.02; // air
        if (rb < 1.02) {
          const fat = smoothstep(0.86, 0.93, rb) * (1 - smoothstep(0.99, 1.02, rb));
          v = 0.42 + 0.06 * texA[i]! + 0.03 * texB[i]!; // muscle/soft tissue
          v += fat * (0.85 - v);
          // Pelvic bones: two dark-rimmed ellipses left and right of the gland.
          for (const side of [-1, 1]) {
            const ox = (px - (bcx + side * 0.27 * S)) / (0.07 * S);
            const oy = (py - (bcy + 0.03 * S)) / (0.11 * S);
            const ro = Math.sqrt(ox * ox + oy * oy);
            if (ro < 1.05) v += (1 - smoothstep(0.9, 1.05, ro)) * ((ro > 0.8 ? 0.08 : 0.55) - v);
          }
          // Rectum (dark) posterior to the gland.
          const rx = (px - gcx) / (0.07 * S);
          const ry = (py - (gcy + ga * 1.05 + 0.05 * S)) / (0.05 * S);
          const rr = Math.sqrt(rx * rx + ry * ry);
          v += (1 - smoothstep(0.85, 1.1, rr)) * (0.1 - v);
          // Bladder (bright fluid) anterior, upper slices only.
          if (bladderR > 1) {
            const qx = (px - gcx) / (bladderR * 1.3);
            const qy = (py - (gcy - ga * 0.6 - bladderR * 0.6)) / bladderR;
            const rq = Math.sqrt(qx * qx + qy * qy);
            v += (1 - smoothstep(0.9, 1.05, rq)) * (0.95 - v);
          }
        }
        if (gScale > 0) {
          const dx = px - gcx;
          const dy = py - gcy;
          const u = (dx * ct + dy * st) / (ga * gScale);
          const w = (-dx * st + dy * ct) / (gb * gScale);
          const rg = Math.sqrt(u * u + w * w);
          if (rg < 1) mask[i] = 1;
          const a = 1 - smoothstep(0.9, 1.1, rg);
          if (a > 0) {
            // Central gland (darker, heterogeneous) shifted anteriorly; peripheral zone brighter.
            const cu = u / 0.62;
            const cw = (w + 0.25) / 0.6;
            const inner = 1 - smoothstep(0.8, 1.1, Math.sqrt(cu * cu + cw * cw));
            const pz = 0.62 + 0.05 * texB[i]!;
            const cz = 0.3 + 0.1 * texA[i]! + 0.05 * texB[i]!;
            const gv = inner * cz + (1 - inner) * pz;
            const target = 0.42 + (gv - 0.42) * style.glandContrast;
            v += a * (target - v);
          }
        }
        slice[i] = v;
      }
    }
    const blurred = gaussianBlurHWC(slice, S, S, 1, style.blur * unit);
    for (let i = 0; i < n; i++) {
      const biased = clamp(blurred[i]! * Math.exp(style.biasStrength * bias[i]!), 0, 2);
      const g = Math.pow(biased / 2, gamma) * 2;
      const n1 = g + style.noise * rng.normal();
      const n2 = style.noise * rng.normal();
      vol[z * n + i] = Math.sqrt(n1 * n1 + n2 * n2); // Rician magnitude
    }
    masks.push(mask);
  }
  // Per-volume z-score (float64 accumulation).
  let sum = 0;
  for (let i = 0; i < vol.length; i++) sum += vol[i]!;
  const mean = sum / vol.length;
  let ss = 0;
  for (let i = 0; i < vol.length; i++) ss += (vol[i]! - mean) ** 2;
  const std = Math.sqrt(ss / vol.length) || 1;
  const out: Sample[] = [];
  for (let z = 0; z < depth; z++) {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (vol[z * n + i]! - mean) / std;
    out.push({
      name: `s${String(z).padStart(3, '0')}`,
      image: { width: S, height: S, channels: 1, data },
      mask: { width: S, height: S, classes: 1, data: masks[z]! },
    });
  }
  return out;
}
