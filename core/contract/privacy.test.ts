// The RDP accountant (docs/security.md §8) against numpy/scipy's numbers (test/fixtures/golden/privacy.json,
// made by scripts/golden/make_privacy_golden.py) and against brute force: the grid of orders is checked
// against a 100x finer search, and the epsilon it gives is checked to be a real guarantee by integrating
// the privacy profile of the composed Gaussian mechanism numerically (no erf, no closed form).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { WelcomeSchema } from './hub-protocol.js';
import { gaussianEpsilon, gaussianRdp, privacyBudget, RDP_ORDERS, rdpToEpsilon } from './privacy.js';

interface Case { noiseMultiplier: number; rounds: number; delta: number; epsilon: number; order: number; epsilonClassic: number; exactDelta: number }
const golden = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'golden', 'privacy.json'), 'utf8')) as { orders: number[]; cases: Case[] };

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-300, Math.abs(b));

test('the grid of orders is the golden script\'s', () => {
  assert.equal(RDP_ORDERS.length, golden.orders.length);
  RDP_ORDERS.forEach((a, i) => assert.ok(rel(a, golden.orders[i]!) < 1e-14, `order ${i}: ${a} vs ${golden.orders[i]}`));
});

test('epsilon of R rounds matches numpy for every golden case, and is tighter than the classic conversion', () => {
  assert.equal(golden.cases.length, 96);
  for (const c of golden.cases) {
    const got = gaussianEpsilon(c.noiseMultiplier, c.rounds, c.delta);
    const what = `z=${c.noiseMultiplier} R=${c.rounds} delta=${c.delta}`;
    assert.ok(rel(got.epsilon, c.epsilon) < 1e-10, `${what}: ${got.epsilon} vs ${c.epsilon}`);
    assert.ok(rel(got.order, c.order) < 1e-12, `${what}: order ${got.order} vs ${c.order}`);
    assert.ok(got.epsilon < c.epsilonClassic, `${what}: the tight conversion beats log(1/delta)/(a-1)`);
    assert.ok(c.exactDelta <= c.delta, `${what}: scipy's exact delta ${c.exactDelta} at that epsilon is within delta`);
  }
});

test('brute force: a 100x finer search over orders finds at most 0.2% less', () => {
  for (const [z, R, delta] of [[0.7, 1, 1e-5], [1, 50, 1e-5], [3, 7, 1e-6], [20, 1, 1e-3], [1.3, 400, 1e-8]] as const) {
    const grid = gaussianEpsilon(z, R, delta).epsilon;
    const fine: number[] = [];
    for (let k = -30000; k <= 50000; k++) fine.push(1 + 10 ** (k / 10000));
    const best = rdpToEpsilon((a) => R * gaussianRdp(a, z), delta, fine).epsilon;
    assert.ok(best <= grid + 1e-12, `finer grid never worse (${best} vs ${grid})`);
    assert.ok((grid - best) / best < 2e-3, `z=${z} R=${R}: grid ${grid} vs fine ${best}`);
  }
});

/** log of the standard normal density. */
const logPhi = (x: number) => -0.5 * x * x - 0.5 * Math.log(2 * Math.PI);

/**
 * delta(eps) of R Gaussian mechanisms (sensitivity 1, noise z) by numerical integration: they compose to
 * N(0,1) vs N(mu,1) with mu = sqrt(R)/z, and delta = integral of max(0, p(x) - e^eps q(x)) dx.
 */
function bruteDelta(z: number, R: number, eps: number): number {
  const mu = Math.sqrt(R) / z;
  const lo = -60 - mu;
  const hi = 60 + mu;
  const n = 100_000;
  const h = (hi - lo) / n;
  let s = 0;
  for (let i = 0; i <= n; i++) {
    const x = lo + i * h;
    const f = Math.max(0, Math.exp(logPhi(x)) - Math.exp(eps + logPhi(x - mu)));
    s += f * (i === 0 || i === n ? 1 : i % 2 ? 4 : 2);
  }
  return (s * h) / 3;
}

test('brute force: the accountant\'s epsilon is a real (epsilon, delta) guarantee, not loose by orders of magnitude', () => {
  for (const [z, R, delta] of [[1, 1, 1e-5], [1, 10, 1e-5], [2, 100, 1e-5], [0.8, 5, 1e-3], [5, 1000, 1e-6]] as const) {
    const { epsilon } = gaussianEpsilon(z, R, delta);
    const d = bruteDelta(z, R, epsilon);
    assert.ok(d <= delta, `z=${z} R=${R}: true delta ${d} at epsilon ${epsilon} exceeds ${delta}`);
    assert.ok(d >= delta / 100, `z=${z} R=${R}: true delta ${d} is far below ${delta}: the bound is too loose`);
    // The true epsilon at this delta (bisection on the integral): the accountant's is above it, and close.
    let lo = 0;
    let hi = epsilon;
    for (let i = 0; i < 30; i++) {
      const mid = (lo + hi) / 2;
      if (bruteDelta(z, R, mid) > delta) lo = mid;
      else hi = mid;
    }
    assert.ok(hi <= epsilon && epsilon < 1.25 * hi, `z=${z} R=${R}: accountant ${epsilon} vs true ${hi}`);
  }
  // The integral itself against the golden case's scipy value.
  const c = golden.cases.find((x) => x.noiseMultiplier === 2 && x.rounds === 10 && x.delta === 1e-5)!;
  assert.ok(rel(bruteDelta(2, 10, c.epsilon), c.exactDelta) < 1e-6);
});

test('epsilon grows with rounds, shrinks with noise; zero rounds spend nothing; bad inputs are refused', () => {
  assert.ok(gaussianEpsilon(1, 10, 1e-5).epsilon > gaussianEpsilon(1, 1, 1e-5).epsilon);
  assert.ok(gaussianEpsilon(2, 10, 1e-5).epsilon < gaussianEpsilon(1, 10, 1e-5).epsilon);
  assert.equal(gaussianEpsilon(1, 0, 1e-5).epsilon, 0);
  assert.throws(() => gaussianEpsilon(0, 1, 1e-5), /noiseMultiplier/);
  assert.throws(() => gaussianEpsilon(1, 1, 0), /delta/);
  assert.throws(() => gaussianEpsilon(1, 1.5, 1e-5), /rounds/);
});

test('privacyBudget is the Welcome shape: epsilon of one round and of the whole run', () => {
  const b = privacyBudget({ noiseMultiplier: 1.1, clipNorm: 0.5, delta: 1e-5 }, 100);
  assert.equal(b.mechanism, 'gaussian');
  assert.equal(b.epsilonPerRound, gaussianEpsilon(1.1, 1, 1e-5).epsilon);
  assert.equal(b.epsilonTotal, gaussianEpsilon(1.1, 100, 1e-5).epsilon);
  assert.ok(b.epsilonTotal < 100 * b.epsilonPerRound, 'RDP composes far better than adding epsilons');
  assert.deepEqual(WelcomeSchema.shape.privacy.parse(b), b, 'Welcome.privacy accepts it as it is');
});
