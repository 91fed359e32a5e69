// `fedseg demo` end to end at toy scale: real hub and site processes (one each), FedAvg then ELCFS
// through the experiment runner, the table on stdout, the HTML report (table, SVG curves, overlay
// PNGs beside it) and results.json.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from './helpers/hub-harness.js';

const root = join(import.meta.dirname, '..', '..');

test('fedseg demo (toy scale) prints the table and writes the report', { timeout: 420_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const out = join(dir, 'demo-output');
    const args = ['demo', '--sites', '3', '--per-site', '3', '--size', '32', '--rounds', '1', '--base-width', '4', '--batch', '3', '--unseen', 'B', '--out', out, '--timeout-min', '3', '--overlays', '3'];
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn(process.execPath, [join(root, 'bin/fedseg.mjs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const t = setTimeout(() => p.kill('SIGKILL'), 400_000);
      p.on('exit', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\| Domain2 +\| FedAvg +\| 1 +\|/);
    assert.match(r.stdout, /\| Domain2 +\| ELCFS +\| 1 +\|/);
    assert.match(r.stdout, /disc Dice % \| cup Dice % \| disc HD95 px \| cup HD95 px/);
    assert.match(r.stdout, /ELCFS − FedAvg/);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.ok(html.includes('<table>') && html.includes('<svg') && html.includes('<polyline'));
    const imgs = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]!);
    assert.equal(imgs.length, 2 * 3, 'overlays for each method');
    for (const f of imgs) assert.ok(existsSync(join(out, f)), f);
    const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { runs: { method: string; fold: string; rounds: { round: number; metrics: Record<string, number> }[] }[] };
    assert.deepEqual(res.runs.map((x) => [x.method, x.fold, x.rounds.length]), [['fedavg', 'Domain2', 1], ['elcfs', 'Domain2', 1]]);
    for (const x of res.runs) for (const k of ['dice_c0', 'dice_c1']) assert.ok(x.rounds[0]!.metrics[k]! >= 0 && x.rounds[0]!.metrics[k]! <= 1);
  } finally {
    cleanup();
  }
});
