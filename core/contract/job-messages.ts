// Messages between the engine's API thread and its job worker thread (core/app/job-worker.ts), which
// runs local training and federated participation so the API never blocks. Declared once; the worker
// parses what it is given and the engine parses what comes back.
import { z } from 'zod';
import { SitePolicySchema } from './site-policy.js';
import { TrainingConfig, TrainingProgress } from './app-api.js';
import { SiteEventSchema } from './site-events.js';

const Id = z.number().int().min(1);

export const TrainingJobSchema = z.object({
  runId: Id,
  config: TrainingConfig,
  /** Continue from this run's latest checkpoint (resume). */
  resumeFromRunId: Id.nullable(),
});
export type TrainingJob = z.infer<typeof TrainingJobSchema>;

/** Taking part through a FedSeg hub (core/federation/site-client.ts). */
export const HubFederationJobSchema = z.object({
  transport: z.literal('hub'),
  runId: Id,
  hubUrl: z.string().min(1).max(2000),
  site: z.string().min(1).max(64),
  /** The enrolment token ('' once the hub has bound the site's key and no token is kept). */
  token: z.string().max(4096),
  /** The site's private key (PKCS#8, base64; core/contract/site-identity.ts), opened by the engine from its sealed store. */
  identityKey: z.string().min(1).max(4096),
  /** What the site lets leave (docs/security.md §3). */
  policy: SitePolicySchema,
  /** The datasets the site trains and evaluates on, pooled (the operator's choice). */
  datasetIds: z.array(Id).min(1).max(16),
  /** PEM of a private CA for the hub's certificate. */
  ca: z.string().max(65536).optional(),
  /** A pinned hub certificate fingerprint (trust on first use). */
  trustedFingerprint: z.string().max(200).optional(),
});

/** Taking part as a Flower SuperNode (core/flower/supernode.ts, docs/flower.md); the SuperLink enrols nobody, so there is no token. */
export const FlowerFederationJobSchema = z.object({
  transport: z.literal('flower'),
  runId: Id,
  /** The SuperLink's Fleet API, host:port. */
  address: z.string().min(1).max(300),
  site: z.string().min(1).max(64),
  /** The site's P-384 Flower key (PKCS#8 DER, base64; core/flower/flower-identity.ts), opened by the engine from its sealed store. */
  identityKey: z.string().min(1).max(4096),
  policy: SitePolicySchema,
  datasetIds: z.array(Id).min(1).max(16),
  /** PEM root certificate(s) for a TLS SuperLink; without them the connection is plaintext (loopback only). */
  rootCertificates: z.string().max(65536).optional(),
});

export const FederationJobSchema = z.discriminatedUnion('transport', [HubFederationJobSchema, FlowerFederationJobSchema]);
export type FederationJob = z.infer<typeof FederationJobSchema>;
export type HubFederationJob = z.infer<typeof HubFederationJobSchema>;
export type FlowerFederationJob = z.infer<typeof FlowerFederationJobSchema>;

export const WorkerInputSchema = z.object({
  dbPath: z.string().min(1),
  work: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('train'), job: TrainingJobSchema }),
    z.object({ kind: z.literal('federate'), job: FederationJobSchema }),
  ]),
});
export type WorkerInput = z.infer<typeof WorkerInputSchema>;

export const JobOutcomeSchema = z.object({
  status: z.enum(['finished', 'cancelled', 'failed']),
  /** The model the run produced (local training), if any. */
  modelId: Id.nullable(),
  message: z.string(),
  /** The error code of a failure (core/contract/errors.ts), so the engine can explain it in plain words. */
  code: z.string().optional(),
});
export type JobOutcome = z.infer<typeof JobOutcomeSchema>;

export const ToWorkerSchema = z.object({ t: z.literal('cancel') });
export type ToWorker = z.infer<typeof ToWorkerSchema>;

export const FromWorkerSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('progress'), p: TrainingProgress }),
  z.object({ t: z.literal('site'), e: SiteEventSchema }),
  z.object({ t: z.literal('backend'), backend: z.string() }),
  z.object({ t: z.literal('done'), outcome: JobOutcomeSchema }),
]);
export type FromWorker = z.infer<typeof FromWorkerSchema>;
