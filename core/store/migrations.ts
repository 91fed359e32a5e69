// Versioned schema migrations for the SQLite catalogue. The schema version lives in
// PRAGMA user_version; each migration runs in its own transaction and bumps it. A database written
// by a newer FedSeg (user_version above the last migration here) is refused, never modified.

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'datasets, samples, amplitude windows, runs, round metrics, checkpoints, settings, audit log',
    sql: `
CREATE TABLE datasets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  source TEXT NOT NULL,
  channels INTEGER NOT NULL CHECK (channels > 0),
  classes INTEGER NOT NULL CHECK (classes > 0),
  class_names TEXT NOT NULL,
  meta TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE samples (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  split TEXT CHECK (split IN ('train', 'test', 'val')),
  width INTEGER NOT NULL,
  height INTEGER NOT NULL,
  channels INTEGER NOT NULL,
  classes INTEGER NOT NULL,
  image_dtype TEXT NOT NULL CHECK (image_dtype IN ('uint8', 'float32')),
  image BLOB NOT NULL,
  mask BLOB NOT NULL,
  spacing_row REAL,
  spacing_col REAL,
  img_min REAL NOT NULL,
  img_max REAL NOT NULL,
  img_mean REAL NOT NULL,
  img_std REAL NOT NULL,
  foreground TEXT NOT NULL,
  meta TEXT NOT NULL,
  UNIQUE (dataset_id, name)
);
CREATE TABLE amplitude_windows (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL CHECK (source IN ('local', 'received')),
  site TEXT NOT NULL,
  dataset_id INTEGER REFERENCES datasets(id) ON DELETE CASCADE,
  sample_name TEXT,
  alpha REAL NOT NULL,
  round INTEGER,
  channels INTEGER NOT NULL,
  half_width INTEGER NOT NULL,
  data BLOB NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'cancelled')),
  config TEXT NOT NULL,
  summary TEXT,
  started_at TEXT NOT NULL,
  finished_at TEXT
);
CREATE TABLE round_metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  round INTEGER NOT NULL,
  metrics TEXT NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY (run_id, round)
);
CREATE TABLE checkpoints (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
  name TEXT NOT NULL,
  round INTEGER,
  model_kind TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  blob BLOB NOT NULL,
  meta TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  direction TEXT NOT NULL CHECK (direction IN ('out', 'in')),
  kind TEXT NOT NULL,
  bytes INTEGER NOT NULL CHECK (bytes >= 0),
  peer TEXT NOT NULL,
  summary TEXT NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
`,
  },
  {
    version: 2,
    description: 'indexes for paging samples, listing windows/checkpoints and tailing the audit log',
    sql: `
CREATE INDEX samples_by_dataset ON samples (dataset_id, split, id);
CREATE INDEX windows_by_source ON amplitude_windows (source, site);
CREATE INDEX checkpoints_by_run ON checkpoints (run_id, round);
CREATE INDEX audit_by_kind ON audit_log (direction, kind, id);
`,
  },
  {
    version: 3,
    description: "bit-packed mask blobs for new rows (mask_encoding 'bits'); rows from earlier versions stay 'u8'",
    sql: `
ALTER TABLE samples ADD COLUMN mask_encoding TEXT NOT NULL DEFAULT 'u8' CHECK (mask_encoding IN ('u8', 'bits'));
`,
  },
];

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
