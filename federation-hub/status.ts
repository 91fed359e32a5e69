// The hub's status documents (core/contract/hub-status.ts): the full one (GET /status with the admin
// token, `fedseg-hub status`), built from a live hub (sessions known) or from the state file alone (hub
// stopped), and the public aggregate view derived from it, which GET /status answers without the token
// (docs/security.md §6).
import { roundMeanDice, type HubPhase, type HubPublicStatus, type HubStatus } from '../core/contract/hub-status.js';
import { gaussianEpsilon, privacyBudget, type DpParams } from '../core/contract/privacy.js';
import type { HubState } from './state.js';

export type { HubPublicStatus, HubStatus };

interface LiveSession {
  name: string;
  caps: { backend: string };
  lastSeen: number;
  progress?: number | undefined;
  progressRound?: number | undefined;
}

export interface LiveView {
  phase: HubPhase;
  sessions: LiveSession[];
  currentRound: number | null;
  deadline: number | null;
  pending: string[];
}

export interface StatusConfig {
  name: string;
  strategy: string;
  rounds: number;
  minSites: number;
  /** Site-level DP of the run (docs/security.md §8), for the status's privacy budget. */
  dp?: DpParams | undefined;
}

/** The budget announced in Welcome plus what the completed rounds spent (every completed round of a DP run added noise). */
function privacyOf(dp: DpParams, rounds: number, completed: number): NonNullable<HubStatus['privacy']> {
  return { ...privacyBudget(dp, rounds), roundsSpent: completed, epsilonSpent: gaussianEpsilon(dp.noiseMultiplier, completed, dp.delta).epsilon };
}

/** The DP parameters a hub recorded in its state file (strategies/fedavg.ts), if any. */
function storedDp(state: HubState): DpParams | undefined {
  const v = state.getMeta('dp');
  if (!v) return undefined;
  try {
    const d = JSON.parse(v) as DpParams;
    return d.noiseMultiplier > 0 && d.clipNorm > 0 && d.delta > 0 && d.delta < 1 ? d : undefined;
  } catch {
    return undefined;
  }
}

export function hubStatus(state: HubState, cfg: StatusConfig, live: LiveView | null): HubStatus {
  const byName = new Map((live?.sessions ?? []).map((s) => [s.name, s]));
  return {
    hub: cfg.name,
    strategy: cfg.strategy,
    phase: live?.phase ?? 'stopped',
    totalRounds: cfg.rounds,
    lastCompletedRound: state.lastCompletedRound(),
    currentRound: live?.currentRound ?? null,
    deadline: live?.deadline ?? null,
    minSites: cfg.minSites,
    pending: live?.pending ?? [],
    sites: state.listSites().map((s) => {
      const l = byName.get(s.name);
      return {
        name: s.name, role: s.role, connected: !!l, lastSeen: l?.lastSeen ?? s.lastSeen, numSamples: s.numSamples,
        ...(l ? { backend: l.caps.backend } : {}),
        ...(l && l.progress !== undefined ? { progress: { ...(l.progressRound !== undefined ? { round: l.progressRound } : {}), fraction: l.progress } } : {}),
      };
    }),
    rounds: state.listRounds(20).map((r) => ({ round: r.round, status: r.status, accepted: r.accepted, rejected: r.rejected, numSamples: r.numSamples })),
    evaluations: state.listEvaluations().slice(-50),
    ...(cfg.dp ? { privacy: privacyOf(cfg.dp, cfg.rounds, state.lastCompletedRound()) } : {}),
  };
}

/** The status of a stopped hub, from its state file (what it recorded at its last start). */
export function storedStatus(state: HubState, fallback: StatusConfig): HubStatus {
  return hubStatus(state, {
    name: state.getMeta('name') ?? fallback.name,
    strategy: state.getMeta('strategy') ?? state.getMeta('mode') ?? fallback.strategy,
    rounds: Number(state.getMeta('rounds') ?? fallback.rounds),
    minSites: Number(state.getMeta('minSites') ?? fallback.minSites),
    dp: state.getMeta('dp') !== null ? storedDp(state) : fallback.dp,
  }, null);
}

/** A human-readable status block for the CLI. */
export function formatStatus(s: HubStatus): string {
  const lines = [`${s.hub}: strategy ${s.strategy}, ${s.phase}; round ${s.currentRound ?? '-'} open, ${s.lastCompletedRound}/${s.totalRounds} done`];
  if (s.pending.length) lines.push(`  waiting for: ${s.pending.join(', ')}`);
  lines.push('  sites:');
  for (const x of s.sites) {
    const prog = x.progress?.fraction !== undefined ? ` ${(x.progress.fraction * 100).toFixed(0)}% of round ${x.progress.round ?? '?'}` : '';
    lines.push(`    ${x.name.padEnd(16)} ${x.role.padEnd(5)} ${x.connected ? 'connected' : 'offline  '} samples ${x.numSamples ?? '-'}${x.backend ? ` backend ${x.backend}` : ''}${prog}`);
  }
  const p = s.privacy;
  if (p) lines.push(`  privacy: gaussian, noise ${p.noiseMultiplier} x clip ${p.clipNorm}, delta ${p.delta}: epsilon ${p.epsilonPerRound.toFixed(3)} per round, ${p.epsilonSpent.toFixed(3)} spent in ${p.roundsSpent} round(s), ${p.epsilonTotal.toFixed(3)} after ${s.totalRounds}`);
  const last = s.rounds.at(-1);
  if (last) lines.push(`  last round ${last.round} (${last.status}): accepted ${last.accepted.join(', ') || '-'}${last.rejected.length ? `; excluded ${last.rejected.map((r) => r.site).join(', ')}` : ''}`);
  const ev = s.evaluations.filter((e) => e.round === s.lastCompletedRound);
  for (const e of ev) lines.push(`  eval ${e.site} round ${e.round}: ${Object.entries(e.metrics).map(([k, v]) => `${k}=${v.toFixed(4)}`).join(' ')}`);
  return lines.join('\n');
}

/** The public view of a status: counts, round outcomes and mean Dice; no site name, size, backend or reason. */
export function publicStatus(s: HubStatus): HubPublicStatus {
  return {
    view: 'public', hub: s.hub, strategy: s.strategy, phase: s.phase, totalRounds: s.totalRounds, lastCompletedRound: s.lastCompletedRound,
    currentRound: s.currentRound, deadline: s.deadline, minSites: s.minSites,
    sites: { enrolled: s.sites.length, connected: s.sites.filter((x) => x.connected).length },
    rounds: s.rounds.map((r) => ({ round: r.round, status: r.status, accepted: r.accepted.length, excluded: r.rejected.length, meanDice: roundMeanDice(s.evaluations, r.round) })),
    ...(s.privacy ? { privacy: s.privacy } : {}),
  };
}

/** A human-readable block for the public view (`fedseg-hub status --url` without the admin token). */
export function formatPublicStatus(s: HubPublicStatus): string {
  const lines = [
    `${s.hub}: strategy ${s.strategy}, ${s.phase}; round ${s.currentRound ?? '-'} open, ${s.lastCompletedRound}/${s.totalRounds} done`,
    `  sites: ${s.sites.connected} of ${s.sites.enrolled} enrolled connected (quorum ${s.minSites})`,
  ];
  const last = s.rounds.at(-1);
  if (last) lines.push(`  last round ${last.round} (${last.status}): ${last.accepted} accepted, ${last.excluded} excluded${last.meanDice !== null ? `, mean Dice ${last.meanDice.toFixed(4)}` : ''}`);
  const p = s.privacy;
  if (p) lines.push(`  privacy: gaussian, noise ${p.noiseMultiplier} x clip ${p.clipNorm}, delta ${p.delta}: epsilon ${p.epsilonSpent.toFixed(3)} spent in ${p.roundsSpent} round(s), ${p.epsilonTotal.toFixed(3)} after ${s.totalRounds}`);
  lines.push('  (public view: site names and details need the admin token, fedseg-hub status --admin-token)');
  return lines.join('\n');
}
