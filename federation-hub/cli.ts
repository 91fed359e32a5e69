// `fedseg-hub <command>`: the coordinator's CLI (config file + flags). Commands:
//   start        run the hub (rounds, FedAvg, spectrum bank, checkpoints) until the run is finished
//   add-site     enrol a site and print its token (shown once; stored hashed)
//   remove-site  revoke a site
//   sites        list enrolled sites
//   status       round, sites, last metrics (from the state file, or --url of a live hub: its public
//                view, or everything with the admin token)
//   admin-token  create or rotate the admin token GET /status needs for the full status
//   audit        print the audit log
//   evaluations  every evaluation result (JSON)
//   export-model write a global checkpoint to a FedSeg model file (weights + the model's spec), which
//                `fedseg eval --model`, the app and `initWeights` read without side information
// Every command has its own options and `--help`; errors are one line on stderr, and the exit codes are
// the table of core/contract/exit-codes.ts, shared with `fedseg`.
import { writeFileSync } from 'node:fs';
import { intArg, numArg, parseCommandArgs, PORT_RANGE, type OptionsConfig } from '../core/contract/cli-args.js';
import { keyFingerprint } from '../core/contract/site-identity.js';
import { FedSegError } from '../core/contract/errors.js';
import { describeFailure, EXIT, exitCodeHelp, readingArguments, UsageError } from '../core/contract/exit-codes.js';
import { HubPublicStatusSchema, HubStatusSchema, type HubPublicStatus, type HubStatus } from '../core/contract/hub-status.js';
import { decodeWeights, encodeWeights } from '../core/contract/weights.js';
import { isPlainObject, loadHubConfigFile, mergeConfig, parseHubConfig, type HubConfig } from './config.js';
import { Hub } from './hub.js';
import { checkBind } from './ws-transport.js';
import { HubState } from './state.js';
import { issueAdminToken } from './admin-token.js';
import { formatPublicStatus, formatStatus, storedStatus } from './status.js';
import { AGGREGATOR_NAMES, MAX_SAMPLE_BOUND } from './strategies/aggregators.js';
import { STRATEGIES } from './strategies/index.js';

const COMMON_OPTIONS = { config: { type: 'string' }, db: { type: 'string' } } as const;
const COMMON_HELP = `  --config FILE      JSON hub config (docs/federation.md); flags override it
  --db FILE          hub state file (default hub.db, or the config's db)`;

const START_OPTIONS = {
  ...COMMON_OPTIONS, host: { type: 'string' }, port: { type: 'string' }, mode: { type: 'string' }, strategy: { type: 'string' },
  rounds: { type: 'string' }, 'min-sites': { type: 'string' }, deadline: { type: 'string' }, 'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' }, 'clip-norm': { type: 'string' }, float16: { type: 'boolean' }, set: { type: 'string', multiple: true },
  insecure: { type: 'boolean' },
  quiet: { type: 'boolean' }, aggregator: { type: 'string' }, 'dp-noise-multiplier': { type: 'string' }, 'dp-clip-norm': { type: 'string' },
  'dp-delta': { type: 'string' }, 'dp-seed': { type: 'string' },
} as const;

interface HubCommand {
  summary: string;
  options: OptionsConfig;
  positionals: boolean;
  help: string;
}

/** Every command with its own options and help; `main` refuses an option another command takes. */
const COMMANDS: Record<string, HubCommand> = {
  start: {
    summary: 'run the hub until the federated run is finished',
    options: START_OPTIONS,
    positionals: false,
    help: `usage: fedseg-hub start [--config FILE] [options]

Runs the hub: waits for --min-sites train sites, runs the rounds (aggregation, spectrum bank, global
checkpoints in --db) and exits 0 when the run is finished and evaluated. Ctrl+C / SIGTERM stops it
(exit 130 while the run is not finished; starting it again on the same --db resumes).

${COMMON_HELP}
  --host H           interface to bind (default 127.0.0.1; 0.0.0.0 serves other machines: needs TLS,
                     or --insecure)
  --port P           TCP port, 0-65535 (default 8765; 0 = any free port, printed at start)
  --strategy NAME    aggregation strategy: ${Object.keys(STRATEGIES).join(', ')} (default elcfs; --mode is the older name)
  --rounds N         rounds to run, 1-100000 (default 100)
  --min-sites N      train sites needed to open a round, >= 1 (default 2; elcfs needs 2)
  --deadline SECONDS per-round deadline, > 0 (default 1800); later sites are excluded from that round
  --tls-cert FILE    with --tls-key FILE: serve wss:// (TLS)
  --insecure         serve plain ws:// on a --host other than loopback (refused otherwise; a warning
                     is printed): tokens and weights then cross the network unencrypted
  --clip-norm X      clip each update's delta to L2 norm X (> 0; replaces the median clip, clipFactor)
  --aggregator NAME  how updates are combined: ${AGGREGATOR_NAMES.join(', ')} (default mean = FedAvg; median and
                     trimmed-mean are coordinate-wise and unweighted; docs/security.md §7)
  --dp-noise-multiplier Z  site-level differential privacy (docs/security.md §8): Gaussian noise of
                     std Z x C / n on the mean of the deltas clipped to --dp-clip-norm C (both needed)
  --dp-clip-norm C   the DP clip of every update's delta (> 0)
  --dp-delta D       the delta of the (epsilon, delta) budget, in (0, 1) (default 1e-5)
  --dp-seed N        seed of the noise, for a reproducible run (keep it secret; default: a random one)
  --float16          send weights as float16
  --set KEY=JSON     any other config key (repeatable); an object is merged over the defaults (and
                     over the --config file's), e.g. --set 'train={"localEpochs":2}'
                     --set 'model={"config":{"baseWidth":8}}'
  --quiet            no log lines (the listening line and errors only)`,
  },
  'add-site': {
    summary: 'enrol site(s); prints each token once',
    options: { ...COMMON_OPTIONS, role: { type: 'string' }, json: { type: 'boolean' }, samples: { type: 'string' }, 'token-days': { type: 'string' } },
    positionals: true,
    help: `usage: fedseg-hub add-site NAME... [--role train|eval] [--samples N] [--token-days D] [--json] [--db FILE]

Enrols each NAME and prints its token once (the hub keeps only a salted hash). The site joins with
fedseg site --name NAME --token TOKEN --hub URL; its first accepted join binds the site's own key,
and from then on the key, not the token, proves who it is (a copy of the token is useless).

${COMMON_HELP}
  --role train|eval  eval = an unseen site that only evaluates global models (default train)
  --samples N        the most training samples one of its updates counts for (1-1e9); a larger claim
                     is counted as N and audited (default: the hub's maxSamplesPerSite)
  --token-days D     how long the token can bind a key, in days, > 0 (default 30)
  --json             one JSON line per site: {"site", "role", "token"} (and "samples" with --samples)`,
  },
  'remove-site': {
    summary: 'revoke a site (its token stops working)',
    options: COMMON_OPTIONS,
    positionals: true,
    help: `usage: fedseg-hub remove-site NAME [--db FILE]

Revokes the site NAME: its token is refused from now on.

${COMMON_HELP}`,
  },
  sites: {
    summary: 'list enrolled sites',
    options: COMMON_OPTIONS,
    positionals: false,
    help: `usage: fedseg-hub sites [--db FILE]

Lists the enrolled sites: name, role, sample count, last seen, and the fingerprint of the key each
enrolled (or until when its token can still enrol one).

${COMMON_HELP}`,
  },
  status: {
    summary: 'rounds, sites and last metrics (of the state file, or of a live hub with --url)',
    options: { ...COMMON_OPTIONS, url: { type: 'string' }, json: { type: 'boolean' }, 'admin-token': { type: 'string' } },
    positionals: false,
    help: `usage: fedseg-hub status [--db FILE | --url http://HOST:PORT [--admin-token T]] [--json]

Shows the round, every site's state and the last metrics: from the state file (--db), or from a
running hub (--url, its GET /status). Without the admin token a live hub shows only its public view
(counts of sites, rounds and mean Dice; no site names or sizes).

${COMMON_HELP}
  --url URL          a live hub (http://, https://, ws:// or wss:// with its host and port)
  --admin-token T    the hub's admin token (or set FEDSEG_ADMIN_TOKEN; fedseg-hub admin-token makes one)
  --json             the status as JSON`,
  },
  'admin-token': {
    summary: 'create or rotate the admin token (GET /status with site details)',
    options: COMMON_OPTIONS,
    positionals: false,
    help: `usage: fedseg-hub admin-token [--db FILE]

Creates the hub's admin token and prints it once (the hub keeps only a salted hash); running it again
replaces the token, so the old one stops working. GET /status shows site names, sample counts,
backends, rejection reasons and metrics only to a request with the header
Authorization: Bearer TOKEN (fedseg-hub status --url URL --admin-token TOKEN); everyone else gets the
public view. A running hub takes the new token at once.

${COMMON_HELP}`,
  },
  audit: {
    summary: 'print the audit log',
    options: { ...COMMON_OPTIONS, limit: { type: 'string' }, json: { type: 'boolean' } },
    positionals: false,
    help: `usage: fedseg-hub audit [--db FILE] [--limit N] [--json]

Prints the audit log (connections, rounds, bytes in and out per site), oldest first.

${COMMON_HELP}
  --limit N          at most N entries, >= 1 (default 1000)
  --json             one JSON array of {ts, event, site, direction, bytes, detail}`,
  },
  evaluations: {
    summary: 'every evaluation result as JSON',
    options: COMMON_OPTIONS,
    positionals: false,
    help: `usage: fedseg-hub evaluations [--db FILE]

Prints every evaluation result the sites reported (per round and site) as one JSON array.

${COMMON_HELP}`,
  },
  'export-model': {
    summary: 'write a global model (weights + spec) for fedseg eval --model, the app, another hub',
    options: { ...COMMON_OPTIONS, round: { type: 'string' }, out: { type: 'string' } },
    positionals: false,
    help: `usage: fedseg-hub export-model --out FILE [--round N] [--db FILE]

Writes the global model of a round as a FedSeg model file (weights and the model's spec), which
fedseg eval --model, the app and another hub's initWeights read without side information.

${COMMON_HELP}
  --out FILE         the model file to write
  --round N          the round, >= 0 (default: the latest checkpoint; 0 = the initial model)`,
  },
};

const NAMES = Object.keys(COMMANDS);

const USAGE = `usage: fedseg-hub <command> [options]   (fedseg-hub <command> --help for its options)

commands:
${NAMES.map((n) => `  ${n.padEnd(13)} ${COMMANDS[n]!.summary}`).join('\n')}

options of every command:
${COMMON_HELP}
  -h, --help         the command's help

${exitCodeHelp()}`;

type StartValues = ReturnType<typeof parseCommandArgs<typeof START_OPTIONS>>['values'];
/** What any command parsed; only start takes the keys beyond --config and --db. */
export type HubArgs = Partial<StartValues>;

/** The config from --config, the flags and --set (start), validated; a bad one is a usage error. */
export function buildConfig(v: HubArgs): HubConfig {
  return readingArguments(() => {
    const raw: Record<string, unknown> = v.config ? loadHubConfigFile(v.config) : {};
    const set = (k: string, x: unknown) => {
      if (x !== undefined) raw[k] = x;
    };
    set('db', v.db);
    set('host', v.host);
    set('port', intArg(v.port, 'port', PORT_RANGE));
    if (v.strategy && v.mode && v.strategy !== v.mode) throw new UsageError('--strategy and --mode disagree (--mode is the older name of --strategy)');
    if (v.strategy) {
      delete raw.mode;
      raw.strategy = v.strategy;
    } else if (v.mode) {
      delete raw.strategy;
      raw.mode = v.mode;
    }
    set('rounds', intArg(v.rounds, 'rounds', { min: 1, max: 100000 }));
    set('minSites', intArg(v['min-sites'], 'min-sites', { min: 1 }));
    const d = numArg(v.deadline, 'deadline', { min: 0, exclusive: true });
    if (d !== undefined) raw.roundTimeoutMs = Math.max(1, Math.round(d * 1000));
    if (v['tls-cert'] || v['tls-key']) {
      if (!v['tls-cert'] || !v['tls-key']) throw new UsageError('TLS needs both --tls-cert and --tls-key');
      raw.tls = { cert: v['tls-cert'], key: v['tls-key'] };
    }
    set('clipNorm', numArg(v['clip-norm'], 'clip-norm', { min: 0, exclusive: true }));
    set('aggregator', v.aggregator);
    const dp = {
      noiseMultiplier: numArg(v['dp-noise-multiplier'], 'dp-noise-multiplier', { min: 0, exclusive: true }),
      clipNorm: numArg(v['dp-clip-norm'], 'dp-clip-norm', { min: 0, exclusive: true }),
      delta: numArg(v['dp-delta'], 'dp-delta', { min: 0, max: 1, exclusive: true }),
      seed: intArg(v['dp-seed'], 'dp-seed'),
    };
    const dpGiven = Object.fromEntries(Object.entries(dp).filter(([, x]) => x !== undefined));
    if (Object.keys(dpGiven).length) raw.dp = { ...(isPlainObject(raw.dp) ? raw.dp : {}), ...dpGiven };
    if (v.float16) raw.wireDtype = 'float16';
    if (v.insecure) raw.insecure = true;
    let merged = raw;
    for (const kv of v.set ?? []) {
      const i = kv.indexOf('=');
      if (i < 1) throw new UsageError(`--set expects KEY=JSON, got '${kv}'`);
      let value: unknown;
      try {
        value = JSON.parse(kv.slice(i + 1));
      } catch {
        // A bare word (--set name=site-hub) is its own string.
        value = kv.slice(i + 1);
      }
      merged = mergeConfig(merged, { [kv.slice(0, i)]: value });
    }
    return parseHubConfig(merged);
  });
}

const stamp = () => new Date().toISOString().slice(11, 19);

async function start(v: HubArgs): Promise<number> {
  const config = buildConfig(v);
  // Plain ws:// off loopback is a command-line problem (exit 2), found before the state is opened.
  const warning = readingArguments(() => checkBind(config.host, !!config.tls, config.insecure));
  const hub = new Hub(config, v.quiet ? () => {} : (l) => console.log(`[${stamp()}] ${l}`));
  const port = await hub.listen();
  // The hub's log says it too, but --quiet silences the log, not this.
  if (warning && v.quiet) console.error(`fedseg-hub: ${warning}`);
  let finished = false;
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    // Decided now: stopping ends hub.run() too, which is not the run finishing.
    const code = finished ? EXIT.OK : EXIT.INTERRUPTED;
    void hub.stop().then(() => process.exit(code));
  };
  // Before the listening line: whoever reads it may stop the hub at once, and must get 130, not a kill.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Machine-readable first line (the demo and tests read the port from it).
  console.log(`fedseg-hub listening on ${config.tls ? 'wss' : 'ws'}://${config.host}:${port} (strategy ${config.strategy}, ${config.rounds} rounds, db ${config.db})`);
  await hub.run();
  if (stopping) return await new Promise<number>(() => {});
  finished = true;
  if (!config.exitWhenDone) await new Promise(() => {});
  await hub.stop();
  return EXIT.OK;
}

/** Opens the hub's state; `mustExist` for commands that only read (a mistyped --db is an error, never a new file). */
function withState<T>(v: HubArgs, f: (s: HubState, cfg: HubConfig) => T, opts: { mustExist?: boolean } = {}): T {
  const cfg = buildConfig(v);
  const s = new HubState(cfg.db, opts);
  try {
    return f(s, cfg);
  } finally {
    s.close();
  }
}

function addSite(v: HubArgs & { role?: string; json?: boolean; samples?: string; 'token-days'?: string }, names: string[]): number {
  if (names.length === 0) throw new UsageError('add-site needs a site NAME');
  const role = v.role ?? 'train';
  if (role !== 'train' && role !== 'eval') throw new UsageError(`--role must be train or eval, got '${role}'`);
  const samples = readingArguments(() => intArg(v.samples, 'samples', { min: 1, max: MAX_SAMPLE_BOUND }));
  const days = readingArguments(() => numArg(v['token-days'], 'token-days', { min: 0, exclusive: true, max: 3650 }));
  const lifetimeMs = days === undefined ? undefined : Math.round(days * 24 * 3600_000);
  // IMMEDIATE: addSite reads before it writes, and the running hub writes the same file (see docs/data.md on upgrades).
  const tokens = withState(v, (s) => s.db.transaction(() => names.map((name) => s.addSite(name, role, lifetimeMs, samples))).immediate());
  names.forEach((name, i) => {
    if (v.json) console.log(JSON.stringify({ site: name, role, token: tokens[i], ...(samples !== undefined ? { samples } : {}) }));
    else {
      console.log(tokens[i]);
      console.error(`enrolled ${role} site '${name}'. Give it this token (shown once): fedseg site --name ${name} --token <token> --hub <url>`);
    }
  });
  return EXIT.OK;
}

async function status(v: HubArgs & { url?: string; json?: boolean; 'admin-token'?: string }): Promise<number> {
  let st: HubStatus | HubPublicStatus;
  if (v.url) {
    let url: URL;
    try {
      url = new URL('/status', v.url.replace(/^ws/, 'http'));
    } catch {
      throw new UsageError(`--url must be a URL like http://host:8765, got '${v.url}'`);
    }
    const admin = v['admin-token'] ?? process.env.FEDSEG_ADMIN_TOKEN;
    let res: Response;
    try {
      res = await fetch(url, admin ? { headers: { authorization: `Bearer ${admin}` } } : {});
    } catch (e) {
      throw new FedSegError('CONNECTION_FAILED', `cannot reach hub at ${v.url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
    }
    if (res.status === 401) throw new FedSegError('AUTH_FAILED', `hub at ${v.url} refused the admin token (fedseg-hub admin-token --db <the hub's db> issues a new one; without a token, status shows the public view)`);
    if (!res.ok) throw new FedSegError('CONNECTION_FAILED', `hub at ${v.url} answered HTTP ${res.status}`);
    const body = await res.json().catch(() => null);
    const parsed = admin ? HubStatusSchema.safeParse(body) : HubPublicStatusSchema.safeParse(body);
    if (!parsed.success) throw new FedSegError('PROTOCOL_ERROR', `${v.url} did not answer with a FedSeg hub status (is it a hub of this version?)`);
    st = parsed.data;
  } else st = withState(v, (s, cfg) => storedStatus(s, cfg), { mustExist: true });
  console.log(v.json ? JSON.stringify(st, null, 2) : 'view' in st ? formatPublicStatus(st) : formatStatus(st));
  return EXIT.OK;
}

function exportModel(v: HubArgs & { round?: string; out?: string }): number {
  const r = intArg(v.round, 'round', { min: 0 });
  if (!v.out) throw new UsageError('export-model needs --out FILE');
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
  return EXIT.OK;
}

async function runCommand(cmd: string, v: HubArgs & Record<string, unknown>, pos: string[]): Promise<number> {
  switch (cmd) {
    case 'start':
      return await start(v);
    case 'add-site':
      return addSite(v, pos);
    case 'remove-site': {
      if (pos.length !== 1) throw new UsageError(`remove-site takes one site NAME, got ${pos.length}`);
      const name = pos[0]!;
      withState(v, (s) => s.removeSite(name), { mustExist: true });
      console.log(`removed site '${name}'`);
      return EXIT.OK;
    }
    case 'sites':
      withState(v, (s) => {
        for (const x of s.listSites()) {
          const key = x.publicKey ? `key ${keyFingerprint(x.publicKey)}` : x.tokenExpires !== null && x.tokenExpires < Date.now() ? 'no key; token expired (re-enrol)' : `no key yet; token valid until ${x.tokenExpires ? new Date(x.tokenExpires).toISOString().slice(0, 10) : '-'}`;
          console.log(`${x.name.padEnd(20)} ${x.role.padEnd(6)} samples ${x.numSamples ?? '-'} last seen ${x.lastSeen ? new Date(x.lastSeen).toISOString() : 'never'}  ${key}`);
        }
      }, { mustExist: true });
      return EXIT.OK;
    case 'status':
      return await status(v);
    case 'admin-token': {
      const token = withState(v, (s) => issueAdminToken(s));
      console.log(token);
      console.error('admin token issued (shown once; any earlier one no longer works). Read the full status with: fedseg-hub status --url <hub> --admin-token <token>');
      return EXIT.OK;
    }
    case 'audit': {
      const limit = intArg(v.limit as string | undefined, 'limit', { min: 1 }) ?? 1000;
      withState(v, (s) => {
        if (v.json) return console.log(JSON.stringify(s.listAudit({ limit })));
        for (const a of s.listAudit({ limit }))
          console.log(`${new Date(a.ts).toISOString()} ${a.event.padEnd(14)} ${(a.site ?? '-').padEnd(12)} ${a.direction ?? '  '} ${a.bytes ?? ''} ${a.detail}`);
      }, { mustExist: true });
      return EXIT.OK;
    }
    case 'evaluations':
      withState(v, (s) => console.log(JSON.stringify(s.listEvaluations())), { mustExist: true });
      return EXIT.OK;
    case 'export-model':
      return exportModel(v);
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    // `fedseg-hub help start` is `fedseg-hub start --help`.
    const about = cmd === 'help' && rest[0] ? COMMANDS[rest[0]] : undefined;
    if (cmd === 'help' && rest[0] && !about) {
      console.error(`fedseg-hub: unknown command '${rest[0]}' (commands: ${NAMES.join(', ')})`);
      return EXIT.USAGE;
    }
    console.log(about?.help ?? USAGE);
    // Without a command there is nothing to do: a usage error.
    return cmd ? EXIT.OK : EXIT.USAGE;
  }
  const def = COMMANDS[cmd];
  if (!def) {
    console.error(`fedseg-hub: unknown command '${cmd}' (commands: ${NAMES.join(', ')}; see fedseg-hub --help)`);
    return EXIT.USAGE;
  }
  try {
    const { values, positionals } = parseCommandArgs(rest, def.options, { prog: 'fedseg-hub', command: cmd }, def.positionals);
    if (values.help) {
      console.log(def.help);
      return EXIT.OK;
    }
    return await runCommand(cmd, values as HubArgs & Record<string, unknown>, positionals);
  } catch (e) {
    const f = describeFailure(e, `fedseg-hub ${cmd} --help`);
    console.error(`fedseg-hub: ${f.line}`);
    if (process.env.FEDSEG_DEBUG) console.error(e);
    return f.code;
  }
}
