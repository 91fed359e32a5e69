// How the Train page words a job's progress: loss terms with their names (docs/algorithms.md §2 for
// the ELCFS terms), the overall fraction done (a federated run counts rounds, a local one steps), and
// one line saying where the job is. Pure functions, so they are tested without a browser.
import type { TrainingProgress } from '../../../core/contract/app-api.js';

const LOSS_LABELS: Record<string, string> = {
  total: 'Total',
  diceLoss: 'Dice loss',
  metaDiceLoss: 'Meta-step Dice loss',
  boundary: 'Boundary contrastive loss',
  crossEntropy: 'Cross-entropy',
  inner: 'Inner-step loss',
  metaDice: 'Meta-step Dice loss',
};

/** Loss terms to show: known names get words, bookkeeping (times, counters) and non-numbers are dropped. */
export function formatLosses(losses: Record<string, number>): { key: string; label: string; value: string }[] {
  const out: { key: string; label: string; value: string }[] = [];
  for (const [k, v] of Object.entries(losses)) {
    if (!Number.isFinite(v) || /ms$|^elapsed|^steps?$|^numSamples$|^samples/i.test(k)) continue;
    const label = LOSS_LABELS[k] ?? k.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase());
    out.push({ key: k, label, value: v.toFixed(4) });
  }
  return out.sort((a, b) => (a.key === 'total' ? -1 : b.key === 'total' ? 1 : 0));
}

const TERMINAL = new Set<TrainingProgress['phase']>(['done', 'cancelled', 'failed']);

export function isRunning(p: TrainingProgress | null): boolean {
  return p !== null && !TERMINAL.has(p.phase);
}

/** Share of the whole job done, 0..1: rounds (and the current round's share) when federated, steps when local. */
export function overallFraction(p: TrainingProgress, roundsDone = 0): number {
  if (p.phase === 'done') return 1;
  if (p.mode === 'federated') {
    if (!p.totalRounds) return 0;
    const inRound = p.phase === 'waiting' ? 0 : p.fraction ?? 0;
    return Math.min(1, (roundsDone + inRound) / p.totalRounds);
  }
  return p.totalSteps > 0 ? Math.min(1, p.step / p.totalSteps) : p.fraction ?? 0;
}

/** "Round 2 of 5 · local training 40% (step 3 of 8)" or "Epoch 1 of 2 · step 12 of 40". */
export function whereText(p: TrainingProgress, epochs: number | null = null): string {
  if (p.mode === 'federated') {
    const r = p.round !== null && p.totalRounds ? `Round ${p.round} of ${p.totalRounds}` : p.round !== null ? `Round ${p.round}` : 'Waiting for the first round';
    if (p.phase === 'training') {
      const pct = p.fraction !== null ? ` ${Math.round(p.fraction * 100)}%` : '';
      return `${r} · local training${pct}${p.totalSteps > 0 ? ` (step ${p.step} of ${p.totalSteps})` : ''}`;
    }
    if (p.phase === 'evaluating') return `${r} · evaluating the global model`;
    if (p.phase === 'waiting') return `${r} · waiting for the hub`;
    return r;
  }
  const e = p.epoch > 0 ? `Epoch ${p.epoch}${epochs ? ` of ${epochs}` : ''} · ` : '';
  return `${e}step ${p.step} of ${p.totalSteps}`;
}

/** Remaining time of a federated run from the time its completed rounds took (null until one is done). */
export function federatedEta(startedMs: number, nowMs: number, roundsDone: number, totalRounds: number | null): number | null {
  if (!totalRounds || roundsDone <= 0 || roundsDone >= totalRounds) return roundsDone >= (totalRounds ?? Infinity) ? 0 : null;
  return (((nowMs - startedMs) / roundsDone) * (totalRounds - roundsDone)) / 1000;
}
