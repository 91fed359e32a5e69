// File modes of the site's data at rest (docs/security.md §5): the images, masks, models and the sealed
// token live in one SQLite file, so the folder FedSeg creates for it is 0700 and the database (with its
// -wal and -shm files) is 0600, whatever the umask. A file or folder that already exists is tightened
// only when it is this user's own (a warning says so); files of other users (a read-only store
// shared by a colleague) are never touched. Windows has no such mode bits: there these are no-ops and
// the user profile's ACLs apply.
import { chmodSync, closeSync, constants, existsSync, lstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';

export const POSIX_MODES = process.platform !== 'win32';

export type Warn = (message: string) => void;
export const warnOnStderr: Warn = (m) => console.warn(`warning: ${m}`);

export function modeText(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

function ownedByMe(uid: number): boolean {
  const me = process.getuid?.();
  return me === undefined || uid === me;
}

/**
 * Creates `dir` (and missing parents) 0700. An existing folder is left as it is unless
 * `tightenExisting` (FedSeg's own default folder, ~/.fedseg) and it is this user's.
 */
export function ensurePrivateDir(dir: string, opts: { tightenExisting?: boolean; warn?: Warn } = {}): void {
  const abs = resolve(dir);
  if (existsSync(abs)) {
    if (!opts.tightenExisting || !POSIX_MODES) return;
    const st = lstatSync(abs);
    if (st.isDirectory() && ownedByMe(st.uid) && st.mode & 0o077) {
      chmodSync(abs, 0o700);
      (opts.warn ?? warnOnStderr)(`${abs} could be read by other users (mode ${modeText(st.mode)}); it is now 0700`);
    }
    return;
  }
  const first = mkdirSync(abs, { recursive: true, mode: 0o700 });
  if (!POSIX_MODES || !first) return;
  // The umask may have taken bits away (never added): set exactly 0700 on every folder made here.
  let p = resolve(first);
  const rest = relative(p, abs).split(sep).filter(Boolean);
  chmodSync(p, 0o700);
  for (const part of rest) {
    p = resolve(p, part);
    chmodSync(p, 0o700);
  }
}

/** Sets an existing file of this user to owner-only (keeping the owner's bits); 'foreign' when it is another user's. */
export function tightenFile(path: string, warn: Warn = warnOnStderr): 'missing' | 'ok' | 'tightened' | 'foreign' {
  if (!POSIX_MODES) return 'ok';
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return 'missing';
  }
  if (!st.isFile()) return 'ok';
  if (!ownedByMe(st.uid)) return 'foreign';
  if (!(st.mode & 0o077)) return 'ok';
  chmodSync(path, st.mode & 0o700);
  warn(`${path} could be read by other users (mode ${modeText(st.mode)}); it is now ${modeText(st.mode & 0o700)}`);
  return 'tightened';
}

/**
 * Before SQLite opens `path` for writing: a new file is created here 0600 (SQLite then keeps that mode,
 * and gives its -wal/-shm files the database's mode); an existing one and its -wal/-shm are tightened.
 * A missing folder is left to SQLite's own "cannot open" error.
 */
export function preparePrivateDbFile(path: string, warn: Warn = warnOnStderr): void {
  if (!POSIX_MODES) return;
  try {
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    closeSync(fd);
    chmodSync(path, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EROFS') return;
    if (code !== 'EEXIST') throw e;
    tightenFile(path, warn);
  }
  tightenDbCompanions(path, warn);
}

/** The -wal and -shm files SQLite keeps next to a database in WAL mode. */
export function tightenDbCompanions(path: string, warn: Warn = warnOnStderr): void {
  for (const suffix of ['-wal', '-shm']) tightenFile(path + suffix, warn);
}

/** The folder of a database path (for the default key file next to it). */
export function dbFolder(path: string): string {
  return dirname(resolve(path));
}
