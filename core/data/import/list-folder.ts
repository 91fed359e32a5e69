// Opening an import folder, with errors that say what is actually wrong with the path: it does not
// exist, it is a file, or this user may not read it. Every importer lists its folders through here so
// the wizard, the CLI and the engine report a bad path the same way.
// Entries that are neither regular files nor folders (FIFOs, sockets, devices, broken links) are
// left out of the listing and reported as skipped, found with readdir's types and stat, never by
// opening them (docs/security.md §4 Import budgets): a FIFO named x.png would block a read forever.
// Symbolic links are followed: a link to a regular file or folder is listed like its target.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FedSegError } from '../../contract/errors.js';
import { notRegularMessage } from '../codecs/file-read.js';

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | null)?.code;
}

function denied(code: string | undefined): boolean {
  return code === 'EACCES' || code === 'EPERM';
}

/** Throws unless `dir` is a folder this process can list; the message names the path and the reason. */
export async function checkFolder(dir: string): Promise<void> {
  let st;
  try {
    st = await stat(dir);
  } catch (e) {
    const code = errno(e);
    // ENOTDIR: a parent in the path is a file, so the folder cannot exist either.
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new FedSegError('NOT_FOUND', `${dir}: folder does not exist`);
    if (denied(code)) throw new FedSegError('IO_ERROR', `${dir}: permission denied (this user may not open it)`);
    throw new FedSegError('IO_ERROR', `${dir}: cannot open (${(e as Error).message})`);
  }
  if (st.isFile()) throw new FedSegError('INVALID_ARGUMENT', `${dir}: is a file, not a folder; choose the folder that holds the images`);
  if (!st.isDirectory()) throw new FedSegError('INVALID_ARGUMENT', `${dir}: not a folder`);
}

/** A folder's regular files and sub-folders (sorted), and the other entries with why they are left out. */
export interface FolderListing {
  /** Regular files and folders. */
  names: string[];
  /** Regular files only. */
  files: string[];
  skipped: { file: string; reason: string }[];
}

/** Lists a folder; errors as checkFolder, plus permission to list it. */
export async function listFolderEntries(dir: string): Promise<FolderListing> {
  await checkFolder(dir);
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (denied(errno(e))) throw new FedSegError('IO_ERROR', `${dir}: permission denied (this user may not list the folder)`);
    throw new FedSegError('IO_ERROR', `${dir}: cannot list folder (${(e as Error).message})`);
  }
  const names: string[] = [];
  const files: string[] = [];
  const skipped: FolderListing['skipped'] = [];
  for (const d of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (d.isFile() || d.isDirectory()) {
      names.push(d.name);
      if (d.isFile()) files.push(d.name);
      continue;
    }
    const file = join(dir, d.name);
    if (!d.isSymbolicLink()) {
      skipped.push({ file, reason: notRegularMessage(d) });
      continue;
    }
    try {
      const st = await stat(file);
      if (st.isFile() || st.isDirectory()) names.push(d.name);
      if (st.isFile()) files.push(d.name);
      else if (!st.isDirectory()) skipped.push({ file, reason: `symbolic link to a file that is ${notRegularMessage(st)}` });
    } catch (e) {
      skipped.push({ file, reason: errno(e) === 'ENOENT' ? 'broken symbolic link (its target does not exist)' : `cannot follow symbolic link (${(e as Error).message})` });
    }
  }
  return { names, files, skipped };
}

/** The names of a folder's regular files and sub-folders, sorted; errors as listFolderEntries. */
export async function listFolder(dir: string): Promise<string[]> {
  return (await listFolderEntries(dir)).names;
}
