// A site PROCESS with the light trainer and a real SQLite store, for crash tests (SIGKILL).
//   node --import tsx fake-site-main.ts --hub URL --name N --token T --db FILE --target X [--work-ms M] [--die-after-persist R]
// --die-after-persist R: SIGKILLs itself right after its round-R update is persisted and before it is sent.
import { parseArgs } from 'node:util';
import { openSqliteStore } from '../../../core/store/sqlite-store.js';
import { runSite, type SiteLedger } from '../../../core/federation/site-client.js';
import { dirname } from 'node:path';
import { SITE_KEY_SETTING, siteIdentity } from '../../../core/federation/site-key.js';
import { fileSecretBox } from '../../../core/secrets/secret-box.js';
import { sealedSetting } from '../../../core/secrets/sealed-setting.js';
import { FakeTrainer } from './fake-trainer.js';
import { DEFAULT_SITE_POLICY } from '../../../core/contract/site-policy.js';

const { values: v } = parseArgs({
  options: { hub: { type: 'string' }, name: { type: 'string' }, token: { type: 'string' }, db: { type: 'string' }, target: { type: 'string' },
    'work-ms': { type: 'string' }, 'die-after-persist': { type: 'string' } },
});
const store = openSqliteStore(v.db!);
const die = v['die-after-persist'] ? Number(v['die-after-persist']) : -1;
// The store itself, except that persisting the round-`die` update (the run API's 'update' checkpoint,
// written in one transaction) is followed by a SIGKILL before the update can be sent.
const ledger: SiteLedger = {
  appendAudit: (e) => store.appendAudit(e),
  saveCheckpoint: (c) => store.saveCheckpoint(c),
  listCheckpoints: (q) => store.listCheckpoints(q),
  getCheckpoint: (id) => store.getCheckpoint(id),
  loadCheckpoint: (id) => store.loadCheckpoint(id),
  deleteCheckpoint: (id) => store.deleteCheckpoint(id),
  transaction: <T>(fn: () => T): T => {
    const r = store.transaction(fn);
    const persisted = store.listCheckpoints().some((c) => c.meta.role === 'update' && c.meta.round === die);
    if (persisted && !store.getSetting('test.died')) {
      store.setSetting('test.died', true);
      console.log('dying after persisting update');
      process.kill(process.pid, 'SIGKILL');
    }
    return r;
  },
};
// The key survives the SIGKILL like a real site's: sealed in its store, the key file next to it.
const identity = siteIdentity(sealedSetting(store, fileSecretBox(dirname(v.db!)), SITE_KEY_SETTING));
runSite({
  hubUrl: v.hub!, site: v.name!, token: v.token!, identity, policy: { ...DEFAULT_SITE_POLICY, shareSpectra: true, consentedAt: new Date().toISOString() }, ledger, backoff: { initialMs: 100, maxMs: 500 },
  trainer: new FakeTrainer({ target: Number(v.target), samples: 5, workMs: Number(v['work-ms'] ?? 100) }),
  onEvent: (e) => { if (e.type === 'connected' || e.type === 'round-start' || e.type === 'round-sent' || e.type === 'finished') console.log(JSON.stringify(e)); },
}).then((s) => { console.log(`done ${JSON.stringify(s)}`); store.close(); process.exit(0); },
  (e: Error) => { console.error(`site failed: ${e.message}`); process.exit(1); });
