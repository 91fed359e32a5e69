// Argument parsing, progress lines and store opening shared by the `fedseg data` subcommands (the
// parsing and numeric checks themselves are core/contract/cli-args.ts, shared by every command).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { choiceArg, parseCommandArgs, type OptionsConfig } from '../contract/cli-args.js';
import { FedSegError } from '../contract/errors.js';
import { UsageError } from '../contract/exit-codes.js';
import type { DatasetStore, SampleSplit } from '../store/dataset-store.js';
import { openSqliteStore } from '../store/sqlite-store.js';

export type Opts = OptionsConfig;

/** Parses the arguments of `fedseg data <sub>`; errors name the subcommand and its help. */
export function parse(sub: string, argv: string[], options: Opts, positionals = false): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  const r = parseCommandArgs(argv, options, { prog: 'fedseg data', command: sub }, positionals);
  return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
}

export function str(v: string | boolean | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function parseClasses(spec: string): number[][] {
  const classes = spec.split(';').map((c) => c.split(',').map((v) => Number(v.trim())));
  if (classes.some((c) => c.length === 0 || c.some((v) => !Number.isInteger(v) || v <= 0))) {
    throw new UsageError(`--classes '${spec}': expected positive integer labels, ',' within a class and ';' between classes (e.g. "1,2;2")`);
  }
  return classes;
}

export function parseResize(spec: string | undefined): { width: number; height: number } | null {
  if (spec === undefined) return null;
  const m = /^(\d+)x(\d+)$/.exec(spec);
  const width = Number(m?.[1]);
  const height = Number(m?.[2]);
  if (!m || width < 1 || height < 1 || width > 8192 || height > 8192) throw new UsageError(`--resize '${spec}': expected WxH with sides in [1, 8192], e.g. 128x128`);
  return { width, height };
}

export function parseSplit(v: string | undefined): SampleSplit | null {
  return v === undefined ? null : choiceArg(v, 'split', ['train', 'test', 'val'], 'train');
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
