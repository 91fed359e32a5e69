// The hub's status documents: the full one (GET /status with the hub's admin token, `fedseg-hub status
// [--json]`: every site by name with its samples, backend and progress, rejection reasons, metrics) and
// the public aggregate view GET /status answers anyone else (counts only, no site names: what a site's
// app polls to follow the federation; docs/security.md §6). The hub builds both
// (federation-hub/status.ts) and every reader parses them with these schemas, so the sides cannot drift
// apart.
import { z } from 'zod';
import { PrivacyBudgetSchema, SiteRoleSchema } from './hub-protocol.js';

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
  privacy: PrivacyBudgetSchema.extend({
    /** Rounds completed with noise so far, and their epsilon. */
    roundsSpent: NonNeg,
    epsilonSpent: z.number().nonnegative(),
  }).optional(),
});
export type HubStatus = z.infer<typeof HubStatusSchema>;

/**
 * The mean Dice of a round's evaluations: per evaluation the mean of its per-class `dice*` metrics
 * (not the precomputed dice_mean*), then the mean over the evaluating sites; null when none reported one.
 */
export function roundMeanDice(evals: readonly HubEvaluation[], round: number): number | null {
  const vals: number[] = [];
  for (const e of evals) {
    if (e.round !== round) continue;
    const d = Object.entries(e.metrics).filter(([k]) => /^dice(_|$)/.test(k) && !k.startsWith('dice_mean')).map(([, v]) => v);
    if (d.length) vals.push(d.reduce((a, b) => a + b, 0) / d.length);
  }
  return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
}

export const HubPublicRoundSchema = z.object({
  round: NonNeg,
  status: z.enum(['open', 'done', 'aborted']),
  accepted: NonNeg,
  excluded: NonNeg,
  /** roundMeanDice of the sites that evaluated this round's global model (the unseen sites by default). */
  meanDice: z.number().nullable(),
});
export type HubPublicRound = z.infer<typeof HubPublicRoundSchema>;

/** What GET /status shows without the admin token: aggregates only, nothing that names or sizes a site. */
export const HubPublicStatusSchema = HubStatusSchema.pick({
  hub: true, strategy: true, phase: true, totalRounds: true, lastCompletedRound: true, currentRound: true, deadline: true, minSites: true,
  /** The run's privacy budget (a property of the run, which every site's Welcome carries too). */
  privacy: true,
}).extend({
  view: z.literal('public'),
  sites: z.object({ enrolled: NonNeg, connected: NonNeg }),
  rounds: z.array(HubPublicRoundSchema),
});
export type HubPublicStatus = z.infer<typeof HubPublicStatusSchema>;
