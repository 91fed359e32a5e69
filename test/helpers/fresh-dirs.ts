// One temporary root per test file, removed after its tests, and a new empty folder in it per call
// (each import test writes its own files next to nothing else).
import { after } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function freshDirs(prefix: string): { root: string; fresh: (name: string) => string } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(root, { recursive: true, force: true }));
  let n = 0;
  const fresh = (name: string) => {
    const d = join(root, `${name}-${++n}`);
    mkdirSync(d, { recursive: true });
    return d;
  };
  return { root, fresh };
}
