// Generators: byte-determinism (hashes), invariants of the masks, and a visible domain shift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Sample } from '../../contract/image.js';
import { generateFundusSites } from './fundus.js';
import { generateProstateSites } from './prostate.js';

function hashSamples(samples: Sample[]): string {
  const h = createHash('sha256');
  for (const s of samples) {
    h.update(s.name);
    h.update(new Uint8Array(s.image.data.buffer, s.image.data.byteOffset, s.image.data.byteLength));
    h.update(s.mask.data);
  }
  return h.digest('hex').slice(0, 16);
}

test('fundus: byte-deterministic for a seed, different for another seed', () => {
  const a = generateFundusSites({ sites: 5, perSite: 3, size: 32, seed: 7 });
  const b = generateFundusSites({ sites: 5, perSite: 3, size: 32, seed: 7 });
  const c = generateFundusSites({ sites: 5, perSite: 3, size: 32, seed: 8 });
  assert.deepEqual(a.map((s) => s.site), ['Domain1', 'Domain2', 'Domain3', 'Domain4', 'Domain5']);
  for (let k = 0; k < 5; k++) {
    assert.equal(hashSamples(a[k]!.samples), hashSamples(b[k]!.samples));
    assert.notEqual(hashSamples(a[k]!.samples), hashSamples(c[k]!.samples));
  }
  // Pinned hash: guards against accidental changes to the generator (update deliberately).
  assert.equal(hashSamples(a[0]!.samples), FUNDUS_PIN);
  // Sample i of site k does not depend on perSite or the number of sites.
  const d = generateFundusSites({ sites: 2, perSite: 1, size: 32, seed: 7 });
  assert.equal(hashSamples(d[1]!.samples), hashSamples(a[1]!.samples.slice(0, 1)));
});

test('fundus: images 0..255 integers, disc contains cup, both non-empty', () => {
  const sites = generateFundusSites({ sites: 4, perSite: 4, size: 48, seed: 1 });
  for (const { samples } of sites) {
    for (const s of samples) {
      assert.equal(s.image.channels, 3);
      assert.equal(s.mask.classes, 2);
      assert.equal(s.image.data.length, 48 * 48 * 3);
      for (const v of s.image.data) assert.ok(Number.isInteger(v) && v >= 0 && v <= 255);
      let disc = 0;
      let cup = 0;
      for (let i = 0; i < 48 * 48; i++) {
        const d = s.mask.data[i * 2]!;
        const c = s.mask.data[i * 2 + 1]!;
        assert.ok(d <= 1 && c <= 1);
        assert.ok(c <= d, `${s.name}: cup pixel outside disc`);
        disc += d;
        cup += c;
      }
      assert.ok(disc > 20 && cup > 3 && cup < disc, `${s.name}: disc ${disc} cup ${cup}`);
    }
  }
});

test('fundus: discs are brighter than the fundus, and the sites differ in style', () => {
  const sites = generateFundusSites({ sites: 4, perSite: 6, size: 48, seed: 2 });
  const siteMeans: number[][] = [];
  for (const { samples } of sites) {
    const mean = [0, 0, 0];
    let cnt = 0;
    for (const s of samples) {
      let inD = 0;
      let nD = 0;
      let out = 0;
      let nO = 0;
      for (let i = 0; i < 48 * 48; i++) {
        const lum = s.image.data[i * 3]! + s.image.data[i * 3 + 1]! + s.image.data[i * 3 + 2]!;
        const x = i % 48;
        const y = Math.floor(i / 48);
        const central = (x - 24) ** 2 + (y - 24) ** 2 < 18 ** 2;
        if (s.mask.data[i * 2]) {
          inD += lum;
          nD++;
        } else if (central) {
          out += lum;
          nO++;
          for (let c = 0; c < 3; c++) mean[c]! += s.image.data[i * 3 + c]!;
          cnt++;
        }
      }
      assert.ok(inD / nD > out / nO + 20, `${s.name}: disc ${inD / nD} vs fundus ${out / nO}`);
    }
    siteMeans.push(mean.map((v) => v / cnt));
  }
  // Every pair of sites differs by > 15 grey levels in some channel's mean fundus colour.
  for (let a = 0; a < 4; a++) {
    for (let b = a + 1; b < 4; b++) {
      const diff = Math.max(...[0, 1, 2].map((c) => Math.abs(siteMeans[a]![c]! - siteMeans[b]![c]!)));
      assert.ok(diff > 15, `sites ${a} and ${b} look alike: ${siteMeans[a]} vs ${siteMeans[b]}`);
    }
  }
});

test('prostate: deterministic, z-scored volumes, slices with and without gland', () => {
  const a = generateProstateSites({ sites: 7, perSite: 12, size: 32, seed: 3, depth: 12 });
  const b = generateProstateSites({ sites: 7, perSite: 12, size: 32, seed: 3, depth: 12 });
  assert.deepEqual(a.map((s) => s.site), ['RUNMC', 'BMC', 'I2CVB', 'UCL', 'BIDMC', 'HK', 'Site7']);
  for (let k = 0; k < 7; k++) assert.equal(hashSamples(a[k]!.samples), hashSamples(b[k]!.samples));
  assert.equal(hashSamples(a[0]!.samples), PROSTATE_PIN);
  for (const { samples } of a) {
    assert.equal(samples.length, 12);
    let sum = 0;
    let ss = 0;
    let n = 0;
    let withGland = 0;
    for (const s of samples) {
      assert.equal(s.image.channels, 1);
      assert.equal(s.mask.classes, 1);
      for (const v of s.image.data) {
        sum += v;
        ss += v * v;
        n++;
      }
      if (s.mask.data.some((v) => v === 1)) withGland++;
    }
    assert.ok(Math.abs(sum / n) < 1e-3, 'volume mean ~ 0');
    assert.ok(Math.abs(ss / n - 1) < 1e-3, 'volume variance ~ 1');
    assert.ok(withGland >= 3 && withGland <= 10, `gland in ${withGland}/12 slices`);
  }
});

const FUNDUS_PIN = 'eef3573d09099a87';
const PROSTATE_PIN = 'c8448d82c0e25d12';
