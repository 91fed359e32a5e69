// The shared import engine: an importer turns its source into a *plan* (datasets, each a
// list of items that load lazily, plus files skipped with a reason); the runner streams the items
// (one file or volume in memory at a time), reports progress, and stages samples through
// DatasetStore.beginImport. Only when every item loaded does it commit all datasets in ONE
// transaction; any error, a cancel (AbortSignal) or a throwing progress callback aborts every
// staged import, so the database is exactly as before. A dry run loads and validates everything,
// writes nothing, and reports what would be imported, skipped and rejected.
import { FedSegError } from '../../contract/errors.js';
import { checkNewDataset, checkSample } from '../../store/codec.js';
import type { DatasetInfo, DatasetStore, ImportSession, NewDataset, NewSample } from '../../store/dataset-store.js';
import { resizeImageBilinear, resizeMaskNearest } from '../resize.js';

export interface ImportProgress {
  phase: 'read' | 'commit' | 'done';
  /** Items (files or volumes) finished so far, and in total. */
  done: number;
  total: number;
  /** Samples staged so far. */
  samples: number;
  file?: string;
  dataset?: string;
}

export interface CommonImportOptions {
  onProgress?: (p: ImportProgress) => void;
  signal?: AbortSignal;
  /** Resize every sample (images bilinear, masks nearest). */
  resize?: { width: number; height: number } | null;
  /** Validate and report only; write nothing. */
  dryRun?: boolean;
  /** Image decode worker threads for PNG/JPEG imports (default: one per spare core for >= 48 files, else 0). */
  decodeWorkers?: number;
}

export interface PlanItem {
  /** Main file of the item (for progress and error messages). */
  file: string;
  load(): Promise<NewSample[]>;
}

export interface PlannedDataset {
  dataset: NewDataset;
  items: PlanItem[];
}

export interface Skipped {
  file: string;
  reason: string;
}

export interface ImportPlan {
  datasets: PlannedDataset[];
  skipped: Skipped[];
  /** Items loaded ahead of the one being staged (default 1: no read-ahead). */
  prefetch?: number;
}

export interface DatasetReport {
  name: string;
  /** Store id after a real import; null in a dry run. */
  id: number | null;
  samples: number;
  channels: number;
  classes: number;
  classNames: string[];
  /** Image sizes seen, "WxH" -> count. */
  sizes: Record<string, number>;
  splits: Record<string, number>;
}

export interface ImportReport {
  dryRun: boolean;
  datasets: DatasetReport[];
  skipped: Skipped[];
  /** Dry run only: every problem that would make the real import fail. */
  problems: { file: string; message: string }[];
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export async function runImport(store: DatasetStore | null, plan: ImportPlan, opts: CommonImportOptions = {}): Promise<ImportReport> {
  const dry = opts.dryRun ?? false;
  if (!dry && !store) throw new FedSegError('INVALID_ARGUMENT', 'import: a store is required unless dryRun is set');
  if (plan.datasets.length === 0 || plan.datasets.every((d) => d.items.length === 0)) {
    const why = plan.skipped.length ? `; skipped: ${plan.skipped.slice(0, 3).map((s) => `${s.file} (${s.reason})`).join('; ')}` : '';
    throw new FedSegError('INVALID_INPUT', `import: nothing to import${why}`);
  }
  const names = new Set<string>();
  for (const d of plan.datasets) {
    checkNewDataset(d.dataset);
    if (names.has(d.dataset.name)) throw new FedSegError('INVALID_INPUT', `import: two datasets would be named '${d.dataset.name}'`);
    names.add(d.dataset.name);
  }
  const total = plan.datasets.reduce((a, d) => a + d.items.length, 0);
  const problems: { file: string; message: string }[] = [];
  const reports: DatasetReport[] = plan.datasets.map((d) => ({
    name: d.dataset.name, id: null, samples: 0, channels: d.dataset.channels, classes: d.dataset.classes,
    classNames: d.dataset.classNames ?? Array.from({ length: d.dataset.classes }, (_, i) => `class${i}`), sizes: {}, splits: {},
  }));
  const sessions: ImportSession[] = [];
  let done = 0;
  let staged = 0;
  const progress = (p: Omit<ImportProgress, 'done' | 'total' | 'samples'>): void => {
    opts.onProgress?.({ ...p, done, total, samples: staged });
  };
  const flat = plan.datasets.flatMap((d, di) => d.items.map((item) => ({ di, item })));
  const window = Math.max(1, Math.floor(plan.prefetch ?? 1));
  const started: (Promise<NewSample[]> | undefined)[] = [];
  const start = (j: number): void => {
    if (j >= flat.length || started[j]) return;
    const p = flat[j]!.item.load();
    p.catch(() => undefined); // awaited in order below; avoid unhandled rejections of read-ahead
    started[j] = p;
  };
  const seen = plan.datasets.map(() => new Map<string, string>());
  try {
    for (const d of plan.datasets) {
      if (!dry) {
        sessions.push(store!.beginImport({ dataset: d.dataset }));
      } else if (store?.getDataset(d.dataset.name)) {
        problems.push({ file: d.dataset.name, message: `a dataset named '${d.dataset.name}' already exists` });
      }
    }
    for (let j = 0; j < flat.length; j++) {
      const { di, item } = flat[j]!;
      const d = plan.datasets[di]!;
      const rep = reports[di]!;
      if (opts.signal?.aborted) throw new FedSegError('CANCELLED', 'import cancelled; nothing was written');
      for (let q = j; q < j + window; q++) start(q);
      let samples: NewSample[];
      try {
        samples = await started[j]!;
        started[j] = undefined;
        if (opts.resize) {
          const { width, height } = opts.resize;
          samples = samples.map((s) => ({
            ...s,
            image: resizeImageBilinear(s.image, width, height),
            mask: resizeMaskNearest(s.mask, width, height),
            spacing: s.spacing ? [(s.spacing[0] * s.image.height) / height, (s.spacing[1] * s.image.width) / width] : s.spacing,
          }));
        }
        for (const s of samples) {
          const prev = seen[di]!.get(s.name);
          if (prev !== undefined) throw new FedSegError('INVALID_INPUT', `${item.file}: duplicate sample name '${s.name}' (also from ${prev})`);
          seen[di]!.set(s.name, item.file);
          if (dry) checkSample(s, d.dataset.channels, d.dataset.classes, d.dataset.name);
        }
        if (!dry) sessions[di]!.add(samples);
      } catch (e) {
        if (!dry || (e instanceof FedSegError && e.code === 'CANCELLED')) throw e;
        problems.push({ file: item.file, message: message(e) });
        samples = [];
      }
      for (const s of samples) {
        const key = `${s.image.width}x${s.image.height}`;
        rep.sizes[key] = (rep.sizes[key] ?? 0) + 1;
        const sp = s.split ?? 'none';
        rep.splits[sp] = (rep.splits[sp] ?? 0) + 1;
      }
      rep.samples += samples.length;
      staged += samples.length;
      done++;
      progress({ phase: 'read', file: item.file, dataset: d.dataset.name });
    }
    if (!dry) {
      if (opts.signal?.aborted) throw new FedSegError('CANCELLED', 'import cancelled; nothing was written');
      progress({ phase: 'commit' });
      const infos: DatasetInfo[] = store!.transaction(() => sessions.map((s) => s.commit()));
      infos.forEach((info, i) => {
        reports[i]!.id = info.id;
      });
    }
  } catch (e) {
    for (const s of sessions) s.abort();
    throw e;
  }
  progress({ phase: 'done' });
  return { dryRun: dry, datasets: reports, skipped: plan.skipped, problems };
}
