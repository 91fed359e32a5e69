// Writers for the on-disk layouts the importers read, so the same files exercise the importers:
// the DoFE fundus layout (PNG, REFUGE grey-level masks), the
// FedDG .npy layout (one HxWx(C+K) float32 array per sample) and SAML-like NIfTI volumes (one image
// volume + one label volume per case). Each writer returns the files it wrote.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FedSegError } from '../contract/errors.js';
import type { Sample } from '../contract/image.js';
import { encodePng } from './codecs/image-file.js';
import { writeNifti } from './codecs/nifti.js';
import { writeNpy } from './codecs/npy.js';
import { maskChannelToGrey, maskToRefuge } from './masks.js';

export interface SiteSamples {
  site: string;
  samples: Sample[];
}

export interface WriteProgress {
  (done: number, total: number, file: string): void;
}

function safeName(s: string, what: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(s) || s === '.' || s === '..') throw new FedSegError('INVALID_ARGUMENT', `${what} '${s}' cannot be used as a file name`);
  return s;
}

function toU8(s: Sample): Uint8Array {
  const d = s.image.data;
  const out = new Uint8Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (!(v >= 0 && v <= 255 && v === Math.round(v))) throw new FedSegError('INVALID_INPUT', `sample '${s.name}': PNG export needs integer pixel values 0..255 (got ${v})`);
    out[i] = v;
  }
  return out;
}

/** The last `testFraction` of each site's samples go to test/, the rest to train/. */
export function splitIndex(n: number, testFraction: number): number {
  return n - Math.round(n * Math.min(1, Math.max(0, testFraction)));
}

/** DomainK/{train,test}/ROIs/{image,mask}/<name>.png with REFUGE grey masks (0 cup, 128 rim, 255 bg). */
export async function writeDofeLayout(sites: SiteSamples[], out: string, opts: { testFraction?: number; onProgress?: WriteProgress } = {}): Promise<string[]> {
  const files: string[] = [];
  const total = sites.reduce((a, s) => a + s.samples.length, 0);
  for (const { site, samples } of sites) {
    const cut = splitIndex(samples.length, opts.testFraction ?? 0.2);
    for (const split of ['train', 'test']) {
      if (split === 'train' ? cut === 0 : cut === samples.length) continue;
      await mkdir(join(out, safeName(site, 'site'), split, 'ROIs', 'image'), { recursive: true });
      await mkdir(join(out, site, split, 'ROIs', 'mask'), { recursive: true });
    }
    for (const [i, s] of samples.entries()) {
      if (s.image.channels !== 3 || s.mask.classes !== 2) throw new FedSegError('INVALID_INPUT', `sample '${s.name}': the DoFE layout needs RGB images and 2-class (disc, cup) masks`);
      const split = i < cut ? 'train' : 'test';
      const base = join(out, site, split, 'ROIs');
      const img = join(base, 'image', `${safeName(s.name, 'sample')}.png`);
      const msk = join(base, 'mask', `${s.name}.png`);
      await writeFile(img, encodePng(s.image.width, s.image.height, 3, toU8(s)));
      await writeFile(msk, encodePng(s.mask.width, s.mask.height, 1, maskToRefuge(s.mask)));
      files.push(img, msk);
      opts.onProgress?.(files.length / 2, total, img);
    }
  }
  return files;
}

/** <out>/<site>/<name>.png + <name>-Disc-T.png / -Cup-T.png style binary masks (one per class). */
export async function writeBinaryMaskFolder(site: SiteSamples, out: string, suffixes: string[]): Promise<string[]> {
  const dir = join(out, safeName(site.site, 'site'));
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const s of site.samples) {
    if (suffixes.length !== s.mask.classes) throw new FedSegError('INVALID_ARGUMENT', `writeBinaryMaskFolder: ${suffixes.length} suffixes for ${s.mask.classes} classes`);
    const f = join(dir, `${safeName(s.name, 'sample')}.png`);
    await writeFile(f, encodePng(s.image.width, s.image.height, s.image.channels === 3 ? 3 : 1, toU8(s)));
    files.push(f);
    for (const [c, suf] of suffixes.entries()) {
      const m = join(dir, `${s.name}${suf}.png`);
      await writeFile(m, encodePng(s.mask.width, s.mask.height, 1, maskChannelToGrey(s.mask, c)));
      files.push(m);
    }
  }
  return files;
}

/** FedDG layout: <out>/<site>/<name>.npy, each H x W x (C + K) float32 (image channels then masks). */
export async function writeNpyLayout(sites: SiteSamples[], out: string, opts: { onProgress?: WriteProgress } = {}): Promise<string[]> {
  const files: string[] = [];
  const total = sites.reduce((a, s) => a + s.samples.length, 0);
  for (const { site, samples } of sites) {
    const dir = join(out, safeName(site, 'site'));
    await mkdir(dir, { recursive: true });
    for (const s of samples) {
      const { width: w, height: h, channels: c } = s.image;
      const k = s.mask.classes;
      const arr = new Float32Array(w * h * (c + k));
      for (let i = 0; i < w * h; i++) {
        for (let j = 0; j < c; j++) arr[i * (c + k) + j] = s.image.data[i * c + j]!;
        for (let j = 0; j < k; j++) arr[i * (c + k) + c + j] = s.mask.data[i * k + j]!;
      }
      const f = join(dir, `${safeName(s.name, 'sample')}.npy`);
      await writeFile(f, writeNpy([h, w, c + k], arr));
      files.push(f);
      opts.onProgress?.(files.length, total, f);
    }
  }
  return files;
}

/**
 * SAML-like layout: <out>/<site>/<case>.nii.gz and <case>_segmentation.nii.gz. Samples named
 * `<case>-sNNN` (the prostate generator's names) are stacked in order into one volume per case.
 */
export async function writeNiftiLayout(sites: SiteSamples[], out: string, opts: { spacing?: [number, number, number]; onProgress?: WriteProgress } = {}): Promise<string[]> {
  const files: string[] = [];
  const spacing = opts.spacing ?? [0.625, 0.625, 3.6];
  for (const { site, samples } of sites) {
    const dir = join(out, safeName(site, 'site'));
    await mkdir(dir, { recursive: true });
    const cases = new Map<string, Sample[]>();
    for (const s of samples) {
      const m = /^(.*)-s\d+$/.exec(s.name);
      const key = m ? m[1]! : s.name;
      cases.set(key, [...(cases.get(key) ?? []), s]);
    }
    for (const [name, slices] of cases) {
      const s0 = slices[0]!;
      const { width: nx, height: ny } = s0.image;
      if (s0.image.channels !== 1 || s0.mask.classes !== 1) throw new FedSegError('INVALID_INPUT', `sample '${s0.name}': NIfTI export needs 1-channel images and 1-class masks`);
      const nz = slices.length;
      const img = new Float32Array(nx * ny * nz);
      const lab = new Uint8Array(nx * ny * nz);
      slices.forEach((s, z) => {
        if (s.image.width !== nx || s.image.height !== ny) throw new FedSegError('SHAPE_MISMATCH', `sample '${s.name}': slice size differs within case '${name}'`);
        img.set(s.image.data, z * nx * ny);
        lab.set(s.mask.data, z * nx * ny);
      });
      const fi = join(dir, `${safeName(name, 'case')}.nii.gz`);
      const fl = join(dir, `${name}_segmentation.nii.gz`);
      await writeFile(fi, writeNifti({ nx, ny, nz, spacing, data: img }));
      await writeFile(fl, writeNifti({ nx, ny, nz, spacing, data: lab }));
      files.push(fi, fl);
      opts.onProgress?.(files.length / 2, cases.size, fi);
    }
  }
  return files;
}
