// Array importers (docs/algorithms.md §9):
//  - FedDG preprocessed .npy: one H x W x (C + K) float array per image (fundus: RGB 0-255, disc, cup;
//    MRI: 1 + k channels); mask channels must be 0/1.
//  - NIfTI volumes (.nii / .nii.gz) with label volumes (<case><labelSuffix>.nii[.gz]) -> axial slices
//    (z planes; width = x, height = y, no reorientation), per-volume z-score over all voxels, labels
//    merged into classes as configured (SAML: {1, 2} -> one gland class), pixel spacing kept.
// Both stream one file/volume at a time through the shared runner (all-or-nothing, progress, dry run).
// Each item checks its headers against the per-file limits and reserves its decoded size (4 bytes
// per value) under the import's budget before converting a value (docs/security.md §4 Import budgets).
import { join, resolve } from 'node:path';
import { FedSegError } from '../../contract/errors.js';
import type { DatasetStore, NewSample, SampleSplit } from '../../store/dataset-store.js';
import { checkImageSize, type DecodeLimits } from '../codecs/decode-limits.js';
import { readRegularFile } from '../codecs/file-read.js';
import { openNifti, readNiftiLayout } from '../codecs/nifti.js';
import { readNpy, readNpyHeader, type NpyHeader } from '../codecs/npy.js';
import { importLimits, type LoadContext } from './budget.js';
import { listFolderEntries } from './list-folder.js';
import { runImport, type CommonImportOptions, type ImportPlan, type ImportReport, type Skipped } from './runner.js';
import { longNameReason } from './sample-names.js';

/** A .npy header checked against the per-file limit: an H x W plane of at most maxMegapixels. */
function npyHeader(buf: Uint8Array, file: string, limits: DecodeLimits): NpyHeader {
  const h = readNpyHeader(buf, file);
  if (h.shape.length === 3) checkImageSize(file, h.shape[1]!, h.shape[0]!, limits);
  return h;
}

export interface NpyImportOptions extends CommonImportOptions {
  dir: string;
  dataset: string;
  kind?: string;
  /** Image channels at the front of the last axis (default: 3 when it has 5 entries, else 1). */
  imageChannels?: number;
  classNames?: string[];
  split?: SampleSplit | null;
}

export async function planNpyImport(o: NpyImportOptions): Promise<ImportPlan> {
  const dir = resolve(o.dir);
  const limits = importLimits(o.limits);
  const listing = await listFolderEntries(dir);
  const all = listing.files;
  const skipped: Skipped[] = [...listing.skipped, ...all.filter((f) => !f.toLowerCase().endsWith('.npy')).map((f) => ({ file: join(dir, f), reason: 'not a .npy file' }))];
  const files: string[] = [];
  for (const f of all.filter((x) => x.toLowerCase().endsWith('.npy'))) {
    const long = longNameReason(f.slice(0, -4));
    if (long) skipped.push({ file: join(dir, f), reason: long });
    else files.push(f);
  }
  if (files.length === 0) throw new FedSegError('INVALID_INPUT', `${dir}: no .npy files in this folder`);
  // The first file's header fixes the layout; every other file must match it.
  const first = npyHeader(await readRegularFile(join(dir, files[0]!), limits), join(dir, files[0]!), limits);
  if (first.shape.length !== 3) throw new FedSegError('INVALID_INPUT', `${join(dir, files[0]!)}: expected an H x W x C array, got shape (${first.shape.join(', ')})`);
  const C = first.shape[2]!;
  const ic = o.imageChannels ?? (C === 5 ? 3 : 1);
  const k = C - ic;
  if (!Number.isInteger(ic) || ic < 1 || k < 1) throw new FedSegError('INVALID_INPUT', `${join(dir, files[0]!)}: last axis has ${C} entries; need image channels (${ic}) plus at least one mask channel`);
  const classNames = o.classNames ?? (ic === 3 && k === 2 ? ['disc', 'cup'] : Array.from({ length: k }, (_, i) => `class${i}`));
  return {
    datasets: [{
      dataset: { name: o.dataset, kind: o.kind ?? (ic === 3 ? 'fundus' : 'mri'), source: dir, channels: ic, classes: k, classNames, meta: { layout: 'feddg-npy' } },
      items: files.map((f) => {
        const file = join(dir, f);
        return {
          file,
          async load(ctx?: LoadContext): Promise<NewSample[]> {
            const lim = ctx?.limits ?? limits;
            const buf = await readRegularFile(file, lim);
            const head = npyHeader(buf, file, lim);
            if (head.shape.length !== 3 || head.shape[2] !== C) {
              throw new FedSegError('SHAPE_MISMATCH', `${file}: shape (${head.shape.join(', ')}) does not match H x W x ${C} of ${files[0]}`);
            }
            await ctx?.reserve(file, head.count * 4, buf.length);
            const a = readNpy(buf, file);
            const [h, w] = a.shape as [number, number, number];
            const image = new Float32Array(h * w * ic);
            const mask = new Uint8Array(h * w * k);
            for (let i = 0; i < h * w; i++) {
              for (let j = 0; j < ic; j++) image[i * ic + j] = a.data[i * C + j]!;
              for (let j = 0; j < k; j++) {
                const v = a.data[i * C + ic + j]!;
                if (Math.abs(v) < 1e-3) continue;
                if (Math.abs(v - 1) < 1e-3) {
                  mask[i * k + j] = 1;
                  continue;
                }
                throw new FedSegError('INVALID_INPUT', `${file}: mask channel ${j} has value ${v} at (x=${i % w}, y=${Math.floor(i / w)}); expected 0/1`);
              }
            }
            const name = f.slice(0, -4);
            return [{ name, image: { width: w, height: h, channels: ic, data: image }, mask: { width: w, height: h, classes: k, data: mask }, split: o.split ?? null }];
          },
        };
      }),
    }],
    skipped,
  };
}

export async function importNpy(store: DatasetStore | null, o: NpyImportOptions): Promise<ImportReport> {
  return runImport(store, await planNpyImport(o), o);
}

export const DEFAULT_LABEL_SUFFIXES = ['_segmentation', '_Segmentation', '_seg', '_label', '_labels', '_mask', '_gt'];

export interface NiftiImportOptions extends CommonImportOptions {
  dir: string;
  dataset: string;
  kind?: string;
  labelSuffixes?: string[];
  /** Label values per class (default: every non-zero label merged into one class). */
  classes?: number[][];
  classNames?: string[];
  /** Per-volume z-score (default true). */
  zscore?: boolean;
  /** Keep slices whose label is empty (default true: the SAML data has them). */
  keepEmpty?: boolean;
  split?: SampleSplit | null;
}

function niftiStem(f: string): string | null {
  const lower = f.toLowerCase();
  if (lower.endsWith('.nii.gz')) return f.slice(0, -7);
  if (lower.endsWith('.nii')) return f.slice(0, -4);
  return null;
}

export async function planNiftiImport(o: NiftiImportOptions): Promise<ImportPlan> {
  const dir = resolve(o.dir);
  const limits = importLimits(o.limits);
  const listing = await listFolderEntries(dir);
  const all = listing.files;
  const suffixes = o.labelSuffixes ?? DEFAULT_LABEL_SUFFIXES;
  const vols = all.filter((f) => niftiStem(f) !== null);
  if (vols.length === 0) throw new FedSegError('INVALID_INPUT', `${dir}: no NIfTI volumes (.nii, .nii.gz) in this folder`);
  const byStem = new Map<string, string>();
  for (const f of vols) {
    const s = niftiStem(f)!;
    if (byStem.has(s)) throw new FedSegError('INVALID_INPUT', `${join(dir, f)}: duplicate volume name '${s}' (also ${byStem.get(s)})`);
    byStem.set(s, f);
  }
  const isLabel = (stem: string): string | null => {
    for (const suf of suffixes) if (stem.endsWith(suf) && byStem.has(stem.slice(0, -suf.length))) return stem.slice(0, -suf.length);
    return null;
  };
  const skipped: Skipped[] = [...listing.skipped, ...all.filter((f) => niftiStem(f) === null).map((f) => ({ file: join(dir, f), reason: 'not a NIfTI file' }))];
  const pairs: { stem: string; image: string; label: string }[] = [];
  for (const [stem, f] of byStem) {
    if (isLabel(stem) !== null) continue;
    const labels = suffixes.map((s) => byStem.get(stem + s)).filter((x): x is string => x !== undefined);
    if (labels.length === 0) {
      // A label-looking file without its image, or an image without a label.
      const base = suffixes.find((s) => stem.endsWith(s));
      skipped.push({ file: join(dir, f), reason: base ? 'label volume without an image volume' : `no label volume (looked for ${suffixes.map((s) => stem + s).join(', ')})` });
      continue;
    }
    if (labels.length > 1) throw new FedSegError('INVALID_INPUT', `${join(dir, f)}: several label volumes: ${labels.join(', ')}`);
    const long = longNameReason(stem, '-s000');
    if (long) {
      skipped.push({ file: join(dir, f), reason: long });
      continue;
    }
    pairs.push({ stem, image: join(dir, f), label: join(dir, labels[0]!) });
  }
  const classes = o.classes ?? null;
  const k = classes ? classes.length : 1;
  if (classes && (classes.length === 0 || classes.some((s) => !Array.isArray(s) || s.length === 0 || s.some((v) => !Number.isInteger(v) || v <= 0)))) {
    throw new FedSegError('INVALID_ARGUMENT', 'NIfTI import: classes must be non-empty lists of positive integer labels, e.g. [[1,2]]');
  }
  const classNames = o.classNames ?? (classes ? classes.map((s) => `label${s.join('+')}`) : ['foreground']);
  return {
    datasets: [{
      dataset: { name: o.dataset, kind: o.kind ?? 'mri', source: dir, channels: 1, classes: k, classNames, meta: { layout: 'nifti', zscore: o.zscore ?? true } },
      items: pairs.map((p) => ({
        file: p.image,
        async load(ctx?: LoadContext): Promise<NewSample[]> {
          const lim = ctx?.limits ?? limits;
          const [vb, lb] = await Promise.all([readRegularFile(p.image, lim), readRegularFile(p.label, lim)]);
          // Both headers are checked (and their sizes compared) before either volume is inflated.
          const vh = readNiftiLayout(vb, p.image, lim);
          const lh = readNiftiLayout(lb, p.label, lim);
          if (vh.nx !== lh.nx || vh.ny !== lh.ny || vh.nz !== lh.nz) {
            throw new FedSegError('SHAPE_MISMATCH', `${p.label}: label volume is ${lh.nx}x${lh.ny}x${lh.nz} but image volume ${p.image} is ${vh.nx}x${vh.ny}x${vh.nz}`);
          }
          await ctx?.reserve(p.image, vh.declaredBytes - vh.voxOffset + lh.declaredBytes - lh.voxOffset, vb.length + lb.length);
          // Voxels are read in place (no float copy of either volume): memory is the two inflated
          // files plus the slices being built.
          const v = openNifti(vb, p.image, lim);
          const l = openNifti(lb, p.label, lim);
          const n = v.nx * v.ny * v.nz;
          let mean = 0;
          let std = 1;
          if (o.zscore ?? true) {
            let s = 0;
            for (let i = 0; i < n; i++) s += v.voxel(i);
            mean = s / n;
            let ss = 0;
            for (let i = 0; i < n; i++) ss += (v.voxel(i) - mean) ** 2;
            std = Math.sqrt(ss / n) || 1;
          }
          const plane = v.nx * v.ny;
          const out: NewSample[] = [];
          for (let z = 0; z < v.nz; z++) {
            const data = new Float32Array(plane);
            const mask = new Uint8Array(plane * k);
            let any = false;
            for (let i = 0; i < plane; i++) {
              const x = v.voxel(z * plane + i);
              if (!Number.isFinite(x)) throw new FedSegError('INVALID_INPUT', `${p.image}: non-finite voxel at (x=${i % v.nx}, y=${Math.floor(i / v.nx)}, z=${z})`);
              data[i] = (x - mean) / std;
              const lv = l.voxel(z * plane + i);
              if (lv === 0) continue;
              const r = Math.round(lv);
              if (Math.abs(lv - r) > 1e-3 || r < 0) throw new FedSegError('INVALID_INPUT', `${p.label}: label value ${lv} at (x=${i % v.nx}, y=${Math.floor(i / v.nx)}, z=${z}) is not a non-negative integer`);
              if (!classes) {
                mask[i] = 1;
                any = true;
                continue;
              }
              let hit = false;
              classes.forEach((set, c) => {
                if (set.includes(r)) {
                  mask[i * k + c] = 1;
                  hit = true;
                }
              });
              if (!hit) throw new FedSegError('INVALID_INPUT', `${p.label}: label value ${r} at (x=${i % v.nx}, y=${Math.floor(i / v.nx)}, z=${z}) is not in the configured classes ${JSON.stringify(classes)}`);
              any = true;
            }
            if (!any && !(o.keepEmpty ?? true)) continue;
            out.push({
              name: `${p.stem}-s${String(z).padStart(3, '0')}`,
              image: { width: v.nx, height: v.ny, channels: 1, data },
              mask: { width: v.nx, height: v.ny, classes: k, data: mask },
              spacing: [v.spacing[1], v.spacing[0]],
              split: o.split ?? null,
              meta: { volume: p.stem, z },
            });
          }
          return out;
        },
      })),
    }],
    skipped,
  };
}

export async function importNifti(store: DatasetStore | null, o: NiftiImportOptions): Promise<ImportReport> {
  return runImport(store, await planNiftiImport(o), o);
}
