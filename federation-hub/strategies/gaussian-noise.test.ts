// The DP noise source (docs/security.md §8): reproducible from its seed material, different for another
// seed or another round, and standard normal (moments and the mass within 1 and 2 sigma).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GaussianNoise } from './gaussian-noise.js';

const draw = (g: GaussianNoise, n: number) => Float64Array.from({ length: n }, () => g.normal());

test('the same seed material gives the same noise; another seed or round gives other noise', () => {
  const a = draw(new GaussianNoise('seed-1', 'round-hash'), 1000);
  assert.deepEqual(draw(new GaussianNoise('seed-1', 'round-hash'), 1000), a);
  const b = draw(new GaussianNoise('seed-2', 'round-hash'), 1000);
  const c = draw(new GaussianNoise('seed-1', 'other-hash'), 1000);
  assert.ok(a.some((x, i) => x !== b[i]) && a.some((x, i) => x !== c[i]));
  // Boundaries between the parts count: ('ab', 'c') is not ('a', 'bc').
  assert.notDeepEqual(draw(new GaussianNoise('ab', 'c'), 8), draw(new GaussianNoise('a', 'bc'), 8));
});

test('normals have mean 0, variance 1 and the normal mass within 1 and 2 sigma', () => {
  const n = 200_000; // crosses several keystream chunks
  const x = draw(new GaussianNoise('moments'), n);
  let m = 0;
  for (const v of x) m += v;
  m /= n;
  let v2 = 0;
  let in1 = 0;
  let in2 = 0;
  for (const v of x) {
    v2 += (v - m) ** 2;
    if (Math.abs(v) < 1) in1++;
    if (Math.abs(v) < 2) in2++;
  }
  v2 /= n - 1;
  assert.ok(Math.abs(m) < 0.01, `mean ${m}`);
  assert.ok(Math.abs(v2 - 1) < 0.015, `variance ${v2}`);
  assert.ok(Math.abs(in1 / n - 0.682689) < 0.005, `within 1 sigma ${in1 / n}`);
  assert.ok(Math.abs(in2 / n - 0.954500) < 0.003, `within 2 sigma ${in2 / n}`);
  const u = new GaussianNoise('uniform');
  for (let i = 0; i < 10000; i++) {
    const y = u.uniform();
    assert.ok(y > 0 && y < 1);
  }
});
