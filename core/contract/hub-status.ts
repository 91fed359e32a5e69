// The hub's status document: GET /status on the hub port, `fedseg-hub status [--json]`, and what a
// site's app polls to show the other sites. The hub builds it (federation-hub/status.ts) and every
// reader parses it with this schema, so the two sides cannot drift apart.
import { z } from 'zod';
import { SiteRoleSchema } from './hub-protocol.js';

const Int = z.number().int();
const NonNeg = Int.min(0);
const Metrics = z.record(z.string(), z.number());
const Rejection = z.object({ site: z.string(), reason: z.string() });

export const HubSiteStatusSchema = z.object({
  name: z.string(),
  role: SiteRoleSchema,
  connected: z.boolean(),
  backend: z.string().optional(),
  /** ms since the epoch. */
  lastSeen: z.number().nullable(),
  numSamples: NonNeg.nullable(),
  progress: z.object({ round: NonNeg.optional(), fraction: z.number().min(0).max(1).optional() }).optional(),
});
export type HubSiteStatus = z.infer<typeof HubSiteStatusSchema>;

export const HubRoundStatusSchema = z.object({
  round: NonNeg,
  status: z.enum(['open', 'done', 'aborted']),
  accepted: z.array(z.string()),
  rejected: z.array(Rejection),
  numSamples: NonNeg,
});

export const HubEvaluationSchema = z.object({ round: NonNeg, site: z.string(), numSamples: NonNeg, metrics: Metrics });
export type HubEvaluation = z.infer<typeof HubEvaluationSchema>;

export const HubPhaseSchema = z.enum(['starting', 'init', 'waiting', 'round', 'evaluating', 'finished', 'stopped']);
export type HubPhase = z.infer<typeof HubPhaseSchema>;

export const HubStatusSchema = z.object({
  hub: z.string(),
  /** The aggregation strategy (federation-hub/strategies): fedavg, elcfs, ... */
  strategy: z.string(),
  phase: HubPhaseSchema,
  totalRounds: NonNeg,
  lastCompletedRound: NonNeg,
  currentRound: NonNeg.nullable(),
  /** The round's deadline (ms since the epoch) while one is open. */
  deadline: z.number().nullable(),
  minSites: NonNeg,
  pending: z.array(z.string()),
  sites: z.array(HubSiteStatusSchema),
  rounds: z.array(HubRoundStatusSchema),
  evaluations: z.array(HubEvaluationSchema),
  /**
   * Site-level differential privacy of the run (docs/security.md §8), when the hub adds noise: the
   * Welcome's budget (core/contract/privacy.ts) plus what the completed rounds have spent.
   */
  privacy: z.object({
    mechanism: z.literal('gaussian'),
    noiseMultiplier: z.number().positive(),
    clipNorm: z.number().positive(),
    delta: z.number().positive().max(1),
    epsilonPerRound: z.number().nonnegative(),
    /** After all totalRounds rounds. */
    epsilonTotal: z.number().nonnegative(),
    /** Rounds completed with noise so far, and their epsilon. */
    roundsSpent: NonNeg,
    epsilonSpent: z.number().nonnegative(),
  }).optional(),
});
export type HubStatus = z.infer<typeof HubStatusSchema>;
