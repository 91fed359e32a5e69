// `--backend NAME`, as every `fedseg` command that computes reads it: one of the backends
// core/backend.ts knows, or `auto` (its own order of preference).
import { choiceArg } from '../contract/cli-args.js';
import { BACKEND_ORDER, type BackendName } from '../backend.js';

export const BACKEND_CHOICES: readonly (BackendName | 'auto')[] = [...BACKEND_ORDER, 'auto'];

/** The backend a command was asked for; undefined when --backend was not given. */
export function backendArg(v: string | boolean | undefined): BackendName | 'auto' | undefined {
  return v === undefined ? undefined : choiceArg(v, 'backend', BACKEND_CHOICES, 'auto');
}
