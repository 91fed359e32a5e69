// Starts the job worker thread (job-worker.ts through its tsx entry, so no build step is needed), and
// reads its messages through the contract's schema (a message that does not parse is a worker bug,
// reported as such instead of being acted upon).
import { Worker } from 'node:worker_threads';
import { FromWorkerSchema, type FromWorker, type ToWorker, type WorkerInput } from '../contract/job-messages.js';

export interface JobWorker {
  readonly worker: Worker;
  cancel(): void;
}

/** FEDSEG_JOB_WORKER names a bundled worker (the packaged desktop app sets it); else the TS sources run through tsx. */
export function spawnJobWorker(input: WorkerInput, onMessage: (m: FromWorker) => void, onBadMessage: (why: string) => void): JobWorker {
  const bundled = process.env.FEDSEG_JOB_WORKER;
  const worker = new Worker(bundled ? bundled : new URL('./job-worker-entry.mjs', import.meta.url), { workerData: input });
  worker.on('message', (raw: unknown) => {
    const m = FromWorkerSchema.safeParse(raw);
    if (m.success) onMessage(m.data);
    else onBadMessage(`the job worker sent a message that does not follow the contract: ${m.error.issues[0]?.path.join('.')}: ${m.error.issues[0]?.message}`);
  });
  return { worker, cancel: () => worker.postMessage({ t: 'cancel' } satisfies ToWorker) };
}
