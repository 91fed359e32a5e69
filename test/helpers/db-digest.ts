// A digest of every row of every table of a SQLite file (sqlite_sequence included), read raw — not
// through the store — so "nothing was written" is checked against the file itself.
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';

export function databaseDigest(path: string): string {
  const db = new Database(path, { readonly: true });
  const hash = createHash('sha256');
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[];
  for (const { name } of tables) {
    hash.update(name);
    for (const row of db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all() as Record<string, unknown>[]) {
      for (const v of Object.values(row)) hash.update(v instanceof Uint8Array ? v : String(v));
    }
  }
  db.close();
  return hash.digest('hex');
}
