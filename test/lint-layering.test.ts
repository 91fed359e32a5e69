// Proves each layering rule of eslint.config.js fires: the REAL config lints a miniature FedSeg tree
// (test/fixtures/lint/) where every bad-*.ts / Bad*.svelte / cycle-*.ts breaks one rule and every
// ok.ts / Ok.svelte is an allowed import. import-x/no-restricted-paths resolves its zones against
// process.cwd(), so this file (its own process under node --test) lints from the fixture root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(repo, 'test/fixtures/lint');

interface Expect { file: string; imports: string; rule: string; says: RegExp }
const violations: Expect[] = [
  { file: 'core/bad-electron.ts', imports: 'electron/main.ts', rule: 'import-x/no-restricted-paths', says: /core\/ is the headless engine.*Move shared types to core\/contract\// },
  { file: 'core/bad-renderer.ts', imports: 'renderer/view.ts', rule: 'import-x/no-restricted-paths', says: /core\/ is the headless engine.*core\/contract\// },
  { file: 'core/bad-hub.ts', imports: 'federation-hub/hub.ts', rule: 'import-x/no-restricted-paths', says: /core\/ is the headless engine.*core\/contract\// },
  { file: 'core/contract/bad-engine.ts', imports: 'core/engine.ts', rule: 'import-x/no-restricted-paths', says: /core\/contract\/ holds types and schemas only/ },
  { file: 'federation-hub/bad-core.ts', imports: 'core/engine.ts', rule: 'import-x/no-restricted-paths', says: /federation-hub\/ may import only core\/contract\/\*\*.*hub protocol/ },
  { file: 'renderer/bad-core.ts', imports: 'core/engine.ts', rule: 'import-x/no-restricted-paths', says: /renderer\/ may import only core\/contract\/\*\*.*app API/ },
  { file: 'renderer/bad-electron.ts', imports: 'electron/main.ts', rule: 'import-x/no-restricted-paths', says: /typed app API \(window\.api\)/ },
  { file: 'renderer/bad-hub.ts', imports: 'federation-hub/hub.ts', rule: 'import-x/no-restricted-paths', says: /renderer\/ may import only core\/contract\/\*\*/ },
  { file: 'renderer/BadStore.svelte', imports: 'core/store/store.ts', rule: 'import-x/no-restricted-paths', says: /renderer\/ may import only core\/contract\/\*\*/ },
  { file: 'core/freq/bad-train.ts', imports: 'core/train/step.ts', rule: 'import-x/no-restricted-paths', says: /core\/freq\/ is pure numerics.*plain arrays/ },
  { file: 'core/models/bad-train.ts', imports: 'core/train/step.ts', rule: 'import-x/no-restricted-paths', says: /core\/models\/ holds networks only/ },
  { file: 'core/train/bad-store.ts', imports: 'core/store/store.ts', rule: 'import-x/no-restricted-paths', says: /core\/train\/ is the learner: it reads batches \(arrays\), never a store/ },
  { file: 'core/run/bad-federation.ts', imports: 'core/federation/site-client.ts', rule: 'import-x/no-restricted-paths', says: /SiteTrainer port/ },
  { file: 'core/run/bad-sqlite.ts', imports: 'core/run/bad-sqlite.ts', rule: 'no-restricted-imports', says: /Only core\/store\/ .* open SQLite/ },
  { file: 'electron/bad-core.ts', imports: 'core/store/store.ts', rule: 'import-x/no-restricted-paths', says: /electron\/ is a shell.*core\/app\/index\.ts/ },
  { file: 'core/cycle-a.ts', imports: 'core/cycle-b.ts', rule: 'import-x/no-cycle', says: /Dependency cycle detected/ },
  { file: 'core/cycle-b.ts', imports: 'core/cycle-a.ts', rule: 'import-x/no-cycle', says: /Dependency cycle detected/ },
];
const allowed = ['core/ok.ts', 'federation-hub/ok.ts', 'renderer/ok.ts', 'renderer/Ok.svelte', 'core/engine.ts', 'core/contract/types.ts', 'core/run/ok.ts', 'electron/ok.ts'];

async function lintFixtures(files: string[]) {
  const prev = process.cwd();
  process.chdir(root);
  try {
    // ignore: false because the main lint run ignores test/fixtures/lint/** (these files are wrong on purpose)
    const eslint = new ESLint({ cwd: root, overrideConfigFile: join(repo, 'eslint.config.js'), ignore: false });
    return await eslint.lintFiles(files);
  } finally {
    process.chdir(prev);
  }
}

test('every layering rule fires with its own rule id and a message that says where the code belongs', async () => {
  for (const v of violations) {
    // the import must resolve to a real file ('./x.js' -> x.ts), or the rule would be skipped silently
    assert.ok(existsSync(join(root, v.imports)), `fixture ${v.file} imports a file that exists (${v.imports})`);
  }
  const results = await lintFixtures(violations.map((v) => v.file));
  for (const v of violations) {
    const r = results.find((x) => x.filePath === join(root, v.file));
    assert.ok(r, `${v.file} was linted`);
    const ids = r.messages.map((m) => m.ruleId);
    assert.deepEqual(ids, [v.rule], `${v.file}: expected exactly [${v.rule}], got ${JSON.stringify(r.messages.map((m) => [m.ruleId, m.message]))}`);
    assert.equal(r.messages[0]!.severity, 2, `${v.file}: ${v.rule} is an error, not a warning`);
    assert.match(r.messages[0]!.message, v.says, `${v.file}: message says where the code belongs`);
  }
});

test('allowed imports (contract from every layer, engine within core) produce no error', async () => {
  const results = await lintFixtures(allowed);
  assert.equal(results.length, allowed.length);
  for (const r of results) {
    assert.deepEqual(r.messages.map((m) => `${m.ruleId}: ${m.message}`), [], `${r.filePath} should lint clean`);
  }
});

test('the main lint run skips the fixtures (they are wrong on purpose) but not real sources, .svelte included', async () => {
  const eslint = new ESLint({ cwd: repo });
  assert.equal(await eslint.isPathIgnored(join(root, 'core/bad-hub.ts')), true);
  assert.equal(await eslint.isPathIgnored(join(repo, 'core/backend.ts')), false);
  assert.equal(await eslint.isPathIgnored(join(repo, 'renderer/src/App.svelte')), false);
  assert.ok(await eslint.calculateConfigForFile(join(repo, 'renderer/src/views/Train.svelte')), 'a .svelte file has a lint config');
});

test('npm run lint\'s config rejects a planted .svelte file importing core/store and core/freq importing core/train in the real tree', async () => {
  const planted = [
    { file: join(repo, 'renderer/src/views/PlantedLintProbe.svelte'), text: `<script lang="ts">\n  import { openSqliteStore } from '../../../core/store/sqlite-store.js';\n  const s = openSqliteStore;\n</script>\n\n<p>{String(s)}</p>\n`, says: /renderer\/ may import only core\/contract/ },
    { file: join(repo, 'core/freq/planted-lint-probe.ts'), text: `import { Adam } from '../train/adam.js';\nexport const probe = Adam;\n`, says: /core\/freq\/ is pure numerics/ },
  ];
  try {
    for (const p of planted) writeFileSync(p.file, p.text);
    const eslint = new ESLint({ cwd: repo });
    const results = await eslint.lintFiles(planted.map((p) => p.file));
    for (const p of planted) {
      const r = results.find((x) => x.filePath === p.file)!;
      assert.ok(r.messages.some((m) => m.ruleId === 'import-x/no-restricted-paths' && m.severity === 2 && p.says.test(m.message)), `${p.file}: ${JSON.stringify(r.messages)}`);
    }
  } finally {
    for (const p of planted) rmSync(p.file, { force: true });
  }
});
