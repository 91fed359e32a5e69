// The worker thread that runs heavy engine jobs (local training, federated participation) so the API
// thread never blocks: it opens its own connection to the site's SQLite file (WAL: the API thread keeps
// reading), initialises the compute backend, runs the job and streams progress back. Its input and
// every message are declared in core/contract/job-messages.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { describeBackend, initBackend } from '../backend.js';
import { toErrorValue } from '../contract/errors.js';
import { ToWorkerSchema, WorkerInputSchema, type FromWorker } from '../contract/job-messages.js';
import { openSqliteStore } from '../store/sqlite-store.js';
import { runFederationJob } from './federation-job.js';
import { runTrainingJob } from './training-job.js';

const port = parentPort;
if (!port) throw new Error('job-worker must run in a worker thread');
const post = (m: FromWorker) => port.postMessage(m);
const ac = new AbortController();
port.on('message', (m: unknown) => {
  if (ToWorkerSchema.safeParse(m).success) ac.abort();
});

try {
  const input = WorkerInputSchema.parse(workerData);
  const report = await initBackend({});
  const backend = describeBackend(report);
  const store = openSqliteStore(input.dbPath);
  try {
    if (input.work.kind === 'train') {
      post({ t: 'done', outcome: await runTrainingJob(store, input.work.job, { progress: (p) => post({ t: 'progress', p }), signal: ac.signal, backend }) });
    } else {
      post({ t: 'backend', backend });
      post({ t: 'done', outcome: await runFederationJob(store, input.work.job, { event: (e) => post({ t: 'site', e }), signal: ac.signal, backend }) });
    }
  } finally {
    store.close();
  }
} catch (e) {
  post({ t: 'done', outcome: { status: 'failed', modelId: null, message: toErrorValue(e).message } });
}
