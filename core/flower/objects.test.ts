// Flower's object format (docs/flower.md §4) against Flower's own deflation: the fixture
// (scripts/golden/make_flower_objects_golden.py, Flower 1.26.1) holds every object's id and bytes of a
// message with repeated arrays, a two-chunk array, metrics and config, and of an error reply.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { decodeNpy, encodeNpy } from './npy.js';
import { deflateMessage, inflateMessage, parseObject, treeIds, type FlowerArray, type RecordDict } from './objects.js';
import { ObjectTreeSchema, type ObjectTree } from './gen/flwr/proto/message_pb.js';

interface GTree { id: string; children: GTree[] }
const g = JSON.parse(readFileSync(new URL('../../test/fixtures/golden/flower-objects.json', import.meta.url), 'utf8')) as {
  metadata: { run_id: number; src_node_id: number; dst_node_id: number; group_id: string; ttl: number; message_type: string; created_at: number };
  arrays: { w: number[][] };
  big: { n: number; array_id: string; npy_sha256: string };
  message: { id: string; tree: GTree; objects: Record<string, string> };
  error: { id: string; tree: GTree; objects: Record<string, string> };
};

const arr = (shape: number[], data: Float32Array): FlowerArray => ({ dtype: 'float32', shape, stype: 'numpy.ndarray', data: encodeNpy(shape, data) });
const big = Float32Array.from({ length: g.big.n }, (_, i) => i * 0.5);
const content = (): RecordDict => new Map([
  ['arrays', { type: 'array', arrays: new Map([
    ['enc0.conv0.kernel', arr([2, 3], Float32Array.from(g.arrays.w.flat()))],
    ['enc0.conv0.bias', arr([3], new Float32Array(3))],
    ['enc1.conv0.bias', arr([3], new Float32Array(3))],
    ['big', arr([g.big.n], big)],
  ]) }],
  ['metrics', { type: 'metric', values: new Map<string, number | number[]>([['num-examples', 5], ['train_loss', 0.25], ['dice', [0.5, 0.75]]]) }],
  ['config', { type: 'config', values: new Map<string, string | number | boolean | number[]>([['server-round', 2], ['mode', 'elcfs'], ['lr', 0.001], ['flag', true], ['counts', [1, 2]]]) }],
] as const);
const meta = {
  runId: BigInt(g.metadata.run_id), srcNodeId: BigInt(g.metadata.src_node_id), dstNodeId: BigInt(g.metadata.dst_node_id), replyToMessageId: '', groupId: g.metadata.group_id,
  ttl: g.metadata.ttl, messageType: g.metadata.message_type, createdAt: g.metadata.created_at,
};
const toTree = (t: GTree): ObjectTree => create(ObjectTreeSchema, { objectId: t.id, children: t.children.map(toTree) });
const shape = (t: ObjectTree): unknown => ({ id: t.objectId, children: t.children.map(shape) });

test('a message deflates to the very objects Flower makes (ids, bytes, tree), chunks and repeated arrays included', () => {
  const d = deflateMessage(meta, content());
  assert.equal(d.id, g.message.id);
  assert.deepEqual(shape(d.tree), g.message.tree);
  const hexOf = (b: Uint8Array | undefined) => (b ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex') : 'missing');
  for (const [id, hex] of Object.entries(g.message.objects)) assert.equal(hexOf(d.objects.get(id)), hex, `object ${id.slice(0, 12)}`);
  // The two identical zero biases are one object, listed once; the big array has two chunks.
  const ar = parseObject(d.objects.get(g.message.tree.children[0]!.children.find((c) => c.children.length === 3)!.id)!);
  assert.equal(ar.type, 'ArrayRecord');
  assert.equal(ar.children.length, 3);
  assert.equal(parseObject(d.objects.get(g.big.array_id)!).children.length, 2);
  assert.equal(treeIds(d.tree).at(-1), d.id, 'children come before their parents');
});

test('an error reply deflates as Flower\'s, and both inflate back', () => {
  const e = deflateMessage(meta, null, { code: 1, reason: 'refused: no consent' });
  assert.equal(e.id, g.error.id);
  assert.equal(Buffer.from(e.objects.get(e.id)!).toString('hex'), g.error.objects[e.id]);
  const back = inflateMessage(e.tree, e.objects);
  assert.deepEqual(back.error, { code: 1, reason: 'refused: no consent' });
  assert.equal(back.metadata.messageId, e.id);

  // Flower's own bytes (the big array's chunks rebuilt here) inflate to the same content.
  const d = deflateMessage(meta, content());
  const objects = new Map<string, Uint8Array>(Object.entries(g.message.objects).map(([k, v]) => [k, Uint8Array.from(Buffer.from(v, 'hex'))]));
  for (const [k, v] of d.objects) if (!objects.has(k)) objects.set(k, v);
  const m = inflateMessage(toTree(g.message.tree), objects);
  assert.equal(m.metadata.runId, 7n);
  assert.equal(m.metadata.messageType, 'train');
  const arrays = m.content!.get('arrays');
  assert.ok(arrays?.type === 'array');
  assert.deepEqual([...arrays.arrays.keys()], ['enc0.conv0.kernel', 'enc0.conv0.bias', 'enc1.conv0.bias', 'big']);
  const k = decodeNpy(arrays.arrays.get('enc0.conv0.kernel')!.data);
  assert.deepEqual(k.shape, [2, 3]);
  assert.deepEqual([...k.data], [...Float32Array.from(g.arrays.w.flat())]);
  const b = decodeNpy(arrays.arrays.get('big')!.data);
  assert.equal(b.data[1_399_999], 1_399_999 * 0.5);
  const metrics = m.content!.get('metrics');
  assert.ok(metrics?.type === 'metric');
  assert.deepEqual([...metrics.values], [['num-examples', 5], ['train_loss', 0.25], ['dice', [0.5, 0.75]]]);
  const config = m.content!.get('config');
  assert.ok(config?.type === 'config');
  assert.deepEqual([...config.values], [['server-round', 2], ['mode', 'elcfs'], ['lr', 0.001], ['flag', true], ['counts', [1, 2]]]);
});

test('objects that do not match their id or head, and trees too deep, are refused with the reason', () => {
  const d = deflateMessage(meta, new Map([['metrics', { type: 'metric', values: new Map([['num-examples', 1]]) }]]));
  const ids = treeIds(d.tree);
  const tampered = new Map(d.objects);
  const leaf = ids[0]!;
  const bytes = Uint8Array.from(tampered.get(leaf)!);
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
  tampered.set(leaf, bytes);
  assert.throws(() => inflateMessage(d.tree, tampered), /does not match its id/);
  const missing = new Map(d.objects);
  missing.delete(leaf);
  assert.throws(() => inflateMessage(d.tree, missing), /was not received/);
  assert.throws(() => parseObject(Buffer.from('ArrayChunk  10\0abc')), /declares 10 body bytes but has 3/);
  let deep: ObjectTree = create(ObjectTreeSchema, { objectId: 'a'.repeat(64) });
  for (let i = 0; i < 10; i++) deep = create(ObjectTreeSchema, { objectId: 'b'.repeat(64), children: [deep] });
  assert.throws(() => treeIds(deep), /deeper than/);
  assert.throws(() => treeIds(create(ObjectTreeSchema, { objectId: 'not-an-id' })), /not a SHA-256 id/);
  assert.throws(() => deflateMessage(meta, null, null), /content or an error/);
});

test('.npy: numpy.save\'s bytes for float32, float64 read as float32, truncated, padded or oversized arrays refused', () => {
  const e = encodeNpy([2, 2], Float32Array.from([1, 2, 3, 4]));
  const head = (b: Uint8Array) => Buffer.from(b.subarray(10, 10 + (b[8]! | (b[9]! << 8)))).toString('latin1');
  assert.equal((e.length - 16) % 64, 0, 'the data starts on a 64-byte boundary');
  assert.match(head(e), /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 2\), \} +\n$/);
  assert.match(head(encodeNpy([3], new Float32Array(3))), /'shape': \(3,\), \}/);
  assert.deepEqual(decodeNpy(e), { shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]), dtype: 'float32' });
  const h8 = `{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }`.padEnd(117) + '\n';
  const f8 = Buffer.concat([Buffer.from('\x93NUMPY\x01\x00', 'latin1'), Buffer.from([h8.length, 0]), Buffer.from(h8, 'latin1'), Buffer.from(Float64Array.from([0.5, -2]).buffer)]);
  assert.deepEqual([...decodeNpy(f8).data], [0.5, -2]);
  assert.throws(() => decodeNpy(f8.subarray(0, f8.length - 1)), /BAD_UPDATE|truncated/);
  assert.throws(() => decodeNpy(Buffer.concat([f8, Buffer.from([0])])), /1 bytes more than its shape/);
  assert.throws(() => decodeNpy(f8, 1), /more than the limit 1/);
  assert.throws(() => decodeNpy(Buffer.from('hello')), /magic/);
  assert.throws(() => encodeNpy([3], new Float32Array(2)), /holds 3 values/);
});
