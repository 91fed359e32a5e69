// The generated Fleet API messages (core/flower/gen) are what protoc-gen-es makes today from the
// vendored Flower .proto files (integrations/flower/proto, docs/flower.md §2): regenerated into a temp
// dir and compared file by file, so an edited proto or a hand-edited stub cannot slip through.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

test('core/flower/gen is exactly what npm run gen:flower makes from the vendored protos', { timeout: 120_000 }, () => {
  const tmp = mkdtempSync(join(tmpdir(), 'fedseg-gen-'));
  try {
    const bin = join(ROOT, 'node_modules/.bin');
    execFileSync(join(bin, 'buf'), ['generate', '-o', join(tmp, 'a/b/c')], { cwd: join(ROOT, 'integrations/flower/proto'), env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` }, stdio: 'pipe' });
    const made = join(tmp, 'core/flower/gen/flwr/proto');
    const kept = join(ROOT, 'core/flower/gen/flwr/proto');
    assert.deepEqual(readdirSync(made).sort(), readdirSync(kept).sort());
    for (const f of readdirSync(made)) assert.equal(readFileSync(join(kept, f), 'utf8'), readFileSync(join(made, f), 'utf8'), `${f} differs: run npm run gen:flower`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
