import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeWeights, decodeWeights, toHalf, fromHalf } from './weights.js';

test('float32 round trip is bit-exact and keyed by name', () => {
  const a = { name: 'enc0.conv1.w', shape: [3, 3, 1, 2], data: Float32Array.from({ length: 18 }, (_, i) => Math.sin(i) * 1e3) };
  const b = { name: 'head.b', shape: [2], data: new Float32Array([Number.MIN_VALUE, -0]) };
  const out = decodeWeights(encodeWeights([a, b], { meta: { round: 3 } }));
  assert.deepEqual(out.meta, { round: 3 });
  assert.deepEqual(out.arrays.map((x) => x.name), ['enc0.conv1.w', 'head.b']);
  assert.deepEqual(Array.from(out.arrays[0]!.data), Array.from(a.data));
  assert.ok(Object.is(out.arrays[1]!.data[1], -0));
});

test('float16 matches IEEE half rounding on known values', () => {
  assert.equal(toHalf(1), 0x3c00);
  assert.equal(toHalf(-2), 0xc000);
  assert.equal(toHalf(65504), 0x7bff);
  assert.equal(toHalf(1e6), 0x7c00);
  assert.equal(toHalf(2 ** -24), 0x0001);
  assert.equal(fromHalf(0x3555), 0.333251953125);
  const data = new Float32Array([0.1, -3.75, 1000.5, 2 ** -20]);
  const out = decodeWeights(encodeWeights([{ name: 'w', shape: [4], data }], { dtype: 'float16' }));
  out.arrays[0]!.data.forEach((v, i) => assert.ok(Math.abs(v - data[i]!) <= Math.abs(data[i]!) * 1e-3 + 1e-7));
});

test('malformed frames are rejected with a clear error', () => {
  assert.throws(() => decodeWeights(new Uint8Array(3)), /shorter than its header/);
  assert.throws(() => decodeWeights(new Uint8Array(16)), /bad magic/);
  const good = encodeWeights([{ name: 'w', shape: [2], data: new Float32Array(2) }]);
  assert.throws(() => decodeWeights(good.subarray(0, good.length - 4)), /runs past the end/);
  assert.throws(() => decodeWeights(good, { maxValues: 1 }), /more than 1 values/);
  assert.throws(() => encodeWeights([{ name: 'w', shape: [3], data: new Float32Array(2) }]), /has 3 values but data has 2/);
});
