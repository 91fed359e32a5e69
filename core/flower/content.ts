// What a FedSeg ServerApp and a FedSeg SuperNode put in Flower messages (docs/flower.md §5): weights
// as an ArrayRecord of float32 .npy arrays named as FedSeg names them, amplitude windows as
// [n, C, 2b+1, 2b+1] arrays (docs/algorithms.md §2), the model spec and training settings in the
// `config` ConfigRecord, metrics with `num-examples`. Everything read from a message is validated
// here, at the trust boundary, with a reason a coordinator can act on.
import { FedSegError } from '../contract/errors.js';
import type { TrainConfig, TrainMode } from '../contract/hub-protocol.js';
import { ModelSpecSchema, type ModelSpec } from '../contract/model-spec.js';
import type { NamedArray } from '../contract/weights.js';
import type { SpectrumWindow } from '../federation/trainer.js';
import { decodeNpy, encodeNpy } from './npy.js';
import type { ConfigValue, FlowerArray, FlowerRecord, MetricValue, RecordDict } from './objects.js';

const bad = (why: string) => new FedSegError('PROTOCOL_ERROR', why);

export function arrayOf(shape: number[], data: Float32Array): FlowerArray {
  return { dtype: 'float32', shape, stype: 'numpy.ndarray', data: encodeNpy(shape, data) };
}

export function readArray(name: string, a: FlowerArray): NamedArray {
  if (a.stype !== 'numpy.ndarray') throw bad(`array '${name}' has serialisation type '${a.stype}'; FedSeg reads numpy.ndarray`);
  const n = decodeNpy(a.data);
  if (n.shape.join(',') !== a.shape.join(',')) throw bad(`array '${name}' declares shape [${a.shape.join(', ')}] but holds [${n.shape.join(', ')}]`);
  return { name, shape: n.shape, data: n.data };
}

export function weightsRecord(arrays: readonly NamedArray[]): FlowerRecord {
  return { type: 'array', arrays: new Map(arrays.map((a) => [a.name, arrayOf(a.shape, a.data)])) };
}

export function metricsRecord(m: Record<string, number>): FlowerRecord {
  const values = new Map<string, MetricValue>();
  for (const [k, v] of Object.entries(m)) if (Number.isFinite(v)) values.set(k, v);
  return { type: 'metric', values };
}

export function configRecord(c: Record<string, ConfigValue>): FlowerRecord {
  return { type: 'config', values: new Map(Object.entries(c)) };
}

/** The arrays of an ArrayRecord, as FedSeg weights, in the record's order. */
export function readWeights(content: RecordDict, key = 'arrays'): NamedArray[] {
  const r = content.get(key);
  if (!r) throw bad(`the message has no '${key}' record`);
  if (r.type !== 'array') throw bad(`'${key}' is a ${r.type} record, not an ArrayRecord`);
  return [...r.arrays.entries()].map(([name, a]) => readArray(name, a));
}

/** The config record's values (empty when the message has none). */
export function readConfig(content: RecordDict | null): Map<string, ConfigValue> {
  const r = content?.get('config');
  if (!r) return new Map();
  if (r.type !== 'config') throw bad(`'config' is a ${r.type} record, not a ConfigRecord`);
  return r.values;
}

export function num(c: ReadonlyMap<string, ConfigValue>, key: string, dflt: number, check: (x: number) => boolean = Number.isFinite): number {
  const v = c.get(key);
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !check(v)) throw bad(`config '${key}' is ${JSON.stringify(v)}; a ${check === Number.isFinite ? 'finite number' : 'number in range'} belongs there`);
  return v;
}

/** The model spec: the message's `fedseg-model`, else the run's config (a Flower ServerApp that is not FedSeg's names it there). */
export function readSpec(c: ReadonlyMap<string, ConfigValue>, runConfig: ReadonlyMap<string, string | number | boolean>): ModelSpec {
  const raw = c.get('fedseg-model') ?? runConfig.get('fedseg-model');
  if (raw === undefined) throw bad('the message does not say which model to build: the ServerApp must send fedseg-model (a FedSeg ModelSpec as JSON) in its config, or the run config must hold it');
  if (typeof raw !== 'string') throw bad('fedseg-model must be a JSON string');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw bad(`fedseg-model is not JSON: ${raw.slice(0, 80)}`);
  }
  const s = ModelSpecSchema.safeParse(parsed);
  if (!s.success) throw bad(`fedseg-model is not a FedSeg model: ${s.error.issues.map((i) => `${i.path.join('.') || 'model'}: ${i.message}`).join('; ')}`);
  return s.data;
}

export function readTrainConfig(c: ReadonlyMap<string, ConfigValue>): { mode: TrainMode; config: TrainConfig } {
  const mode = c.get('mode') ?? 'fedavg';
  if (mode !== 'fedavg' && mode !== 'elcfs') throw bad(`config 'mode' is ${JSON.stringify(mode)}; 'fedavg' or 'elcfs' belongs there`);
  const int = (lo: number, hi: number) => (x: number) => Number.isInteger(x) && x >= lo && x <= hi;
  const config: TrainConfig = {
    localEpochs: num(c, 'local-epochs', 1, int(1, 1000)),
    batchSize: num(c, 'batch-size', 5, int(1, 4096)),
    lr: num(c, 'lr', 1e-3, (x) => Number.isFinite(x) && x > 0 && x < 10),
    alpha: num(c, 'alpha', 0.003, (x) => Number.isFinite(x) && x >= 0 && x <= 0.5),
    maxStepsPerEpoch: num(c, 'max-steps-per-epoch', 0, int(0, 1e9)),
  };
  const vf = c.get('val-fraction');
  if (vf !== undefined) config.valFraction = num(c, 'val-fraction', 0, (x) => Number.isFinite(x) && x >= 0 && x <= 0.5);
  return { mode, config };
}

/** One site's windows as one [n, C, 2b+1, 2b+1] array (docs/algorithms.md §2). */
export function windowsArray(ws: readonly SpectrumWindow[]): FlowerArray {
  const c = ws[0]!.channels;
  const side = 2 * ws[0]!.halfWidth + 1;
  const data = new Float32Array(ws.length * c * side * side);
  ws.forEach((w, i) => data.set(w.data, i * c * side * side));
  return arrayOf([ws.length, c, side, side], data);
}

/** The ELCFS bank of a train message: one group of windows per other source site, in source order. */
export function readBank(content: RecordDict): SpectrumWindow[][] {
  const r = content.get('bank');
  if (!r) return [];
  if (r.type !== 'array') throw bad(`'bank' is a ${r.type} record, not an ArrayRecord`);
  const groups: SpectrumWindow[][] = [];
  for (const [name, a] of r.arrays) {
    const w = readArray(name, a);
    const [n, ch, h, wd] = w.shape;
    if (w.shape.length !== 4 || !n || !ch || !h || h !== wd || h % 2 !== 1 || ch > 64)
      throw bad(`bank array '${name}' has shape [${w.shape.join(', ')}]; [n, C, 2b+1, 2b+1] belongs there`);
    const size = ch * h * h;
    groups.push(Array.from({ length: n }, (_, i) => ({ channels: ch, halfWidth: (h - 1) / 2, data: w.data.slice(i * size, (i + 1) * size) })));
  }
  return groups;
}

/** The weights in the order and with the names of `like` (the global model received); anything else is a bug worth stopping for. */
export function inOrderOf(like: readonly NamedArray[], got: readonly NamedArray[]): NamedArray[] {
  const by = new Map(got.map((a) => [a.name, a]));
  return like.map((l) => {
    const a = by.get(l.name);
    if (!a || a.shape.join(',') !== l.shape.join(',')) throw new FedSegError('SHAPE_MISMATCH', `the trained weights lack '${l.name}' [${l.shape.join(', ')}]`);
    return a;
  });
}

/** A short account of a message's content for the audit log (names and sizes, never values). */
export function describeContent(content: RecordDict | null): string {
  if (!content) return 'no content';
  return [...content.entries()].map(([k, r]) => {
    if (r.type === 'array') {
      const bytes = [...r.arrays.values()].reduce((t, a) => t + a.data.length, 0);
      return `${k}: ${r.arrays.size} array(s), ${bytes} bytes`;
    }
    return `${k}: ${[...r.values.keys()].slice(0, 12).join(',')}`;
  }).join('; ');
}
