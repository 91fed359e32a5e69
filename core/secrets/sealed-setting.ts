// A secret kept in a store's settings, sealed by a SecretBox (docs/security.md §5): the join token
// (`app.federation.token`) and the site's identity key use it, so neither is ever written to the
// database as plain text. The stored value is `{ sealed: "fsb1:..." }`; a plain string found there
// was written by a FedSeg before sealing existed and is sealed in place the first time it is read
// (where the store is writable). The setting's name is bound into the seal, so a sealed value copied
// under another name does not open.
import { FedSegError } from '../contract/errors.js';
import type { DatasetStore } from '../store/dataset-store.js';
import { isSealed, type SecretBox } from './secret-box.js';

export type SettingsLike = Pick<DatasetStore, 'getSetting' | 'setSetting' | 'deleteSetting'>;

export interface SealedSetting {
  /** The plain secret, or undefined when none is stored. Throws AUTH_FAILED / CORRUPT_FILE if it cannot be opened. */
  get(): string | undefined;
  set(plain: string): void;
  /** Whether a secret is stored (without opening it). */
  has(): boolean;
  delete(): void;
}

interface Stored {
  sealed: string;
}

function isStored(v: unknown): v is Stored {
  return typeof v === 'object' && v !== null && isSealed((v as Stored).sealed);
}

export function sealedSetting(store: SettingsLike, box: SecretBox, key: string): SealedSetting {
  const set = (plain: string) => store.setSetting(key, { sealed: box.seal(plain, key) } satisfies Stored);
  return {
    get() {
      const v = store.getSetting<unknown>(key);
      if (v === undefined || v === null) return undefined;
      if (typeof v === 'string') {
        try {
          set(v);
        } catch (e) {
          // A read-only store keeps the old plain value; it is sealed when the store is next opened for writing.
          if (!(e instanceof FedSegError && e.code === 'DB_ERROR')) throw e;
        }
        return v;
      }
      if (!isStored(v)) throw new FedSegError('CORRUPT_FILE', `setting '${key}' holds neither a sealed secret nor a plain one; it was altered`);
      return box.open(v.sealed, key);
    },
    set,
    has() {
      const v = store.getSetting<unknown>(key);
      return (typeof v === 'string' && v !== '') || isStored(v);
    },
    delete() {
      store.deleteSetting(key);
    },
  };
}
