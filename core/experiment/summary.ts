// What an experiment's runs add up to (docs/experiments.md §3): per fold (unseen site) and method the
// unseen-site Dice and HD95 per class as the mean of the last k rounds of each run, then mean +- std
// over seeds; the per-round curves averaged over seeds; wall time and the bytes that left the sites;
// per fold and over all folds the paired difference of every method to the baseline (FedAvg when it
// ran, else the first method) on the final global model, image by image, with a bootstrap interval.
import { createRng } from '../rng.js';
import { finite, mean, meanStd, pairedBootstrap, type BootstrapInterval, type MeanStd } from './stats.js';
import type { PerImage } from './final-model.js';
import type { RoundEval } from './federated-run.js';

export interface RunRecord {
  key: string;
  fold: string;
  method: string;
  seed: number;
  rounds: RoundEval[];
  final: { round: number; perImage: PerImage[] };
  /** Overlay files (relative to the output directory) with their per-class Dice. */
  overlays: { name: string; file: string; dice: number[] }[];
  bytesFromSite: Record<string, number>;
  bytesToSite: Record<string, number>;
  elapsedMs: number;
  resumedAfterRound: number;
  finishedAt: string;
}

export interface CellSummary {
  fold: string;
  method: string;
  seeds: number;
  /** Per class: mean over seeds (+- std) of each run's mean over its last k rounds. */
  dice: MeanStd[];
  hd95: MeanStd[];
  /** Per round, averaged over seeds: Dice and HD95 per class. */
  curve: { round: number; dice: (number | null)[]; hd95: (number | null)[] }[];
  wallSeconds: MeanStd;
  /** Bytes that left all source sites together in one run (mean +- std over seeds), and per site (mean). */
  bytesFromSources: MeanStd;
  bytesPerSite: Record<string, number>;
}

export interface DiffSummary {
  /** A fold's unseen site, or 'all' (every fold's images pooled). */
  fold: string;
  method: string;
  baseline: string;
  /** Per class: method minus baseline, final-model Dice per image, paired by seed and image. */
  dice: (BootstrapInterval | null)[];
}

export interface ExperimentSummary {
  classes: string[];
  lastK: number;
  cells: CellSummary[];
  /** Per method over folds: mean +- std of the fold means. */
  overall: { method: string; folds: number; dice: MeanStd[]; hd95: MeanStd[] }[];
  diffs: DiffSummary[];
}

const metricOf = (r: RoundEval, k: string): number | undefined => {
  const v = r.metrics[k];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
};

/** A run's mean over its last k evaluated rounds of one metric (undefined rounds left out). */
export function lastKMean(rounds: readonly RoundEval[], key: string, k: number): number {
  const tail = [...rounds].sort((a, b) => a.round - b.round).slice(-k);
  return mean(finite(tail.map((r) => metricOf(r, key))));
}

export function baselineOf(methods: readonly string[]): string | undefined {
  return methods.includes('fedavg') ? 'fedavg' : methods[0];
}

export function summarise(runs: readonly RunRecord[], o: { classes: string[]; lastK: number; folds: string[]; methods: string[]; trainSites: (fold: string) => string[]; bootstrapSeed?: number }): ExperimentSummary {
  const C = o.classes.length;
  const cells: CellSummary[] = [];
  for (const fold of o.folds) {
    for (const method of o.methods) {
      const rs = runs.filter((r) => r.fold === fold && r.method === method).sort((a, b) => a.seed - b.seed);
      if (!rs.length) continue;
      const byRound = new Map<number, RoundEval[]>();
      for (const r of rs) for (const e of r.rounds) byRound.set(e.round, [...(byRound.get(e.round) ?? []), e]);
      const avg = (es: RoundEval[], k: string) => {
        const v = finite(es.map((e) => metricOf(e, k)));
        return v.length ? mean(v) : null;
      };
      const sources = o.trainSites(fold);
      const perSite: Record<string, number> = {};
      for (const s of Object.keys(rs[0]!.bytesFromSite)) perSite[s] = mean(rs.map((r) => r.bytesFromSite[s] ?? 0));
      cells.push({
        fold, method, seeds: rs.length,
        dice: Array.from({ length: C }, (_, c) => meanStd(rs.map((r) => lastKMean(r.rounds, `dice_c${c}`, o.lastK)))),
        hd95: Array.from({ length: C }, (_, c) => meanStd(rs.map((r) => lastKMean(r.rounds, `hd95_c${c}`, o.lastK)))),
        curve: [...byRound.keys()].sort((a, b) => a - b).map((round) => {
          const es = byRound.get(round)!;
          return { round, dice: Array.from({ length: C }, (_, c) => avg(es, `dice_c${c}`)), hd95: Array.from({ length: C }, (_, c) => avg(es, `hd95_c${c}`)) };
        }),
        wallSeconds: meanStd(rs.map((r) => r.elapsedMs / 1000)),
        bytesFromSources: meanStd(rs.map((r) => sources.reduce((t, s) => t + (r.bytesFromSite[s] ?? 0), 0))),
        bytesPerSite: perSite,
      });
    }
  }
  const overall = o.methods.map((method) => {
    const cs = cells.filter((c) => c.method === method);
    return {
      method, folds: cs.length,
      dice: Array.from({ length: C }, (_, c) => meanStd(cs.map((x) => x.dice[c]!.mean))),
      hd95: Array.from({ length: C }, (_, c) => meanStd(cs.map((x) => x.hd95[c]!.mean))),
    };
  }).filter((x) => x.folds > 0);

  const diffs: DiffSummary[] = [];
  const baseline = baselineOf(o.methods);
  const rng = createRng(o.bootstrapSeed ?? 20240601);
  if (baseline) {
    for (const method of o.methods.filter((m) => m !== baseline)) {
      // rows[fold] = per seed, per image differences (seeds both methods ran, images both scored).
      const perFold = new Map<string, Map<number, number[][]>>();
      for (const fold of o.folds) {
        const bySeed = new Map<number, number[][]>();
        for (const r of runs.filter((x) => x.fold === fold && x.method === method)) {
          const b = runs.find((x) => x.fold === fold && x.method === baseline && x.seed === r.seed);
          if (!b) continue;
          const bi = new Map(b.final.perImage.map((p) => [p.name, p]));
          const rows = Array.from({ length: C }, () => [] as number[]);
          for (const p of r.final.perImage) {
            const q = bi.get(p.name);
            if (!q) continue;
            for (let c = 0; c < C; c++) rows[c]!.push(p.dice[c]! - q.dice[c]!);
          }
          bySeed.set(r.seed, rows);
        }
        if (bySeed.size) perFold.set(fold, bySeed);
      }
      const interval = (rowsBySeed: number[][][], c: number): BootstrapInterval | null => {
        const rows = rowsBySeed.map((r) => r[c]!).filter((r) => r.length > 0);
        if (!rows.length || rows.some((r) => r.length !== rows[0]!.length)) return null;
        return pairedBootstrap(rows, rng);
      };
      for (const [fold, bySeed] of perFold) {
        diffs.push({ fold, method, baseline, dice: Array.from({ length: C }, (_, c) => interval([...bySeed.values()], c)) });
      }
      if (perFold.size > 1) {
        // Pooled over folds: a seed's row is its differences on every fold's images, for the seeds every fold has.
        const seeds = [...perFold.values()].map((m) => new Set(m.keys())).reduce((a, b) => new Set([...a].filter((s) => b.has(s))));
        const pooled = [...seeds].map((s) => Array.from({ length: C }, (_, c) => [...perFold.values()].flatMap((m) => m.get(s)![c]!)));
        if (pooled.length) diffs.push({ fold: 'all', method, baseline, dice: Array.from({ length: C }, (_, c) => interval(pooled, c)) });
      }
    }
  }
  return { classes: o.classes, lastK: o.lastK, cells, overall, diffs };
}
