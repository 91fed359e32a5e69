// What every engine module shares: the store, the event emitter and a few helpers for ids.
// Store ids are integers; the app API uses strings (opaque to the renderer).
import type { AppEventName, EventPayload } from '../contract/app-api.js';
import { FedSegError } from '../contract/errors.js';
import type { SecretBox } from '../secrets/secret-box.js';
import type { DatasetInfo, DatasetStore } from '../store/dataset-store.js';

export interface EngineContext {
  store: DatasetStore;
  dbPath: string;
  /** Seals the secrets kept in the store (join token, identity key; docs/security.md §5). Default: a file box next to dbPath. */
  secrets?: SecretBox;
  emit<E extends AppEventName>(event: E, payload: EventPayload<E>): void;
  /** Human description of the compute backend (initialised lazily). */
  backend(): Promise<string>;
}

export function parseId(id: string, what: string): number {
  const n = Number(id);
  if (!Number.isSafeInteger(n) || n <= 0 || String(n) !== id) throw new FedSegError('INVALID_ARGUMENT', `${what} '${id}' is not a valid id`);
  return n;
}

export function requireDataset(store: DatasetStore, id: string): DatasetInfo {
  const d = store.getDataset(parseId(id, 'dataset id'));
  if (!d) throw new FedSegError('NOT_FOUND', `there is no dataset with id ${id} (it may have been deleted)`);
  return d;
}

/** A name not yet used by any dataset: "base", "base (2)", ... */
export function uniqueDatasetName(store: DatasetStore, base: string): string {
  const names = new Set(store.listDatasets().map((d) => d.name));
  if (!names.has(base)) return base;
  for (let i = 2; ; i++) if (!names.has(`${base} (${i})`)) return `${base} (${i})`;
}
