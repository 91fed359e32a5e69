// Opening an import folder, with errors that say what is actually wrong with the path: it does not
// exist, it is a file, or this user may not read it. Every importer lists its folders through here so
// the wizard, the CLI and the engine report a bad path the same way.
import { readdir, stat } from 'node:fs/promises';
import { FedSegError } from '../../contract/errors.js';

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

/** The names in a folder, sorted; errors as checkFolder, plus permission to list it. */
export async function listFolder(dir: string): Promise<string[]> {
  await checkFolder(dir);
  try {
    return (await readdir(dir)).sort();
  } catch (e) {
    if (denied(errno(e))) throw new FedSegError('IO_ERROR', `${dir}: permission denied (this user may not list the folder)`);
    throw new FedSegError('IO_ERROR', `${dir}: cannot list folder (${(e as Error).message})`);
  }
}
