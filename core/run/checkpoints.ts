// Typed checkpoint records in a site's store (core/contract/checkpoint.ts): every model, optimiser
// state and pending federated update is written and read here, never by name conventions elsewhere.
// Model blobs are self-describing model frames (core/models/model-io.ts). Stores written by older
// versions of FedSeg (app checkpoints with {usable, model: {kind, inChannels, classes, baseWidth,
// depth}}, federation globals whose spec sat in a setting) are read through legacyMeta, never rewritten.
import {
  CheckpointMetaSchema, OPTIMISER_KIND, UPDATE_KIND,
  type CheckpointMeta, type ModelCheckpointMeta, type ModelSource, type UpdateCheckpointMeta,
} from '../contract/checkpoint.js';
import { FedSegError } from '../contract/errors.js';
import type { ModelSpec } from '../contract/model-spec.js';
import { decodeWeights, encodeWeights, type NamedArray } from '../contract/weights.js';
import { decodeModel, encodeModel, upgradeSpec } from '../models/model-io.js';
import type { CheckpointLedger, SettingsLedger, StoredCheckpoint } from './ports.js';

/** Where older app versions kept the hub's model spec (their global checkpoints lacked one). */
const LEGACY_SPEC_SETTING = 'app.federation.modelSpec';
const LEGACY_GLOBAL_NAME = 'federation-global';

export interface ModelRecord {
  info: StoredCheckpoint;
  meta: ModelCheckpointMeta;
}

function legacyMeta(info: StoredCheckpoint, settings?: SettingsLedger): CheckpointMeta | null {
  const m = info.meta as { usable?: unknown; model?: unknown; source?: unknown; epoch?: unknown; step?: unknown; partial?: unknown; hub?: unknown };
  try {
    if (m.usable === true && m.model) {
      return {
        role: 'model', model: upgradeSpec({ kind: info.modelKind, ...(m.model as object) }, `checkpoint '${info.name}'`),
        source: m.source === 'imported' ? 'imported' : 'local', epoch: Number(m.epoch ?? 0) | 0, step: Number(m.step ?? 0) | 0, partial: m.partial === true,
      };
    }
    if (info.name === LEGACY_GLOBAL_NAME) {
      const spec = settings?.getSetting<Record<string, unknown>>(LEGACY_SPEC_SETTING);
      if (!spec || spec.kind !== info.modelKind) return null;
      return { role: 'model', model: upgradeSpec(spec, `checkpoint '${info.name}'`), source: 'global', epoch: 0, step: 0, partial: false, ...(typeof m.hub === 'string' ? { hub: m.hub } : {}) };
    }
  } catch {
    return null;
  }
  return null;
}

/** A checkpoint's record, parsed; null when it is none of ours (or an older record without a usable spec). */
export function checkpointMeta(info: StoredCheckpoint, settings?: SettingsLedger): CheckpointMeta | null {
  const r = CheckpointMetaSchema.safeParse(info.meta);
  return r.success ? r.data : legacyMeta(info, settings);
}

/** Every usable model in the store, oldest first. */
export function listModelRecords(ledger: CheckpointLedger, settings?: SettingsLedger, q?: { runId?: number }): ModelRecord[] {
  const out: ModelRecord[] = [];
  for (const info of ledger.listCheckpoints(q)) {
    const meta = checkpointMeta(info, settings);
    if (meta?.role === 'model') out.push({ info, meta });
  }
  return out;
}

export function modelRecord(ledger: CheckpointLedger, id: number, settings?: SettingsLedger): ModelRecord {
  const info = ledger.getCheckpoint(id);
  if (!info) throw new FedSegError('NOT_FOUND', `model ${id} no longer exists`);
  const meta = checkpointMeta(info, settings);
  if (!meta) throw new FedSegError('CORRUPT_FILE', `checkpoint '${info.name}' (id ${id}) records no model spec; it cannot be used`);
  if (meta.role !== 'model') throw new FedSegError('INVALID_ARGUMENT', `checkpoint '${info.name}' (id ${id}) is ${meta.role === 'optimiser' ? 'optimiser state' : 'a pending federated update'}, not a model`);
  return { info, meta };
}

/** A model's spec and weights (names and shapes checked against the spec). */
export function readModel(ledger: CheckpointLedger, id: number, settings?: SettingsLedger): ModelRecord & { spec: ModelSpec; arrays: NamedArray[] } {
  const rec = modelRecord(ledger, id, settings);
  const d = decodeModel(ledger.loadCheckpoint(id), undefined, rec.meta.model);
  return { ...rec, spec: d.spec, arrays: d.arrays };
}

export interface NewModel {
  name: string;
  spec: ModelSpec;
  arrays: NamedArray[];
  source: ModelSource;
  runId?: number | null;
  round?: number | null;
  epoch?: number;
  step?: number;
  partial?: boolean;
  hub?: string;
  runKey?: string;
}

export function saveModel(ledger: CheckpointLedger, m: NewModel): StoredCheckpoint {
  const meta: ModelCheckpointMeta = {
    role: 'model', model: m.spec, source: m.source, epoch: m.epoch ?? 0, step: m.step ?? 0, partial: m.partial ?? false,
    ...(m.hub !== undefined ? { hub: m.hub } : {}), ...(m.runKey !== undefined ? { runKey: m.runKey } : {}),
  };
  return ledger.saveCheckpoint({
    name: m.name, blob: encodeModel(m.spec, m.arrays, { meta: { ...(m.round !== undefined && m.round !== null ? { round: m.round } : {}) } }),
    runId: m.runId ?? null, round: m.round ?? null, modelKind: m.spec.kind, meta,
  });
}

/**
 * Keeps a federation's global model of `round`, labelled by hub and round (one per round and run; a
 * round already kept is not stored twice).
 */
export function saveGlobalModel(ledger: CheckpointLedger, g: { spec: ModelSpec; arrays: NamedArray[]; hub: string; hubName: string; runKey: string; round: number; totalRounds?: number; runId?: number | null }): StoredCheckpoint | null {
  const same = listModelRecords(ledger).filter((r) => r.meta.source === 'global' && r.meta.runKey === g.runKey);
  // Every round's model is kept (an operator compares rounds, and the final one must never be lost); a re-sent round is not stored twice.
  if (same.some((r) => r.info.round === g.round)) return null;
  const of = g.totalRounds ? ` of ${g.totalRounds}${g.round >= g.totalRounds ? ', final' : ''}` : '';
  return saveModel(ledger, {
    name: `Global model · ${g.hubName} · round ${g.round}${of}`, spec: g.spec, arrays: g.arrays, source: 'global', round: g.round, hub: g.hub, runKey: g.runKey,
    ...(g.runId ? { runId: g.runId } : {}),
  });
}

// ---- optimiser state, keyed by run ------------------------------------------------------------

function recordsOf(ledger: CheckpointLedger, role: 'optimiser' | 'update', runKey?: string): { info: StoredCheckpoint; meta: CheckpointMeta }[] {
  const out: { info: StoredCheckpoint; meta: CheckpointMeta }[] = [];
  for (const info of ledger.listCheckpoints()) {
    const meta = checkpointMeta(info);
    if (meta?.role === role && (runKey === undefined || meta.runKey === runKey)) out.push({ info, meta });
  }
  return out;
}

/** Stores a run's optimiser state, replacing its previous one (one transaction). */
export function saveOptimiser(ledger: CheckpointLedger, runKey: string, arrays: NamedArray[], o: { step: number; runId?: number | null; name?: string }): void {
  ledger.transaction(() => {
    const old = recordsOf(ledger, 'optimiser', runKey);
    ledger.saveCheckpoint({ name: o.name ?? 'optimiser state', blob: encodeWeights(arrays), runId: o.runId ?? null, round: null, modelKind: OPTIMISER_KIND, meta: { role: 'optimiser', runKey, step: o.step } });
    for (const r of old) ledger.deleteCheckpoint(r.info.id);
  });
}

/** The run's optimiser state, or null when the run has none yet. */
export function loadOptimiser(ledger: CheckpointLedger, runKey: string): NamedArray[] | null {
  const rec = recordsOf(ledger, 'optimiser', runKey).at(-1);
  return rec ? decodeWeights(ledger.loadCheckpoint(rec.info.id)).arrays : null;
}

export function deleteOptimiser(ledger: CheckpointLedger, runKey: string): void {
  for (const r of recordsOf(ledger, 'optimiser', runKey)) ledger.deleteCheckpoint(r.info.id);
}

// ---- pending federated updates ----------------------------------------------------------------

/** Keeps a finished update until the hub has it (crash-safe); replaces the run's previous one. */
export function saveUpdate(ledger: CheckpointLedger, u: Omit<UpdateCheckpointMeta, 'role'>, arrays: NamedArray[]): void {
  ledger.transaction(() => {
    const old = recordsOf(ledger, 'update');
    ledger.saveCheckpoint({ name: `federated update (round ${u.round})`, blob: encodeWeights(arrays), round: u.round, modelKind: UPDATE_KIND, meta: { role: 'update', ...u } });
    for (const r of old) ledger.deleteCheckpoint(r.info.id);
  });
}

/** The kept update of this run, round, global model and data, if there is one. */
export function findUpdate(ledger: CheckpointLedger, runKey: string, round: number, globalHash: string, dataKey?: string): { meta: UpdateCheckpointMeta; arrays: NamedArray[] } | null {
  for (const r of recordsOf(ledger, 'update', runKey)) {
    const m = r.meta as UpdateCheckpointMeta;
    if (m.round === round && m.globalHash === globalHash && m.dataKey === dataKey) return { meta: m, arrays: decodeWeights(ledger.loadCheckpoint(r.info.id)).arrays };
  }
  return null;
}

/** The round of the newest kept update (of this run, or of any), which a site reports when it rejoins. */
export function pendingRound(ledger: CheckpointLedger, runKey?: string): number | null {
  const r = recordsOf(ledger, 'update', runKey).at(-1);
  return r ? (r.meta as UpdateCheckpointMeta).round : null;
}
