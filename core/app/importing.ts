// Import wizard handlers: detect the folder layout, dry-run preview (thumbnails of the first images, every
// problem the real import would hit, files skipped) and the transactional import with progress events.
// The importers and the all-or-nothing runner live in core/data/import; this file chooses the plan.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import type { AppHandlers, ImportConvention } from '../contract/app-api.js';
import { FedSegError, toErrorValue } from '../contract/errors.js';
import { decodeImageFile } from '../data/codecs/image-file.js';
import { planNiftiImport, planNpyImport } from '../data/import/arrays.js';
import { planDofeImport, planFolderImport } from '../data/import/folder.js';
import { runImport, type ImportPlan } from '../data/import/runner.js';
import { FUNDUS_BINARY, FUNDUS_LABELMAP, REFUGE, type MaskConvention } from '../data/masks.js';
import type { EngineContext } from './context.js';
import { datasetSummary } from './summaries.js';
import { imageToRaster, shrinkRaster } from './raster.js';

const PREVIEW_ITEMS = 12;
const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg']);
const ANY_NONZERO: MaskConvention = { kind: 'labelmap', classes: [Array.from({ length: 255 }, (_, i) => i + 1)], classNames: ['structure'] };

async function isDir(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}

async function list(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (e) {
    throw new FedSegError('IO_ERROR', `cannot open the folder ${dir}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (e as Error).message}`);
  }
}

/** Guesses the layout of a folder from its files (and the grey levels of one mask). */
export async function detectConvention(path: string): Promise<Exclude<ImportConvention, 'auto'>> {
  const root = resolve(path);
  if (!(await isDir(root))) throw new FedSegError('INVALID_ARGUMENT', `${root} is not a folder; choose the folder that holds the images`);
  const entries = await list(root);
  for (const e of entries) if (await isDir(join(root, e, 'train', 'ROIs', 'image')) || await isDir(join(root, e, 'test', 'ROIs', 'image'))) return 'dofe';
  if (entries.some((f) => f.toLowerCase().endsWith('.npy'))) return 'feddg-npy';
  if (entries.some((f) => /\.nii(\.gz)?$/i.test(f))) return 'nifti';
  const maskDir = (await isDir(join(root, 'masks'))) ? join(root, 'masks') : root;
  const files = (await list(maskDir)).filter((f) => IMAGE_EXT.has(extname(f).toLowerCase()));
  if (files.some((f) => /-Disc-T\./.test(f))) return 'folder-binary';
  const maskFile = maskDir === root ? files.find((f) => /(_mask|-mask|_seg|_gt|_label)\.[a-z]+$/i.test(f)) : files[0];
  if (!maskFile) return 'folder-mask';
  const r = decodeImageFile(await readFile(join(maskDir, maskFile)), maskFile);
  const levels = new Set<number>();
  for (let i = 0; i < r.data.length && levels.size < 8; i += r.channels) levels.add(r.data[i]!);
  if (levels.has(128) && [...levels].every((v) => v === 0 || v === 128 || v === 255)) return 'folder-refuge';
  if ([...levels].every((v) => v <= 2) && levels.has(2)) return 'folder-labelmap';
  return 'folder-mask';
}

async function planFor(path: string, convention: Exclude<ImportConvention, 'auto'>, name: string): Promise<ImportPlan> {
  const root = resolve(path);
  if (convention === 'dofe') return planDofeImport({ root, prefix: `${name} ` });
  if (convention === 'feddg-npy') return planNpyImport({ dir: root, dataset: name, kind: 'fundus' });
  if (convention === 'nifti') return planNiftiImport({ dir: root, dataset: name, kind: 'mri' });
  const split = (await isDir(join(root, 'images'))) && (await isDir(join(root, 'masks')));
  const mask: MaskConvention =
    convention === 'folder-refuge' ? REFUGE : convention === 'folder-labelmap' ? FUNDUS_LABELMAP : convention === 'folder-binary' ? FUNDUS_BINARY : ANY_NONZERO;
  return planFolderImport({
    images: split ? join(root, 'images') : root, ...(split ? { masks: join(root, 'masks') } : {}), convention: mask, dataset: name,
    kind: convention === 'folder-mask' ? 'images' : 'fundus',
  });
}

export function importHandlers(ctx: EngineContext): Pick<AppHandlers, 'previewImport' | 'importDataset' | 'openImageFile'> {
  return {
    async openImageFile({ path }) {
      const file = resolve(path);
      let buf: Buffer;
      try {
        buf = await readFile(file);
      } catch (e) {
        throw new FedSegError('IO_ERROR', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : (e as Error).message}`);
      }
      const r = decodeImageFile(buf, file);
      const store = ctx.store;
      const name = `Opened images (${r.channels === 3 ? 'colour' : 'grey'})`;
      const d = store.getDataset(name) ?? store.createDataset({ name, kind: 'opened', source: 'single files', channels: r.channels, classes: 1, classNames: ['(no mask)'], meta: { site: 'local', opened: true } });
      const base = basename(file);
      let sampleName = base;
      for (let i = 2; store.getSampleByName(d.id, sampleName); i++) sampleName = `${base} (${i})`;
      store.addSamples(d.id, [{
        name: sampleName, image: { width: r.width, height: r.height, channels: r.channels, data: Float32Array.from(r.data) },
        mask: { width: r.width, height: r.height, classes: 1, data: new Uint8Array(r.width * r.height) }, meta: { hasMask: false, path: file },
      }]);
      return { datasetId: String(d.id), index: store.countSamples(d.id) - 1 };
    },

    async previewImport({ path, convention }) {
      const conv = convention === 'auto' ? await detectConvention(path) : convention;
      const plan = await planFor(path, conv, 'preview');
      const items = [];
      for (const it of plan.datasets.flatMap((d) => d.items).slice(0, PREVIEW_ITEMS)) {
        const file = it.file.split(/[\\/]/).pop() ?? it.file;
        try {
          const samples = await it.load();
          const s = samples[Math.floor(samples.length / 2)];
          if (!s) {
            items.push({ name: file, width: 0, height: 0, hasMask: false, thumbnail: null, problems: ['no images in this file'] });
            continue;
          }
          items.push({
            name: samples.length > 1 ? `${file} (${samples.length} slices)` : file, width: s.image.width, height: s.image.height,
            hasMask: s.mask.data.some((v) => v !== 0), thumbnail: shrinkRaster(imageToRaster(s.image), 96), problems: [],
          });
        } catch (e) {
          items.push({ name: file, width: 0, height: 0, hasMask: false, thumbnail: null, problems: [toErrorValue(e).message] });
        }
      }
      let total = 0;
      const problems: string[] = [];
      try {
        const report = await runImport(ctx.store, plan, { dryRun: true });
        total = report.datasets.reduce((a, d) => a + d.samples, 0);
        problems.push(...report.problems.map((p) => `${p.file.split(/[\\/]/).pop()}: ${p.message}`).filter((p) => !/already exists/.test(p)));
      } catch (e) {
        problems.push(toErrorValue(e).message);
      }
      problems.push(...plan.skipped.slice(0, 50).map((s) => `skipped ${s.file.split(/[\\/]/).pop()}: ${s.reason}`));
      if (plan.skipped.length > 50) problems.push(`… and ${plan.skipped.length - 50} more skipped file(s)`);
      return { convention: conv, total, items, problems };
    },

    async importDataset({ path, convention, name, site, jobId }) {
      const conv = convention === 'auto' ? await detectConvention(path) : convention;
      const plan = await planFor(path, conv, name);
      for (const d of plan.datasets) d.dataset.meta = { ...(d.dataset.meta ?? {}), site, importedFrom: resolve(path), convention: conv };
      const report = await runImport(ctx.store, plan, {
        onProgress: (p) => ctx.emit('importProgress', { jobId, done: p.done, total: p.total, current: p.file?.split(/[\\/]/).pop() ?? p.phase }),
      });
      const first = report.datasets[0];
      const info = first?.id != null ? ctx.store.getDataset(first.id) : null;
      if (!info) throw new FedSegError('INTERNAL', 'the import finished but its dataset cannot be found');
      return { dataset: datasetSummary(ctx, info), skipped: report.skipped.map((s) => `${s.file}: ${s.reason}`) };
    },
  };
}
