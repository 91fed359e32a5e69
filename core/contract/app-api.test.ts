import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appEventNames, appEvents, appMethodNames, appMethods, isAppMethodName, TrainingConfig, type AppHandlers } from './app-api.js';
import { decodeWire, encodeWire } from './wire-json.js';

// Compile-time check (npm run typecheck): a handler table missing a method does not compile.
// @ts-expect-error -- listDatasets (and every other method) is missing
const _incomplete: AppHandlers = { getAppInfo: async () => ({ version: '1', backend: 'cpu', dbPath: 'x', mode: 'browser', demoKinds: [] }) };
void _incomplete;

test('every method declares args, result and a doc line; names are unique identifiers', () => {
  assert.ok(appMethodNames.length >= 30);
  for (const m of appMethodNames) {
    const def = appMethods[m];
    assert.ok(def.args && def.result, m);
    assert.ok(def.doc.length > 10, `${m} has a doc line`);
    assert.match(m, /^[a-z][A-Za-z]+$/);
  }
  assert.deepEqual([...appEventNames].sort(), Object.keys(appEvents).sort());
  assert.equal(isAppMethodName('listDatasets'), true);
  assert.equal(isAppMethodName('toString'), false, 'prototype keys are not methods');
  assert.equal(isAppMethodName('__proto__'), false);
});

test('argument schemas fill defaults and reject bad input with the field named', () => {
  const cfg = TrainingConfig.parse({ name: 'x', datasetIds: ['1'] });
  assert.equal(cfg.modelKind, 'unet');
  assert.equal(cfg.epochs, 2);
  assert.equal(cfg.maxSteps, 0);
  const bad = appMethods.getSample.args.safeParse({ datasetId: '1', index: 1.5 });
  assert.equal(bad.success, false);
  assert.equal(bad.error!.issues[0]!.path[0], 'index');
  assert.equal(appMethods.startTraining.args.safeParse({ name: 'x', datasetIds: [] }).success, false);
  assert.equal(appMethods.previewInterpolation.args.safeParse({ datasetId: '1', index: 0, bankId: '2', lambda: 1.5 }).success, false);
});

test('result schemas accept typed arrays and refuse plain arrays for pictures', () => {
  const ok = appMethods.getSample.result.safeParse({ name: 'a', image: { width: 1, height: 1, channels: 1, pixels: new Uint8Array(1) }, mask: null });
  assert.ok(ok.success);
  const bad = appMethods.getSample.result.safeParse({ name: 'a', image: { width: 1, height: 1, channels: 1, pixels: [0] }, mask: null });
  assert.equal(bad.success, false);
});

test('wire JSON round-trips typed arrays (including unaligned views) exactly', () => {
  const buf = new Uint8Array(64).map((_, i) => (i * 37) & 255);
  const f = new Float32Array([0, -0, 1.5, NaN, Infinity, 3.4e38, 1e-45]);
  const value = { a: buf.subarray(3, 40), b: f, nested: [{ c: new Uint8Array(0) }], s: 'x' };
  const back = decodeWire(encodeWire(value)) as typeof value;
  assert.deepEqual(Array.from(back.a), Array.from(buf.subarray(3, 40)));
  assert.ok(back.b instanceof Float32Array);
  assert.ok(Object.is(back.b[1], -0) && Number.isNaN(back.b[3]) && back.b[6] === f[6]);
  assert.ok(back.nested[0]!.c instanceof Uint8Array);
  assert.equal(back.s, 'x');
  assert.throws(() => decodeWire('{"x": {"$u8": "@@@"}}'), /base64/);
  assert.throws(() => decodeWire('{"x": {"$f32": "AAA="}}'), /multiple of 4/);
  assert.throws(() => decodeWire('{nope'), /not valid JSON/);
});
