// Starts the job worker thread (job-worker.ts through its tsx entry, so no build step is needed).
import { Worker } from 'node:worker_threads';
import type { WorkerInput } from './job-worker.js';

export function spawnJobWorker(input: WorkerInput): Worker {
  return new Worker(new URL('./job-worker-entry.mjs', import.meta.url), { workerData: input });
}
