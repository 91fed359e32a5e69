// Federated participation as the app runs it (in the job worker): the site client (core/federation/
// site-client.ts: handshake, spectrum upload, rounds, reconnect + resend, audit log) with the run API's
// Participation on the datasets the operator chose (pooled). Site events are streamed back to the API thread, which
// turns them into federationStatus / trainingProgress events.
import { toErrorValue } from '../contract/errors.js';
import type { FederationJob, JobOutcome } from '../contract/job-messages.js';
import type { SiteEvent } from '../contract/site-events.js';
import { siteIdentityFromPrivate } from '../contract/site-identity.js';
import { runSite } from '../federation/site-client.js';
import { Participation } from '../run/participation.js';
import type { DatasetStore } from '../store/dataset-store.js';
import { participantData } from '../store/sample-source.js';

export async function runFederationJob(store: DatasetStore, job: FederationJob, hooks: { event(e: SiteEvent): void; signal: AbortSignal; backend: string }): Promise<JobOutcome> {
  const trainer = new Participation({ ledger: store, data: participantData(store, job.datasetIds), site: job.site, backend: hooks.backend });
  try {
    const s = await runSite({
      hubUrl: job.hubUrl, site: job.site, ...(job.token ? { token: job.token } : {}), identity: siteIdentityFromPrivate(job.identityKey), policy: job.policy,
      trainer, ledger: store, signal: hooks.signal, firstAttempts: 3,
      ...(job.ca ? { ca: job.ca } : {}), ...(job.trustedFingerprint ? { trustedFingerprint: job.trustedFingerprint } : {}),
      onEvent: (e) => hooks.event(e),
    });
    return { status: 'finished', modelId: null, message: `the federation finished: ${s.roundsTrained} round(s) trained here, ${s.reconnects} reconnect(s)` };
  } catch (e) {
    const v = toErrorValue(e);
    return { status: v.code === 'CANCELLED' ? 'cancelled' : 'failed', modelId: null, message: v.message, code: v.code };
  } finally {
    trainer.dispose();
  }
}
