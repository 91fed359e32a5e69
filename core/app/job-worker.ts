// The worker thread that runs heavy engine jobs (local training, federated participation) so the API
// thread never blocks: it opens its own connection to the site's SQLite file (WAL: the API thread keeps
// reading), initialises the compute backend, runs the job and streams progress back.
import { parentPort, workerData } from 'node:worker_threads';
import { describeBackend, initBackend } from '../backend.js';
import { toErrorValue } from '../contract/errors.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { runFederationJob, type FederationJob } from './federation-job.js';
import { runTrainingJob, type TrainingJob } from './training-job.js';

export type WorkerJob = { kind: 'train'; job: TrainingJob } | { kind: 'federate'; job: FederationJob };
export interface WorkerInput {
  dbPath: string;
  work: WorkerJob;
}

const port = parentPort;
if (!port) throw new Error('job-worker must run in a worker thread');
const input = workerData as WorkerInput;
const ac = new AbortController();
port.on('message', (m: { t?: string }) => {
  if (m?.t === 'cancel') ac.abort();
});

try {
  const report = await initBackend({});
  const backend = describeBackend(report);
  const store = openSqliteStore(input.dbPath);
  try {
    if (input.work.kind === 'train') {
      const outcome = await runTrainingJob(store, input.work.job, { progress: (p) => port.postMessage({ t: 'progress', p }), signal: ac.signal, backend });
      port.postMessage({ t: 'done', outcome });
    } else {
      port.postMessage({ t: 'backend', backend });
      const outcome = await runFederationJob(store, input.work.job, { event: (e) => port.postMessage({ t: 'site', e }), signal: ac.signal, backend });
      port.postMessage({ t: 'done', outcome });
    }
  } finally {
    store.close();
  }
} catch (e) {
  port.postMessage({ t: 'done', outcome: { status: 'failed', modelId: null, message: toErrorValue(e).message } });
}
