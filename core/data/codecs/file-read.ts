// Reading import files without being stalled or flooded by what sits in an import folder
// (docs/security.md §4 Import budgets): a FIFO, socket or device named `x.png` would block a plain
// readFile forever (or stream /dev/zero without end), so a file is stat'ed first (symlinks are
// followed, as everywhere else in the importers) and refused unless it is a regular file; it is then
// opened non-blocking and checked again with fstat, so a file swapped for a FIFO between the two is
// still refused without waiting. Sizes are checked against the per-file limit before reading, and
// at most the size fstat reported is read.
import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { FedSegError } from '../../contract/errors.js';
import { checkFileBytes, type DecodeLimits } from './decode-limits.js';

/** The type tests fs.Stats and fs.Dirent share. */
export type EntryType = Pick<Stats, 'isFIFO' | 'isSocket' | 'isCharacterDevice' | 'isBlockDevice' | 'isDirectory' | 'isSymbolicLink'>;

/** What a non-regular directory entry is, for messages ("a FIFO (named pipe)", "a socket", ...). */
export function fileKind(st: EntryType): string | null {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isDirectory()) return 'a folder';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return null;
}

/** The message for a non-regular file; used by the folder listing and by readers alike. */
export function notRegularMessage(st: EntryType): string {
  const kind = fileKind(st);
  return `not a regular file${kind ? ` but ${kind}` : ''}; skipped without opening it`;
}

function ioError(file: string, e: unknown): FedSegError {
  if (e instanceof FedSegError) return e;
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return new FedSegError('IO_ERROR', `${file}: cannot read (the file does not exist)`);
  return new FedSegError('IO_ERROR', `${file}: cannot read (${(e as Error).message})`);
}

// O_NONBLOCK is POSIX only; where it is absent (Windows) FIFOs do not exist in folders either.
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** Opens a regular file for reading, never opening anything else; returns the handle and its size. */
export async function openRegularFile(file: string): Promise<{ fh: FileHandle; size: number }> {
  let st: Stats;
  try {
    st = await stat(file);
  } catch (e) {
    throw ioError(file, e);
  }
  if (!st.isFile()) throw new FedSegError('INVALID_INPUT', `${file}: ${notRegularMessage(st)}`);
  let fh: FileHandle;
  try {
    fh = await open(file, OPEN_FLAGS);
  } catch (e) {
    throw ioError(file, e);
  }
  try {
    const fst = await fh.stat();
    if (!fst.isFile()) throw new FedSegError('INVALID_INPUT', `${file}: ${notRegularMessage(fst)}`);
    return { fh, size: fst.size };
  } catch (e) {
    await fh.close();
    throw ioError(file, e);
  }
}

/** Reads up to `length` bytes at `position` (fewer at the end of the file). */
export async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  // Unfilled bytes are never returned (the result is cut to what was read).
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** Reads a whole regular file of at most limits.maxFileBytes; every failure names the file. */
export async function readRegularFile(file: string, limits: Pick<DecodeLimits, 'maxFileBytes'>): Promise<Buffer> {
  const { fh, size } = await openRegularFile(file);
  try {
    checkFileBytes(file, size, limits, ' on disk');
    return await readAt(fh, 0, size);
  } catch (e) {
    throw ioError(file, e);
  } finally {
    await fh.close();
  }
}
