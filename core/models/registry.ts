// The one place that turns a ModelSpec (core/contract/model-spec.ts) into a network. One builder per
// kind: the reference U-Net (docs/algorithms.md §3), the ASC U-Net hybrid, ASCNet-7/-14 and the classic
// and dilated CNN baselines (§7). Everything else (app, CLI, site, demo, experiments) asks for
// `buildNetwork(spec)` and never constructs a model itself, so a stored spec always rebuilds exactly
// the network that was trained.
import { FedSegError } from '../contract/errors.js';
import { MODEL_OUTPUT, ModelSpecSchema, outputChannels, type ModelOutput, type ModelSpec, type ModelSpecInput } from '../contract/model-spec.js';
import type { AscImpl } from './asc-conv.js';
import { createAscNet } from './ascnet.js';
import { createAscUNet } from './asc-unet.js';
import { isTrainableWeight } from './rate-field.js';
import type { SegModel } from './seg-model.js';
import { createUNet } from './unet.js';

export interface WeightEntry {
  name: string;
  shape: number[];
}

/** A built network and what callers need to know about it. */
export interface Network {
  readonly spec: ModelSpec;
  readonly model: SegModel;
  readonly output: ModelOutput;
  /** Channels of `probs` (softmax kinds: classes + 1, background first). */
  readonly outputChannels: number;
  /** Every weight entry (trainable and batch-norm running statistics), in a stable order. */
  readonly shapes: readonly WeightEntry[];
  /** Input height and width must be multiples of this (U-Nets pool depth - 1 times). */
  readonly sizeMultiple: number;
  /** True when the network has batch-norm running statistics (calibrated after training). */
  readonly hasBatchNorm: boolean;
  /** true for entries an optimiser updates (not the running statistics). */
  isTrainable(name: string): boolean;
}

export interface BuildOptions {
  /** ASC layer implementation (a runtime choice, not part of the model). */
  impl?: AscImpl;
}

/** Validates (and fills the defaults of) a spec; a bad spec is a one-line INVALID_ARGUMENT naming the field. */
export function parseModelSpec(input: unknown, what = 'model spec'): ModelSpec {
  const r = ModelSpecSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new FedSegError('INVALID_ARGUMENT', `${what}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return r.data;
}

function build(spec: ModelSpec, opts: BuildOptions): { model: SegModel; shapes: WeightEntry[]; sizeMultiple: number } {
  const impl = opts.impl ? { impl: opts.impl } : {};
  switch (spec.kind) {
    case 'unet': {
      const m = createUNet({ inChannels: spec.inChannels, classes: spec.classes, baseWidth: spec.config.baseWidth, depth: spec.config.depth });
      return { model: m, shapes: m.shapes, sizeMultiple: 2 ** (spec.config.depth - 1) };
    }
    case 'asc-unet': {
      const m = createAscUNet({ inChannels: spec.inChannels, classes: spec.classes, baseWidth: spec.config.baseWidth, depth: spec.config.depth, rateBeta: spec.config.rateBeta, ...impl });
      return { model: m, shapes: m.shapes, sizeMultiple: 2 ** (spec.config.depth - 1) };
    }
    default: {
      const m = createAscNet({ kind: spec.kind, inChannels: spec.inChannels, classes: outputChannels(spec), rateBeta: spec.config.rateBeta, ...impl });
      return { model: m, shapes: m.shapes, sizeMultiple: 1 };
    }
  }
}

/** The network a spec describes (validated first). */
export function buildNetwork(input: ModelSpec | ModelSpecInput, opts: BuildOptions = {}): Network {
  const spec = parseModelSpec(input);
  const { model, shapes, sizeMultiple } = build(spec, opts);
  const entries = shapes.map((s) => ({ name: s.name, shape: [...s.shape] }));
  return {
    spec,
    model,
    output: MODEL_OUTPUT[spec.kind],
    outputChannels: outputChannels(spec),
    shapes: entries,
    sizeMultiple,
    hasBatchNorm: entries.some((e) => !isTrainableWeight(e.name)),
    isTrainable: isTrainableWeight,
  };
}

/** Total number of values over the trainable entries. */
export function trainableParamCount(net: Network): number {
  return net.shapes.filter((s) => net.isTrainable(s.name)).reduce((a, s) => a + s.shape.reduce((p, q) => p * q, 1), 0);
}
