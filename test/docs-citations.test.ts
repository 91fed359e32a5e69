// Every citation in the code and docs resolves inside the repository: a cited docs page exists and has
// the cited section (docs/algorithms.md §2 -> a heading "§2 ..."), and every repository path named in
// a comment or a doc (core/..., federation-hub/..., docs/...) exists. Also: no comment cites the team's
// notes outside the repo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: repo, encoding: 'utf8' })
  .split('\n').filter((f) => /\.(ts|svelte|md|mjs|js|py|sh)$/.test(f) && !f.startsWith('test/fixtures/') && existsSync(join(repo, f)));

function sections(doc: string): Set<string> {
  const text = readFileSync(join(repo, doc), 'utf8');
  return new Set([...text.matchAll(/^#+\s*§(\d+)/gm)].map((m) => m[1]!));
}

test('cited docs pages and their § sections exist', () => {
  const missing: string[] = [];
  const cache = new Map<string, Set<string>>();
  for (const f of files) {
    const text = readFileSync(join(repo, f), 'utf8');
    for (const m of text.matchAll(/\b(docs\/[a-z0-9-]+\.md)(?:`)?(?:\s*§\s*([\d]+)(?:\s*[-–,]\s*(?:§\s*)?(\d+))?)?/g)) {
      const doc = m[1]!;
      if (!existsSync(join(repo, doc))) {
        missing.push(`${f}: ${doc} does not exist`);
        continue;
      }
      if (!m[2]) continue;
      if (!cache.has(doc)) cache.set(doc, sections(doc));
      const have = cache.get(doc)!;
      const from = Number(m[2]);
      const to = m[3] ? Number(m[3]) : from;
      for (let s = from; s <= to; s++) if (!have.has(String(s))) missing.push(`${f}: ${doc} has no §${s}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('repository paths named in comments and docs exist', () => {
  const missing: string[] = [];
  // The lint test names paths of its miniature fixture tree (test/fixtures/lint), not of the repository.
  for (const f of files.filter((x) => x !== 'test/lint-layering.test.ts')) {
    const text = readFileSync(join(repo, f), 'utf8');
    for (const m of text.matchAll(/(?<![\w./-])((?:core|federation-hub|electron|renderer|test|bench|scripts|docs)\/[\w./-]+\.(?:ts|md|mjs|svelte|py))\b/g)) {
      const p = m[1]!;
      if (!existsSync(join(repo, p))) missing.push(`${f}: ${p}`);
    }
  }
  assert.deepEqual(missing, []);
});

test('nothing cites the team\'s notes outside the repository', () => {
  const outside = files.filter((f) => /(?<![\w/])(ALGORITHMS|MEASURED|PRODUCT|ARCHITECTURE-EXAMPLES)\.md/.test(readFileSync(join(repo, f), 'utf8')));
  assert.deepEqual(outside, []);
});
