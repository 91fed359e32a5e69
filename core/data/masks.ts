// Mask conventions for imported segmentation masks (docs/algorithms.md §9), all turned into
// the contract's multi-label MaskU8 (channel c = binary mask of structure c; fundus: c0 = disc
// including cup, c1 = cup):
//  - 'labelmap': one grey-level file whose values are labels 0 (background), 1, 2, ...; class c is
//    the set of pixels whose label is in classes[c] (fundus 0/1/2 -> [[1, 2], [2]], prostate SAML
//    labels {1, 2} merged -> [[1, 2]]). Any label value not listed (other than 0) is an error.
//  - 'refuge': REFUGE/DoFE grey levels 0 = cup, 128 = disc rim, 255 = background (disc includes cup);
//    values within `tolerance` of a level snap to it, anything else is an error.
//  - 'binary': one file per structure (e.g. *-Disc-T.png, *-Cup-T.png), 0 = outside and 255 (or 1)
//    = inside; with `tolerance`, values <= tolerance are 0 and >= 255 - tolerance are 1.
// Every error names the file, the offending value and its position.
import { FedSegError } from '../contract/errors.js';
import type { MaskU8 } from '../contract/image.js';
import type { Raster } from './codecs/image-file.js';

export interface BinaryStructure {
  /** File-name suffix before the extension, e.g. '-Disc-T'. */
  suffix: string;
  name: string;
}

export type MaskConvention =
  | { kind: 'labelmap'; classes: number[][]; classNames?: string[] }
  | { kind: 'refuge'; tolerance?: number }
  | { kind: 'binary'; structures: BinaryStructure[]; tolerance?: number };

export const FUNDUS_LABELMAP: MaskConvention = { kind: 'labelmap', classes: [[1, 2], [2]], classNames: ['disc', 'cup'] };
export const FUNDUS_BINARY: MaskConvention = { kind: 'binary', structures: [{ suffix: '-Disc-T', name: 'disc' }, { suffix: '-Cup-T', name: 'cup' }] };
export const REFUGE: MaskConvention = { kind: 'refuge' };

export function conventionClasses(c: MaskConvention): { classes: number; classNames: string[] } {
  switch (c.kind) {
    case 'labelmap':
      if (!Array.isArray(c.classes) || c.classes.length === 0 || c.classes.some((s) => !Array.isArray(s) || s.length === 0 || s.some((v) => !Number.isInteger(v) || v <= 0))) {
        throw new FedSegError('INVALID_ARGUMENT', 'label-map convention: classes must be non-empty lists of positive integer labels, e.g. [[1,2],[2]]');
      }
      return { classes: c.classes.length, classNames: c.classNames ?? c.classes.map((s) => `label${s.join('+')}`) };
    case 'refuge':
      return { classes: 2, classNames: ['disc', 'cup'] };
    case 'binary':
      if (!Array.isArray(c.structures) || c.structures.length === 0) throw new FedSegError('INVALID_ARGUMENT', 'binary convention: give at least one structure suffix');
      return { classes: c.structures.length, classNames: c.structures.map((s) => s.name) };
  }
}

function greyOf(r: Raster, file: string): Uint8Array | Uint16Array {
  if (r.channels !== 1) throw new FedSegError('INVALID_INPUT', `${file}: mask is a colour image; expected grey levels (R = G = B)`);
  return r.data;
}

function at(i: number, w: number): string {
  return `(x=${i % w}, y=${Math.floor(i / w)})`;
}

export function maskFromLabelmap(r: Raster, classes: number[][], file: string): MaskU8 {
  const g = greyOf(r, file);
  const k = classes.length;
  const max = Math.max(...classes.flat());
  const lut: number[][] = Array.from({ length: max + 1 }, () => []);
  classes.forEach((set, c) => set.forEach((v) => lut[v]!.push(c)));
  const data = new Uint8Array(r.width * r.height * k);
  for (let i = 0; i < g.length; i++) {
    const v = g[i]!;
    if (v === 0) continue;
    const cs = lut[v];
    if (!cs || cs.length === 0) {
      const allowed = [0, ...new Set(classes.flat())].sort((a, b) => a - b).join(', ');
      throw new FedSegError('INVALID_INPUT', `${file}: label value ${v} at ${at(i, r.width)} is not in the label map {${allowed}}`);
    }
    for (const c of cs) data[i * k + c] = 1;
  }
  return { width: r.width, height: r.height, classes: k, data };
}

export function maskFromRefuge(r: Raster, file: string, tolerance = 0): MaskU8 {
  const g = greyOf(r, file);
  if (r.bitDepth !== 8) throw new FedSegError('INVALID_INPUT', `${file}: REFUGE masks are 8-bit (0/128/255), got ${r.bitDepth}-bit`);
  const data = new Uint8Array(r.width * r.height * 2);
  for (let i = 0; i < g.length; i++) {
    const v = g[i]!;
    if (v <= tolerance) {
      data[i * 2] = 1;
      data[i * 2 + 1] = 1;
    } else if (Math.abs(v - 128) <= tolerance) {
      data[i * 2] = 1;
    } else if (v < 255 - tolerance) {
      throw new FedSegError('INVALID_INPUT', `${file}: grey level ${v} at ${at(i, r.width)} is not a REFUGE level (0 = cup, 128 = disc rim, 255 = background${tolerance ? `, tolerance ${tolerance}` : ''})`);
    }
  }
  return { width: r.width, height: r.height, classes: 2, data };
}

export function maskFromBinary(rs: Raster[], files: string[], tolerance = 0): MaskU8 {
  const r0 = rs[0]!;
  const k = rs.length;
  const data = new Uint8Array(r0.width * r0.height * k);
  rs.forEach((r, c) => {
    const file = files[c]!;
    if (r.width !== r0.width || r.height !== r0.height) {
      throw new FedSegError('SHAPE_MISMATCH', `${file}: structure mask is ${r.width}x${r.height}, but ${files[0]} is ${r0.width}x${r0.height}`);
    }
    const g = greyOf(r, file);
    const top = r.bitDepth === 16 ? 65535 : 255;
    // Files holding only 0/1 are accepted as-is.
    let maxV = 0;
    for (let i = 0; i < g.length; i++) if (g[i]! > maxV) maxV = g[i]!;
    const one = maxV <= 1 ? 1 : top;
    const tol = one === 1 ? 0 : tolerance;
    for (let i = 0; i < g.length; i++) {
      const v = g[i]!;
      if (v <= tol) continue;
      if (v >= one - tol) {
        data[i * k + c] = 1;
        continue;
      }
      throw new FedSegError('INVALID_INPUT', `${file}: value ${v} at ${at(i, r.width)} is not binary (expected 0 or ${one}${tolerance ? `, tolerance ${tolerance}` : ''})`);
    }
  });
  return { width: r0.width, height: r0.height, classes: k, data };
}

/** Fundus mask -> REFUGE grey levels (0 cup, 128 rim, 255 background), for writing DoFE folders. */
export function maskToRefuge(m: MaskU8): Uint8Array {
  if (m.classes !== 2) throw new FedSegError('SHAPE_MISMATCH', `maskToRefuge: needs 2 classes (disc, cup), got ${m.classes}`);
  const n = m.width * m.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = m.data[i * 2 + 1] ? 0 : m.data[i * 2] ? 128 : 255;
  return out;
}

/** Binary structure c of a mask as 0/255 grey. */
export function maskChannelToGrey(m: MaskU8, c: number): Uint8Array {
  const n = m.width * m.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = m.data[i * m.classes + c] ? 255 : 0;
  return out;
}
