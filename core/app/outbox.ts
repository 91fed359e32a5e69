// The Outbox: the site's append-only audit log (in the site's store; written by the site client for every payload
// sent or received), newest first, with totals per direction (docs/product.md "What leaves this hospital").
import type { AppHandlers } from '../contract/app-api.js';
import type { EngineContext } from './context.js';

export function outboxHandlers(ctx: EngineContext): Pick<AppHandlers, 'listAudit'> {
  return {
    async listAudit({ offset, limit, direction }) {
      const all = ctx.store.listAudit({ newestFirst: true, ...(direction ? { direction } : {}) });
      let out = 0;
      let inn = 0;
      for (const e of ctx.store.listAudit({})) {
        if (e.direction === 'out') out += e.bytes;
        else inn += e.bytes;
      }
      return {
        total: all.length,
        totalBytesOut: out,
        totalBytesIn: inn,
        entries: all.slice(offset, offset + limit).map((e) => ({ id: e.id, time: e.at, direction: e.direction, kind: e.kind, bytes: e.bytes, peer: e.peer, summary: e.summary })),
      };
    },
  };
}
