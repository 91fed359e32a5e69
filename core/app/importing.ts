// Import wizard handlers: detect the folder layout, the dry run (every file judged by the same checks
// the import makes, thumbnails with their masks, bad files with the reason, files left out as unpaired),
// the transactional import (strict, or leaving out the bad files) with progress events, and cancel.
// The importers and the all-or-nothing runner live in core/data/import; this file chooses the plan and
// turns the runner's report into what the wizard shows (paths relative to the chosen folder).
import { readFile, stat } from 'node:fs/promises';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import type { AppHandlers, ImportConvention, ResultOf } from '../contract/app-api.js';
import { FedSegError, toErrorValue } from '../contract/errors.js';
import { decodeImageFile } from '../data/codecs/image-file.js';
import { DEFAULT_DECODE_LIMITS } from '../data/codecs/decode-limits.js';
import { readRegularFile } from '../data/codecs/file-read.js';
import { planNiftiImport, planNpyImport } from '../data/import/arrays.js';
import { planDofeImport, planFolderImport } from '../data/import/folder.js';
import { checkFolder, listFolder } from '../data/import/list-folder.js';
import { runImport, type ImportPlan, type ItemOutcome } from '../data/import/runner.js';
import { FUNDUS_BINARY, FUNDUS_LABELMAP, REFUGE, type MaskConvention } from '../data/masks.js';
import type { EngineContext } from './context.js';
import { datasetSummary } from './summaries.js';
import { imageToRaster, maskToView, shrinkMask, shrinkRaster } from './raster.js';

/** Good files shown as thumbnails, and bad files shown (with their image when it decodes). */
const PREVIEW_ITEMS = 12;
const PREVIEW_BAD_ITEMS = 12;
/** Bad files listed by name: enough to act on, bounded so a broken folder of 10 000 files stays one small reply. */
const MAX_BAD_LISTED = 200;
const THUMB_SIDE = 96;
const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg']);
const ANY_NONZERO: MaskConvention = { kind: 'labelmap', classes: [Array.from({ length: 255 }, (_, i) => i + 1)], classNames: ['structure'] };

async function isDir(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}

const list = listFolder;

/** Guesses the layout of a folder from its files (and the grey levels of one mask). */
export async function detectConvention(path: string): Promise<Exclude<ImportConvention, 'auto'>> {
  const root = resolve(path);
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

type PreviewItem = ResultOf<'previewImport'>['items'][number];

/** Paths in messages shown relative to the chosen folder: the user knows where they pointed. */
function relativiser(root: string): (text: string) => string {
  return (text) => text.split(root + sep).join('');
}

function goodItem(o: ItemOutcome, name: string): PreviewItem | null {
  const s = o.samples[Math.floor(o.samples.length / 2)];
  if (!s) return null;
  return {
    name: o.samples.length > 1 ? `${name} (${o.samples.length} slices)` : name, width: s.image.width, height: s.image.height,
    hasMask: s.mask.data.some((v) => v !== 0), thumbnail: shrinkRaster(imageToRaster(s.image), THUMB_SIDE),
    maskThumbnail: shrinkMask(maskToView(s.mask), THUMB_SIDE), problems: [],
  };
}

/** A bad file's own picture when it is a readable PNG/JPEG (its mask is what failed), else no thumbnail. */
async function badItem(file: string, name: string, problem: string): Promise<PreviewItem> {
  const item: PreviewItem = { name, width: 0, height: 0, hasMask: false, thumbnail: null, maskThumbnail: null, problems: [problem] };
  if (!IMAGE_EXT.has(extname(file).toLowerCase())) return item;
  try {
    const r = decodeImageFile(await readFile(file), file);
    const scale = r.bitDepth === 16 ? 255 / 65535 : 1;
    const data = Float32Array.from(r.data, (v) => v * scale);
    return { ...item, width: r.width, height: r.height, thumbnail: shrinkRaster(imageToRaster({ width: r.width, height: r.height, channels: r.channels, data }, [0, 255]), THUMB_SIDE) };
  } catch {
    return item;
  }
}

export function importHandlers(ctx: EngineContext): Pick<AppHandlers, 'previewImport' | 'importDataset' | 'cancelImport' | 'openImageFile'> {
  // Running dry runs and imports by job id, so cancelImport can reach them.
  const running = new Map<string, AbortController>();
  const track = async <T>(jobId: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    if (running.has(jobId)) throw new FedSegError('INVALID_ARGUMENT', `an import with job id '${jobId}' is already running`);
    const ac = new AbortController();
    running.set(jobId, ac);
    try {
      return await work(ac.signal);
    } finally {
      running.delete(jobId);
    }
  };
  const progressTo = (jobId: string) => (p: { done: number; total: number; file?: string; phase: string }) =>
    ctx.emit('importProgress', { jobId, done: p.done, total: p.total, current: p.file?.split(/[\\/]/).pop() ?? p.phase });

  return {
    async openImageFile({ path }) {
      const file = resolve(path);
      // The same budgets as an import (docs/security.md §4): only a regular file, of bounded size, and
      // its header checked before its pixels are decoded — a FIFO picked by hand must not hang the engine.
      let buf: Buffer;
      try {
        buf = await readRegularFile(file, DEFAULT_DECODE_LIMITS);
      } catch (e) {
        if (e instanceof FedSegError) throw e;
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

    async previewImport({ path, convention, jobId }) {
      const root = resolve(path);
      const rel = relativiser(root);
      // Registered before the first await, so a cancel sent right after the request finds the job.
      return track(jobId, async (signal) => {
        await checkFolder(root);
        const conv = convention === 'auto' ? await detectConvention(root) : convention;
        const plan = await planFor(root, conv, 'preview');
        const good: PreviewItem[] = [];
        const bad: { file: string; name: string; problem: string }[] = [];
        let goodFiles = 0;
        const onItem = (o: ItemOutcome): void => {
          const name = relative(root, o.file) || basename(o.file);
          if (o.problem !== null) {
            bad.push({ file: o.file, name, problem: rel(o.problem) });
            return;
          }
          goodFiles++;
          if (good.length < PREVIEW_ITEMS) {
            const it = goodItem(o, name);
            if (it) good.push(it);
          }
        };
        let total = 0;
        const problems: string[] = [];
        try {
          const report = await runImport(null, plan, { dryRun: true, signal, onItem, onProgress: progressTo(jobId) });
          total = report.datasets.reduce((a, d) => a + d.samples, 0);
        } catch (e) {
          if (toErrorValue(e).code === 'CANCELLED') throw new FedSegError('CANCELLED', 'dry run cancelled');
          problems.push(rel(toErrorValue(e).message));
        }
        // Bad files first: they are what the user has to act on.
        const badShown = await Promise.all(bad.slice(0, PREVIEW_BAD_ITEMS).map((b) => badItem(b.file, b.name, b.problem)));
        return {
          convention: conv, total, items: [...badShown, ...good], problems, goodFiles, badFiles: bad.length,
          bad: bad.slice(0, MAX_BAD_LISTED).map((b) => ({ name: b.name, problem: b.problem })),
          skipped: plan.skipped.map((s) => `${relative(root, s.file) || basename(s.file)}: ${rel(s.reason)}`),
        };
      });
    },

    async importDataset({ path, convention, name, site, jobId, skipBad }) {
      const root = resolve(path);
      const rel = relativiser(root);
      return track(jobId, async (signal) => {
        await checkFolder(root);
        const conv = convention === 'auto' ? await detectConvention(root) : convention;
        const plan = await planFor(root, conv, name);
        for (const d of plan.datasets) d.dataset.meta = { ...(d.dataset.meta ?? {}), site, importedFrom: root, convention: conv };
        let report;
        try {
          report = await runImport(ctx.store, plan, { signal, skipBad, onProgress: progressTo(jobId) });
        } catch (e) {
          const err = toErrorValue(e);
          throw new FedSegError(err.code, rel(err.message), { cause: e });
        }
        const first = report.datasets.find((d) => d.id != null);
        const info = first?.id != null ? ctx.store.getDataset(first.id) : null;
        if (!info) throw new FedSegError('INTERNAL', 'the import finished but its dataset cannot be found');
        return {
          dataset: datasetSummary(ctx, info),
          skipped: report.skipped.map((s) => `${relative(root, s.file) || basename(s.file)}: ${rel(s.reason)}`),
          rejected: report.rejected.map((r) => ({ name: relative(root, r.file) || basename(r.file), problem: rel(r.message) })),
        };
      });
    },

    async cancelImport({ jobId }) {
      const ac = running.get(jobId);
      ac?.abort();
      return { cancelled: ac !== undefined };
    },
  };
}
