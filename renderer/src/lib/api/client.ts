// The renderer's one typed client of the app API. Two transports implement the same two calls
// (invoke + event stream): the Electron preload bridge (window.api) and a WebSocket (browser mode).
// Every method is derived from core/contract/app-api.ts; nothing here is written per method.
import {
  appMethodNames, type AppClient, type AppEventName, type AppMethodName, type ArgsIn, type Envelope, type EventPayload, type ResultOf,
} from '../../../../core/contract/app-api.js';
import type { ErrorValue } from '../../../../core/contract/errors.js';

export interface Transport {
  invoke(method: AppMethodName, args: unknown): Promise<Envelope<unknown>>;
  onEvent(listener: (event: AppEventName, payload: unknown) => void): () => void;
}

/** An app-API error on the renderer side, carrying the backend's {code, message}. */
export class ApiError extends Error {
  readonly code: string;
  constructor(e: ErrorValue | { code: string; message: string }) {
    super(e.message);
    this.code = e.code;
    this.name = 'ApiError';
  }
}

export function createClient(transport: Transport): AppClient {
  const listeners = new Map<AppEventName, Set<(p: unknown) => void>>();
  transport.onEvent((event, payload) => {
    for (const cb of listeners.get(event) ?? []) cb(payload);
  });
  const client: Record<string, unknown> = {
    on<E extends AppEventName>(event: E, cb: (payload: EventPayload<E>) => void): () => void {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      const f = cb as (p: unknown) => void;
      set.add(f);
      return () => set.delete(f);
    },
  };
  for (const m of appMethodNames) {
    client[m] = async (args: ArgsIn<typeof m>): Promise<ResultOf<typeof m>> => {
      const env = await transport.invoke(m, args ?? {});
      if (!env.ok) throw new ApiError(env.error);
      return env.value as ResultOf<typeof m>;
    };
  }
  return client as AppClient;
}
