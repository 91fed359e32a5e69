// The one place where an app-API call crosses into the engine: checks the method name, validates the
// arguments against the contract's zod schema (a trust boundary: IPC and WebSocket callers), runs the
// handler and wraps the outcome in an Envelope so errors cross as {code, message}.
// Used by the browser-mode WebSocket server (core/serve) and the Electron engine host alike.
import { appMethods, isAppMethodName, type AppHandlers, type AppMethodName, type Envelope } from '../contract/app-api.js';
import { FedSegError, toErrorValue } from '../contract/errors.js';

function describeIssues(err: { issues: { path: PropertyKey[]; message: string }[] }): string {
  return err.issues
    .slice(0, 4)
    .map((i) => `${i.path.length ? i.path.map(String).join('.') : 'arguments'}: ${i.message}`)
    .join('; ');
}

/** Validate `rawArgs` for `method`; throws INVALID_ARGUMENT with a readable reason. */
export function validateArgs(method: unknown, rawArgs: unknown): { method: AppMethodName; args: unknown } {
  if (!isAppMethodName(method)) throw new FedSegError('INVALID_ARGUMENT', `unknown app method ${JSON.stringify(String(method)).slice(0, 80)}`);
  const parsed = appMethods[method].args.safeParse(rawArgs ?? {});
  if (!parsed.success) throw new FedSegError('INVALID_ARGUMENT', `${method}: ${describeIssues(parsed.error)}`);
  return { method, args: parsed.data };
}

export async function dispatch(handlers: AppHandlers, method: unknown, rawArgs: unknown): Promise<Envelope<unknown>> {
  try {
    const v = validateArgs(method, rawArgs);
    const handler = handlers[v.method] as (a: unknown) => Promise<unknown>;
    const value = await handler(v.args);
    return { ok: true, value };
  } catch (e) {
    const error = toErrorValue(e);
    if (error.code === 'INTERNAL' && process.env.FEDSEG_DEBUG) console.error(e);
    return { ok: false, error };
  }
}
