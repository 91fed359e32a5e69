// SQLite implementation of DatasetStore on better-sqlite3: one file per site, WAL mode,
// foreign keys on, versioned migrations (migrations.ts), every multi-row write in one transaction.
// Imports stage rows in a TEMP table (outside the main database file) and move them into `samples`
// with a single INSERT ... SELECT inside one transaction at commit, so a failed or cancelled import
// never touches the live tables. SQLite errors surface as FedSegError with the file named:
// read-only files, a full disk (or the optional page-count cap), a locked or corrupt database.
import Database from 'better-sqlite3';
import { FedSegError } from '../contract/errors.js';
import {
  bytesToF32, checkAudit, checkCheckpoint, checkJson, checkMetrics, checkName, checkNewDataset, checkSample, checkSplit,
  checkWindow, decodeImage, decodeMask, encodingFor, f32ToBytes,
} from './codec.js';
import type {
  AmplitudeQuery, AmplitudeWindowRecord, AuditEntry, EncodedSample, AuditQuery, CheckpointInfo, DatasetInfo, DatasetStore, ImportSession,
  ImportTarget, NewAmplitudeWindow, NewAuditEntry, NewCheckpoint, NewDataset, NewRun, NewSample, RoundMetrics, RunInfo,
  RunStatus, SampleQuery, SampleSplit, SampleSummary, StoredSample, StoreOptions,
} from './dataset-store.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from './migrations.js';
import { acquireInstanceLock, type InstanceLock } from './instance-lock.js';
import { preparePrivateDbFile, tightenDbCompanions, type Warn } from '../secrets/file-modes.js';

export interface SqliteStoreOptions extends StoreOptions {
  /** Open without write access (every write fails with a clear DB_ERROR). */
  readonly?: boolean;
  /** Cap on the database size in pages (PRAGMA max_page_count); writes past it fail as "full". */
  maxPageCount?: number;
  /** Migrate only up to this version (tests of the migration path). Default: latest. */
  migrateTo?: number;
  /**
   * Hold `<path>.lock` while open: a second FedSeg (app, serve, site) on the same store is refused with
   * the pid that has it (docs/security.md §5). Ignored for read-only opens.
   */
  instanceLock?: boolean;
  /** Where a warning about loose file modes goes (default: stderr). */
  warn?: Warn;
}

type Row = Record<string, unknown>;

const SAMPLE_COLS_BASE = `id, dataset_id, name, split, width, height, channels, classes, image_dtype, spacing_row, spacing_col,
  img_min, img_max, img_mean, img_std, foreground, meta`;

let stageCounter = 0;

function parseJson<T>(s: unknown, fallback: T): T {
  if (typeof s !== 'string') return fallback;
  return JSON.parse(s) as T;
}

/** `WHERE c1 AND c2 ...` over the conditions whose `use` is true ('' when none), with their arguments in order. */
function whereAll(terms: readonly [cond: string, arg: unknown, use: boolean][]): { sql: string; args: unknown[] } {
  const used = terms.filter((t) => t[2]);
  return { sql: used.length ? `WHERE ${used.map((t) => t[0]).join(' AND ')}` : '', args: used.map((t) => t[1]) };
}

/** Opens (creating and migrating if needed) the SQLite catalogue at `path`. */
export function openSqliteStore(path: string, opts: SqliteStoreOptions = {}): DatasetStore {
  const now = opts.now ?? (() => new Date());
  const ts = (): string => now().toISOString();

  const wrap = (e: unknown, what: string): FedSegError => {
    if (e instanceof FedSegError) return e;
    const code = (e as { code?: string }).code ?? '';
    const msg = (e as Error).message ?? String(e);
    if (code.startsWith('SQLITE_READONLY')) return new FedSegError('DB_ERROR', `${what}: database ${path} is read-only (${msg})`, { cause: e });
    if (code === 'SQLITE_FULL') return new FedSegError('DB_ERROR', `${what}: database ${path} is full (disk full or size limit reached); nothing was written`, { cause: e });
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return new FedSegError('DB_ERROR', `${what}: database ${path} is locked by another process`, { cause: e });
    if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') return new FedSegError('CORRUPT_FILE', `${what}: ${path} is not a valid FedSeg database (${msg})`, { cause: e });
    if (code === 'SQLITE_CANTOPEN') return new FedSegError('IO_ERROR', `${what}: cannot open database file ${path} (${msg})`, { cause: e });
    if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return new FedSegError('ALREADY_EXISTS', `${what}: ${msg}`, { cause: e });
    if (code.startsWith('SQLITE_CONSTRAINT')) return new FedSegError('INVALID_ARGUMENT', `${what}: ${msg}`, { cause: e });
    if (code.startsWith('SQLITE_IOERR')) return new FedSegError('IO_ERROR', `${what}: I/O error on ${path} (${msg})`, { cause: e });
    return new FedSegError('DB_ERROR', `${what}: ${msg}`, { cause: e });
  };

  // A file of this site's data is the user's alone (docs/security.md §5): created 0600 before SQLite opens
  // it (SQLite gives -wal/-shm the same mode), loose modes of this user's files tightened. Read-only opens
  // change nothing: they may read a file of another user.
  const onDisk = path !== '' && path !== ':memory:' && !path.startsWith('file:');
  const writable = !(opts.readonly ?? false);
  let lock: InstanceLock | null = null;
  if (onDisk && writable && opts.instanceLock) lock = acquireInstanceLock(path);
  let db: Database.Database;
  try {
    if (onDisk && writable) preparePrivateDbFile(path, opts.warn);
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (e) {
    lock?.release();
    throw wrap(e, 'open');
  }
  try {
    db.pragma('foreign_keys = ON');
    // Deleted and overwritten rows (an old plain token, a deleted image) are zeroed in their pages.
    if (writable) db.pragma('secure_delete = FAST');
    db.pragma('busy_timeout = 5000');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > LATEST_SCHEMA_VERSION) {
      throw new FedSegError('VERSION_MISMATCH', `database ${path} has schema version ${version}, newer than this FedSeg supports (${LATEST_SCHEMA_VERSION}); upgrade FedSeg`);
    }
    const target = opts.migrateTo ?? LATEST_SCHEMA_VERSION;
    if (!opts.readonly) {
      // A new file gets 16 KiB pages (SQLite's default is 4 KiB): samples are blobs of 10-500 KB, and
      // fewer overflow pages make an import's one-transaction copy into `samples` ~1.7x faster
      // (docs/measured.md §11). The page size is fixed once the file has tables or is in WAL mode.
      if (version === 0 && !db.prepare("SELECT 1 FROM sqlite_master LIMIT 1").get()) db.pragma('page_size = 16384');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      for (const m of MIGRATIONS) {
        if (m.version <= version || m.version > target) continue;
        db.transaction(() => {
          db.exec(m.sql);
          db.pragma(`user_version = ${m.version}`);
        }).immediate();
      }
    } else if (version < target) {
      throw new FedSegError('DB_ERROR', `database ${path} is read-only and needs migrating from schema version ${version} to ${target}`);
    }
    if (opts.maxPageCount !== undefined) db.pragma(`max_page_count = ${Math.max(1, Math.floor(opts.maxPageCount))}`);
    if (onDisk && writable) tightenDbCompanions(path, opts.warn);
  } catch (e) {
    db.close();
    lock?.release();
    throw wrap(e, 'open');
  }

  // Schema >= 3 stores masks bit-packed (mask_encoding 'bits'); older schemas (only reachable with
  // migrateTo) store one byte per value.
  const maskBits = (db.pragma('user_version', { simple: true }) as number) >= 3;
  const SAMPLE_COLS = `${SAMPLE_COLS_BASE}, ${maskBits ? 'mask_encoding' : "'u8' AS mask_encoding"}`;

  const guard = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw wrap(e, what);
    }
  };
  // Writes begin IMMEDIATE: a deferred transaction that reads first (a dataset check before an insert)
  // and then finds another connection writing (the app's API thread and its job worker share the file)
  // gets SQLITE_BUSY at once, because SQLite never runs the busy handler for a read-to-write upgrade.
  // IMMEDIATE takes the write lock at BEGIN, where busy_timeout applies. (Nested calls are savepoints.)
  const tx = <T>(fn: () => T): T => (writable ? db.transaction(fn).immediate() : db.transaction(fn)());

  // ---- row mapping ------------------------------------------------------------------------------
  const datasetRow = (r: Row): DatasetInfo => ({
    id: r.id as number,
    name: r.name as string,
    kind: r.kind as string,
    source: r.source as string,
    channels: r.channels as number,
    classes: r.classes as number,
    classNames: parseJson<string[]>(r.class_names, []),
    meta: parseJson<Record<string, unknown>>(r.meta, {}),
    createdAt: r.created_at as string,
    sampleCount: (r.sample_count as number) ?? 0,
  });
  const DATASET_SELECT = `SELECT d.*, (SELECT COUNT(*) FROM samples s WHERE s.dataset_id = d.id) AS sample_count FROM datasets d`;
  const summaryRow = (r: Row): SampleSummary => ({
    id: r.id as number,
    datasetId: r.dataset_id as number,
    name: r.name as string,
    split: (r.split as SampleSplit | null) ?? null,
    width: r.width as number,
    height: r.height as number,
    channels: r.channels as number,
    classes: r.classes as number,
    imageDtype: r.image_dtype as 'uint8' | 'float32',
    spacing: r.spacing_row == null ? null : [r.spacing_row as number, r.spacing_col as number],
    min: r.img_min as number,
    max: r.img_max as number,
    mean: r.img_mean as number,
    std: r.img_std as number,
    foreground: parseJson<number[]>(r.foreground, []),
    meta: parseJson<Record<string, unknown>>(r.meta, {}),
  });
  const fullRow = (r: Row): StoredSample => {
    const what = `sample ${String(r.id)} ('${String(r.name)}')`;
    const s = summaryRow(r);
    const sample: StoredSample = {
      id: s.id,
      datasetId: s.datasetId,
      name: s.name,
      split: s.split,
      spacing: s.spacing,
      image: decodeImage(s.imageDtype, r.image as Uint8Array, s.width, s.height, s.channels, what),
      mask: decodeMask(r.mask as Uint8Array, s.width, s.height, s.classes, what, r.mask_encoding as 'bits' | 'u8'),
    };
    if (Object.keys(s.meta).length) sample.meta = s.meta;
    return sample;
  };
  const checkpointRow = (r: Row): CheckpointInfo => ({
    id: r.id as number,
    name: r.name as string,
    runId: (r.run_id as number | null) ?? null,
    round: (r.round as number | null) ?? null,
    modelKind: r.model_kind as string,
    bytes: r.bytes as number,
    sha256: r.sha256 as string,
    meta: parseJson<Record<string, unknown>>(r.meta, {}),
    createdAt: r.created_at as string,
  });
  const runRow = (r: Row): RunInfo => ({
    id: r.id as number,
    name: r.name as string,
    status: r.status as RunStatus,
    config: parseJson<Record<string, unknown>>(r.config, {}),
    summary: parseJson<Record<string, unknown> | null>(r.summary, null),
    startedAt: r.started_at as string,
    finishedAt: (r.finished_at as string | null) ?? null,
  });
  const windowRow = (r: Row): AmplitudeWindowRecord => ({
    id: r.id as number,
    source: r.source as 'local' | 'received',
    site: r.site as string,
    datasetId: (r.dataset_id as number | null) ?? null,
    sampleName: (r.sample_name as string | null) ?? null,
    alpha: r.alpha as number,
    round: (r.round as number | null) ?? null,
    createdAt: r.created_at as string,
    window: { channels: r.channels as number, halfWidth: r.half_width as number, data: bytesToF32(r.data as Uint8Array, `amplitude window ${String(r.id)}`) },
  });
  const auditRow = (r: Row): AuditEntry => ({
    id: r.id as number,
    at: r.at as string,
    direction: r.direction as 'out' | 'in',
    kind: r.kind as string,
    bytes: r.bytes as number,
    peer: r.peer as string,
    summary: r.summary as string,
  });

  // ---- statements (prepared lazily: a read-only or old-schema DB may lack tables) ---------------
  const stmts = new Map<string, Database.Statement>();
  const st = (sql: string): Database.Statement => {
    let s = stmts.get(sql);
    if (!s) {
      s = db.prepare(sql);
      stmts.set(sql, s);
    }
    return s;
  };

  const mustDataset = (id: number): DatasetInfo => {
    const r = st(`${DATASET_SELECT} WHERE d.id = ?`).get(id) as Row | undefined;
    if (!r) throw new FedSegError('NOT_FOUND', `dataset ${id} does not exist`);
    return datasetRow(r);
  };
  const insertDataset = (d: NewDataset): number => {
    const v = checkNewDataset(d);
    const exists = st('SELECT id FROM datasets WHERE name = ?').get(v.name);
    if (exists) throw new FedSegError('ALREADY_EXISTS', `a dataset named '${v.name}' already exists`);
    const info = st('INSERT INTO datasets (name, kind, source, channels, classes, class_names, meta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(v.name, v.kind, v.source, v.channels, v.classes, JSON.stringify(v.classNames), checkJson(v.meta, 'dataset meta'), ts());
    return Number(info.lastInsertRowid);
  };

  const sampleValues = (s: NewSample, ds: DatasetInfo, given?: EncodedSample): unknown[] => {
    checkSample(s, ds.channels, ds.classes, ds.name);
    const e = encodingFor(s, given, `sample '${s.name}' of dataset '${ds.name}'`);
    const vals = [s.name, checkSplit(s.split, s.name), s.image.width, s.image.height, s.image.channels, s.mask.classes, e.imageDtype, e.image,
      maskBits ? e.mask : s.mask.data.slice(), s.spacing ? s.spacing[0] : null, s.spacing ? s.spacing[1] : null, e.min, e.max, e.mean, e.std,
      JSON.stringify(e.foreground), checkJson(s.meta ?? {}, `sample '${s.name}' meta`)];
    if (maskBits) vals.push('bits');
    return vals;
  };
  const SAMPLE_INSERT_COLS = `name, split, width, height, channels, classes, image_dtype, image, mask, spacing_row, spacing_col,
    img_min, img_max, img_mean, img_std, foreground, meta${maskBits ? ', mask_encoding' : ''}`;
  const NCOLS = maskBits ? 18 : 17;

  const sampleWhere = (datasetId: number, q: SampleQuery): { sql: string; args: unknown[] } => {
    const args: unknown[] = [datasetId];
    let sql = 'WHERE dataset_id = ?';
    if (q.split) {
      sql += ' AND split = ?';
      args.push(checkSplit(q.split, 'query'));
    }
    return { sql, args };
  };
  const page = (q: SampleQuery): { limit: number; offset: number } => {
    const limit = q.limit ?? -1;
    const offset = q.offset ?? 0;
    if (!Number.isInteger(limit) || limit < -1 || !Number.isInteger(offset) || offset < 0) {
      throw new FedSegError('INVALID_ARGUMENT', `sample query: limit/offset must be integers >= 0, got ${q.limit}/${q.offset}`);
    }
    return { limit, offset };
  };

  const windowWhere = (q: AmplitudeQuery): { sql: string; args: unknown[] } =>
    whereAll([
      ['source = ?', q.source, Boolean(q.source)],
      ['site = ?', q.site, q.site !== undefined],
      ['dataset_id = ?', q.datasetId, q.datasetId !== undefined],
    ]);

  let closed = false;
  const stageTables = new Set<string>();

  const store: DatasetStore = {
    backend: 'sqlite',
    schemaVersion: () => guard('schemaVersion', () => db.pragma('user_version', { simple: true }) as number),
    transaction: <T>(fn: () => T): T => guard('transaction', () => tx(fn)),
    close(): void {
      if (closed) return;
      closed = true;
      for (const t of [...stageTables]) {
        try {
          db.exec(`DROP TABLE IF EXISTS temp.${t}`);
        } catch {
          /* closing anyway */
        }
      }
      try {
        db.close();
      } finally {
        lock?.release();
      }
    },

    createDataset: (d) => guard(`create dataset '${String(d?.name)}'`, () => tx(() => mustDataset(insertDataset(d)))),
    getDataset: (idOrName) => guard('get dataset', () => {
      const r = (typeof idOrName === 'number'
        ? st(`${DATASET_SELECT} WHERE d.id = ?`).get(idOrName)
        : st(`${DATASET_SELECT} WHERE d.name = ?`).get(idOrName)) as Row | undefined;
      return r ? datasetRow(r) : null;
    }),
    listDatasets: () => guard('list datasets', () => (st(`${DATASET_SELECT} ORDER BY d.id`).all() as Row[]).map(datasetRow)),
    renameDataset: (id, name) => guard(`rename dataset ${id}`, () => tx(() => {
      checkName(name, 'dataset');
      mustDataset(id);
      const other = st('SELECT id FROM datasets WHERE name = ? AND id != ?').get(name, id);
      if (other) throw new FedSegError('ALREADY_EXISTS', `a dataset named '${name}' already exists`);
      st('UPDATE datasets SET name = ? WHERE id = ?').run(name, id);
      return mustDataset(id);
    })),
    deleteDataset: (id) => guard(`delete dataset ${id}`, () => tx(() => {
      mustDataset(id);
      st('DELETE FROM datasets WHERE id = ?').run(id);
    })),

    addSamples: (datasetId, samples) => guard(`add samples to dataset ${datasetId}`, () => tx(() => {
      const ds = mustDataset(datasetId);
      const seen = new Set<string>();
      const ins = st(`INSERT INTO samples (dataset_id, ${SAMPLE_INSERT_COLS}) VALUES (?${', ?'.repeat(NCOLS)})`);
      const exists = st('SELECT 1 FROM samples WHERE dataset_id = ? AND name = ?');
      const ids: number[] = [];
      for (const s of samples) {
        if (seen.has(s.name) || exists.get(datasetId, s.name)) {
          throw new FedSegError('ALREADY_EXISTS', `dataset '${ds.name}' already has a sample named '${s.name}'`);
        }
        seen.add(s.name);
        ids.push(Number(ins.run(datasetId, ...sampleValues(s, ds)).lastInsertRowid));
      }
      return ids;
    })),

    beginImport: (target: ImportTarget): ImportSession => guard('begin import', () => {
      let ds: DatasetInfo;
      let newDataset: NewDataset | null = null;
      if ('dataset' in target) {
        const v = checkNewDataset(target.dataset);
        if (st('SELECT id FROM datasets WHERE name = ?').get(v.name)) throw new FedSegError('ALREADY_EXISTS', `a dataset named '${v.name}' already exists`);
        newDataset = target.dataset;
        ds = { id: -1, ...v, createdAt: '', sampleCount: 0 };
      } else {
        ds = mustDataset(target.datasetId);
      }
      const table = `import_stage_${process.pid}_${++stageCounter}`;
      db.exec(`CREATE TEMP TABLE ${table} (seq INTEGER PRIMARY KEY, ${SAMPLE_INSERT_COLS.replace('name,', 'name UNIQUE,')})`);
      stageTables.add(table);
      const ins = db.prepare(`INSERT INTO temp.${table} (${SAMPLE_INSERT_COLS}) VALUES (?${', ?'.repeat(NCOLS - 1)})`);
      const dup = db.prepare(`SELECT 1 FROM temp.${table} WHERE name = ?`);
      let state: 'open' | 'committed' | 'aborted' = 'open';
      let staged = 0;
      const drop = (): void => {
        stageTables.delete(table);
        if (!closed) db.exec(`DROP TABLE IF EXISTS temp.${table}`);
      };
      const mustOpen = (op: string): void => {
        if (state !== 'open') throw new FedSegError('INVALID_ARGUMENT', `import into '${ds.name}': cannot ${op}, the import was already ${state}`);
      };
      return {
        get staged() {
          return staged;
        },
        add: (samples, encoded) => guard(`import into '${ds.name}'`, () => {
          mustOpen('add samples');
          if (encoded && encoded.length !== samples.length) throw new FedSegError('INVALID_ARGUMENT', `import into '${ds.name}': ${encoded.length} encodings for ${samples.length} samples`);
          tx(() => {
            for (const [i, s] of samples.entries()) {
              const existing = ds.id >= 0 && st('SELECT 1 FROM samples WHERE dataset_id = ? AND name = ?').get(ds.id, s?.name);
              if (dup.get(s?.name) || existing) throw new FedSegError('ALREADY_EXISTS', `duplicate sample name '${s.name}' in dataset '${ds.name}'`);
              ins.run(...sampleValues(s, ds, encoded?.[i]));
            }
          });
          staged += samples.length;
        }),
        commit: () => guard(`import into '${ds.name}'`, () => {
          mustOpen('commit');
          const id = tx(() => {
            const id = newDataset ? insertDataset(newDataset) : ds.id;
            mustDataset(id);
            db.prepare(`INSERT INTO samples (dataset_id, ${SAMPLE_INSERT_COLS}) SELECT ?, ${SAMPLE_INSERT_COLS} FROM temp.${table} ORDER BY seq`).run(id);
            return id;
          });
          state = 'committed';
          drop();
          return mustDataset(id);
        }),
        abort: () => {
          if (state !== 'open') return;
          state = 'aborted';
          guard('abort import', drop);
        },
      };
    }),

    countSamples: (datasetId, split) => guard('count samples', () => {
      const w = sampleWhere(datasetId, { split });
      return (st(`SELECT COUNT(*) AS n FROM samples ${w.sql}`).get(...w.args) as Row).n as number;
    }),
    listSamples: (datasetId, q = {}) => guard('list samples', () => {
      const w = sampleWhere(datasetId, q);
      const p = page(q);
      return (st(`SELECT ${SAMPLE_COLS} FROM samples ${w.sql} ORDER BY id LIMIT ? OFFSET ?`).all(...w.args, p.limit, p.offset) as Row[]).map(summaryRow);
    }),
    getSample: (id) => guard(`get sample ${id}`, () => {
      const r = st(`SELECT ${SAMPLE_COLS}, image, mask FROM samples WHERE id = ?`).get(id) as Row | undefined;
      return r ? fullRow(r) : null;
    }),
    getSampleByName: (datasetId, name) => guard(`get sample '${name}'`, () => {
      const r = st(`SELECT ${SAMPLE_COLS}, image, mask FROM samples WHERE dataset_id = ? AND name = ?`).get(datasetId, name) as Row | undefined;
      return r ? fullRow(r) : null;
    }),
    loadSamples: (datasetId, q = {}) => guard(`load samples of dataset ${datasetId}`, () => {
      mustDataset(datasetId);
      const w = sampleWhere(datasetId, q);
      const p = page(q);
      return (st(`SELECT ${SAMPLE_COLS}, image, mask FROM samples ${w.sql} ORDER BY id LIMIT ? OFFSET ?`).all(...w.args, p.limit, p.offset) as Row[]).map(fullRow);
    }),
    *iterateSamples(datasetId, q = {}) {
      // Pages of 32 by id, so callers may write to the store between items.
      const w = sampleWhere(datasetId, q);
      const p = page(q);
      let remaining = p.limit < 0 ? Infinity : p.limit;
      let offset = p.offset;
      let lastId = -1;
      while (remaining > 0) {
        const n = Math.min(32, remaining);
        const rows = guard('iterate samples', () => st(`SELECT ${SAMPLE_COLS}, image, mask FROM samples ${w.sql} AND id > ? ORDER BY id LIMIT ? OFFSET ?`)
          .all(...w.args, lastId, n, offset) as Row[]);
        offset = 0;
        if (rows.length === 0) return;
        for (const r of rows) {
          lastId = r.id as number;
          remaining--;
          yield fullRow(r);
        }
      }
    },
    deleteSamples: (ids) => guard('delete samples', () => tx(() => {
      const del = st('DELETE FROM samples WHERE id = ?');
      for (const id of ids) del.run(id);
    })),
    setSplit: (ids, split) => guard('set split', () => tx(() => {
      const sp = checkSplit(split, 'setSplit');
      const up = st('UPDATE samples SET split = ? WHERE id = ?');
      for (const id of ids) up.run(sp, id);
    })),

    putAmplitudeWindows: (ws: NewAmplitudeWindow[]) => guard('store amplitude windows', () => tx(() => {
      const ins = st(`INSERT INTO amplitude_windows (source, site, dataset_id, sample_name, alpha, round, channels, half_width, data, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      return ws.map((w) => {
        checkWindow(w);
        if (w.datasetId != null) mustDataset(w.datasetId);
        return Number(ins.run(w.source, w.site, w.datasetId ?? null, w.sampleName ?? null, w.alpha, w.round ?? null, w.window.channels,
          w.window.halfWidth, f32ToBytes(w.window.data), ts()).lastInsertRowid);
      });
    })),
    listAmplitudeWindows: (q = {}) => guard('list amplitude windows', () => {
      const w = windowWhere(q);
      return (st(`SELECT * FROM amplitude_windows ${w.sql} ORDER BY id`).all(...w.args) as Row[]).map(windowRow);
    }),
    deleteAmplitudeWindows: (q = {}) => guard('delete amplitude windows', () => tx(() => {
      const w = windowWhere(q);
      return st(`DELETE FROM amplitude_windows ${w.sql}`).run(...w.args).changes;
    })),

    saveCheckpoint: (c: NewCheckpoint) => guard(`save checkpoint '${String(c?.name)}'`, () => tx(() => {
      const sha = checkCheckpoint(c);
      if (c.runId != null && !st('SELECT 1 FROM runs WHERE id = ?').get(c.runId)) throw new FedSegError('NOT_FOUND', `run ${c.runId} does not exist`);
      const info = st(`INSERT INTO checkpoints (run_id, name, round, model_kind, bytes, sha256, blob, meta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(c.runId ?? null, c.name, c.round ?? null, c.modelKind, c.blob.byteLength, sha, c.blob, checkJson(c.meta ?? {}, 'checkpoint meta'), ts());
      return checkpointRow(st('SELECT * FROM checkpoints WHERE id = ?').get(Number(info.lastInsertRowid)) as Row);
    })),
    listCheckpoints: (q = {}) => guard('list checkpoints', () => {
      const rows = (q.runId !== undefined
        ? st('SELECT id, run_id, name, round, model_kind, bytes, sha256, meta, created_at FROM checkpoints WHERE run_id = ? ORDER BY id').all(q.runId)
        : st('SELECT id, run_id, name, round, model_kind, bytes, sha256, meta, created_at FROM checkpoints ORDER BY id').all()) as Row[];
      return rows.map(checkpointRow);
    }),
    getCheckpoint: (id) => guard(`get checkpoint ${id}`, () => {
      const r = st('SELECT id, run_id, name, round, model_kind, bytes, sha256, meta, created_at FROM checkpoints WHERE id = ?').get(id) as Row | undefined;
      return r ? checkpointRow(r) : null;
    }),
    loadCheckpoint: (id) => guard(`load checkpoint ${id}`, () => {
      const r = st('SELECT blob FROM checkpoints WHERE id = ?').get(id) as Row | undefined;
      if (!r) throw new FedSegError('NOT_FOUND', `checkpoint ${id} does not exist`);
      return new Uint8Array(r.blob as Uint8Array);
    }),
    latestCheckpoint: (q = {}) => guard('latest checkpoint', () => {
      const order = 'ORDER BY (round IS NULL), round DESC, id DESC LIMIT 1';
      const cols = 'id, run_id, name, round, model_kind, bytes, sha256, meta, created_at';
      const r = (q.runId !== undefined
        ? st(`SELECT ${cols} FROM checkpoints WHERE run_id = ? ${order}`).get(q.runId)
        : st(`SELECT ${cols} FROM checkpoints ${order}`).get()) as Row | undefined;
      return r ? checkpointRow(r) : null;
    }),
    deleteCheckpoint: (id) => guard(`delete checkpoint ${id}`, () => {
      if (st('DELETE FROM checkpoints WHERE id = ?').run(id).changes === 0) throw new FedSegError('NOT_FOUND', `checkpoint ${id} does not exist`);
    }),

    createRun: (r: NewRun) => guard(`create run '${String(r?.name)}'`, () => {
      checkName(r.name, 'run');
      const info = st(`INSERT INTO runs (name, status, config, started_at) VALUES (?, 'running', ?, ?)`).run(r.name, checkJson(r.config ?? {}, 'run config'), ts());
      return runRow(st('SELECT * FROM runs WHERE id = ?').get(Number(info.lastInsertRowid)) as Row);
    }),
    getRun: (id) => guard(`get run ${id}`, () => {
      const r = st('SELECT * FROM runs WHERE id = ?').get(id) as Row | undefined;
      return r ? runRow(r) : null;
    }),
    listRuns: () => guard('list runs', () => (st('SELECT * FROM runs ORDER BY id').all() as Row[]).map(runRow)),
    finishRun: (id, status, summary) => guard(`finish run ${id}`, () => {
      if (!['finished', 'failed', 'cancelled'].includes(status)) throw new FedSegError('INVALID_ARGUMENT', `finishRun: status must be finished, failed or cancelled, got ${String(status)}`);
      const ch = st('UPDATE runs SET status = ?, summary = ?, finished_at = ? WHERE id = ?')
        .run(status, summary === undefined ? null : checkJson(summary, 'run summary'), ts(), id).changes;
      if (ch === 0) throw new FedSegError('NOT_FOUND', `run ${id} does not exist`);
      return runRow(st('SELECT * FROM runs WHERE id = ?').get(id) as Row);
    }),
    putRoundMetrics: (runId, round, metrics) => guard(`record round ${round} of run ${runId}`, () => {
      if (!Number.isInteger(round) || round < 0) throw new FedSegError('INVALID_ARGUMENT', `round must be an integer >= 0, got ${round}`);
      checkMetrics(metrics);
      if (!st('SELECT 1 FROM runs WHERE id = ?').get(runId)) throw new FedSegError('NOT_FOUND', `run ${runId} does not exist`);
      st('INSERT OR REPLACE INTO round_metrics (run_id, round, metrics, at) VALUES (?, ?, ?, ?)').run(runId, round, JSON.stringify(metrics), ts());
    }),
    listRoundMetrics: (runId) => guard(`list metrics of run ${runId}`, () =>
      (st('SELECT * FROM round_metrics WHERE run_id = ? ORDER BY round').all(runId) as Row[]).map((r): RoundMetrics => ({
        runId: r.run_id as number, round: r.round as number, metrics: parseJson<Record<string, number>>(r.metrics, {}), at: r.at as string,
      }))),

    getSetting: <T = unknown>(key: string): T | undefined => guard(`get setting '${key}'`, () => {
      const r = st('SELECT value FROM settings WHERE key = ?').get(key) as Row | undefined;
      return r ? (JSON.parse(r.value as string) as T) : undefined;
    }),
    setSetting: (key, value) => guard(`set setting '${key}'`, () => {
      checkName(key, 'setting');
      st('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at')
        .run(key, checkJson(value, `setting '${key}'`), ts());
    }),
    deleteSetting: (key) => guard(`delete setting '${key}'`, () => {
      st('DELETE FROM settings WHERE key = ?').run(key);
    }),
    listSettings: () => guard('list settings', () => {
      const out: Record<string, unknown> = {};
      for (const r of st('SELECT key, value FROM settings ORDER BY key').all() as Row[]) out[r.key as string] = JSON.parse(r.value as string);
      return out;
    }),

    appendAudit: (e: NewAuditEntry) => guard('append to audit log', () => {
      checkAudit(e);
      const info = st('INSERT INTO audit_log (at, direction, kind, bytes, peer, summary) VALUES (?, ?, ?, ?, ?, ?)').run(ts(), e.direction, e.kind, e.bytes, e.peer, e.summary);
      return auditRow(st('SELECT * FROM audit_log WHERE id = ?').get(Number(info.lastInsertRowid)) as Row);
    }),
    listAudit: (q: AuditQuery = {}) => guard('list audit log', () => {
      const where = whereAll([
        ['direction = ?', q.direction, Boolean(q.direction)],
        ['kind = ?', q.kind, Boolean(q.kind)],
        ['id > ?', q.afterId, q.afterId !== undefined],
      ]);
      const sql = `SELECT * FROM audit_log ${where.sql} ORDER BY id ${q.newestFirst ? 'DESC' : 'ASC'} LIMIT ?`;
      return (st(sql).all(...where.args, q.limit ?? -1) as Row[]).map(auditRow);
    }),
  };
  return store;
}
