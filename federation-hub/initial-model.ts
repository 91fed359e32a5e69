// The one global initialisation (docs/algorithms.md §1) as the hub stores it: from the hub's
// `initWeights` file (a weights or model file; a model file of another network kind is refused), or
// from the weights one train site built from initSeed. Either becomes the round-0 checkpoint.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FedSegError } from '../core/contract/errors.js';
import { decodeWeights, encodeWeights, type NamedArray } from '../core/contract/weights.js';
import type { HubConfig } from './config.js';
import type { HubState } from './state.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The initWeights file as the round-0 frame (stored), or null when the config names none. */
export function initialFromFile(config: HubConfig, state: HubState): Uint8Array | null {
  if (!config.initWeights) return null;
  let buf: Uint8Array;
  try {
    buf = readFileSync(config.initWeights);
  } catch (e) {
    throw new FedSegError('IO_ERROR', `cannot read initWeights ${config.initWeights}: ${(e as Error).message}`);
  }
  const { arrays, meta } = decodeWeights(buf);
  const spec = meta?.model as { kind?: unknown } | undefined;
  if (spec && spec.kind !== config.model.kind)
    throw new FedSegError('SHAPE_MISMATCH', `initWeights ${config.initWeights} holds a '${String(spec.kind)}' model; this hub trains '${config.model.kind}'`);
  const frame = encodeWeights(arrays);
  state.saveInitialCheckpoint(frame, sha256(frame), config.initWeights);
  return frame;
}

/** A site's initial model, checked (non-empty, finite) and stored as the round-0 frame. */
export function acceptInitialModel(state: HubState, site: string, arrays: NamedArray[]): Uint8Array {
  if (arrays.length === 0) throw new FedSegError('BAD_UPDATE', 'initial model has no weights');
  for (const a of arrays) for (const v of a.data) if (!Number.isFinite(v)) throw new FedSegError('BAD_UPDATE', `initial weight '${a.name}' is not finite`);
  const frame = encodeWeights(arrays);
  state.saveInitialCheckpoint(frame, sha256(frame), site);
  return frame;
}
