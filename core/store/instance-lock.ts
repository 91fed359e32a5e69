// One FedSeg per site store (docs/security.md §5): the engine (the desktop app, `fedseg serve`) and
// `fedseg site` hold `<store>.lock` while the store is open, so two of them never train, import or join
// on the same data at once. The lock file holds the owner's pid; it is made complete in a temporary file
// and linked into place (link fails if the lock exists), so a reader never sees a half-written lock.
// A lock whose process is gone (a crash, SIGKILL, a power cut) is taken over; so is one naming this
// process's own pid that this process does not hold (a container restarted with the same pid).
// Job workers of the engine open the store without the lock: they are the same process.
import { closeSync, constants, linkSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { FedSegError } from '../contract/errors.js';

export interface InstanceLock {
  readonly path: string;
  release(): void;
}

const held = new Set<string>();

/** Whether process `pid` exists (and is not a zombie waiting for its parent). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, but belongs to another user
  }
  if (process.platform === 'linux') {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return false;
    } catch {
      /* /proc unavailable: trust kill(0) */
    }
  }
  return true;
}

function owner(lockPath: string): number | null {
  try {
    const m = /^(\d+)\n/.exec(readFileSync(lockPath, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function busy(dbPath: string, pid: number, lockPath: string): FedSegError {
  return new FedSegError('DB_ERROR', `this site's data is already open in another FedSeg (pid ${pid}): ${dbPath}. ` +
    `Close that one first (the desktop app, fedseg serve or fedseg site); if no FedSeg is running, delete ${lockPath}`);
}

/** Puts the complete lock in place, or throws EEXIST; file systems without hard links get an O_EXCL write. */
function place(tmp: string, lockPath: string, content: string): void {
  try {
    linkSync(tmp, lockPath);
    return;
  } catch (e) {
    if (!['EPERM', 'ENOTSUP', 'ENOSYS', 'EOPNOTSUPP'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
  }
  const fd = openSync(lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
}

/** Takes the lock of the store at `dbPath`, or throws DB_ERROR naming the pid that holds it. */
export function acquireInstanceLock(dbPath: string): InstanceLock {
  const lockPath = `${resolve(dbPath)}.lock`;
  if (held.has(lockPath)) throw busy(dbPath, process.pid, lockPath);
  const tmp = `${lockPath}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  const content = `${process.pid}\n`;
  try {
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new FedSegError('IO_ERROR', `cannot create the lock ${lockPath} next to the site's data: ${(e as Error).message}`);
  }
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        place(tmp, lockPath, content);
        held.add(lockPath);
        let released = false;
        return {
          path: lockPath,
          release() {
            if (released) return;
            released = true;
            held.delete(lockPath);
            // Only our own lock is removed (a lock taken over after we were presumed dead is not ours).
            if (owner(lockPath) === process.pid) {
              try {
                unlinkSync(lockPath);
              } catch {
                /* already gone */
              }
            }
          },
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
          throw new FedSegError('IO_ERROR', `cannot create the lock ${lockPath} next to the site's data: ${(e as Error).message}`);
      }
      const pid = owner(lockPath);
      if (pid !== null && pid !== process.pid && processAlive(pid)) throw busy(dbPath, pid, lockPath);
      // Stale (its process is gone), unreadable or our own pid from an earlier life: take it over.
      try {
        unlinkSync(lockPath);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
          throw new FedSegError('IO_ERROR', `cannot remove the stale lock ${lockPath}: ${(e as Error).message}`);
      }
    }
    const pid = owner(lockPath);
    throw busy(dbPath, pid ?? 0, lockPath);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to clean */
    }
  }
}
