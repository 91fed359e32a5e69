// Federated participation as the app runs it (in the job worker), through a FedSeg hub or as a Flower
// SuperNode (docs/flower.md §1-3): the hub's site client (core/federation/site-client.ts: handshake,
// spectrum upload, rounds, reconnect + resend, audit log) or the SuperNode (core/flower/supernode.ts:
// the same events, the same policy and audit log), with the run API's Participation on the datasets the
// operator chose (pooled). Site events are streamed back to the API thread, which turns them into
// federationStatus / trainingProgress events.
import { toErrorValue } from '../contract/errors.js';
import type { FederationJob, JobOutcome } from '../contract/job-messages.js';
import type { SiteEvent } from '../contract/site-events.js';
import { siteIdentityFromPrivate } from '../contract/site-identity.js';
import type { SiteRunSummary } from '../federation/site-options.js';
import { runSite } from '../federation/site-client.js';
import { flowerIdentityFromPrivate } from '../flower/flower-identity.js';
import { runFlowerSite } from '../flower/supernode.js';
import { Participation } from '../run/participation.js';
import type { DatasetStore } from '../store/dataset-store.js';
import { participantData } from '../store/sample-source.js';

/** Connection attempts before the first contact: a wrong address fails in seconds, not after the long backoff. */
const FIRST_ATTEMPTS = 3;

export async function runFederationJob(store: DatasetStore, job: FederationJob, hooks: { event(e: SiteEvent): void; signal: AbortSignal; backend: string }): Promise<JobOutcome> {
  const trainer = new Participation({ ledger: store, data: participantData(store, job.datasetIds), site: job.site, backend: hooks.backend });
  const common = { site: job.site, policy: job.policy, trainer, ledger: store, signal: hooks.signal, firstAttempts: FIRST_ATTEMPTS, onEvent: (e: SiteEvent) => hooks.event(e) };
  try {
    let s: SiteRunSummary;
    if (job.transport === 'flower') {
      s = await runFlowerSite({
        ...common, address: job.address, identity: flowerIdentityFromPrivate(job.identityKey), role: 'train',
        ...(job.rootCertificates ? { rootCertificates: job.rootCertificates } : {}),
      });
    } else {
      s = await runSite({
        ...common, hubUrl: job.hubUrl, ...(job.token ? { token: job.token } : {}), identity: siteIdentityFromPrivate(job.identityKey),
        ...(job.ca ? { ca: job.ca } : {}), ...(job.trustedFingerprint ? { trustedFingerprint: job.trustedFingerprint } : {}),
      });
    }
    return { status: 'finished', modelId: null, message: `the federation finished: ${s.roundsTrained} round(s) trained here, ${s.reconnects} reconnect(s)` };
  } catch (e) {
    const v = toErrorValue(e);
    return { status: v.code === 'CANCELLED' ? 'cancelled' : 'failed', modelId: null, message: v.message, code: v.code };
  } finally {
    trainer.dispose();
  }
}
