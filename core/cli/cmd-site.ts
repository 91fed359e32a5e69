// `fedseg site`: a headless federated site (docs/algorithms.md §1-2). Joins a hub with its enrolment
// token, shares its spectrum windows, trains the hub's network locally on the dataset in its own SQLite
// store when asked (the run API's Participation), sends weights, evaluates when asked (eval/unseen
// role), keeps every global model it receives, reconnects on drops and resumes after a crash.
// Exit codes: the shared table (core/contract/exit-codes.ts): 3 hub unreachable, 4 authentication
// failed, 5 protocol version mismatch, 6 duplicate site name, 130 interrupted, ...
// With --flower HOST:PORT the same site joins a Flower federation as a SuperNode instead (docs/flower.md).
import { existsSync, readFileSync } from 'node:fs';
import { choiceArg, intArg, numArg, parseCommandArgs, SEED_RANGE } from '../contract/cli-args.js';
import { FedSegError } from '../contract/errors.js';
import { describeFailure, EXIT, exitCodeHelp, readingArguments, UsageError } from '../contract/exit-codes.js';
import type { Connector } from '../contract/transport.js';
import { describeSpec } from '../contract/model-spec.js';
import { describeBackend, initBackend } from '../backend.js';
import { backendArg } from './backend-arg.js';
import { runSite, type SiteEvent } from '../federation/site-client.js';
import { Participation } from '../run/participation.js';
import { normaliseFingerprint, siteTransportPolicy } from '../federation/tls-trust.js';
import { wsConnector } from '../federation/ws-connection.js';
import { DEFAULT_SITE_POLICY, type SitePolicy } from '../contract/site-policy.js';
import { SITE_KEY_SETTING, siteIdentity } from '../federation/site-key.js';
import { fileSecretBox } from '../secrets/secret-box.js';
import { sealedSetting } from '../secrets/sealed-setting.js';
import { dirname, resolve } from 'node:path';
import { FLOWER_KEY_SETTING, flowerIdentity } from '../flower/flower-identity.js';
import { checkFlowerAddress, runFlowerSite } from '../flower/supernode.js';
import { participantData } from '../store/sample-source.js';
import { openSqliteStore } from '../store/sqlite-store.js';

export const summary = 'join a federation hub (or a Flower SuperLink) as a site and train/evaluate when asked';

const USAGE = `usage: fedseg site --hub URL --name NAME --token TOKEN --db FILE [options]
       fedseg site --flower HOST:PORT --name NAME --db FILE [options]

  --hub URL          ws://host:port or wss://host:port of the hub
  --flower HOST:PORT join a Flower federation instead: the SuperLink's Fleet API address (docs/flower.md);
                     the site's own P-384 key is made once and kept sealed in its store, no token
  --flower-ca FILE   PEM root certificate of a TLS SuperLink (plaintext is allowed on loopback only,
                     or with --insecure)
  --flower-runs N    Flower runs to take part in before stopping (default 1; 0 = until stopped)
  --name NAME        this site's enrolled name
  --token TOKEN      its enrolment token (or set FEDSEG_TOKEN); needed until the hub has bound this
                     site's key (the first join), optional afterwards
  --db FILE          this site's FedSeg store (datasets, checkpoints, audit log)
  --dataset NAME|ID  dataset to train/evaluate on (default: the only one in the store)
  --role train|eval  eval = an unseen site that only evaluates global models (default train)
  --ca FILE          PEM certificate to trust for a self-signed wss:// hub
  --trust-fingerprint SHA256
                     accept only a hub presenting this certificate (trust on first use: compare it with
                     the coordinator's: openssl x509 -noout -fingerprint -sha256)
  --insecure         allow plain ws:// to a hub on another computer (refused otherwise, since the token
                     and updates would cross the network unencrypted; a warning is printed)
  --backend NAME     wasm | cpu | webgpu | tensorflow | tensorflow-gpu | auto (default auto)
  --seed N           local shuffling / CFSI seed, 0-4294967295 (default 0)

What this site shares (its own policy, whatever the hub asks; docs/security.md §3):
  --share-spectra    agree to share the amplitude windows of the training images (ELCFS hubs ask for
                     them; without this flag such a request is refused and the hub is told why)
  --max-alpha X      largest window fraction accepted, 0-0.5 (default ${DEFAULT_SITE_POLICY.maxAlpha})
  --max-half-width B largest window half-width b, 0-64: windows of (2b+1)^2 values (default ${DEFAULT_SITE_POLICY.maxHalfWidth})
  --max-windows N    most windows shared, >= 1 (default ${DEFAULT_SITE_POLICY.maxWindows})
  --quiet            only errors and the final line

${exitCodeHelp()}`;

export function bar(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${(f * 100).toFixed(0).padStart(3)}%`;
}

/** Turns site events into progress output (a redrawn bar on a TTY, plain lines otherwise). */
export function progressPrinter(name: string, quiet: boolean, stream: NodeJS.WriteStream = process.stdout): (e: SiteEvent) => void {
  const tty = stream.isTTY === true;
  let lastLine = 0;
  let barShown = false;
  const line = (s: string) => {
    if (quiet) return;
    if (barShown && tty) stream.write('\r\x1b[K');
    barShown = false;
    stream.write(`[${name}] ${s}\n`);
  };
  return (e) => {
    switch (e.type) {
      case 'connecting': if (e.attempt > 1) line(`connecting to ${e.url} (attempt ${e.attempt})`); break;
      case 'connected': line(`connected to ${e.welcome.hub}: ${e.welcome.mode}, round ${e.welcome.round}/${e.welcome.totalRounds}, model ${describeSpec(e.welcome.model)}`); break;
      case 'disconnected': line(`disconnected (${e.reason}); retrying in ${(e.retryInMs / 1000).toFixed(1)} s`); break;
      case 'spectrum-sent': line(`sent ${e.count} amplitude windows (${e.bytes} bytes)`); break;
      case 'bank': line(`received ${e.count} amplitude windows from ${e.sources} other site(s)`); break;
      case 'round-start': line(`round ${e.round}/${e.totalRounds}: local ${e.mode} training${e.deadline ? ` (deadline ${new Date(e.deadline).toISOString().slice(11, 19)})` : ''}`); break;
      case 'progress': {
        if (quiet) break;
        const text = `[${name}] round ${e.round} ${e.work} ${bar(e.fraction)}${e.note ? ` ${e.note}` : ''}`;
        if (tty) {
          stream.write(`\r\x1b[K${text}`);
          barShown = true;
        } else if (Date.now() - lastLine > 5000 || e.fraction >= 1) {
          lastLine = Date.now();
          stream.write(text + '\n');
        }
        break;
      }
      case 'round-sent': line(`round ${e.round}: ${e.resent ? 're-sent the saved' : 'sent'} update (${e.bytes} bytes)${fmtMetrics(e.metrics)}`); break;
      case 'evaluated': line(`round ${e.round}: evaluated${fmtMetrics(e.metrics)}`); break;
      case 'global-model': line(`kept the global model of round ${e.round} (checkpoint ${e.modelId})`); break;
      case 'hub-error': line(`hub: ${e.code}: ${e.message}`); break;
      case 'refused': line(`refused the hub's ${e.request}: ${e.message}`); break;
      case 'bank-dropped': line(`left ${e.dropped} received window(s) out: ${e.reason}`); break;
      case 'finished': line('the hub finished the run'); break;
      case 'flower-node': line(`joined the Flower SuperLink at ${e.address} as node ${e.nodeId}`); break;
      case 'flower-run': line(`working for Flower run ${e.runId}${e.strategy ? ` (${e.strategy})` : ''}${e.totalRounds ? `, ${e.totalRounds} rounds` : ''}`); break;
    }
  };
}

function fmtMetrics(m: Record<string, number>): string {
  const keys = Object.keys(m).filter((k) => /^(dice|hd95)_c\d$|^loss_total$/.test(k));
  return keys.length ? ' ' + keys.map((k) => `${k}=${m[k]!.toFixed(3)}`).join(' ') : '';
}

export async function run(argv: string[]): Promise<number> {
  let v: Partial<Record<'hub' | 'flower' | 'flower-ca' | 'flower-runs' | 'name' | 'token' | 'db' | 'dataset' | 'role' | 'ca' | 'trust-fingerprint' | 'backend' | 'seed' | 'max-alpha' | 'max-half-width' | 'max-windows', string>>
    & { quiet?: boolean; help?: boolean; insecure?: boolean; 'share-spectra'?: boolean } = {};
  try {
    v = parseCommandArgs(argv, {
      hub: { type: 'string' }, flower: { type: 'string' }, 'flower-ca': { type: 'string' }, 'flower-runs': { type: 'string' }, name: { type: 'string' }, token: { type: 'string' }, db: { type: 'string' }, dataset: { type: 'string' },
      role: { type: 'string' }, ca: { type: 'string' }, 'trust-fingerprint': { type: 'string' }, backend: { type: 'string' }, seed: { type: 'string' }, quiet: { type: 'boolean' }, insecure: { type: 'boolean' },
      'share-spectra': { type: 'boolean' }, 'max-alpha': { type: 'string' }, 'max-half-width': { type: 'string' }, 'max-windows': { type: 'string' },
    }, { prog: 'fedseg', command: 'site' }).values;
    if (v.help) {
      console.log(USAGE);
      return EXIT.OK;
    }
    // The values given are checked before the flags missing, so a typo is named even on a short line.
    const role = choiceArg(v.role, 'role', ['train', 'eval'], 'train');
    const seed = intArg(v.seed, 'seed', SEED_RANGE) ?? 0;
    const backend = backendArg(v.backend) ?? 'auto';
    const policy: SitePolicy = {
      shareSpectra: v['share-spectra'] === true,
      consentedAt: v['share-spectra'] ? new Date().toISOString() : null,
      maxAlpha: numArg(v['max-alpha'], 'max-alpha', { min: 0, max: 0.5 }) ?? DEFAULT_SITE_POLICY.maxAlpha,
      maxHalfWidth: intArg(v['max-half-width'], 'max-half-width', { min: 0, max: 64 }) ?? DEFAULT_SITE_POLICY.maxHalfWidth,
      maxWindows: intArg(v['max-windows'], 'max-windows', { min: 1, max: 100000 }) ?? DEFAULT_SITE_POLICY.maxWindows,
    };
    if (v.flower !== undefined) return await runFlower(v, { role, seed, backend, policy });
    if (v.hub !== undefined && !/^wss?:\/\//.test(v.hub)) throw new UsageError(`--hub must be a ws:// or wss:// URL, got '${v.hub}'`);
    // The transport rule first (docs/security.md §2, Transport): plain ws:// to another computer is a
    // usage error without --insecure; each warning is printed once, not at every reconnect.
    const insecure = v.insecure === true;
    const shown = new Set<string>();
    const warn = (w: string) => {
      if (shown.has(w)) return;
      shown.add(w);
      console.error(`fedseg site: ${w}`);
    };
    readingArguments(() => siteTransportPolicy(v.hub ?? '', { insecure })).forEach(warn);
    const connect: Connector = (url, o) => wsConnector(url, { ...o, insecure, onWarning: warn });
    const pin = v['trust-fingerprint'] === undefined ? undefined : normaliseFingerprint(v['trust-fingerprint']);
    if (pin === null) throw new UsageError(`--trust-fingerprint expects a SHA-256 fingerprint (64 hexadecimal digits, AA:BB:...), got '${v['trust-fingerprint']}'`);
    const token = v.token ?? process.env.FEDSEG_TOKEN;
    for (const [flag, val] of [['--hub', v.hub], ['--name', v.name], ['--db', v.db]] as const)
      if (!val) throw new UsageError(`${flag} is required (fedseg site --help)`);
    let ca: Buffer | undefined;
    if (v.ca) {
      try {
        ca = readFileSync(v.ca);
      } catch (e) {
        throw new FedSegError('IO_ERROR', `cannot read --ca ${v.ca}: ${(e as Error).message}`);
      }
    }
    return await withSiteStore(v, backend, async ({ store, ac, dataset, report }) => {
      // The site's key, sealed in its store with a key file next to it: the token enrols it once.
      const keySlot = sealedSetting(store, fileSecretBox(dirname(resolve(v.db!))), SITE_KEY_SETTING);
      if (!token && !keySlot.has()) throw new UsageError('--token is required for the first join (this store has no enrolled site key yet; fedseg site --help)');
      const identity = siteIdentity(keySlot);
      const trainer = new Participation({ ledger: store, data: participantData(store, dataset), site: v.name!, backend: report.name, seed });
      // A train site that refused the hub's spectrum request can never be ready for its ELCFS rounds:
      // waiting would only hold the hub's quorum open, so the site stops and says what to change.
      const print = progressPrinter(v.name!, !!v.quiet);
      let refusal: { code: string; message: string } | null = null;
      const onEvent = (e: SiteEvent) => {
        print(e);
        if (e.type === 'refused' && role === 'train' && e.request.startsWith('spectrum_ins')) {
          refusal = e;
          ac.abort();
        }
      };
      const s = await runSite({
        hubUrl: v.hub!, site: v.name!, ...(token ? { token } : {}), identity, policy, role, trainer, ledger: store, signal: ac.signal,
        ...(ca ? { ca } : {}), ...(pin ? { trustedFingerprint: pin } : {}), onEvent, connect,
      }).catch((e: unknown) => {
        const r = refusal as { code: string; message: string } | null;
        if (!r) throw e;
        const change = r.code === 'CONSENT_REQUIRED' ? 'run again with --share-spectra once the operator agrees' : 'raise the limit (--max-alpha / --max-half-width) if the operator agrees, or ask the coordinator to ask for less';
        throw new FedSegError(r.code as 'POLICY_REFUSED', `${r.message}; this hub trains with the amplitude windows of every train site, so this site cannot take part: ${change}`);
      });
      trainer.dispose();
      console.log(`[${v.name}] done: ${s.roundsTrained} round(s) trained, ${s.roundsEvaluated} evaluated, ${s.reconnects} reconnect(s)`);
      return EXIT.OK;
    });
  } catch (e) {
    const f = describeFailure(e, 'fedseg site --help');
    console.error(`fedseg site${v.name ? ` [${v.name}]` : ''}: ${f.line}`);
    if (process.env.FEDSEG_DEBUG) console.error(e);
    return f.code;
  }
}

/** The dataset to take part with: the one named, or the store's only one. */
function pickDataset(store: ReturnType<typeof openSqliteStore>, db: string, name: string | undefined): number | string {
  const datasets = store.listDatasets();
  if (name) return /^\d+$/.test(name) ? Number(name) : name;
  if (datasets.length === 1) return datasets[0]!.id;
  if (datasets.length === 0) throw new FedSegError('NOT_FOUND', `store ${db} holds no dataset (import one with fedseg data)`);
  throw new UsageError(`store ${db} holds ${datasets.length} datasets; pick one with --dataset (${datasets.map((d) => d.name).join(', ')})`);
}

/**
 * What both ways of joining share: the site's store (one FedSeg per store: not while the app or
 * `fedseg serve` has it open, docs/security.md §5), Ctrl+C / SIGTERM as an abort, the dataset and the
 * compute backend; the store is closed and the handlers removed whatever `work` does.
 */
async function withSiteStore<T>(
  v: { db?: string; dataset?: string; name?: string; quiet?: boolean },
  backend: NonNullable<ReturnType<typeof backendArg>>,
  work: (s: { store: ReturnType<typeof openSqliteStore>; ac: AbortController; dataset: number | string; report: Awaited<ReturnType<typeof initBackend>> }) => Promise<T>,
): Promise<T> {
  if (!existsSync(v.db!)) throw new FedSegError('NOT_FOUND', `store ${v.db} does not exist (import this site's images first: fedseg data import --db ${v.db} ...)`);
  const store = openSqliteStore(v.db!, { instanceLock: true });
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  process.once('SIGTERM', onSig);
  try {
    const dataset = pickDataset(store, v.db!, v.dataset);
    const report = await initBackend({ backend });
    if (!v.quiet) console.log(`[${v.name}] backend ${describeBackend(report)}`);
    return await work({ store, ac, dataset, report });
  } finally {
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
    store.close();
  }
}

/** `fedseg site --flower HOST:PORT`: the same site as a Flower SuperNode (docs/flower.md). */
async function runFlower(
  v: Partial<Record<'flower' | 'flower-ca' | 'flower-runs' | 'name' | 'db' | 'dataset' | 'hub' | 'token', string>> & { quiet?: boolean; insecure?: boolean },
  o: { role: 'train' | 'eval'; seed: number; backend: NonNullable<ReturnType<typeof backendArg>>; policy: SitePolicy },
): Promise<number> {
  if (v.hub !== undefined) throw new UsageError('--hub and --flower are two ways to join; give one');
  if (v.token !== undefined) console.error('fedseg site: --token is not used with --flower (a SuperLink does not enrol sites by token)');
  const runs = intArg(v['flower-runs'], 'flower-runs', { min: 0, max: 1_000_000 }) ?? 1;
  for (const [flag, val] of [['--name', v.name], ['--db', v.db]] as const) if (!val) throw new UsageError(`${flag} is required (fedseg site --help)`);
  let rootCertificates: string | undefined;
  if (v['flower-ca']) {
    try {
      rootCertificates = readFileSync(v['flower-ca'], 'utf8');
    } catch (e) {
      throw new FedSegError('IO_ERROR', `cannot read --flower-ca ${v['flower-ca']}: ${(e as Error).message}`);
    }
  }
  readingArguments(() => checkFlowerAddress(v.flower!, { ...(rootCertificates ? { rootCertificates } : {}), insecure: v.insecure === true }));
  if (v.insecure && !rootCertificates) console.error(`fedseg site: plaintext gRPC to ${v.flower}: this site's weights cross the network unencrypted`);
  return withSiteStore(v, o.backend, async ({ store, ac, dataset, report }) => {
    const identity = flowerIdentity(sealedSetting(store, fileSecretBox(dirname(resolve(v.db!))), FLOWER_KEY_SETTING));
    const trainer = new Participation({ ledger: store, data: participantData(store, dataset), site: v.name!, backend: report.name, seed: o.seed });
    try {
      const s = await runFlowerSite({
        address: v.flower!, site: v.name!, identity, role: o.role, policy: o.policy, trainer, ledger: store, signal: ac.signal, runs,
        ...(rootCertificates ? { rootCertificates } : {}), ...(v.insecure ? { insecure: true } : {}), onEvent: progressPrinter(v.name!, !!v.quiet),
      });
      console.log(`[${v.name}] done: ${s.roundsTrained} round(s) trained, ${s.roundsEvaluated} evaluated, ${s.refused} request(s) refused, ${s.reconnects} reconnect(s)`);
      return EXIT.OK;
    } finally {
      trainer.dispose();
    }
  });
}
