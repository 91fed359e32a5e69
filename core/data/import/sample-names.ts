// Sample names come from file names, and the store takes names of at most 200 characters
// (checkName in core/store/codec.ts). A longer file name is left out when the folder is planned,
// with a reason naming the file, so the rest of the import goes on (docs/security.md §4 Import budgets)
// instead of one long name failing the whole import.

/** Longest sample name the store accepts. */
export const MAX_SAMPLE_NAME = 200;

/**
 * Why a file whose samples would be named `name` (plus `suffix`, e.g. a NIfTI slice's "-s000") cannot
 * be imported, or null when the name fits.
 */
export function longNameReason(name: string, suffix = ''): string | null {
  const n = name.length + suffix.length;
  if (n <= MAX_SAMPLE_NAME) return null;
  const what = suffix ? `sample names (${JSON.stringify(name.slice(0, 24) + '…' + suffix)}) would be ${n} characters` : `its name is ${n} characters`;
  return `${what}, over the ${MAX_SAMPLE_NAME}-character limit for sample names; rename the file to import it`;
}
