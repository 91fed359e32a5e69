// The shared import engine: an importer turns its source into a *plan* (datasets, each a
// list of items that load lazily, plus files skipped with a reason); the runner streams the items
// (one file or volume in memory at a time), reports progress, and stages samples through
// DatasetStore.beginImport. Only when every item loaded does it commit all datasets in ONE
// transaction; any error, a cancel (AbortSignal) or a throwing progress callback aborts every
// staged import, so the database is exactly as before. A dry run loads and validates everything,
// writes nothing, and reports what would be imported, skipped and rejected.
// Dry run and import judge each item with the same code (load, optional resize, checkItem), so an
// item a dry run passes is one the import stores, and an item it flags is one the import rejects.
// With skipBad the rejected items are left out and the rest is still committed all-or-nothing;
// without it one rejected item fails the import, after every item was checked so the error can say
// how many are bad and name the first ones.
// Every item loads under the import's budget (budget.ts, docs/security.md §4 Import budgets): its
// decoded size is reserved, in plan order, before it decodes, and a refusal is that item's problem,
// reported like any other bad file.
import { FedSegError, type ErrorCode } from '../../contract/errors.js';
import { checkNewDataset, checkStorableSample } from '../../store/codec.js';
import type { DatasetInfo, DatasetStore, EncodedSample, ImportSession, NewDataset, NewSample } from '../../store/dataset-store.js';
import { resizeImageBilinear, resizeMaskNearest } from '../resize.js';
import { ImportBudget, importLimits, type ImportLimits, type LoadContext } from './budget.js';

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
  /** Leave out items that fail to load or validate (listed in the report's `rejected`) and import the rest. */
  skipBad?: boolean;
  /** Called once per item, in plan order, with its samples (after resize) or the reason it is rejected. */
  onItem?: (outcome: ItemOutcome) => void;
  /** Per-file limits and the import's decoded budget (defaults: DEFAULT_IMPORT_LIMITS in budget.ts). */
  limits?: Partial<ImportLimits>;
}

export interface ItemOutcome {
  file: string;
  dataset: string;
  /** The item's samples when it passed every check, else empty. */
  samples: NewSample[];
  /** Why the item cannot be imported; null when it passed. */
  problem: string | null;
}

export interface PlanItem {
  /** Main file of the item (for progress and error messages). */
  file: string;
  /** Loads the item's samples; `ctx.reserve` before decoding (the runner always passes a context). */
  load(ctx?: LoadContext): Promise<NewSample[]>;
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
  /** The (first probed) image files decode on png-fast.ts's direct path: decoding in this thread is cheapest. */
  directDecode?: boolean;
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
  /** Items that failed to load or validate: left out with skipBad, flagged by a dry run. */
  rejected: { file: string; message: string }[];
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isCancel(e: unknown): boolean {
  return e instanceof FedSegError && e.code === 'CANCELLED';
}

/** One problem line that names the item's file once (most loaders already start with a file name). */
export function problemLine(p: { file: string; message: string }): string {
  return p.message.startsWith(p.file) ? p.message : `${p.file}: ${p.message}`;
}

/**
 * Everything the store checks before it writes an item, without writing: names unique within the
 * dataset (`seen`, updated only when the whole item passes) and each sample storable as it is.
 */
function checkItem(samples: NewSample[], file: string, d: NewDataset, seen: Map<string, string>): EncodedSample[] {
  const own = new Set<string>();
  const encoded: EncodedSample[] = [];
  for (const s of samples) {
    const prev = seen.get(s.name) ?? (own.has(s.name) ? file : undefined);
    if (prev !== undefined) throw new FedSegError('INVALID_INPUT', `${file}: duplicate sample name '${s.name}' (also from ${prev})`);
    own.add(s.name);
    encoded.push(checkStorableSample(s, d.channels, d.classes, d.name));
  }
  for (const s of samples) seen.set(s.name, file);
  // The store is handed these encodings, so an import encodes each sample's pixels once.
  return encoded;
}

export async function runImport(store: DatasetStore | null, plan: ImportPlan, opts: CommonImportOptions = {}): Promise<ImportReport> {
  const dry = opts.dryRun ?? false;
  const budget = new ImportBudget(importLimits(opts.limits));
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
  const rejected: { file: string; message: string }[] = [];
  // The strict import's error keeps the first bad file's code (a corrupt file stays CORRUPT_FILE).
  let firstCode: ErrorCode | null = null;
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
    const p = flat[j]!.item.load(budget.context(j));
    // Whatever happens to it, later items stop waiting for this one's reservation.
    void p.then(() => budget.pass(j), () => budget.pass(j));
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
      let samples: NewSample[] = [];
      let problem: string | null = null;
      let encoded: EncodedSample[] = [];
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
        encoded = checkItem(samples, item.file, d.dataset, seen[di]!);
      } catch (e) {
        if (isCancel(e)) throw e;
        problem = message(e);
        firstCode ??= e instanceof FedSegError ? e.code : 'INVALID_INPUT';
        samples = [];
      }
      budget.consumed(j);
      if (problem !== null) {
        rejected.push({ file: item.file, message: problem });
        if (dry) problems.push({ file: item.file, message: problem });
      } else if (!dry && (opts.skipBad || rejected.length === 0)) {
        // A strict import that already met a bad item stages nothing more: it only goes on checking.
        sessions[di]!.add(samples, encoded);
        staged += samples.length;
      } else if (dry) {
        staged += samples.length;
      }
      opts.onItem?.({ file: item.file, dataset: d.dataset.name, samples, problem });
      for (const s of samples) {
        const key = `${s.image.width}x${s.image.height}`;
        rep.sizes[key] = (rep.sizes[key] ?? 0) + 1;
        const sp = s.split ?? 'none';
        rep.splits[sp] = (rep.splits[sp] ?? 0) + 1;
      }
      rep.samples += samples.length;
      done++;
      progress({ phase: 'read', file: item.file, dataset: d.dataset.name });
    }
    if (!dry) {
      if (opts.signal?.aborted) throw new FedSegError('CANCELLED', 'import cancelled; nothing was written');
      const good = done - rejected.length;
      if (rejected.length && !opts.skipBad) {
        const first = rejected.slice(0, 3).map(problemLine).join('; ');
        throw new FedSegError(firstCode ?? 'INVALID_INPUT', `${rejected.length} of ${total} file(s) cannot be imported (${first}${rejected.length > 3 ? '; …' : ''}); nothing was imported${good > 0 ? `; skip the bad files to import the other ${good}` : ''}`);
      }
      if (good === 0) throw new FedSegError('INVALID_INPUT', `import: nothing to import, every file has a problem (${rejected.slice(0, 3).map(problemLine).join('; ')})`);
      progress({ phase: 'commit' });
      // A dataset whose every item was skipped is not created (an empty dataset would only mislead).
      const infos: (DatasetInfo | null)[] = store!.transaction(() => sessions.map((s) => (s.staged > 0 ? s.commit() : null)));
      infos.forEach((info, i) => {
        reports[i]!.id = info?.id ?? null;
        if (!info) sessions[i]!.abort();
      });
    }
  } catch (e) {
    budget.close();
    for (const s of sessions) s.abort();
    throw e;
  }
  progress({ phase: 'done' });
  return { dryRun: dry, datasets: reports, skipped: plan.skipped, problems, rejected };
}
