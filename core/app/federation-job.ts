// Federated participation as the app runs it (in the job worker): F's site client (core/federation/
// site-client.ts: handshake, spectrum upload, rounds, reconnect + resend, audit log) with F's
// LearnerTrainer (D's local training on one of this site's datasets). Site events are streamed back to
// the API thread, which turns them into federationStatus / trainingProgress events.
import { toErrorValue } from '../contract/errors.js';
import { LearnerTrainer } from '../federation/learner-trainer.js';
import { runSite, type SiteEvent } from '../federation/site-client.js';
import type { DatasetStore } from '../store/dataset-store.js';

export interface FederationJob {
  hubUrl: string;
  site: string;
  token: string;
  datasetId: number;
}

export type FederationOutcome = { status: 'finished' | 'cancelled' | 'failed'; message: string };

export async function runFederationJob(store: DatasetStore, job: FederationJob, hooks: { event(e: SiteEvent): void; signal: AbortSignal; backend: string }): Promise<FederationOutcome> {
  const trainer = new LearnerTrainer({ store, dataset: job.datasetId, site: job.site, backend: hooks.backend });
  try {
    const s = await runSite({
      hubUrl: job.hubUrl, site: job.site, token: job.token, trainer, ledger: store, signal: hooks.signal, firstAttempts: 3,
      onEvent: (e) => hooks.event(e),
    });
    return { status: 'finished', message: `the federation finished: ${s.roundsTrained} round(s) trained here, ${s.reconnects} reconnect(s)` };
  } catch (e) {
    const v = toErrorValue(e);
    return { status: v.code === 'CANCELLED' ? 'cancelled' : 'failed', message: v.message };
  } finally {
    trainer.dispose?.();
  }
}
