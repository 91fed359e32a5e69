// A content fingerprint of a whole DatasetStore, read through the public API only: every dataset,
// sample (pixels included), amplitude window, checkpoint blob, run, round metric, setting and audit
// entry. Equal fingerprints mean equal contents; tests use it to prove that a failed import or
// write left the store exactly as before, and that the SQLite store and its in-memory twin agree.
import { createHash } from 'node:crypto';
import type { DatasetStore } from './dataset-store.js';

export function storeFingerprint(store: DatasetStore): string {
  const h = createHash('sha256');
  const put = (v: unknown): void => {
    h.update(JSON.stringify(v));
    h.update('\n');
  };
  const bytes = (a: ArrayBufferView): void => {
    h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  };
  for (const d of store.listDatasets()) {
    put(d);
    for (const s of store.iterateSamples(d.id)) {
      put({ id: s.id, name: s.name, split: s.split, spacing: s.spacing, meta: s.meta ?? null, w: s.image.width, h: s.image.height, c: s.image.channels, k: s.mask.classes });
      bytes(s.image.data);
      bytes(s.mask.data);
    }
    put(store.listSamples(d.id));
  }
  for (const w of store.listAmplitudeWindows()) {
    put({ ...w, window: { channels: w.window.channels, halfWidth: w.window.halfWidth } });
    bytes(w.window.data);
  }
  for (const c of store.listCheckpoints()) {
    put(c);
    bytes(store.loadCheckpoint(c.id));
  }
  for (const r of store.listRuns()) {
    put(r);
    put(store.listRoundMetrics(r.id));
  }
  put(store.listSettings());
  put(store.listAudit());
  return h.digest('hex');
}
