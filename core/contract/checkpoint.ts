// Checkpoint records in a site's store, declared once. The store keeps a free-form JSON `meta` per
// checkpoint; every writer (core/run/checkpoints.ts) writes one of these shapes and every reader parses
// it with this schema, so nothing depends on magic names or ad-hoc casts.
//  - model:     a usable network (local training, import, or a federation's global model), with its
//               ModelSpec; the blob is a self-describing model frame (meta.model inside the frame too).
//  - optimiser: Adam moments of one run, keyed by `runKey`, so a later run with another model (or
//               another hub) never picks up foreign state.
//  - update:    a finished federated update kept until the hub has it (crash-safe resend).
import { z } from 'zod';
import { ModelSpecSchema } from './model-spec.js';

const Int = z.number().int();
const Metrics = z.record(z.string(), z.number());

/** Where a model came from (what the Models list shows). */
export const ModelSourceSchema = z.enum(['local', 'global', 'imported']);
export type ModelSource = z.infer<typeof ModelSourceSchema>;

export const ModelCheckpointMeta = z.strictObject({
  role: z.literal('model'),
  model: ModelSpecSchema,
  source: ModelSourceSchema,
  /** Local runs: epochs and optimiser steps completed; partial = saved by a cancel mid-epoch. */
  epoch: Int.min(0).default(0),
  step: Int.min(0).default(0),
  partial: z.boolean().default(false),
  /** Federation: the hub (URL) and its run, and the round that produced this global model. */
  hub: z.string().max(2000).optional(),
  runKey: z.string().max(2200).optional(),
});

export const OptimiserCheckpointMeta = z.strictObject({
  role: z.literal('optimiser'),
  runKey: z.string().min(1).max(2200),
  step: Int.min(0).default(0),
});

export const UpdateCheckpointMeta = z.strictObject({
  role: z.literal('update'),
  runKey: z.string().min(1).max(2200),
  round: Int.min(1),
  globalHash: z.string().regex(/^[0-9a-f]{64}$/),
  numSamples: Int.min(1),
  metrics: Metrics,
  /** Which of the site's data it was trained on (its trainer's dataKey): an update of other data is never re-sent. */
  dataKey: z.string().max(400).optional(),
});

export const CheckpointMetaSchema = z.discriminatedUnion('role', [ModelCheckpointMeta, OptimiserCheckpointMeta, UpdateCheckpointMeta]);
export type CheckpointMeta = z.output<typeof CheckpointMetaSchema>;
export type ModelCheckpointMeta = z.output<typeof ModelCheckpointMeta>;
export type OptimiserCheckpointMeta = z.output<typeof OptimiserCheckpointMeta>;
export type UpdateCheckpointMeta = z.output<typeof UpdateCheckpointMeta>;
export type CheckpointRole = CheckpointMeta['role'];

/** A checkpoint to store: the blob is a frame of core/contract/weights.ts (validated before it is stored). */
export interface NewCheckpoint {
  name: string;
  blob: Uint8Array;
  runId?: number | null;
  round?: number | null;
  /** Model kind ('unet', 'asc-unet', ...) or OPTIMISER_KIND / UPDATE_KIND. */
  modelKind: string;
  meta?: Record<string, unknown>;
}

/** A stored checkpoint as every reader sees it (the site store adds its size and hash). */
export interface CheckpointRecord {
  id: number;
  name: string;
  runId: number | null;
  round: number | null;
  modelKind: string;
  meta: Record<string, unknown>;
  createdAt: string;
}

/** The store's modelKind column for records that are not networks. */
export const OPTIMISER_KIND = 'optimiser';
export const UPDATE_KIND = 'update';
