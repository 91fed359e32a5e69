// Hub status (GET /status and `fedseg-hub status`): sites and their state, the round, last metrics.
// Works from a live hub (sessions known) or from the state file alone (hub stopped).
import type { HubConfig } from './config.js';
import type { EvaluationRecord, HubState, RoundRecord } from './state.js';

export interface SiteStatus {
  name: string;
  role: 'train' | 'eval';
  connected: boolean;
  backend?: string;
  lastSeen: number | null;
  numSamples: number | null;
  progress?: { round?: number; fraction?: number };
}

export interface HubStatus {
  hub: string;
  mode: string;
  phase: string;
  totalRounds: number;
  lastCompletedRound: number;
  currentRound: number | null;
  pending: string[];
  sites: SiteStatus[];
  rounds: Pick<RoundRecord, 'round' | 'status' | 'accepted' | 'rejected' | 'numSamples'>[];
  evaluations: EvaluationRecord[];
}

interface LiveSession {
  name: string;
  caps: { backend: string };
  lastSeen: number;
  progress?: number;
  progressRound?: number;
}

export function hubStatus(
  hub: { config: HubConfig } | null,
  state: HubState,
  live: { phase: string; sessions: LiveSession[]; currentRound: number | null; pending: string[] } | null,
  configFallback?: { name: string; mode: string; rounds: number },
): HubStatus {
  const byName = new Map((live?.sessions ?? []).map((s) => [s.name, s]));
  const cfg = hub?.config ?? configFallback;
  return {
    hub: cfg?.name ?? 'fedseg-hub',
    mode: cfg?.mode ?? state.getMeta('mode') ?? '?',
    phase: live?.phase ?? 'stopped',
    totalRounds: hub?.config.rounds ?? configFallback?.rounds ?? Number(state.getMeta('rounds') ?? 0),
    lastCompletedRound: state.lastCompletedRound(),
    currentRound: live?.currentRound ?? null,
    pending: live?.pending ?? [],
    sites: state.listSites().map((s) => {
      const l = byName.get(s.name);
      return {
        name: s.name, role: s.role, connected: !!l, lastSeen: l?.lastSeen ?? s.lastSeen, numSamples: s.numSamples,
        ...(l ? { backend: l.caps.backend } : {}),
        ...(l && l.progress !== undefined ? { progress: { round: l.progressRound, fraction: l.progress } } : {}),
      };
    }),
    rounds: state.listRounds(20).map((r) => ({ round: r.round, status: r.status, accepted: r.accepted, rejected: r.rejected, numSamples: r.numSamples })),
    evaluations: state.listEvaluations().slice(-50),
  };
}

/** A human-readable status block for the CLI. */
export function formatStatus(s: HubStatus): string {
  const lines = [`${s.hub}: mode ${s.mode}, ${s.phase}; round ${s.currentRound ?? '-'} open, ${s.lastCompletedRound}/${s.totalRounds} done`];
  if (s.pending.length) lines.push(`  waiting for: ${s.pending.join(', ')}`);
  lines.push('  sites:');
  for (const x of s.sites) {
    const prog = x.progress?.fraction !== undefined ? ` ${(x.progress.fraction * 100).toFixed(0)}% of round ${x.progress.round ?? '?'}` : '';
    lines.push(`    ${x.name.padEnd(16)} ${x.role.padEnd(5)} ${x.connected ? 'connected' : 'offline  '} samples ${x.numSamples ?? '-'}${x.backend ? ` backend ${x.backend}` : ''}${prog}`);
  }
  const last = s.rounds.at(-1);
  if (last) lines.push(`  last round ${last.round} (${last.status}): accepted ${last.accepted.join(', ') || '-'}${last.rejected.length ? `; excluded ${last.rejected.map((r) => r.site).join(', ')}` : ''}`);
  const ev = s.evaluations.filter((e) => e.round === s.lastCompletedRound);
  for (const e of ev) lines.push(`  eval ${e.site} round ${e.round}: ${Object.entries(e.metrics).map(([k, v]) => `${k}=${v.toFixed(4)}`).join(' ')}`);
  return lines.join('\n');
}
