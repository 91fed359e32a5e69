// The options `fedseg experiment` and `fedseg demo` share (docs/experiments.md §2): methods, seeds,
// rounds, the network and its local training, how the runs execute. One parser, so both commands
// accept and check them alike.
import { intArg, numArg, SEED_RANGE, type OptionsConfig } from '../contract/cli-args.js';
import { UsageError } from '../contract/exit-codes.js';
import type { TrainConfig } from '../contract/hub-protocol.js';
import { isStrategyName, STRATEGY_NAMES } from '../contract/strategy-names.js';
import type { ModelKind } from '../contract/model-spec.js';
import { backendArg } from './backend-arg.js';

export const RUN_OPTIONS = {
  methods: { type: 'string' }, seeds: { type: 'string' }, rounds: { type: 'string' }, 'last-k': { type: 'string' },
  model: { type: 'string' }, 'base-width': { type: 'string' }, depth: { type: 'string' }, batch: { type: 'string' },
  'local-epochs': { type: 'string' }, lr: { type: 'string' }, alpha: { type: 'string' }, 'max-steps': { type: 'string' },
  backend: { type: 'string' }, 'in-process': { type: 'boolean' }, out: { type: 'string' }, 'timeout-min': { type: 'string' },
  overlays: { type: 'string' }, 'keep-stores': { type: 'boolean' }, fresh: { type: 'boolean' },
} as const satisfies OptionsConfig;

export function runOptionsHelp(d: { rounds: number; methods: string; seeds: string; out: string; baseWidth: number }): string {
  return `  --methods LIST     hub strategies, in order: ${STRATEGY_NAMES.join(', ')} (default ${d.methods});
                     differences are reported against fedavg (else the first)
  --seeds N|LIST     N seeds 1..N, or a comma list of seeds, each 0-4294967295 (default ${d.seeds}); a seed
                     sets the global initialisation and every site's shuffling and CFSI draws
  --rounds N         federated rounds per run, >= 1 (default ${d.rounds})
  --last-k N         the table averages each run's last N rounds (default min(5, rounds))
  --model KIND       unet | asc-unet (default unet)
  --base-width N     first-block width, 2-256 (default ${d.baseWidth}; reference 16)
  --depth N          U-Net levels, 2-5 (default 5; the image side must divide by 2^(depth-1))
  --batch N          local batch size (default 5, reference)
  --local-epochs N   local epochs per round (default 1, reference)
  --lr X             Adam learning rate (default 0.001, reference)
  --alpha X          CFSI window fraction, 0-0.5 (default 0.003)
  --max-steps N      at most N local steps per epoch, 0 = all (default 0)
  --backend NAME     compute backend of the sites (default wasm)
  --in-process       run the sites inside this process (same \`fedseg site\` code, one JS thread) instead
                     of one process each; the hub is always its own process
  --out DIR          output directory (default ${d.out}); run the same command again to continue it
  --fresh            start over: remove what --out holds first
  --timeout-min N    give up a run after N minutes (default 60)
  --overlays N       overlays of the final model per fold and method (default 4)
  --keep-stores      keep every run's site stores and hub state under DIR/work`;
}

export interface RunArgs {
  methods: string[];
  seeds: number[];
  rounds: number;
  lastK: number;
  model: { kind: ModelKind; config: Record<string, number> };
  train: TrainConfig;
  backend: string;
  inProcess: boolean;
  timeoutMs: number;
  overlays: number;
  keepStores: boolean;
  fresh: boolean;
}

export function parseSeeds(v: string | undefined, def: number[]): number[] {
  if (v === undefined) return def;
  if (/^\d+$/.test(v) && !v.includes(',')) {
    const n = intArg(v, 'seeds', { min: 1, max: 1000 })!;
    return Array.from({ length: n }, (_, i) => i + 1);
  }
  const list = v.split(',').map((s) => s.trim());
  if (list.some((s) => !/^\d+$/.test(s))) throw new UsageError(`--seeds takes a count (3) or a comma list of seeds (1,7,42), got '${v}'`);
  const seeds = list.map((s) => intArg(s, 'seeds', SEED_RANGE)!);
  if (new Set(seeds).size !== seeds.length) throw new UsageError(`--seeds lists a seed twice: '${v}'`);
  return seeds;
}

export function parseMethods(v: string | undefined, def: string[]): string[] {
  const list = v === undefined ? def : v.split(',').map((m) => m.trim()).filter(Boolean);
  if (!list.length) throw new UsageError('--methods needs at least one method');
  for (const m of list) if (!isStrategyName(m)) throw new UsageError(`--methods: '${m}' is not a hub strategy (known: ${STRATEGY_NAMES.join(', ')})`);
  if (new Set(list).size !== list.length) throw new UsageError(`--methods lists a method twice: '${v}'`);
  return list;
}

export function parseRunArgs(v: Partial<Record<keyof typeof RUN_OPTIONS, string | boolean>>, d: { rounds: number; methods: string[]; seeds: number[]; baseWidth: number }): RunArgs {
  const str = (k: keyof typeof RUN_OPTIONS) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const rounds = intArg(str('rounds'), 'rounds', { min: 1, max: 100000 }) ?? d.rounds;
  const kind = str('model') ?? 'unet';
  if (kind !== 'unet' && kind !== 'asc-unet') throw new UsageError(`--model takes unet or asc-unet (the networks ELCFS trains), got '${kind}'`);
  return {
    methods: parseMethods(str('methods'), d.methods),
    seeds: parseSeeds(str('seeds'), d.seeds),
    rounds,
    lastK: Math.min(rounds, intArg(str('last-k'), 'last-k', { min: 1, max: 100000 }) ?? 5),
    model: { kind, config: { baseWidth: intArg(str('base-width'), 'base-width', { min: 2, max: 256 }) ?? d.baseWidth, depth: intArg(str('depth'), 'depth', { min: 2, max: 5 }) ?? 5 } },
    train: {
      localEpochs: intArg(str('local-epochs'), 'local-epochs', { min: 1, max: 1000 }) ?? 1,
      batchSize: intArg(str('batch'), 'batch', { min: 1, max: 4096 }) ?? 5,
      lr: numArg(str('lr'), 'lr', { min: 1e-8, max: 1 }) ?? 1e-3,
      alpha: numArg(str('alpha'), 'alpha', { min: 0, max: 0.5 }) ?? 0.003,
      maxStepsPerEpoch: intArg(str('max-steps'), 'max-steps', { min: 0 }) ?? 0,
    },
    backend: backendArg(str('backend')) ?? 'wasm',
    inProcess: v['in-process'] === true,
    timeoutMs: (intArg(str('timeout-min'), 'timeout-min', { min: 1, max: 100000 }) ?? 60) * 60_000,
    overlays: intArg(str('overlays'), 'overlays', { min: 0, max: 64 }) ?? 4,
    keepStores: v['keep-stores'] === true,
    fresh: v.fresh === true,
  };
}

/** Checks that the network can take images of this side (it pools depth - 1 times). */
export function checkImageSide(size: number, depth: number): void {
  const f = 2 ** (depth - 1);
  if (size % f) throw new UsageError(`images of ${size} px do not fit a depth-${depth} U-Net (the side must be a multiple of ${f}); use --depth ${Math.max(2, Math.floor(Math.log2(size & -size)) + 1)} or resize on import`);
}
