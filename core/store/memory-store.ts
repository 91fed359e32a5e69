// In-memory twin of the SQLite DatasetStore: same validation and blob encoding
// (codec.ts), same ids (never reused, like AUTOINCREMENT), same ordering and error codes, and the
// same all-or-nothing writes (each write snapshots the state and restores it on a throw). The
// contract suite in store.contract.test.ts runs against both.
import { FedSegError } from '../contract/errors.js';
import {
  checkAudit, checkCheckpoint, checkJson, checkMetrics, checkName, checkNewDataset, checkSample, checkSplit, checkWindow, decodeImage,
  decodeMask, encodingFor, jsonClone, type EncodedSample,
} from './codec.js';
import type {
  AmplitudeQuery, AmplitudeWindowRecord, AuditEntry, CheckpointInfo, DatasetInfo, DatasetStore, ImportSession, ImportTarget, NewDataset,
  NewSample, RoundMetrics, RunInfo, SampleQuery, SampleSplit, SampleSummary, StoredSample, StoreOptions,
} from './dataset-store.js';
import { LATEST_SCHEMA_VERSION } from './migrations.js';

interface DatasetRec {
  info: Omit<DatasetInfo, 'sampleCount'>;
}

interface SampleRec {
  summary: SampleSummary;
  enc: EncodedSample;
}

interface State {
  datasets: Map<number, DatasetRec>;
  samples: Map<number, SampleRec>;
  windows: Map<number, AmplitudeWindowRecord>;
  runs: Map<number, RunInfo>;
  metrics: Map<string, RoundMetrics>;
  checkpoints: Map<number, { info: CheckpointInfo; blob: Uint8Array }>;
  settings: Map<string, string>;
  audit: AuditEntry[];
  seq: { dataset: number; sample: number; window: number; run: number; checkpoint: number; audit: number };
}

function snapshot(s: State): State {
  return {
    datasets: new Map(s.datasets),
    samples: new Map(s.samples),
    windows: new Map(s.windows),
    runs: new Map(s.runs),
    metrics: new Map(s.metrics),
    checkpoints: new Map(s.checkpoints),
    settings: new Map(s.settings),
    audit: [...s.audit],
    seq: { ...s.seq },
  };
}

function pageOf<T>(items: T[], q: SampleQuery): T[] {
  const limit = q.limit ?? -1;
  const offset = q.offset ?? 0;
  if (!Number.isInteger(limit) || limit < -1 || !Number.isInteger(offset) || offset < 0) {
    throw new FedSegError('INVALID_ARGUMENT', `sample query: limit/offset must be integers >= 0, got ${q.limit}/${q.offset}`);
  }
  return items.slice(offset, limit < 0 ? undefined : offset + limit);
}

export function createMemoryStore(opts: StoreOptions = {}): DatasetStore {
  const now = opts.now ?? (() => new Date());
  const ts = (): string => now().toISOString();
  let s: State = {
    datasets: new Map(), samples: new Map(), windows: new Map(), runs: new Map(), metrics: new Map(), checkpoints: new Map(),
    settings: new Map(), audit: [], seq: { dataset: 0, sample: 0, window: 0, run: 0, checkpoint: 0, audit: 0 },
  };
  let closed = false;
  const open = (): void => {
    if (closed) throw new FedSegError('DB_ERROR', 'the in-memory store is closed');
  };
  /** Runs a write all-or-nothing. */
  const mut = <T>(fn: () => T): T => {
    open();
    const before = snapshot(s);
    try {
      return fn();
    } catch (e) {
      s = before;
      throw e;
    }
  };

  const countOf = (datasetId: number, split?: SampleSplit): number => {
    let n = 0;
    for (const r of s.samples.values()) if (r.summary.datasetId === datasetId && (!split || r.summary.split === split)) n++;
    return n;
  };
  const info = (rec: DatasetRec): DatasetInfo => ({ ...jsonClone(rec.info), sampleCount: countOf(rec.info.id) });
  const mustDataset = (id: number): DatasetRec => {
    const d = s.datasets.get(id);
    if (!d) throw new FedSegError('NOT_FOUND', `dataset ${id} does not exist`);
    return d;
  };
  const byName = (name: string): DatasetRec | undefined => [...s.datasets.values()].find((d) => d.info.name === name);
  const insertDataset = (d: NewDataset): number => {
    const v = checkNewDataset(d);
    if (byName(v.name)) throw new FedSegError('ALREADY_EXISTS', `a dataset named '${v.name}' already exists`);
    checkJson(v.meta, 'dataset meta');
    const id = ++s.seq.dataset;
    s.datasets.set(id, { info: { id, ...jsonClone(v), createdAt: ts() } });
    return id;
  };
  const samplesOf = (datasetId: number, split?: SampleSplit): SampleRec[] =>
    [...s.samples.values()].filter((r) => r.summary.datasetId === datasetId && (!split || r.summary.split === split)).sort((a, b) => a.summary.id - b.summary.id);
  const hasName = (datasetId: number, name: string): boolean => samplesOf(datasetId).some((r) => r.summary.name === name);

  const prepare = (x: NewSample, ds: Omit<DatasetInfo, 'sampleCount'>, given?: EncodedSample): Omit<SampleRec, 'summary'> & { summary: Omit<SampleSummary, 'id' | 'datasetId'> } => {
    checkSample(x, ds.channels, ds.classes, ds.name);
    const enc = encodingFor(x, given, `sample '${x.name}' of dataset '${ds.name}'`);
    checkJson(x.meta ?? {}, `sample '${x.name}' meta`);
    const meta = jsonClone(x.meta ?? {});
    return {
      enc,
      summary: {
        name: x.name, split: checkSplit(x.split, x.name), width: x.image.width, height: x.image.height, channels: x.image.channels,
        classes: x.mask.classes, imageDtype: enc.imageDtype, spacing: x.spacing ? [x.spacing[0], x.spacing[1]] : null, min: enc.min, max: enc.max,
        mean: enc.mean, std: enc.std, foreground: enc.foreground, meta,
      },
    };
  };
  const insertPrepared = (datasetId: number, p: ReturnType<typeof prepare>): number => {
    const id = ++s.seq.sample;
    s.samples.set(id, { enc: p.enc, summary: { id, datasetId, ...p.summary } });
    return id;
  };
  const full = (r: SampleRec): StoredSample => {
    const x = r.summary;
    const what = `sample ${x.id} ('${x.name}')`;
    const out: StoredSample = {
      id: x.id, datasetId: x.datasetId, name: x.name, split: x.split, spacing: x.spacing ? [x.spacing[0], x.spacing[1]] : null,
      image: decodeImage(x.imageDtype, r.enc.image, x.width, x.height, x.channels, what),
      mask: decodeMask(r.enc.mask, x.width, x.height, x.classes, what),
    };
    if (Object.keys(x.meta).length) out.meta = jsonClone(x.meta);
    return out;
  };
  const windowMatch = (w: AmplitudeWindowRecord, q: AmplitudeQuery): boolean =>
    (!q.source || w.source === q.source) && (q.site === undefined || w.site === q.site) && (q.datasetId === undefined || w.datasetId === q.datasetId);
  const cloneWindow = (w: AmplitudeWindowRecord): AmplitudeWindowRecord => ({ ...w, window: { ...w.window, data: w.window.data.slice() } });
  const cloneCk = (c: CheckpointInfo): CheckpointInfo => ({ ...c, meta: jsonClone(c.meta) });
  const cloneRun = (r: RunInfo): RunInfo => jsonClone(r);

  const store: DatasetStore = {
    backend: 'memory',
    schemaVersion: () => LATEST_SCHEMA_VERSION,
    transaction: <T>(fn: () => T): T => mut(fn),
    close(): void {
      closed = true;
    },

    createDataset: (d) => mut(() => info(mustDataset(insertDataset(d)))),
    getDataset: (idOrName) => {
      open();
      const r = typeof idOrName === 'number' ? s.datasets.get(idOrName) : byName(idOrName);
      return r ? info(r) : null;
    },
    listDatasets: () => {
      open();
      return [...s.datasets.values()].sort((a, b) => a.info.id - b.info.id).map(info);
    },
    renameDataset: (id, name) => mut(() => {
      checkName(name, 'dataset');
      const d = mustDataset(id);
      const other = byName(name);
      if (other && other.info.id !== id) throw new FedSegError('ALREADY_EXISTS', `a dataset named '${name}' already exists`);
      s.datasets.set(id, { info: { ...d.info, name } });
      return info(mustDataset(id));
    }),
    deleteDataset: (id) => mut(() => {
      mustDataset(id);
      s.datasets.delete(id);
      for (const [k, r] of s.samples) if (r.summary.datasetId === id) s.samples.delete(k);
      for (const [k, w] of s.windows) if (w.datasetId === id) s.windows.delete(k);
    }),

    addSamples: (datasetId, samples) => mut(() => {
      const ds = mustDataset(datasetId).info;
      const seen = new Set<string>();
      return samples.map((x) => {
        if (seen.has(x.name) || hasName(datasetId, x.name)) throw new FedSegError('ALREADY_EXISTS', `dataset '${ds.name}' already has a sample named '${x.name}'`);
        seen.add(x.name);
        return insertPrepared(datasetId, prepare(x, ds));
      });
    }),
    beginImport: (target: ImportTarget): ImportSession => {
      open();
      let ds: Omit<DatasetInfo, 'sampleCount'>;
      let newDataset: NewDataset | null = null;
      if ('dataset' in target) {
        const v = checkNewDataset(target.dataset);
        if (byName(v.name)) throw new FedSegError('ALREADY_EXISTS', `a dataset named '${v.name}' already exists`);
        newDataset = target.dataset;
        ds = { id: -1, ...v, createdAt: '' };
      } else {
        ds = mustDataset(target.datasetId).info;
      }
      const staged: ReturnType<typeof prepare>[] = [];
      const names = new Set<string>();
      let state: 'open' | 'committed' | 'aborted' = 'open';
      const mustOpen = (op: string): void => {
        open();
        if (state !== 'open') throw new FedSegError('INVALID_ARGUMENT', `import into '${ds.name}': cannot ${op}, the import was already ${state}`);
      };
      return {
        get staged() {
          return staged.length;
        },
        add(samples: NewSample[], encoded?: readonly EncodedSample[]): void {
          mustOpen('add samples');
          if (encoded && encoded.length !== samples.length) throw new FedSegError('INVALID_ARGUMENT', `import into '${ds.name}': ${encoded.length} encodings for ${samples.length} samples`);
          const batch: ReturnType<typeof prepare>[] = [];
          const batchNames = new Set<string>();
          for (const [i, x] of samples.entries()) {
            if (names.has(x?.name) || batchNames.has(x?.name) || (ds.id >= 0 && hasName(ds.id, x.name))) {
              throw new FedSegError('ALREADY_EXISTS', `duplicate sample name '${x.name}' in dataset '${ds.name}'`);
            }
            batch.push(prepare(x, ds, encoded?.[i]));
            batchNames.add(x.name);
          }
          for (const b of batch) staged.push(b);
          for (const n of batchNames) names.add(n);
        },
        commit(): DatasetInfo {
          mustOpen('commit');
          const id = mut(() => {
            const id = newDataset ? insertDataset(newDataset) : ds.id;
            mustDataset(id);
            for (const p of staged) {
              if (hasName(id, p.summary.name)) throw new FedSegError('ALREADY_EXISTS', `duplicate sample name '${p.summary.name}' in dataset '${ds.name}'`);
              insertPrepared(id, p);
            }
            return id;
          });
          state = 'committed';
          staged.length = 0;
          return info(mustDataset(id));
        },
        abort(): void {
          if (state !== 'open') return;
          state = 'aborted';
          staged.length = 0;
        },
      };
    },

    countSamples: (datasetId, split) => {
      open();
      return countOf(datasetId, checkSplit(split, 'query') ?? undefined);
    },
    listSamples: (datasetId, q = {}) => {
      open();
      return pageOf(samplesOf(datasetId, checkSplit(q.split, 'query') ?? undefined), q).map((r) => jsonClone(r.summary));
    },
    getSample: (id) => {
      open();
      const r = s.samples.get(id);
      return r ? full(r) : null;
    },
    getSampleByName: (datasetId, name) => {
      open();
      const r = samplesOf(datasetId).find((x) => x.summary.name === name);
      return r ? full(r) : null;
    },
    loadSamples: (datasetId, q = {}) => {
      open();
      mustDataset(datasetId);
      return pageOf(samplesOf(datasetId, checkSplit(q.split, 'query') ?? undefined), q).map(full);
    },
    *iterateSamples(datasetId, q = {}) {
      open();
      for (const r of pageOf(samplesOf(datasetId, checkSplit(q.split, 'query') ?? undefined), q)) {
        if (s.samples.has(r.summary.id)) yield full(r);
      }
    },
    deleteSamples: (ids) => mut(() => {
      for (const id of ids) s.samples.delete(id);
    }),
    setSplit: (ids, split) => mut(() => {
      const sp = checkSplit(split, 'setSplit');
      for (const id of ids) {
        const r = s.samples.get(id);
        if (r) s.samples.set(id, { enc: r.enc, summary: { ...r.summary, split: sp } });
      }
    }),

    putAmplitudeWindows: (ws) => mut(() => ws.map((w) => {
      checkWindow(w);
      if (w.datasetId != null) mustDataset(w.datasetId);
      const id = ++s.seq.window;
      s.windows.set(id, {
        id, source: w.source, site: w.site, datasetId: w.datasetId ?? null, sampleName: w.sampleName ?? null, alpha: w.alpha, round: w.round ?? null,
        createdAt: ts(), window: { channels: w.window.channels, halfWidth: w.window.halfWidth, data: w.window.data.slice() },
      });
      return id;
    })),
    listAmplitudeWindows: (q = {}) => {
      open();
      return [...s.windows.values()].filter((w) => windowMatch(w, q)).sort((a, b) => a.id - b.id).map(cloneWindow);
    },
    deleteAmplitudeWindows: (q = {}) => mut(() => {
      let n = 0;
      for (const [k, w] of s.windows) {
        if (windowMatch(w, q)) {
          s.windows.delete(k);
          n++;
        }
      }
      return n;
    }),

    saveCheckpoint: (c) => mut(() => {
      const sha = checkCheckpoint(c);
      if (c.runId != null && !s.runs.has(c.runId)) throw new FedSegError('NOT_FOUND', `run ${c.runId} does not exist`);
      checkJson(c.meta ?? {}, 'checkpoint meta');
      const meta = jsonClone(c.meta ?? {});
      const id = ++s.seq.checkpoint;
      const ck: CheckpointInfo = {
        id, name: c.name, runId: c.runId ?? null, round: c.round ?? null, modelKind: c.modelKind, bytes: c.blob.byteLength, sha256: sha, meta, createdAt: ts(),
      };
      s.checkpoints.set(id, { info: ck, blob: c.blob.slice() });
      return cloneCk(ck);
    }),
    listCheckpoints: (q = {}) => {
      open();
      return [...s.checkpoints.values()].map((c) => c.info).filter((c) => q.runId === undefined || c.runId === q.runId).sort((a, b) => a.id - b.id).map(cloneCk);
    },
    getCheckpoint: (id) => {
      open();
      const c = s.checkpoints.get(id);
      return c ? cloneCk(c.info) : null;
    },
    loadCheckpoint: (id) => {
      open();
      const c = s.checkpoints.get(id);
      if (!c) throw new FedSegError('NOT_FOUND', `checkpoint ${id} does not exist`);
      return c.blob.slice();
    },
    latestCheckpoint: (q = {}) => {
      open();
      const cks = [...s.checkpoints.values()].map((c) => c.info).filter((c) => q.runId === undefined || c.runId === q.runId);
      cks.sort((a, b) => {
        if ((a.round === null) !== (b.round === null)) return a.round === null ? 1 : -1;
        if (a.round !== b.round) return (b.round ?? 0) - (a.round ?? 0);
        return b.id - a.id;
      });
      return cks[0] ? cloneCk(cks[0]) : null;
    },
    deleteCheckpoint: (id) => mut(() => {
      if (!s.checkpoints.delete(id)) throw new FedSegError('NOT_FOUND', `checkpoint ${id} does not exist`);
    }),

    createRun: (r) => mut(() => {
      checkName(r.name, 'run');
      checkJson(r.config ?? {}, 'run config');
      const config = jsonClone(r.config ?? {});
      const id = ++s.seq.run;
      const run: RunInfo = { id, name: r.name, status: 'running', config, summary: null, startedAt: ts(), finishedAt: null };
      s.runs.set(id, run);
      return cloneRun(run);
    }),
    getRun: (id) => {
      open();
      const r = s.runs.get(id);
      return r ? cloneRun(r) : null;
    },
    listRuns: () => {
      open();
      return [...s.runs.values()].sort((a, b) => a.id - b.id).map(cloneRun);
    },
    finishRun: (id, status, summary) => mut(() => {
      if (!['finished', 'failed', 'cancelled'].includes(status)) throw new FedSegError('INVALID_ARGUMENT', `finishRun: status must be finished, failed or cancelled, got ${String(status)}`);
      const r = s.runs.get(id);
      if (!r) throw new FedSegError('NOT_FOUND', `run ${id} does not exist`);
      if (summary !== undefined) checkJson(summary, 'run summary');
      const next: RunInfo = { ...r, status, summary: summary === undefined ? null : jsonClone(summary), finishedAt: ts() };
      s.runs.set(id, next);
      return cloneRun(next);
    }),
    putRoundMetrics: (runId, round, metrics) => mut(() => {
      if (!Number.isInteger(round) || round < 0) throw new FedSegError('INVALID_ARGUMENT', `round must be an integer >= 0, got ${round}`);
      checkMetrics(metrics);
      if (!s.runs.has(runId)) throw new FedSegError('NOT_FOUND', `run ${runId} does not exist`);
      s.metrics.set(`${runId}:${round}`, { runId, round, metrics: jsonClone(metrics), at: ts() });
    }),
    listRoundMetrics: (runId) => {
      open();
      return [...s.metrics.values()].filter((m) => m.runId === runId).sort((a, b) => a.round - b.round).map((m) => jsonClone(m));
    },

    getSetting: <T = unknown>(key: string): T | undefined => {
      open();
      const v = s.settings.get(key);
      return v === undefined ? undefined : (JSON.parse(v) as T);
    },
    setSetting: (key, value) => mut(() => {
      checkName(key, 'setting');
      s.settings.set(key, checkJson(value, `setting '${key}'`));
      ts(); // same clock reads as the SQLite store (which records updated_at)
    }),
    deleteSetting: (key) => mut(() => {
      s.settings.delete(key);
    }),
    listSettings: () => {
      open();
      const out: Record<string, unknown> = {};
      for (const k of [...s.settings.keys()].sort()) out[k] = JSON.parse(s.settings.get(k)!);
      return out;
    },

    appendAudit: (e) => mut(() => {
      checkAudit(e);
      const entry: AuditEntry = { id: ++s.seq.audit, at: ts(), direction: e.direction, kind: e.kind, bytes: e.bytes, peer: e.peer, summary: e.summary };
      s.audit.push(entry);
      return { ...entry };
    }),
    listAudit: (q = {}) => {
      open();
      let out = s.audit.filter((e) => (!q.direction || e.direction === q.direction) && (!q.kind || e.kind === q.kind) && (q.afterId === undefined || e.id > q.afterId));
      if (q.newestFirst) out = [...out].reverse();
      if (q.limit !== undefined && q.limit >= 0) out = out.slice(0, q.limit);
      return out.map((e) => ({ ...e }));
    },
  };
  return store;
}
