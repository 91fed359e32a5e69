// The consortium's journey through the CLIs only, as the README tells it: the coordinator generates
// per-hospital image folders (DoFE layout), each hospital imports its own folder into its own store,
// the coordinator enrols two train sites and one eval (unseen) site and starts the hub, three
// `fedseg site` processes run two ELCFS rounds on 127.0.0.1, then `fedseg-hub export-model` writes the
// global model and `fedseg eval --model` on the unseen site's store prints the per-class Dice/HD95
// table; its numbers equal the eval site's own evaluation of the final round, and the global model
// the eval site kept in its store evaluates the same (`--checkpoint latest`).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { EvalReport } from '../../core/cli/cmd-eval.js';
import { tempDir } from './helpers/hub-harness.js';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');

interface Proc { code: Promise<number | null>; out: string[]; kill(): void }

function start(bin: 'fedseg' | 'fedseg-hub', args: string[], env: Record<string, string> = {}): Proc {
  const p = spawn(process.execPath, [join(root, 'bin', `${bin}.mjs`), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: string[] = [];
  const take = (d: Buffer) => out.push(...d.toString().split('\n').filter(Boolean));
  p.stdout.on('data', take);
  p.stderr.on('data', take);
  const code = new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  return { code, out, kill: () => p.kill('SIGKILL') };
}

async function cli(bin: 'fedseg' | 'fedseg-hub', args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string[] }> {
  const p = start(bin, args, env);
  const t = setTimeout(() => p.kill(), 120_000);
  const code = await p.code;
  clearTimeout(t);
  return { code, out: p.out };
}

test('hub + 3 fedseg site processes, 2 rounds, export-model, fedseg eval --model prints the Dice/HD95 table', { timeout: 300_000 }, async () => {
  const { dir, cleanup } = tempDir('fedseg-journey-');
  const procs: Proc[] = [];
  try {
    // Coordinator: synthetic DoFE folders; each hospital gets (a copy of) its own domain folder.
    const data = join(dir, 'data');
    const g = await cli('fedseg', ['data', 'generate', '--kind', 'fundus', '--sites', '3', '--per-site', '5', '--size', '32', '--seed', '2', '--out', data]);
    assert.equal(g.code, 0, g.out.join('\n'));
    const sites = ['Domain1', 'Domain2', 'Domain3'];
    for (const s of sites) {
      mkdirSync(join(dir, `${s}-folder`));
      cpSync(join(data, s), join(dir, `${s}-folder`, s), { recursive: true });
      const imp = await cli('fedseg', ['data', 'import', '--db', join(dir, `${s}.db`), '--format', 'dofe', join(dir, `${s}-folder`)]);
      assert.equal(imp.code, 0, imp.out.join('\n'));
    }
    // Coordinator: enrol, configure, start.
    const hubDb = join(dir, 'hub.db');
    const tokens: Record<string, string> = {};
    for (const [names, role] of [[sites.slice(0, 2), 'train'], [[sites[2]!], 'eval']] as const) {
      const r = await cli('fedseg-hub', ['add-site', ...names, '--role', role, '--db', hubDb, '--json']);
      assert.equal(r.code, 0, r.out.join('\n'));
      for (const l of r.out.filter((x) => x.startsWith('{'))) {
        const j = JSON.parse(l) as { site: string; token: string };
        tokens[j.site] = j.token;
      }
    }
    const cfg = join(dir, 'hub.json');
    writeFileSync(cfg, JSON.stringify({
      name: 'journey-hub', db: hubDb, strategy: 'elcfs', rounds: 2, minSites: 2, heartbeatMs: 1000,
      model: { kind: 'unet', inChannels: 3, classes: 2, config: { baseWidth: 4, depth: 3 } }, initSeed: 5,
      train: { localEpochs: 1, batchSize: 2, lr: 0.002, alpha: 0.003, maxStepsPerEpoch: 0 },
    }));
    const hub = start('fedseg-hub', ['start', '--config', cfg, '--port', '0']);
    procs.push(hub);
    const port = await new Promise<number>((resolve, reject) => {
      const t = setInterval(() => {
        const m = hub.out.map((l) => /listening on ws:\/\/[^:]+:(\d+)/.exec(l)).find(Boolean);
        if (m) { clearInterval(t); resolve(Number(m[1])); }
      }, 50);
      void hub.code.then((c) => { clearInterval(t); reject(new Error(`hub exited ${c}: ${hub.out.join('\n')}`)); });
    });
    // Hospitals: one `fedseg site` process each.
    const url = `ws://127.0.0.1:${port}`;
    const siteProcs = sites.map((s, k) => start('fedseg', ['site', '--share-spectra', '--hub', url, '--name', s, '--db', join(dir, `${s}.db`), '--role', k === 2 ? 'eval' : 'train', '--backend', 'wasm', '--quiet'],
      { FEDSEG_TOKEN: tokens[s]! }));
    procs.push(...siteProcs);
    const codes = await Promise.all([hub.code, ...siteProcs.map((p) => p.code)]);
    assert.deepEqual(codes, [0, 0, 0, 0], [...hub.out, ...siteProcs.flatMap((p) => p.out)].join('\n'));

    // Coordinator: the global model as a self-describing file; a hospital evaluates it.
    const file = join(dir, 'global.fsw');
    const ex = await cli('fedseg-hub', ['export-model', '--db', hubDb, '--out', file]);
    assert.equal(ex.code, 0, ex.out.join('\n'));
    assert.match(ex.out.join('\n'), /wrote .*global\.fsw \(global model of round 2/);
    const evalArgs = ['eval', '--db', join(dir, 'Domain3.db'), '--dataset', 'Domain3', '--backend', 'wasm'];
    const table = await cli('fedseg', [...evalArgs, '--model', file]);
    assert.equal(table.code, 0, table.out.join('\n'));
    const text = table.out.join('\n');
    assert.match(text, /^class\s+Dice %\s+HD95 px\s+images\s+hd95-undef\s+empty pred\s+empty gt$/m);
    assert.match(text, /^disc\s+\d+\.\d\d\s+(\d+\.\d\d|-)\s+\d+/m);
    assert.match(text, /^cup\s+\d+\.\d\d\s+(\d+\.\d\d|-)\s+\d+/m);
    assert.match(text, /unet base 4 depth 3, 3 channel\(s\) -> 2 class\(es\)/);

    // The same numbers as the eval site's evaluation of round 2 (recorded by the hub), and as the global
    // model the eval site kept.
    const json = await cli('fedseg', [...evalArgs, '--model', file, '--json']);
    const rep = JSON.parse(json.out.filter((l) => !l.startsWith('evaluate ')).join('\n')) as EvalReport;
    const ev = await cli('fedseg-hub', ['evaluations', '--db', hubDb]);
    const evals = JSON.parse(ev.out.find((l) => l.startsWith('['))!) as { round: number; site: string; metrics: Record<string, number> }[];
    const last = evals.find((e) => e.round === 2 && e.site === 'Domain3')!;
    assert.ok(last, JSON.stringify(evals));
    assert.ok(Math.abs(rep.classes[0]!.dice - last.metrics.dice_c0!) < 1e-12, `${rep.classes[0]!.dice} vs ${last.metrics.dice_c0}`);
    assert.ok(Math.abs(rep.classes[1]!.dice - last.metrics.dice_c1!) < 1e-12);
    const kept = await cli('fedseg', [...evalArgs, '--checkpoint', 'latest', '--json']);
    assert.equal(kept.code, 0, kept.out.join('\n'));
    const repKept = JSON.parse(kept.out.filter((l) => !l.startsWith('evaluate ')).join('\n')) as EvalReport;
    assert.deepEqual(repKept.classes, rep.classes);
    assert.match(repKept.model.source, /Global model · journey-hub · round 2 of 2, final/);
  } finally {
    for (const p of procs) p.kill();
    cleanup();
  }
});
