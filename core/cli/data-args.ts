// Argument parsing, progress lines and store opening shared by the `fedseg data` subcommands.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { FedSegError } from '../contract/errors.js';
import type { DatasetStore, SampleSplit } from '../store/dataset-store.js';
import { openSqliteStore } from '../store/sqlite-store.js';

export type Opts = ParseArgsConfig['options'];

export function parse(argv: string[], options: Opts, positionals = false): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const r = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: positionals, strict: true });
    return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
  } catch (e) {
    throw new FedSegError('INVALID_ARGUMENT', (e as Error).message.split('\n')[0]!);
  }
}

export function int(v: string | boolean | undefined, name: string, def: number, lo = 0, hi = 1e9): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (typeof v !== 'string' || !Number.isInteger(n) || n < lo || n > hi) throw new FedSegError('INVALID_ARGUMENT', `--${name} must be an integer in [${lo}, ${hi}], got '${String(v)}'`);
  return n;
}

export function str(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function need(v: string | boolean | undefined, name: string): string {
  if (typeof v !== 'string' || v === '') throw new FedSegError('INVALID_ARGUMENT', `--${name} is required`);
  return v;
}

export function parseClasses(spec: string): number[][] {
  const classes = spec.split(';').map((c) => c.split(',').map((v) => Number(v.trim())));
  if (classes.some((c) => c.length === 0 || c.some((v) => !Number.isInteger(v) || v <= 0))) {
    throw new FedSegError('INVALID_ARGUMENT', `--classes '${spec}': expected positive integer labels, ',' within a class and ';' between classes (e.g. "1,2;2")`);
  }
  return classes;
}

export function parseResize(spec: string | undefined): { width: number; height: number } | null {
  if (spec === undefined) return null;
  const m = /^(\d+)x(\d+)$/.exec(spec);
  if (!m) throw new FedSegError('INVALID_ARGUMENT', `--resize '${spec}': expected WxH, e.g. 128x128`);
  return { width: Number(m[1]), height: Number(m[2]) };
}

export function parseSplit(v: string | undefined): SampleSplit | null {
  if (v === undefined) return null;
  if (v !== 'train' && v !== 'test' && v !== 'val') throw new FedSegError('INVALID_ARGUMENT', `--split must be train, test or val, got '${v}'`);
  return v;
}

/** Progress on stderr: a redrawn line on a TTY, a line per 10% otherwise. */
export function progressLine(label: string): { update(done: number, total: number, extra?: string): void; end(): void } {
  const tty = process.stderr.isTTY === true;
  let lastDecile = -1;
  let shown = false;
  return {
    update(done, total, extra = '') {
      const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
      const text = `${label} ${done}/${total} (${pct}%)${extra ? ` ${extra}` : ''}`;
      if (tty) {
        process.stderr.write(`\r\x1b[K${text}`);
        shown = true;
      } else if (Math.floor(pct / 10) !== lastDecile) {
        lastDecile = Math.floor(pct / 10);
        process.stderr.write(`${text}\n`);
      }
    },
    end() {
      if (tty && shown) process.stderr.write('\n');
    },
  };
}

/**
 * Opens a site store. `mustExist` for commands that only read or change what is there (list, stats,
 * rename, delete, a dry run): a mistyped --db is an error, never a new empty store.
 */
export function openStore(path: string, mustExist = false): DatasetStore {
  if (mustExist && !existsSync(path)) throw new FedSegError('NOT_FOUND', `store ${path} does not exist (check --db; \`fedseg data import\` or \`fedseg data generate --db\` creates one)`);
  return openSqliteStore(resolve(path));
}
