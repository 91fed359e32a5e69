// Hub config: every key optional, inside `train` and `model` too. A partial object, from the --config
// file or from --set, is merged over the defaults (--set over the file); unknown keys and wrong types
// are refused with one line naming the key; a bad value is a usage error (exit 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../core/contract/exit-codes.js';
import { buildConfig } from './cli.js';
import { DEFAULT_MODEL, DEFAULT_TRAIN, parseHubConfig } from './config.js';

test("--set 'train={\"localEpochs\":2}' (the help's example) is merged over the default train config", () => {
  const c = buildConfig({ set: ['train={"localEpochs":2}'] });
  assert.deepEqual(c.train, { ...DEFAULT_TRAIN, localEpochs: 2 });
  assert.deepEqual(buildConfig({}).train, DEFAULT_TRAIN);
  const m = buildConfig({ set: ['model={"config":{"baseWidth":8}}'] });
  assert.deepEqual(m.model, { ...DEFAULT_MODEL, config: { baseWidth: 8, depth: 5 } });
});

test('a partial config file and --set merge: the file over the defaults, --set over the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedseg-hub-config-'));
  try {
    const file = join(dir, 'hub.json');
    writeFileSync(file, JSON.stringify({ train: { batchSize: 8, lr: 5e-4 }, model: { classes: 1 }, tls: { cert: 'a.crt', key: 'a.key' } }));
    assert.deepEqual(buildConfig({ config: file }).train, { ...DEFAULT_TRAIN, batchSize: 8, lr: 5e-4 });
    const c = buildConfig({ config: file, set: ['train={"localEpochs":3}', 'tls={"key":"b.key"}', 'model={"input":{"normalise":"zscore"}}'] });
    assert.deepEqual(c.train, { ...DEFAULT_TRAIN, batchSize: 8, lr: 5e-4, localEpochs: 3 });
    assert.deepEqual(c.tls, { cert: 'a.crt', key: 'b.key' });
    assert.deepEqual(c.model, { ...DEFAULT_MODEL, classes: 1, input: { normalise: 'zscore' } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a model of another kind takes its own config defaults; the older layout still reads', () => {
  const asc = parseHubConfig({ model: { kind: 'ascnet-7', inChannels: 1 } });
  assert.deepEqual(asc.model, { kind: 'ascnet-7', inChannels: 1, classes: 2, input: { normalise: 'none' }, config: { rateBeta: 1 } });
  const legacy = parseHubConfig({ model: { kind: 'unet', inChannels: 3, classes: 2, baseWidth: 8, seed: 7 } });
  assert.deepEqual(legacy.model.config, { baseWidth: 8, depth: 5 });
  assert.equal(legacy.initSeed, 7);
});

test('unknown keys and wrong types are refused, naming the key; from the command line they are usage errors', () => {
  const refused = (set: string, message: RegExp) => {
    assert.throws(() => buildConfig({ set: [set] }), (e: unknown) => e instanceof UsageError && message.test(e.message), set);
  };
  refused('train={"epochs":2}', /^hub config: unknown key 'train\.epochs' \(train takes localEpochs, batchSize, lr, alpha, maxStepsPerEpoch, valFraction\)$/);
  refused('train={"localEpochs":"two"}', /^hub config: train\.localEpochs: .*expected number/);
  refused('train={"localEpochs":0}', /^hub config: train\.localEpochs: /);
  refused('train=3', /^hub config: train: /);
  refused('model={"config":{"width":8}}', /^hub config: unknown key 'model\.config\.width'/);
  refused('bogus=1', /^hub config: unknown key 'bogus' \(the config takes host, port, /);
  assert.throws(() => buildConfig({ rounds: '0' }), /^UsageError: --rounds must be an integer in \[1, 100000\], got '0'$/);
});

test('FedDG-GA strategies: a validation split by default (0.2), never 0, a weighted mean, no dp, 2+ sites (docs/feddg-ga.md §5)', () => {
  for (const strategy of ['fedavg-ga', 'elcfs-ga']) {
    const c = parseHubConfig({ strategy });
    assert.equal(c.train.valFraction, 0.2, 'no extra key needed');
    assert.equal(c.gaStepSize, 0.2);
    assert.equal(parseHubConfig({ strategy, train: { valFraction: 0.3 }, gaStepSize: 0.5 }).train.valFraction, 0.3);
    assert.throws(() => parseHubConfig({ strategy, train: { valFraction: 0 } }), /strategy '.*-ga' needs train\.valFraction > 0/);
    assert.throws(() => parseHubConfig({ strategy, aggregator: 'median' }), /aggregator 'median' is unweighted/);
    assert.throws(() => parseHubConfig({ strategy, aggregator: 'trimmed-mean' }), /aggregator 'trimmed-mean' is unweighted/);
    assert.throws(() => parseHubConfig({ strategy, dp: { noiseMultiplier: 1, clipNorm: 1 } }), /dp needs equal ones/);
    assert.throws(() => parseHubConfig({ strategy, minSites: 1 }), /needs minSites >= 2/);
    assert.throws(() => parseHubConfig({ strategy, gaStepSize: 0 }), /gaStepSize/);
    assert.throws(() => parseHubConfig({ strategy, train: { valFraction: 0.6 } }), /valFraction/);
  }
  // Other strategies hold nothing out unless asked.
  assert.equal(parseHubConfig({ strategy: 'fedavg' }).train.valFraction, undefined);
  assert.equal(parseHubConfig({ strategy: 'elcfs', train: { valFraction: 0.1 } }).train.valFraction, 0.1);
  assert.equal(parseHubConfig({ strategy: 'fedavg', train: { valFraction: 0 } }).train.valFraction, 0);
});
