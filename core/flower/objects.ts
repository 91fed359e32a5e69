// Flower's content-addressed objects (docs/flower.md §4): a message's content travels as a tree of
// objects, each named by the SHA-256 of its bytes: `<type> <child ids> <body length>\0<body>`.
// Message (protobuf metadata + error) -> RecordDict (JSON refs) -> ArrayRecord (JSON refs) /
// MetricRecord / ConfigRecord (protobuf) ; Array (JSON metadata) -> ArrayChunk (raw <= 5 MiB).
// FedSeg writes the bytes Flower writes (Python json.dumps separators, the same protobuf messages), so
// an object has the id Flower would give it; what it reads is checked against its id and its head.
import { createHash } from 'node:crypto';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { FedSegError } from '../contract/errors.js';
import { MessageSchema, MetadataSchema, ObjectTreeSchema, type Metadata, type ObjectTree } from './gen/flwr/proto/message_pb.js';
import {
  BoolListSchema, BytesListSchema, ConfigRecordSchema, ConfigRecordValueSchema, DoubleListSchema, MetricRecordSchema, SintListSchema, StringListSchema, MetricRecordValueSchema, type ConfigRecordValue, type MetricRecordValue,
} from './gen/flwr/proto/recorddict_pb.js';
import { ErrorSchema } from './gen/flwr/proto/error_pb.js';

/** Flower's FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE default. */
export const MAX_CHUNK_BYTES = 5 * 1024 * 1024;

export interface FlowerArray {
  /** numpy dtype name, e.g. 'float32'. */
  dtype: string;
  shape: number[];
  /** Serialisation type: 'numpy.ndarray' = data is a .npy file. */
  stype: string;
  data: Uint8Array;
}

export type MetricValue = number | number[];
export type ConfigValue = number | boolean | string | Uint8Array | number[] | boolean[] | string[] | Uint8Array[];

export type FlowerRecord =
  | { type: 'array'; arrays: Map<string, FlowerArray> }
  | { type: 'metric'; values: Map<string, MetricValue> }
  | { type: 'config'; values: Map<string, ConfigValue> };

export type RecordDict = Map<string, FlowerRecord>;

export interface FlowerError {
  code: number;
  reason: string;
}

/** An object made ready to push: its id, bytes and subtree. */
export interface Deflated {
  id: string;
  tree: ObjectTree;
  /** Every object of the tree by id (each once). */
  objects: Map<string, Uint8Array>;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const bad = (why: string) => new FedSegError('PROTOCOL_ERROR', `a Flower object ${why}`);

/** A string as Python's json.dumps writes it (ASCII only: other characters as \uXXXX escapes). */
function pyJsonString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A JSON object of strings or a flat object, written with Python's ", " and ": " separators. */
function pyJson(value: Record<string, string | number[] | string | number>): string {
  const v = (x: unknown): string => (Array.isArray(x) ? `[${x.map((y) => String(y)).join(', ')}]` : typeof x === 'string' ? pyJsonString(x) : String(x));
  return `{${Object.entries(value).map(([k, x]) => `${pyJsonString(k)}: ${v(x)}`).join(', ')}}`;
}

function withHead(type: string, children: readonly string[], body: Uint8Array): Uint8Array {
  const head = Buffer.from(`${type} ${children.join(',')} ${body.length}`, 'utf8');
  const out = new Uint8Array(head.length + 1 + body.length);
  out.set(head, 0);
  out[head.length] = 0;
  out.set(body, head.length + 1);
  return out;
}

/** Splits an object into its head values and body, checking the declared body length. */
export function parseObject(content: Uint8Array): { type: string; children: string[]; body: Uint8Array } {
  const nul = content.indexOf(0);
  if (nul < 0 || nul > 1_000_000) throw bad('has no head');
  const head = Buffer.from(content.subarray(0, nul)).toString('utf8').split(' ');
  if (head.length !== 3) throw bad(`head '${head.join(' ').slice(0, 80)}' is not '<type> <children> <length>'`);
  const [type, kids, len] = head as [string, string, string];
  const body = content.subarray(nul + 1);
  if (!/^\d+$/.test(len) || Number(len) !== body.length) throw bad(`of type ${type} declares ${len} body bytes but has ${body.length}`);
  const children = kids ? kids.split(',') : [];
  for (const c of children) if (!/^[0-9a-f]{64}$/.test(c)) throw bad(`names a child '${c.slice(0, 70)}' that is not a SHA-256 id`);
  return { type, children, body };
}

class Builder {
  readonly objects = new Map<string, Uint8Array>();

  add(type: string, children: Deflated[], body: Uint8Array): Deflated {
    const unique: Deflated[] = [];
    for (const c of children) if (!unique.some((u) => u.id === c.id)) unique.push(c);
    const bytes = withHead(type, unique.map((c) => c.id), body);
    const id = sha256(bytes);
    this.objects.set(id, bytes);
    return { id, objects: this.objects, tree: create(ObjectTreeSchema, { objectId: id, children: unique.map((c) => c.tree) }) };
  }

  array(a: FlowerArray): Deflated {
    const chunks: Deflated[] = [];
    for (let at = 0; at < a.data.length; at += MAX_CHUNK_BYTES) {
      chunks.push(this.add('ArrayChunk', [], a.data.subarray(at, Math.min(a.data.length, at + MAX_CHUNK_BYTES))));
    }
    const uniqueIds = [...new Set(chunks.map((c) => c.id))];
    const body = pyJson({ dtype: a.dtype, shape: a.shape, stype: a.stype, arraychunk_ids: chunks.map((c) => uniqueIds.indexOf(c.id)) });
    return this.add('Array', chunks, Buffer.from(body, 'utf8'));
  }

  record(r: FlowerRecord): Deflated {
    if (r.type === 'array') {
      const kids = [...r.arrays.entries()].map(([name, a]) => [name, this.array(a)] as const);
      const refs: Record<string, string> = {};
      for (const [name, d] of kids) refs[name] = d.id;
      return this.add('ArrayRecord', kids.map(([, d]) => d), Buffer.from(pyJson(refs), 'utf8'));
    }
    if (r.type === 'metric') {
      const items = [...r.values.entries()].map(([key, v]) => ({ key, value: metricValue(v) }));
      return this.add('MetricRecord', [], toBinary(MetricRecordSchema, create(MetricRecordSchema, { items })));
    }
    const items = [...r.values.entries()].map(([key, v]) => ({ key, value: configValue(v) }));
    return this.add('ConfigRecord', [], toBinary(ConfigRecordSchema, create(ConfigRecordSchema, { items })));
  }
}

const isInt = (x: number) => Number.isSafeInteger(x);

function metricValue(v: MetricValue): MetricRecordValue {
  if (Array.isArray(v)) {
    return v.every(isInt)
      ? create(MetricRecordValueSchema, { value: { case: 'sintList', value: create(SintListSchema, { vals: v.map((x) => BigInt(x)) }) } })
      : create(MetricRecordValueSchema, { value: { case: 'doubleList', value: create(DoubleListSchema, { vals: v }) } });
  }
  if (!Number.isFinite(v)) throw new FedSegError('INVALID_ARGUMENT', `a metric value must be finite, got ${v}`);
  return isInt(v) ? create(MetricRecordValueSchema, { value: { case: 'sint64', value: BigInt(v) } }) : create(MetricRecordValueSchema, { value: { case: 'double', value: v } });
}

function configValue(v: ConfigValue): ConfigRecordValue {
  const mk = (value: ConfigRecordValue['value']) => create(ConfigRecordValueSchema, { value });
  if (typeof v === 'string') return mk({ case: 'string', value: v });
  if (typeof v === 'boolean') return mk({ case: 'bool', value: v });
  if (typeof v === 'number') return isInt(v) ? mk({ case: 'sint64', value: BigInt(v) }) : mk({ case: 'double', value: v });
  if (v instanceof Uint8Array) return mk({ case: 'bytes', value: v });
  const list = v as unknown[];
  if (list.every((x) => typeof x === 'string')) return mk({ case: 'stringList', value: create(StringListSchema, { vals: list as string[] }) });
  if (list.every((x) => typeof x === 'boolean')) return mk({ case: 'boolList', value: create(BoolListSchema, { vals: list as boolean[] }) });
  if (list.every((x) => x instanceof Uint8Array)) return mk({ case: 'bytesList', value: create(BytesListSchema, { vals: list as Uint8Array[] }) });
  const nums = list as number[];
  return nums.every(isInt)
    ? mk({ case: 'sintList', value: create(SintListSchema, { vals: nums.map((x) => BigInt(x)) }) })
    : mk({ case: 'doubleList', value: create(DoubleListSchema, { vals: nums }) });
}

function bigToNumber(b: bigint): number {
  const n = Number(b);
  if (!Number.isSafeInteger(n)) throw bad(`holds the integer ${b}, beyond what FedSeg reads exactly`);
  return n;
}

function readMetric(v: MetricRecordValue | undefined): MetricValue {
  const x = v?.value;
  switch (x?.case) {
    case 'double': return x.value;
    case 'sint64': case 'uint64': return bigToNumber(x.value);
    case 'doubleList': return x.value.vals;
    case 'sintList': case 'uintList': return x.value.vals.map(bigToNumber);
    default: throw bad('holds a metric without a value');
  }
}

function readConfig(v: ConfigRecordValue | undefined): ConfigValue {
  const x = v?.value;
  switch (x?.case) {
    case 'double': case 'bool': case 'string': case 'bytes': return x.value;
    case 'sint64': case 'uint64': return bigToNumber(x.value);
    case 'doubleList': case 'boolList': case 'stringList': case 'bytesList': return x.value.vals;
    case 'sintList': case 'uintList': return x.value.vals.map(bigToNumber);
    default: throw bad('holds a config entry without a value');
  }
}

/**
 * The objects of a message (docs/flower.md §4): the Message object's body is the protobuf Message with
 * the metadata (message_id left empty: the id is the object's own) and the error, if any; the content,
 * if any, is its only child. The returned id is the message's id.
 */
export function deflateMessage(metadata: Omit<Metadata, '$typeName' | 'messageId'>, content: RecordDict | null, error: FlowerError | null = null): Deflated {
  if ((content === null) === (error === null)) throw new FedSegError('INVALID_ARGUMENT', 'a Flower message carries content or an error, not both or neither');
  const b = new Builder();
  const children: Deflated[] = [];
  if (content) {
    const recs = [...content.entries()].map(([name, r]) => [name, b.record(r)] as const);
    const refs: Record<string, string> = {};
    for (const [name, d] of recs) refs[name] = d.id;
    children.push(b.add('RecordDict', recs.map(([, d]) => d), Buffer.from(pyJson(refs), 'utf8')));
  }
  const proto = create(MessageSchema, {
    metadata: create(MetadataSchema, { ...metadata, messageId: '' }),
    ...(error ? { error: create(ErrorSchema, { code: BigInt(error.code), reason: error.reason }) } : {}),
  });
  return b.add('Message', children, toBinary(MessageSchema, proto));
}

export interface InflateLimits {
  /** Total bytes of all objects (default 256 MiB). */
  maxBytes?: number;
  /** Objects in the tree (default 100,000). */
  maxObjects?: number;
}

/** Every object id of a tree, children before parents (the order Flower pushes and pulls them), each once; the tree's shape is checked. */
export function treeIds(tree: ObjectTree, limits: InflateLimits = {}): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const max = limits.maxObjects ?? 100_000;
  const walk = (t: ObjectTree, depth: number) => {
    if (depth > 8) throw bad('tree is deeper than a message can be (8 levels)');
    if (!/^[0-9a-f]{64}$/.test(t.objectId)) throw bad(`id '${t.objectId.slice(0, 70)}' is not a SHA-256 id`);
    for (const c of t.children) walk(c, depth + 1);
    if (!seen.has(t.objectId)) {
      seen.add(t.objectId);
      out.push(t.objectId);
      if (out.length > max) throw bad(`tree has more than ${max} objects`);
    }
  };
  walk(tree, 0);
  return out;
}

/** A message rebuilt from its tree and pulled objects: every object's bytes must hash to its id and match its head. */
export function inflateMessage(tree: ObjectTree, objects: ReadonlyMap<string, Uint8Array>): { metadata: Metadata; content: RecordDict | null; error: FlowerError | null } {
  const get = (id: string, type: string): { children: string[]; body: Uint8Array } => {
    const bytes = objects.get(id);
    if (!bytes) throw bad(`${id.slice(0, 12)} was not received`);
    if (sha256(bytes) !== id) throw bad(`${id.slice(0, 12)} does not match its id (SHA-256 of its bytes)`);
    const o = parseObject(bytes);
    if (o.type !== type) throw bad(`${id.slice(0, 12)} is a ${o.type} where a ${type} belongs`);
    return o;
  };
  const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
  const refsOf = (body: Uint8Array, children: string[], what: string): [string, string][] => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text(body));
    } catch {
      throw bad(`${what} body is not JSON`);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw bad(`${what} body is not a JSON object`);
    const entries = Object.entries(parsed as Record<string, unknown>);
    for (const [k, v] of entries) if (typeof v !== 'string' || !children.includes(v)) throw bad(`${what} entry '${k.slice(0, 60)}' names an object it does not list`);
    return entries as [string, string][];
  };
  const array = (id: string): FlowerArray => {
    const o = get(id, 'Array');
    let meta: { dtype?: unknown; shape?: unknown; stype?: unknown; arraychunk_ids?: unknown };
    try {
      meta = JSON.parse(text(o.body)) as typeof meta;
    } catch {
      throw bad('Array body is not JSON');
    }
    const { dtype, shape, stype, arraychunk_ids: idx } = meta;
    if (typeof dtype !== 'string' || typeof stype !== 'string' || !Array.isArray(shape) || !shape.every((x) => Number.isSafeInteger(x) && x >= 0) || !Array.isArray(idx))
      throw bad('Array lacks dtype, shape, stype or arraychunk_ids');
    const parts = idx.map((i: unknown) => {
      if (!Number.isSafeInteger(i) || (i as number) < 0 || (i as number) >= o.children.length) throw bad('Array names a chunk it does not list');
      return get(o.children[i as number]!, 'ArrayChunk').body;
    });
    return { dtype, shape: shape as number[], stype, data: Buffer.concat(parts) };
  };
  const record = (id: string): FlowerRecord => {
    const bytes = objects.get(id);
    const type = bytes ? parseObject(bytes).type : 'ArrayRecord';
    if (type === 'ArrayRecord') {
      const o = get(id, 'ArrayRecord');
      return { type: 'array', arrays: new Map(refsOf(o.body, o.children, 'ArrayRecord').map(([k, v]) => [k, array(v)])) };
    }
    if (type === 'MetricRecord') {
      const m = fromBinary(MetricRecordSchema, get(id, 'MetricRecord').body);
      return { type: 'metric', values: new Map(m.items.map((it) => [it.key, readMetric(it.value)])) };
    }
    if (type === 'ConfigRecord') {
      const c = fromBinary(ConfigRecordSchema, get(id, 'ConfigRecord').body);
      return { type: 'config', values: new Map(c.items.map((it) => [it.key, readConfig(it.value)])) };
    }
    throw bad(`${id.slice(0, 12)} is a ${type}, not a record`);
  };
  const m = get(tree.objectId, 'Message');
  let proto;
  try {
    proto = fromBinary(MessageSchema, m.body);
  } catch (e) {
    throw bad(`Message body is not a protobuf Message (${(e as Error).message})`);
  }
  if (!proto.metadata) throw bad('Message has no metadata');
  const metadata = { ...proto.metadata, messageId: tree.objectId };
  if (proto.error) return { metadata, content: null, error: { code: Number(proto.error.code), reason: proto.error.reason } };
  if (m.children.length !== 1) throw bad(`Message lists ${m.children.length} children; one RecordDict belongs there`);
  const rd = get(m.children[0]!, 'RecordDict');
  const content: RecordDict = new Map(refsOf(rd.body, rd.children, 'RecordDict').map(([k, v]) => [k, record(v)]));
  return { metadata, content, error: null };
}
