// Starts the job worker thread (job-worker.ts through its tsx entry, so no build step is needed).
import { Worker } from 'node:worker_threads';
import type { WorkerInput } from './job-worker.js';

/** FEDSEG_JOB_WORKER names a bundled worker (the packaged desktop app sets it); else the TS sources run through tsx. */
export function spawnJobWorker(input: WorkerInput): Worker {
  const bundled = process.env.FEDSEG_JOB_WORKER;
  return new Worker(bundled ? bundled : new URL('./job-worker-entry.mjs', import.meta.url), { workerData: input });
}
