// `fedseg-hub <command>`: the coordinator's CLI (config file + flags). Commands:
//   start        run the hub (rounds, FedAvg, spectrum bank, checkpoints) until the run is finished
//   add-site     enrol a site and print its token (shown once; stored hashed)
//   remove-site  revoke a site
//   sites        list enrolled sites
//   status       round, sites, last metrics (from the state file, or --url of a live hub)
//   audit        print the audit log
//   evaluations  every evaluation result (JSON)
//   export-model write a global checkpoint to a FedSeg model file (weights + the model's spec), which
//                `fedseg eval --model`, the app and `initWeights` read without side information
// Errors are one line on stderr with a non-zero exit code.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FedSegError, toErrorValue } from '../core/contract/errors.js';
import { HubStatusSchema, type HubStatus } from '../core/contract/hub-status.js';
import { decodeWeights, encodeWeights } from '../core/contract/weights.js';
import { loadHubConfigFile, parseHubConfig, type HubConfig } from './config.js';
import { Hub } from './hub.js';
import { HubState } from './state.js';
import { formatStatus, storedStatus } from './status.js';
import { STRATEGIES } from './strategies/index.js';

const USAGE = `usage: fedseg-hub <command> [options]

commands:
  start         run the hub until the federated run is finished
  add-site NAME... enrol site(s); prints each token once (--role train|eval, --json)
  remove-site NAME
  sites         list enrolled sites
  status        show rounds, sites and last metrics (--url http://host:port for a live hub)
  audit         print the audit log (--limit N)
  evaluations   every evaluation result as JSON
  export-model  write a global model (--round N, default latest) to --out FILE: weights and the
                model's spec, for fedseg eval --model, the app, or another hub's initWeights

common options:
  --config FILE     JSON hub config (see docs/federation.md); flags override it
  --db FILE         hub state file (default hub.db)
start options:
  --host H --port P            bind address (default 127.0.0.1:8765; --port 0 = any free port)
  --strategy NAME              aggregation strategy: ${Object.keys(STRATEGIES).join(', ')} (default elcfs; --mode is the older name)
  --rounds N --min-sites N     rounds to run; train sites needed to open a round
  --deadline SECONDS           per-round deadline; later sites are excluded from that round
  --tls-cert FILE --tls-key FILE  serve wss:// (TLS)
  --clip-norm X                clip each update's delta to L2 norm X
  --float16                    send weights as float16
  --set KEY=JSON               any other config key (repeatable), e.g. --set 'train={"localEpochs":2,...}'`;

const options = {
  config: { type: 'string' }, db: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' },
  mode: { type: 'string' }, strategy: { type: 'string' }, rounds: { type: 'string' }, 'min-sites': { type: 'string' }, deadline: { type: 'string' },
  'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'clip-norm': { type: 'string' }, float16: { type: 'boolean' },
  set: { type: 'string', multiple: true }, role: { type: 'string' }, url: { type: 'string' }, limit: { type: 'string' },
  round: { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;

function num(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new FedSegError('INVALID_ARGUMENT', `--${flag} expects a number, got '${v}'`);
  return n;
}

type Values = ReturnType<typeof parse>['values'];
function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new FedSegError('INVALID_ARGUMENT', (e as Error).message);
  }
}

export function buildConfig(v: Values): HubConfig {
  const raw: Record<string, unknown> = v.config ? loadHubConfigFile(v.config) : {};
  const set = (k: string, x: unknown) => {
    if (x !== undefined) raw[k] = x;
  };
  set('db', v.db);
  set('host', v.host);
  set('port', num(v.port, 'port'));
  if (v.strategy && v.mode && v.strategy !== v.mode) throw new FedSegError('INVALID_ARGUMENT', '--strategy and --mode disagree (--mode is the older name of --strategy)');
  if (v.strategy) {
    delete raw.mode;
    raw.strategy = v.strategy;
  } else if (v.mode) {
    delete raw.strategy;
    raw.mode = v.mode;
  }
  set('rounds', num(v.rounds, 'rounds'));
  set('minSites', num(v['min-sites'], 'min-sites'));
  const d = num(v.deadline, 'deadline');
  if (d !== undefined) raw.roundTimeoutMs = Math.round(d * 1000);
  if (v['tls-cert'] || v['tls-key']) {
    if (!v['tls-cert'] || !v['tls-key']) throw new FedSegError('INVALID_ARGUMENT', 'TLS needs both --tls-cert and --tls-key');
    raw.tls = { cert: v['tls-cert'], key: v['tls-key'] };
  }
  set('clipNorm', num(v['clip-norm'], 'clip-norm'));
  if (v.float16) raw.wireDtype = 'float16';
  for (const kv of v.set ?? []) {
    const i = kv.indexOf('=');
    if (i < 1) throw new FedSegError('INVALID_ARGUMENT', `--set expects KEY=JSON, got '${kv}'`);
    try {
      raw[kv.slice(0, i)] = JSON.parse(kv.slice(i + 1));
    } catch {
      raw[kv.slice(0, i)] = kv.slice(i + 1);
    }
  }
  return parseHubConfig(raw);
}

const stamp = () => new Date().toISOString().slice(11, 19);

async function start(v: Values): Promise<number> {
  const config = buildConfig(v);
  const hub = new Hub(config, v.quiet ? () => {} : (l) => console.log(`[${stamp()}] ${l}`));
  const port = await hub.listen();
  // Machine-readable first line (the demo and tests read the port from it).
  console.log(`fedseg-hub listening on ${config.tls ? 'wss' : 'ws'}://${config.host}:${port} (strategy ${config.strategy}, ${config.rounds} rounds, db ${config.db})`);
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    void hub.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  await hub.run();
  if (!config.exitWhenDone) await new Promise(() => {});
  await hub.stop();
  return 0;
}

/** Opens the hub's state; `mustExist` for commands that only read (a mistyped --db is an error, never a new file). */
function withState<T>(v: Values, f: (s: HubState, cfg: HubConfig) => T, opts: { mustExist?: boolean } = {}): T {
  const cfg = buildConfig(v);
  const s = new HubState(cfg.db, opts);
  try {
    return f(s, cfg);
  } finally {
    s.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(USAGE);
    return cmd ? 0 : 1;
  }
  try {
    const { values: v, positionals: pos } = parse(rest);
    if (v.help) {
      console.log(USAGE);
      return 0;
    }
    switch (cmd) {
      case 'start':
        return await start(v);
      case 'add-site': {
        if (pos.length === 0) throw new FedSegError('INVALID_ARGUMENT', 'add-site needs a site NAME');
        const role = v.role ?? 'train';
        if (role !== 'train' && role !== 'eval') throw new FedSegError('INVALID_ARGUMENT', `--role must be train or eval, got '${role}'`);
        const tokens = withState(v, (s) => s.db.transaction(() => pos.map((name) => s.addSite(name, role)))());
        pos.forEach((name, i) => {
          if (v.json) console.log(JSON.stringify({ site: name, role, token: tokens[i] }));
          else {
            console.log(tokens[i]);
            console.error(`enrolled ${role} site '${name}'. Give it this token (shown once): fedseg site --name ${name} --token <token> --hub <url>`);
          }
        });
        return 0;
      }
      case 'evaluations':
        withState(v, (s) => console.log(JSON.stringify(s.listEvaluations())), { mustExist: true });
        return 0;
      case 'remove-site': {
        const name = pos[0];
        if (!name) throw new FedSegError('INVALID_ARGUMENT', 'remove-site needs a site NAME');
        withState(v, (s) => s.removeSite(name), { mustExist: true });
        console.log(`removed site '${name}'`);
        return 0;
      }
      case 'sites':
        withState(v, (s) => {
          for (const x of s.listSites()) console.log(`${x.name.padEnd(20)} ${x.role.padEnd(6)} samples ${x.numSamples ?? '-'} last seen ${x.lastSeen ? new Date(x.lastSeen).toISOString() : 'never'}`);
        }, { mustExist: true });
        return 0;
      case 'status': {
        let st: HubStatus;
        if (v.url) {
          let res: Response;
          try {
            res = await fetch(new URL('/status', v.url.replace(/^ws/, 'http')));
          } catch (e) {
            throw new FedSegError('CONNECTION_FAILED', `cannot reach hub at ${v.url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
          }
          if (!res.ok) throw new FedSegError('CONNECTION_FAILED', `hub at ${v.url} answered HTTP ${res.status}`);
          const parsed = HubStatusSchema.safeParse(await res.json().catch(() => null));
          if (!parsed.success) throw new FedSegError('PROTOCOL_ERROR', `${v.url} did not answer with a FedSeg hub status (is it a hub of this version?)`);
          st = parsed.data;
        } else st = withState(v, (s, cfg) => storedStatus(s, cfg), { mustExist: true });
        console.log(v.json ? JSON.stringify(st, null, 2) : formatStatus(st));
        return 0;
      }
      case 'audit':
        withState(v, (s) => {
          for (const a of s.listAudit({ limit: num(v.limit, 'limit') ?? 1000 }))
            console.log(`${new Date(a.ts).toISOString()} ${a.event.padEnd(14)} ${(a.site ?? '-').padEnd(12)} ${a.direction ?? '  '} ${a.bytes ?? ''} ${a.detail}`);
        }, { mustExist: true });
        return 0;
      case 'export-model': {
        if (!v.out) throw new FedSegError('INVALID_ARGUMENT', 'export-model needs --out FILE');
        const r = num(v.round, 'round');
        const found = withState(v, (s) => {
          const ck = r === undefined ? s.latestCheckpoint() : s.checkpoint(r);
          return ck ? { ...ck, round: r ?? (ck as { round?: number }).round ?? 0, model: s.getMeta('model'), hub: s.getMeta('name') ?? 'fedseg-hub' } : null;
        }, { mustExist: true });
        if (!found) throw new FedSegError('NOT_FOUND', r === undefined ? 'the hub has no checkpoint yet' : `no checkpoint for round ${r}`);
        if (!found.model) throw new FedSegError('CORRUPT_FILE', 'the hub state does not record its model (it was written by an older fedseg-hub); start the hub once with its config to record it');
        // The global model with its spec in meta.model: a self-describing FedSeg model file.
        const file = encodeWeights(decodeWeights(found.weights).arrays, { meta: { model: JSON.parse(found.model) as unknown, round: found.round, hub: found.hub, sha256: found.hash } });
        writeFileSync(v.out, file);
        console.log(`wrote ${v.out} (global model of round ${found.round}, ${file.byteLength} bytes, weights sha-256 ${found.hash.slice(0, 12)})`);
        return 0;
      }
      default:
        console.error(`fedseg-hub: unknown command '${cmd}' (start, add-site, remove-site, sites, status, audit, evaluations, export-model)`);
        return 2;
    }
  } catch (e) {
    const ev = toErrorValue(e);
    console.error(`fedseg-hub: ${ev.message}`);
    if (process.env.FEDSEG_DEBUG) console.error(e);
    return 1;
  }
}
