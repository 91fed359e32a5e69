// Folder importers: PNG/JPEG images with masks matched by file name, in any of the mask
// conventions of masks.ts, and the DoFE release layout DomainK/{train,test}/ROIs/{image,mask}/*.png
// (REFUGE grey levels, one dataset per domain, split kept). Pairing rules, for an image `stem.ext`:
//  - labelmap / refuge: a mask `stem<suffix>.<png|jpg|...>` in the masks folder, suffix one of
//    maskSuffixes ('', '_mask', '-mask', '_seg', '_gt', '_label' by default);
//  - binary: one file per structure, `stem<structure.suffix>.<ext>` (e.g. stem-Disc-T.png).
// Images without masks and masks without images are skipped and reported; two images with the same
// stem are an error. Every decode error names its file.
// Each pair reads its files' headers first and reserves their decoded size under the import's budget
// before decoding (docs/security.md §4 Import budgets); FIFOs and other non-regular entries, and files
// whose names are too long for a sample name, are skipped with the reason when the folder is planned.
import { stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { FedSegError } from '../../contract/errors.js';
import type { ImageF32 } from '../../contract/image.js';
import type { NewSample, SampleSplit } from '../../store/dataset-store.js';
import { checkImageSize } from '../codecs/decode-limits.js';
import { createDecodePool, defaultDecodeWorkers, inlineReader, readRasterInline, type RasterReader } from '../codecs/decode-pool.js';
import { readRegularFile } from '../codecs/file-read.js';
import { probeImageFile, rasterBytes, readImageHeader, type Raster } from '../codecs/image-file.js';
import { conventionClasses, maskFromBinary, maskFromLabelmap, maskFromRefuge, type MaskConvention } from '../masks.js';
import { importLimits, type ImportLimits, type LoadContext } from './budget.js';
import { listFolder, listFolderEntries } from './list-folder.js';
import { runImport, type CommonImportOptions, type ImportPlan, type ImportReport, type PlanItem, type Skipped } from './runner.js';
import { longNameReason } from './sample-names.js';
import type { DatasetStore } from '../../store/dataset-store.js';

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg']);
export const DEFAULT_MASK_SUFFIXES = ['', '_mask', '-mask', '_seg', '_gt', '_label'];

export interface FolderImportOptions extends CommonImportOptions {
  /** Folder of images. */
  images: string;
  /** Folder of masks (default: the images folder; masks are then told apart by their suffix). */
  masks?: string;
  convention: MaskConvention;
  /** Dataset to create. */
  dataset: string;
  kind?: string;
  split?: SampleSplit | null;
  /** Image channels of the dataset; default: 3 if the first image is colour, else 1. */
  channels?: 1 | 3;
  maskSuffixes?: string[];
}

const listDir = listFolder;

function toImage(r: Raster, channels: 1 | 3, file: string): ImageF32 {
  const n = r.width * r.height;
  if (r.channels === channels) return { width: r.width, height: r.height, channels, data: new Float32Array(r.data) };
  if (r.channels === 1 && channels === 3) {
    const data = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) data[i * 3] = data[i * 3 + 1] = data[i * 3 + 2] = r.data[i]!;
    return { width: r.width, height: r.height, channels: 3, data };
  }
  throw new FedSegError('INVALID_INPUT', `${file}: colour image in a grey (1-channel) dataset`);
}

interface Pair {
  name: string;
  image: string;
  masks: string[];
}

/** Pairs images with masks by name; returns the pairs and what was skipped. */
export async function pairFolder(images: string, masks: string | undefined, convention: MaskConvention, maskSuffixes = DEFAULT_MASK_SUFFIXES): Promise<{ pairs: Pair[]; skipped: Skipped[] }> {
  const imgDir = resolve(images);
  const maskDir = resolve(masks ?? images);
  const same = imgDir === maskDir;
  const imgList = await listFolderEntries(imgDir);
  const maskList = same ? imgList : await listFolderEntries(maskDir);
  const imgFiles = imgList.files.filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()));
  const maskFiles = same ? imgFiles : maskList.files.filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()));
  const maskByStem = new Map<string, string[]>();
  for (const f of maskFiles) {
    const stem = basename(f, extname(f));
    maskByStem.set(stem, [...(maskByStem.get(stem) ?? []), f]);
  }
  const suffixes: string[] = convention.kind === 'binary' ? convention.structures.map((s) => s.suffix) : maskSuffixes;
  // In a shared folder, a file is a mask if its stem is another image's stem plus a mask suffix.
  const stems = new Set(imgFiles.map((f) => basename(f, extname(f))));
  const isMaskFile = (f: string): boolean => {
    const stem = basename(f, extname(f));
    return suffixes.some((s) => s !== '' && stem.endsWith(s) && (convention.kind === 'binary' || stems.has(stem.slice(0, -s.length))));
  };
  const skipped: Skipped[] = [...imgList.skipped, ...(same ? [] : maskList.skipped)];
  const pairs: Pair[] = [];
  const usedMasks = new Set<string>();
  const byName = new Map<string, string>();
  for (const f of imgFiles) {
    if (same && isMaskFile(f)) continue;
    const stem = basename(f, extname(f));
    const long = longNameReason(stem);
    if (long) {
      skipped.push({ file: join(imgDir, f), reason: long });
      // Its masks are accounted for: they are not "masks without an image".
      for (const s of suffixes) for (const m of maskByStem.get(stem + s) ?? []) usedMasks.add(m);
      continue;
    }
    const prev = byName.get(stem);
    if (prev !== undefined) throw new FedSegError('INVALID_INPUT', `${join(imgDir, f)}: duplicate image name '${stem}' (also ${join(imgDir, prev)})`);
    byName.set(stem, f);
    if (convention.kind === 'binary') {
      const found: string[] = [];
      const missing: string[] = [];
      for (const s of convention.structures) {
        const cands = maskByStem.get(stem + s.suffix) ?? [];
        if (cands.length > 1) throw new FedSegError('INVALID_INPUT', `${join(maskDir, cands[0]!)}: several mask files for structure '${s.name}' of ${f}: ${cands.join(', ')}`);
        if (cands.length === 0) missing.push(`${stem}${s.suffix}.png`);
        else found.push(cands[0]!);
      }
      if (missing.length) {
        skipped.push({ file: join(imgDir, f), reason: `no mask file ${missing.join(', ')}` });
        continue;
      }
      found.forEach((m) => usedMasks.add(m));
      pairs.push({ name: stem, image: join(imgDir, f), masks: found.map((m) => join(maskDir, m)) });
    } else {
      const cands = maskSuffixes.flatMap((s) => (same && s === '' ? [] : maskByStem.get(stem + s) ?? []));
      if (cands.length > 1) throw new FedSegError('INVALID_INPUT', `${join(imgDir, f)}: several candidate masks: ${cands.join(', ')}`);
      if (cands.length === 0) {
        const looked = maskSuffixes.filter((s) => !(same && s === '')).map((s) => `${stem}${s}.png`).join(', ');
        skipped.push({ file: join(imgDir, f), reason: `no mask found (looked for ${looked} in ${maskDir})` });
        continue;
      }
      usedMasks.add(cands[0]!);
      pairs.push({ name: stem, image: join(imgDir, f), masks: [join(maskDir, cands[0]!)] });
    }
  }
  for (const m of maskFiles) {
    if (usedMasks.has(m) || (same && !isMaskFile(m))) continue;
    skipped.push({ file: join(maskDir, m), reason: 'mask without a matching image' });
  }
  if (imgFiles.length === 0) throw new FedSegError('INVALID_INPUT', `${imgDir}: no PNG/JPEG images in this folder`);
  return { pairs, skipped };
}

/** Where pair items read their files: inline by default; importFolder/importDofe swap in a pool. */
export interface ReaderRef {
  reader: RasterReader | null;
}

/** Like Promise.all, but a failure is the first one in file order, so its message does not depend on timing. */
async function inOrder<T>(ps: Promise<T>[]): Promise<T[]> {
  const rs = await Promise.allSettled(ps);
  for (const r of rs) if (r.status === 'rejected') throw r.reason;
  return rs.map((r) => (r as PromiseFulfilledResult<T>).value);
}

function loadPair(p: Pair, convention: MaskConvention, channels: 1 | 3, split: SampleSplit | null, ref: ReaderRef, planLimits: ImportLimits): PlanItem {
  return {
    file: p.image,
    async load(ctx?: LoadContext): Promise<NewSample[]> {
      const limits = ctx?.limits ?? planLimits;
      const files = [p.image, ...p.masks];
      // Each file is read once (regular files only, within the per-file byte limit); its header is
      // checked, and the pair's sizes compared, before anything of it is decoded.
      const bufs = await inOrder(files.map((f) => readRegularFile(f, limits)));
      const heads = files.map((f, i) => {
        const h = readImageHeader(bufs[i]!, f);
        checkImageSize(f, h.width, h.height, limits);
        return h;
      });
      const h0 = heads[0]!;
      const m0 = heads[1]!;
      if (m0.width !== h0.width || m0.height !== h0.height) {
        throw new FedSegError('SHAPE_MISMATCH', `${p.masks[0]}: mask is ${m0.width}x${m0.height} but image ${p.image} is ${h0.width}x${h0.height}`);
      }
      await ctx?.reserve(p.image, heads.reduce((a, h) => a + rasterBytes(h), 0), bufs.reduce((a, b) => a + b.length, 0));
      const reader = ref.reader ?? inlineReader;
      const [img, ...rs] = await inOrder(files.map((f, i) => reader.decode(bufs[i]!, f, limits)));
      if (!img) throw new FedSegError('INTERNAL', 'no image');
      const r0 = rs[0]!;
      if (r0.width !== img.width || r0.height !== img.height) {
        throw new FedSegError('SHAPE_MISMATCH', `${p.masks[0]}: mask is ${r0.width}x${r0.height} but image ${p.image} is ${img.width}x${img.height}`);
      }
      const mask = convention.kind === 'labelmap' ? maskFromLabelmap(r0, convention.classes, p.masks[0]!)
        : convention.kind === 'refuge' ? maskFromRefuge(r0, p.masks[0]!, convention.tolerance ?? 0)
          : maskFromBinary(rs, p.masks, convention.tolerance ?? 0);
      return [{ name: p.name, image: toImage(img, channels, p.image), mask, split }];
    },
  };
}

/**
 * Channels of the first image that can be read within the limits (grey headers need no decoding), and
 * whether it is a kind png-fast.ts decodes directly; images refused here are refused again, with their
 * reason, when the import loads them.
 */
async function probeFirst(pairs: Pair[], limits: ImportLimits, needChannels = true): Promise<{ channels: 1 | 3; direct: boolean }> {
  for (const p of pairs.slice(0, 8)) {
    try {
      const h = await probeImageFile(p.image, limits);
      // A colour header may still hold grey pixels: only decoding the image tells (when the caller needs it).
      if (h.channels === 1 || !needChannels) return { channels: h.channels, direct: h.direct };
      return { channels: (await readRasterInline(p.image, limits)).channels, direct: h.direct };
    } catch (e) {
      if (!(e instanceof FedSegError)) throw e;
    }
  }
  return { channels: 3, direct: false };
}

export async function planFolderImport(o: FolderImportOptions, ref: ReaderRef = { reader: null }): Promise<ImportPlan> {
  const { classes, classNames } = conventionClasses(o.convention);
  const { pairs, skipped } = await pairFolder(o.images, o.masks, o.convention, o.maskSuffixes);
  const limits = importLimits(o.limits);
  const first = await probeFirst(pairs, limits);
  const channels = o.channels ?? first.channels;
  return {
    directDecode: first.direct,
    datasets: [{
      dataset: { name: o.dataset, kind: o.kind ?? 'other', source: resolve(o.images), channels, classes, classNames, meta: { convention: o.convention.kind } },
      items: pairs.map((p) => loadPair(p, o.convention, channels, o.split ?? null, ref, limits)),
    }],
    skipped,
  };
}

/**
 * Runs a plan of image pairs. Files png-fast.ts decodes directly are decoded in this thread with their
 * inflate on libuv's pool, a few items ahead (a decode worker's start-up, ~0.5 s of CPU, costs more than
 * it saves there: docs/measured.md §11); other kinds (JPEG, 16-bit or palette PNG) use decode worker
 * threads when there are enough files.
 */
async function runPairs(store: DatasetStore | null, plan: ImportPlan, ref: ReaderRef, o: CommonImportOptions): Promise<ImportReport> {
  const files = plan.datasets.reduce((a, d) => a + d.items.length, 0);
  const workers = o.decodeWorkers ?? (files >= 48 && !plan.directDecode ? defaultDecodeWorkers() : 0);
  if (workers > 0) {
    ref.reader = createDecodePool(workers);
    plan.prefetch = 2 * workers + 2;
  } else {
    plan.prefetch = 4;
  }
  try {
    return await runImport(store, plan, o);
  } finally {
    await ref.reader?.close();
    ref.reader = null;
  }
}

/** Imports one folder of images + masks as one dataset (all-or-nothing). */
export async function importFolder(store: DatasetStore | null, o: FolderImportOptions): Promise<ImportReport> {
  const ref: ReaderRef = { reader: null };
  return runPairs(store, await planFolderImport(o, ref), ref, o);
}

export interface DofeImportOptions extends CommonImportOptions {
  /** Folder holding Domain1, Domain2, ... */
  root: string;
  /** Prefix for dataset names (default ''): dataset = prefix + domain folder name. */
  prefix?: string;
  /** Only these domain folders (default: every sub-folder with train/ROIs or test/ROIs). */
  domains?: string[];
  tolerance?: number;
}

export async function planDofeImport(o: DofeImportOptions, ref: ReaderRef = { reader: null }): Promise<ImportPlan> {
  const root = resolve(o.root);
  const entries = await listDir(root);
  const domains: string[] = [];
  for (const e of entries) {
    if (o.domains && !o.domains.includes(e)) continue;
    const has = async (split: string): Promise<boolean> => stat(join(root, e, split, 'ROIs', 'image')).then((s) => s.isDirectory(), () => false);
    if ((await has('train')) || (await has('test'))) domains.push(e);
  }
  if (o.domains) {
    const missing = o.domains.filter((d) => !domains.includes(d));
    if (missing.length) throw new FedSegError('INVALID_INPUT', `${root}: no DoFE domain folder(s) ${missing.join(', ')} with {train,test}/ROIs/image`);
  }
  if (domains.length === 0) throw new FedSegError('INVALID_INPUT', `${root}: no DoFE domains found (expected DomainK/{train,test}/ROIs/{image,mask}/*.png)`);
  const convention: MaskConvention = { kind: 'refuge', tolerance: o.tolerance ?? 0 };
  const limits = importLimits(o.limits);
  const plan: ImportPlan = { datasets: [], skipped: [] };
  for (const dom of domains) {
    const items: PlanItem[] = [];
    for (const split of ['train', 'test'] as const) {
      const imgDir = join(root, dom, split, 'ROIs', 'image');
      const ok = await stat(imgDir).then((s) => s.isDirectory(), () => false);
      if (!ok) continue;
      // An empty split folder (e.g. a domain released without test images) is not an error.
      if (!(await listDir(imgDir)).some((f) => IMAGE_EXT.has(extname(f).toLowerCase()))) continue;
      const { pairs, skipped } = await pairFolder(imgDir, join(root, dom, split, 'ROIs', 'mask'), convention, ['']);
      plan.skipped.push(...skipped);
      if (plan.directDecode === undefined && pairs.length > 0) plan.directDecode = (await probeFirst(pairs, limits, false)).direct; // DoFE is always 3-channel
      items.push(...pairs.map((p) => loadPair(p, convention, 3, split, ref, limits)));
    }
    if (items.length === 0) {
      plan.skipped.push({ file: join(root, dom), reason: 'no images in train/ROIs/image or test/ROIs/image' });
      continue;
    }
    plan.datasets.push({
      dataset: { name: `${o.prefix ?? ''}${dom}`, kind: 'fundus', source: join(root, dom), channels: 3, classes: 2, classNames: ['disc', 'cup'], meta: { convention: 'refuge', layout: 'dofe' } },
      items,
    });
  }
  return plan;
}

/** Imports a DoFE-layout folder: one dataset per domain, train/test kept as splits (all-or-nothing). */
export async function importDofe(store: DatasetStore | null, o: DofeImportOptions): Promise<ImportReport> {
  const ref: ReaderRef = { reader: null };
  return runPairs(store, await planDofeImport(o, ref), ref, o);
}
