// What a federated site reports while it takes part (core/federation/site-client.ts emits these; the
// CLI prints them, the app's job worker forwards them to the engine, which turns them into
// federationStatus / trainingProgress events). One schema, parsed where they cross a thread.
import { z } from 'zod';
import { WelcomeSchema } from './hub-protocol.js';

const Int = z.number().int();
const NonNeg = Int.min(0);
const Metrics = z.record(z.string(), z.number());

export const SiteEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('connecting'), attempt: Int.min(1), url: z.string() }),
  z.object({ type: z.literal('connected'), welcome: WelcomeSchema }),
  z.object({ type: z.literal('disconnected'), code: Int, reason: z.string(), retryInMs: NonNeg }),
  z.object({ type: z.literal('spectrum-sent'), count: NonNeg, bytes: NonNeg, channels: NonNeg, halfWidth: NonNeg }),
  z.object({ type: z.literal('bank'), sources: NonNeg, count: NonNeg }),
  /** deadline: this site's clock (ms since the epoch) when the hub stops waiting for the update. */
  z.object({ type: z.literal('round-start'), round: Int.min(1), totalRounds: NonNeg, mode: z.string(), deadline: z.number().nullable() }),
  z.object({
    type: z.literal('progress'), round: NonNeg, fraction: z.number().min(0).max(1), work: z.enum(['train', 'evaluate']),
    note: z.string().optional(), step: NonNeg.optional(), steps: NonNeg.optional(), losses: Metrics.optional(),
  }),
  z.object({ type: z.literal('round-sent'), round: Int.min(1), bytes: NonNeg, resent: z.boolean(), metrics: Metrics }),
  z.object({ type: z.literal('evaluated'), round: NonNeg, metrics: Metrics }),
  /** A global model was kept in the site's store (round 0 = the initial model). */
  z.object({ type: z.literal('global-model'), round: NonNeg, modelId: Int.min(1) }),
  z.object({ type: z.literal('hub-error'), code: z.string(), message: z.string() }),
  /** The site's policy refused a hub request (docs/security.md §3); the hub was told why. */
  z.object({ type: z.literal('refused'), request: z.string(), code: z.string(), message: z.string() }),
  /** Bank windows that do not fit this site's images (channels, window size) were left out of local training. */
  z.object({ type: z.literal('bank-dropped'), dropped: NonNeg, kept: NonNeg, reason: z.string() }),
  z.object({ type: z.literal('finished'), rounds: NonNeg }),
  /** A Flower SuperNode (docs/flower.md): the SuperLink activated this site's node (its id is bound to the site's P-384 key). */
  z.object({ type: z.literal('flower-node'), nodeId: z.string().regex(/^\d{1,20}$/), address: z.string() }),
  /** A Flower run this node received work for; totalRounds from the run's config when it says (num-server-rounds). */
  z.object({ type: z.literal('flower-run'), runId: z.string().regex(/^\d{1,20}$/), totalRounds: NonNeg.nullable(), strategy: z.string().nullable() }),
]);
export type SiteEvent = z.infer<typeof SiteEventSchema>;
