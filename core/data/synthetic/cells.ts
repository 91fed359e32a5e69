// Synthetic multi-scale cell images for the ASCNet experiment (ASCNet, Zhang et al., ISBI 2020, §3:
// Herlev / SCD RBC cells; "the learned rate correlates positively with object size").
//
// Two default "sites" imaging the same kind of cell at different magnifications:
// - 'large' (high magnification): 1-3 cells per image, radius ~16-28% of the image side;
// - 'small' (low magnification): 5-12 cells, radius ~5-8% of the side.
// A cell is an ellipse whose cytoplasm has the SAME mean intensity and texture as the background; only
// a thin dark membrane and a dark nucleus mark it. Labelling an interior pixel as "cell" therefore
// needs context reaching the membrane: a receptive field that grows with the cell size, which is what
// the learned rate field should provide (large rates on the large-cell site).
// Images: 1 channel, 0..255 (8-bit microscopy convention). Masks (MaskU8, nested multi-label, like the
// fundus disc/cup): channel 0 = whole cell (including nucleus), channel 1 = nucleus.
// Deterministic for a given seed (core/rng.ts); cells do not overlap.
import { FedSegError } from '../../contract/errors.js';
import type { Sample } from '../../contract/image.js';
import { createRng, mixSeed, type Rng } from '../../rng.js';
import { smoothField } from './raster.js';

export interface CellSiteStyle {
  name: string;
  /** Cell radius range as a fraction of the image side. */
  radius: [number, number];
  /** Number of cells per image (inclusive range). */
  count: [number, number];
  /** Nucleus radius as a fraction of the cell radius. */
  nucleus: [number, number];
  /** Membrane thickness in pixels. */
  membrane: number;
}

export const CELL_SITE_STYLES: readonly CellSiteStyle[] = [
  { name: 'large', radius: [0.16, 0.28], count: [1, 3], nucleus: [0.2, 0.35], membrane: 2 },
  { name: 'small', radius: [0.05, 0.08], count: [5, 12], nucleus: [0.3, 0.45], membrane: 1 },
];

export interface CellOptions {
  /** Image side in pixels (square), 16..1024. */
  size: number;
  /** Images per site. */
  perSite: number;
  seed: number;
  /** Site styles; default CELL_SITE_STYLES (large, small). */
  sites?: readonly CellSiteStyle[];
}

export interface CellSite {
  site: string;
  style: CellSiteStyle;
  samples: Sample[];
}

interface Cell {
  cx: number;
  cy: number;
  a: number;
  b: number;
  th: number;
  na: number;
  nb: number;
  ncx: number;
  ncy: number;
}

function checkOpts(o: CellOptions): void {
  if (!o || typeof o !== 'object') throw new FedSegError('INVALID_ARGUMENT', 'generateCellSites: options object required');
  if (!Number.isInteger(o.size) || o.size < 16 || o.size > 1024) throw new FedSegError('INVALID_ARGUMENT', `generateCellSites: size must be an integer in [16, 1024], got ${String(o.size)}`);
  if (!Number.isInteger(o.perSite) || o.perSite < 1 || o.perSite > 100000) throw new FedSegError('INVALID_ARGUMENT', `generateCellSites: perSite must be a positive integer, got ${String(o.perSite)}`);
  if (typeof o.seed !== 'number' || !Number.isFinite(o.seed)) throw new FedSegError('INVALID_ARGUMENT', `generateCellSites: seed must be a finite number, got ${String(o.seed)}`);
  for (const s of o.sites ?? CELL_SITE_STYLES) {
    const ok = s.radius[0] > 0 && s.radius[1] >= s.radius[0] && s.radius[1] < 0.5 && s.count[0] >= 1 && s.count[1] >= s.count[0] &&
      s.nucleus[0] > 0 && s.nucleus[1] >= s.nucleus[0] && s.nucleus[1] < 0.9 && s.membrane > 0;
    if (!ok) throw new FedSegError('INVALID_ARGUMENT', `generateCellSites: site style '${s.name}' has invalid ranges`);
  }
}

function placeCells(rng: Rng, style: CellSiteStyle, size: number): Cell[] {
  const want = style.count[0] + rng.int(style.count[1] - style.count[0] + 1);
  const cells: Cell[] = [];
  for (let tries = 0; cells.length < want && tries < want * 60; tries++) {
    const r = size * rng.uniform(style.radius[0], style.radius[1]);
    const ecc = rng.uniform(0.75, 1);
    const a = r;
    const b = r * ecc;
    const margin = -0.3 * r; // cells may be cut by the border a little
    const cx = rng.uniform(margin + r, size - r - margin);
    const cy = rng.uniform(margin + r, size - r - margin);
    if (cells.some((c) => Math.hypot(c.cx - cx, c.cy - cy) < c.a + a + style.membrane + 1)) continue;
    const th = rng.uniform(0, Math.PI);
    const nf = rng.uniform(style.nucleus[0], style.nucleus[1]);
    const na = a * nf;
    const nb = na * rng.uniform(0.8, 1);
    // Nucleus anywhere that keeps it inside the cytoplasm.
    const room = Math.max(0, b - na - style.membrane - 0.5) * 0.6;
    const ang = rng.uniform(0, 2 * Math.PI);
    const off = rng.uniform(0, room);
    cells.push({ cx, cy, a, b, th, na, nb, ncx: cx + off * Math.cos(ang), ncy: cy + off * Math.sin(ang) });
  }
  return cells;
}

/** Normalised elliptical radius (1 on the boundary). */
function rho(x: number, y: number, cx: number, cy: number, a: number, b: number, th: number): number {
  const dx = x - cx;
  const dy = y - cy;
  const c = Math.cos(th);
  const s = Math.sin(th);
  const u = (dx * c + dy * s) / a;
  const v = (-dx * s + dy * c) / b;
  return Math.sqrt(u * u + v * v);
}

/** One cell image + mask for a site style. */
export function generateCellSample(style: CellSiteStyle, size: number, seed: number, name: string): Sample {
  const rng = createRng(seed);
  const cells = placeCells(rng, style, size);
  const n = size * size;
  const bgField = smoothField(rng, size, size, 3);
  const base = 150 + rng.uniform(-10, 10);
  const img = new Float32Array(n);
  const mask = new Uint8Array(n * 2);
  // Background and cytoplasm share intensity statistics; texture = smooth field + pixel noise.
  for (let i = 0; i < n; i++) img[i] = base + 20 * bgField[i]! + 10 * rng.normal();
  for (const c of cells) {
    const x0 = Math.max(0, Math.floor(c.cx - c.a - 3));
    const x1 = Math.min(size - 1, Math.ceil(c.cx + c.a + 3));
    const y0 = Math.max(0, Math.floor(c.cy - c.a - 3));
    const y1 = Math.min(size - 1, Math.ceil(c.cy + c.a + 3));
    const nucleusDark = rng.uniform(60, 80);
    const membraneDark = rng.uniform(50, 70);
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const i = y * size + x;
        const px = x + 0.5;
        const py = y + 0.5;
        const rc = rho(px, py, c.cx, c.cy, c.a, c.b, c.th);
        // Distance to the membrane in pixels (approximate, along the minor radius scale).
        const dist = Math.abs(rc - 1) * c.b;
        const half = style.membrane / 2;
        const mem = dist <= half ? 1 : dist <= half + 1 ? half + 1 - dist : 0;
        const rn = rho(px, py, c.ncx, c.ncy, c.na, c.nb, c.th);
        const nuc = rn <= 1 ? 1 : rn <= 1 + 1 / c.nb ? 1 - (rn - 1) * c.nb : 0;
        img[i] = img[i]! - membraneDark * mem - nucleusDark * nuc;
        if (rc <= 1) mask[i * 2] = 1;
        if (rn <= 1) {
          mask[i * 2] = 1;
          mask[i * 2 + 1] = 1;
        }
      }
    }
  }
  for (let i = 0; i < n; i++) img[i] = Math.min(255, Math.max(0, img[i]!));
  return { name, image: { width: size, height: size, channels: 1, data: img }, mask: { width: size, height: size, classes: 2, data: mask } };
}

/** Deterministic cell images for every site (default: 'large' and 'small'). */
export function generateCellSites(opts: CellOptions): CellSite[] {
  checkOpts(opts);
  const styles = opts.sites ?? CELL_SITE_STYLES;
  return styles.map((style, k) => ({
    site: style.name,
    style,
    samples: Array.from({ length: opts.perSite }, (_, i) => generateCellSample(style, opts.size, mixSeed(opts.seed, k, i), `${style.name}-${String(i).padStart(4, '0')}`)),
  }));
}
