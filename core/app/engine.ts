// The engine: composes the other engineers' modules into the app API's handler table (AppHandlers
// from core/contract/app-api.ts — a method without a handler here does not compile). It owns the
// site's SQLite store, a model cache for inference, the training and federation managers (heavy work
// runs in a worker thread, see job-worker.ts) and the event stream that the shells (browser-mode
// server, Electron engine host) forward to the renderer.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AppEventName, AppHandlers, EventPayload } from '../contract/app-api.js';
import { describeBackend, initBackend } from '../backend.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { fileSecretBox, type SecretBox } from '../secrets/secret-box.js';
import type { DatasetStore } from '../store/dataset-store.js';
import type { EngineContext } from './context.js';
import { datasetHandlers } from './datasets.js';
import { federationHandlers, FederationManager } from './federation.js';
import { frequencyHandlers } from './frequency.js';
import { listModels, ModelCache } from './models.js';
import { modelRecord } from '../run/checkpoints.js';
import { outboxHandlers } from './outbox.js';
import { segmentHandlers } from './segment.js';
import { TrainingManager, trainingHandlers } from './training.js';
import { ComparisonManager, comparisonHandlers } from './comparison.js';
import { parseId } from './context.js';

export type EventListener = (event: AppEventName, payload: unknown) => void;

export interface Engine {
  handlers: AppHandlers;
  subscribe(listener: EventListener): () => void;
  close(): Promise<void>;
  readonly store: DatasetStore;
}

export interface EngineOptions {
  dbPath: string;
  mode: 'browser' | 'electron';
  /** Seals the token and identity key in the store (the desktop app's key is kept by the OS keychain); default: `secret.key` next to the store. */
  secrets?: SecretBox;
}

function appVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

export async function createEngine(opts: EngineOptions): Promise<Engine> {
  // One engine per site store: a second app or `fedseg serve` on it is refused (docs/security.md §5).
  const store = openSqliteStore(opts.dbPath, { instanceLock: true });
  const listeners = new Set<EventListener>();
  let backendDesc: Promise<string> | null = null;
  const ctx: EngineContext = {
    store,
    dbPath: opts.dbPath,
    secrets: opts.secrets ?? fileSecretBox(dirname(opts.dbPath)),
    emit<E extends AppEventName>(event: E, payload: EventPayload<E>) {
      for (const l of listeners) {
        try {
          l(event, payload);
        } catch {
          /* a broken listener must not stop the engine */
        }
      }
    },
    backend() {
      backendDesc ??= initBackend({}).then(describeBackend);
      return backendDesc;
    },
  };
  const cache = new ModelCache(store);
  const training = new TrainingManager(ctx);
  const federation = new FederationManager(ctx);
  const comparison = new ComparisonManager(ctx);
  training.otherBusy = () => federation.busyMessage() ?? comparison.busyMessage();
  training.otherRunId = () => federation.activeRunId();
  training.otherState = () => federation.progressState();
  federation.otherBusy = () => (training.isRunning() ? 'a local training is running; cancel it before joining a federation' : comparison.busyMessage());
  comparison.otherBusy = () => federation.busyMessage() ?? (training.isRunning() ? 'a local training is running; cancel it before comparing methods' : null);
  const version = appVersion();

  const handlers: AppHandlers = {
    async getAppInfo() {
      return { version, backend: await ctx.backend(), dbPath: opts.dbPath, mode: opts.mode, demoKinds: ['fundus', 'prostate', 'cells'] };
    },
    ...datasetHandlers(ctx),
    async listModels() {
      return listModels(store);
    },
    async deleteModel({ modelId }) {
      const id = parseId(modelId, 'model id');
      modelRecord(store, id, store); // only models: never a run's optimiser state or a pending federated update
      cache.forget(id);
      store.deleteCheckpoint(id);
      return {};
    },
    ...segmentHandlers(ctx, cache),
    ...frequencyHandlers(ctx, () => federation.settings().hub, () => federation.settings().policy),
    ...trainingHandlers(training),
    ...comparisonHandlers(comparison),
    ...federationHandlers(ctx, federation),
    ...outboxHandlers(ctx),
  };

  return {
    handlers,
    store,
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async close() {
      await Promise.all([training.close(), federation.close(), comparison.close()]);
      cache.clear();
      listeners.clear();
      store.close();
    },
  };
}
