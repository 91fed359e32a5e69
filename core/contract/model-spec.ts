// What a model IS, declared once: the network kind, its size, its input/output shape and how images
// become its input. Every weights file, checkpoint, hub export and received global model carries one
// (in its manifest's meta.model), so any of them can be evaluated, segmented with, resumed from or
// used as initial weights without side information. The builders live in core/models/registry.ts
// (one per kind); this file holds only the schema, so the hub and the renderer can read specs too.
// Kinds: docs/algorithms.md §3 (the reference U-Net), §7 (ASC layers, ASCNet-N, the classic and
// dilated CNN baselines, the ASC U-Net hybrid).
import { z } from 'zod';

export const SIGMOID_KINDS = ['unet', 'asc-unet'] as const;
export const SOFTMAX_KINDS = ['ascnet-7', 'ascnet-14', 'cnn-7', 'dilated-7'] as const;
export const MODEL_KINDS = [...SIGMOID_KINDS, ...SOFTMAX_KINDS] as const;
export const ModelKindSchema = z.enum(MODEL_KINDS);
export type ModelKind = z.infer<typeof ModelKindSchema>;

/**
 * How a network reads its outputs: 'sigmoid' = one independent probability per mask class (multi-label,
 * fundus disc + cup); 'softmax' = background plus one class per nested mask channel (ASCNet-N).
 */
export type ModelOutput = 'sigmoid' | 'softmax';
export const MODEL_OUTPUT: Readonly<Record<ModelKind, ModelOutput>> = {
  'unet': 'sigmoid', 'asc-unet': 'sigmoid', 'ascnet-7': 'softmax', 'ascnet-14': 'softmax', 'cnn-7': 'softmax', 'dilated-7': 'softmax',
};

/**
 * Input preprocessing, applied in exactly one place (core/run/network-input.ts) for training,
 * evaluation and the Segment view alike. 'none' feeds pixel values as stored (fundus 0..255, MRI
 * already z-scored at import: the reference protocol); 'zscore' standardises each image and channel.
 */
export const InputSpecSchema = z.strictObject({
  normalise: z.enum(['none', 'zscore']).default('none'),
});
export type InputSpec = z.infer<typeof InputSpecSchema>;

const Int = z.number().int();
const common = {
  inChannels: Int.min(1).max(64),
  /** Mask classes (softmax kinds output one more: background). */
  classes: Int.min(1).max(64),
  input: InputSpecSchema.default({ normalise: 'none' }),
};
const unetConfig = { baseWidth: Int.min(2).max(256).default(16), depth: Int.min(2).max(7).default(5) };
/** Initial beta of the rate field's last batch norm (the learned rate starts near it). */
const rateBeta = z.number().min(-100).max(100).default(1);

export const ModelSpecSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('unet'), ...common, config: z.strictObject(unetConfig).default({ baseWidth: 16, depth: 5 }) }),
  z.strictObject({ kind: z.literal('asc-unet'), ...common, config: z.strictObject({ ...unetConfig, rateBeta }).default({ baseWidth: 16, depth: 5, rateBeta: 1 }) }),
  z.strictObject({ kind: z.enum(SOFTMAX_KINDS), ...common, config: z.strictObject({ rateBeta }).default({ rateBeta: 1 }) }),
]);
export type ModelSpec = z.output<typeof ModelSpecSchema>;
export type ModelSpecInput = z.input<typeof ModelSpecSchema>;

/** Number of output channels of the network (softmax kinds add background). */
export function outputChannels(spec: Pick<ModelSpec, 'kind' | 'classes'>): number {
  return MODEL_OUTPUT[spec.kind] === 'softmax' ? spec.classes + 1 : spec.classes;
}

/** One line for people: "U-Net base 16 depth 5, 3 -> 2 classes". */
export function describeSpec(spec: ModelSpec): string {
  const size = 'baseWidth' in spec.config ? ` base ${spec.config.baseWidth} depth ${spec.config.depth}` : '';
  return `${spec.kind}${size}, ${spec.inChannels} channel(s) -> ${spec.classes} class(es)${spec.input.normalise === 'none' ? '' : `, ${spec.input.normalise} input`}`;
}
