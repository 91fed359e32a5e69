// Federation handlers: settings (how the site takes part: a FedSeg hub or a Flower SuperLink,
// docs/flower.md §1-3; hub URL, site name, datasets, private CA or pinned certificate, the token in the
// site's store, replaced only after the hub accepted it; or the SuperLink's host:port and its root
// certificate), "Test connection" (hub-probe.ts; for Flower whether the address answers), join/leave
// (the site client or the Flower SuperNode in the job worker, federation-job.ts) and the live state. The engine, not
// the page, is the source of truth: the state (with `active`), the run it belongs to, the per-round
// history and the last failure in plain words survive navigation and reloads, and Leave always
// returns to a state from which Join works.
import { connect as tcpConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { FlowerAddress, type AppHandlers, type ConnectionProblem, type ConnectionReport, type FederationSettings, type FederationStatus, type FederationTransport, type TrainingProgress } from '../contract/app-api.js';
import { FedSegError } from '../contract/errors.js';
import { HubPublicStatusSchema } from '../contract/hub-status.js';
import type { FederationJob, JobOutcome } from '../contract/job-messages.js';
import { isLoopbackHost } from '../contract/loopback.js';
import { describeSpec } from '../contract/model-spec.js';
import type { SiteEvent } from '../contract/site-events.js';
import { normaliseFingerprint } from '../federation/tls-trust.js';
import { type EngineContext, requireDataset } from './context.js';
import { hubInfo, normaliseHubUrl, probeHub } from './hub-probe.js';
import { spawnJobWorker, type JobWorker } from './spawn-worker.js';
import { dirname } from 'node:path';
import { fileSecretBox } from '../secrets/secret-box.js';
import { sealedSetting } from '../secrets/sealed-setting.js';
import { DEFAULT_SITE_POLICY, SitePolicySchema, type SitePolicy } from '../contract/site-policy.js';
import type { SiteIdentity } from '../contract/site-identity.js';
import { SITE_KEY_SETTING, siteIdentity } from '../federation/site-key.js';
import { FLOWER_KEY_SETTING, flowerIdentity, type FlowerIdentity } from '../flower/flower-identity.js';

const SETTINGS_KEY = 'app.federation';
const TOKEN_KEY = 'app.federation.token';
/** The join token, sealed in the store (a plain one from an older FedSeg is sealed when first read; docs/security.md §5). */
const sealedToken = (ctx: EngineContext) => sealedSetting(ctx.store, ctx.secrets ?? fileSecretBox(dirname(ctx.dbPath)), TOKEN_KEY);

/** The site's key pair, sealed in the store next to the token (docs/security.md §2, §5). */
const siteKey = (ctx: EngineContext): SiteIdentity => siteIdentity(sealedSetting(ctx.store, ctx.secrets ?? fileSecretBox(dirname(ctx.dbPath)), SITE_KEY_SETTING));

/** The site's P-384 Flower SuperNode key, sealed the same way; the SuperLink binds its node id to it (docs/flower.md §2). */
const flowerKey = (ctx: EngineContext): FlowerIdentity => flowerIdentity(sealedSetting(ctx.store, ctx.secrets ?? fileSecretBox(dirname(ctx.dbPath)), FLOWER_KEY_SETTING));

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/;

/** host and port of an address FlowerAddress accepts (IPv6 without its brackets). */
export function splitFlowerAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/** The address checked as the API's schema checks it; INVALID_ARGUMENT naming the problem otherwise. */
function checkedFlowerAddress(raw: string): string {
  const a = raw.trim();
  const r = FlowerAddress.safeParse(a);
  if (!r.success) throw new FedSegError('INVALID_ARGUMENT', r.error.issues[0]?.message ?? `'${a}' is not a Flower SuperLink address`);
  return a;
}

const flowerReport = (problem: ConnectionProblem, message: string, detail: string, latencyMs: number | null = null): ConnectionReport =>
  ({ ok: problem === 'ok', problem, message, detail, hubVersion: null, latencyMs, hub: null, fingerprint: null });

/**
 * Whether a Flower SuperLink's address answers: a TCP connection, and with root certificates a TLS
 * handshake (HTTP/2, as gRPC speaks it) that checks the SuperLink's certificate against them. The
 * SuperLink enrols nobody ahead, so whether it takes this site's node shows only when joining.
 */
export function probeFlower(address: string, rootCertificates: string, timeoutMs = 5000): Promise<ConnectionReport> {
  const { host, port } = splitFlowerAddress(address);
  if (!rootCertificates && !isLoopbackHost(host))
    return Promise.resolve(flowerReport('tls', `The SuperLink at ${address} is on another computer: enter its root certificate (PEM, from the coordinator) so the connection is encrypted.`, 'plaintext gRPC is allowed only to this computer'));
  const t0 = performance.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: ConnectionReport) => {
      if (done) return;
      done = true;
      sock.destroy();
      resolve(r);
    };
    const sock = rootCertificates
      ? tlsConnect({ host, port, ca: rootCertificates, ALPNProtocols: ['h2'], ...(isIP(host) ? {} : { servername: host }) })
      : tcpConnect({ host, port });
    sock.setTimeout(timeoutMs, () => finish(flowerReport('timeout', `Nothing answered at ${address} within ${Math.round(timeoutMs / 1000)} s: the SuperLink may be down, or a firewall may block the port. Check the address with the coordinator.`, 'timeout')));
    sock.once(rootCertificates ? 'secureConnect' : 'connect', () => {
      const ms = performance.now() - t0;
      finish(flowerReport('ok', `Something answers at ${address}${rootCertificates ? ' with a certificate your root certificate trusts' : ''}. Whether the Flower SuperLink takes this site shows when you join (Flower does not enrol sites ahead, so there is no token to check).`, rootCertificates ? 'TCP + TLS handshake' : 'TCP connect', ms));
    });
    sock.once('error', (e: NodeJS.ErrnoException) => {
      const detail = `${e.code ?? 'error'}: ${e.message}`;
      if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return finish(flowerReport('dns', `The name '${host}' could not be found. Check the spelling of the address the coordinator gave you.`, detail));
      if (e.code === 'ECONNREFUSED') return finish(flowerReport('refused', `Nothing listens at ${address}: the SuperLink is not running there, or the port is wrong.`, detail));
      if (e.code === 'ETIMEDOUT' || e.code === 'EHOSTUNREACH' || e.code === 'ENETUNREACH') return finish(flowerReport('timeout', `${address} cannot be reached from this computer (network or firewall).`, detail));
      if (rootCertificates && /WRONG_VERSION_NUMBER|UNKNOWN_PROTOCOL|PACKET_LENGTH_TOO_LONG/.test(`${e.code ?? ''} ${e.message}`))
        return finish(flowerReport('tls', `${address} does not answer with a secure (TLS) connection: the SuperLink may run without TLS (then leave the certificate empty, only possible on this computer), or this is not its address.`, detail));
      if (rootCertificates && /CERT|SELF_SIGNED|SSL|TLS|ALTNAME/i.test(`${e.code ?? ''} ${e.message}`))
        return finish(flowerReport('tls', `The SuperLink's certificate is not trusted by the root certificate you entered (or does not name ${host}). Ask the coordinator for the right certificate.`, detail));
      finish(flowerReport('unknown', `The connection to ${address} failed.`, detail));
    });
    // Closed before the handshake finished (a server that is not TLS, or one that hung up).
    sock.once('close', () => finish(flowerReport(rootCertificates ? 'tls' : 'unknown', `${address} closed the connection before a ${rootCertificates ? 'secure (TLS) ' : ''}connection was made: it may not be a Flower SuperLink${rootCertificates ? ', or it does not use TLS' : ''}.`, 'closed during the handshake')));
  });
}

type Saved = Omit<FederationSettings, 'tokenSet' | 'flowerPublicKey'>;
type SettingsInput = Partial<Omit<Saved, 'policy'>> & { hubUrl: string; siteName: string; policy?: Partial<Omit<SitePolicy, 'consentedAt'>> | undefined };

/** Plain words for a participation that stopped with an error code (same words as Test connection). */
export function explainFailure(code: string | undefined, message: string): { problem: ConnectionProblem; message: string } {
  switch (code) {
    case 'AUTH_FAILED':
      return { problem: 'auth', message: 'The hub did not accept this site name and token. Check the token (it is case-sensitive) or ask the coordinator to enrol this site again, then join again.' };
    case 'VERSION_MISMATCH':
      return { problem: 'version', message: 'The hub runs a different version of FedSeg. Update this app, or ask the coordinator which version to use.' };
    case 'ALREADY_EXISTS':
      return { problem: 'auth', message: 'A site with this name is already connected to the hub. If that is another computer, use this site\'s own name.' };
    case 'MESSAGE_TOO_LARGE':
      return { problem: 'protocol', message: `The hub sent more data than this site accepts (${message}). Ask the coordinator to check the hub's message size limit.` };
    case 'CONNECTION_FAILED':
      return { problem: /TLS|certificate/i.test(message) ? 'tls' : 'refused', message: `The hub could not be reached: ${message}. Use Test connection for a diagnosis.` };
    default:
      return { problem: 'unknown', message };
  }
}

/** Plain words for a Flower participation that stopped with an error code (docs/flower.md §7): the SuperNode's own line, with what to do. */
export function explainFlowerFailure(code: string | undefined, message: string): { problem: ConnectionProblem; message: string } {
  switch (code) {
    case 'CONNECTION_FAILED':
      return { problem: /TLS|certificate|SSL/i.test(message) ? 'tls' : 'refused', message: `${message}. Check the address (and certificate) with the coordinator and that their SuperLink is running; "Check the address" tells whether it answers.` };
    case 'AUTH_FAILED':
      return { problem: 'auth', message: `${message}. If the coordinator's SuperLink admits only registered sites, send them this site's Flower public key (shown under the SuperLink address); if they did register it, check that this computer's clock is right.` };
    case 'MESSAGE_TOO_LARGE':
      return { problem: 'protocol', message: `The Flower federation sent more data than this site accepts (${message}).` };
    default:
      return { problem: 'unknown', message };
  }
}

/** Where a site with these settings connects: the hub URL, or the SuperLink's address. */
const targetOf = (s: Pick<Saved, 'transport' | 'hubUrl' | 'flowerAddress'>) => ({ transport: s.transport, hubUrl: s.transport === 'flower' ? s.flowerAddress : s.hubUrl });

export class FederationManager {
  private worker: JobWorker | null = null;
  private status: FederationStatus;
  private poll: ReturnType<typeof setInterval> | null = null;
  private backend = '';
  private runId: number | null = null;
  private lastProgress: TrainingProgress | null = null;
  private totalRounds: number | null = null;
  /** Set by the engine: a message when local training runs (one heavy job at a time). */
  otherBusy: () => string | null = () => null;

  constructor(private readonly ctx: EngineContext) {
    this.status = this.idle(this.settings(), 'not connected');
  }

  private idle(s: Pick<Saved, 'transport' | 'hubUrl' | 'flowerAddress' | 'siteName'>, message: string): FederationStatus {
    return {
      state: 'idle', ...targetOf(s), siteName: s.siteName, message, model: null, round: null, sites: [], active: false, datasets: [], totalRounds: null, runId: null, history: [], problem: null, flower: null,
    };
  }

  busyMessage(): string | null {
    return this.worker ? 'this site is taking part in a federation; leave it before training locally' : null;
  }

  /** The run of the participation in progress, if any. */
  activeRunId(): number | null {
    return this.worker ? this.runId : null;
  }

  /** The participation's progress as the Train page shows jobs, while it runs. */
  progressState(): TrainingProgress | null {
    return this.worker ? this.lastProgress : null;
  }

  /**
   * The saved settings; settings saved before Flower read as the hub's. What a hub said about itself
   * describes that hub, not a Flower federation, so `hub` is null while the transport is Flower (the
   * stored one is kept for going back: storedHub()).
   */
  settings(): Saved {
    const s = this.ctx.store.getSetting<Partial<Saved>>(SETTINGS_KEY);
    const transport: FederationTransport = s?.transport === 'flower' ? 'flower' : 'hub';
    return {
      transport,
      hubUrl: s?.hubUrl ?? '', siteName: s?.siteName ?? '', datasetIds: Array.isArray(s?.datasetIds) ? s.datasetIds.filter((x) => typeof x === 'string') : [],
      ca: typeof s?.ca === 'string' ? s.ca : '', trustedFingerprint: typeof s?.trustedFingerprint === 'string' ? s.trustedFingerprint : null,
      hub: transport === 'hub' ? this.storedHub() : null,
      policy: SitePolicySchema.safeParse(s?.policy).data ?? DEFAULT_SITE_POLICY,
      flowerAddress: typeof s?.flowerAddress === 'string' ? s.flowerAddress : '',
      flowerRootCertificates: typeof s?.flowerRootCertificates === 'string' ? s.flowerRootCertificates : '',
    };
  }

  private storedHub(): Saved['hub'] {
    return this.ctx.store.getSetting<Partial<Saved>>(SETTINGS_KEY)?.hub ?? null;
  }

  publicSettings(): FederationSettings {
    const s = this.settings();
    return { ...s, tokenSet: this.tokenSet(), flowerPublicKey: s.transport === 'flower' ? this.flowerPublicKey() : '' };
  }

  /** The public half of the site's Flower key (made now if there is none); '' when the sealed key cannot be opened (joining then says why). */
  private flowerPublicKey(): string {
    try {
      return flowerKey(this.ctx).publicKeyPem;
    } catch {
      return '';
    }
  }

  tokenSet(): boolean {
    return sealedToken(this.ctx).has();
  }

  private token(): string {
    try {
      return sealedToken(this.ctx).get() ?? '';
    } catch (e) {
      if (!(e instanceof FedSegError)) throw e;
      throw new FedSegError(e.code, `the saved join token cannot be read (${e.message}); enter the token again on the Federation page`, { cause: e });
    }
  }

  /** Checks and merges settings (everything except the token) over the saved ones. */
  private merged(p: SettingsInput): Saved {
    const cur = this.settings();
    const hubUrl = p.hubUrl.trim();
    if (hubUrl && !normaliseHubUrl(hubUrl)) throw new FedSegError('INVALID_ARGUMENT', `'${hubUrl}' is not a hub address (example: wss://hub.example.org:8443)`);
    const transport = p.transport ?? cur.transport;
    const flowerAddress = p.flowerAddress === undefined ? cur.flowerAddress : checkedFlowerAddress(p.flowerAddress);
    const flowerRootCertificates = p.flowerRootCertificates === undefined ? cur.flowerRootCertificates : p.flowerRootCertificates.trim();
    if (flowerRootCertificates && !PEM_CERTIFICATE.test(flowerRootCertificates))
      throw new FedSegError('INVALID_ARGUMENT', 'the SuperLink\'s root certificate must be PEM text (from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----), as the coordinator sends it');
    const ca = p.ca === undefined ? cur.ca : p.ca.trim();
    if (ca && !PEM_CERTIFICATE.test(ca))
      throw new FedSegError('INVALID_ARGUMENT', 'the CA certificate must be PEM text (from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----), as the coordinator sends it');
    let trustedFingerprint = p.trustedFingerprint === undefined ? cur.trustedFingerprint : p.trustedFingerprint;
    if (trustedFingerprint) {
      const n = normaliseFingerprint(trustedFingerprint);
      if (!n) throw new FedSegError('INVALID_ARGUMENT', 'a certificate fingerprint is 64 hexadecimal digits (SHA-256), usually written AA:BB:…');
      trustedFingerprint = n;
    }
    const datasetIds = p.datasetIds ?? cur.datasetIds;
    for (const id of datasetIds) requireDataset(this.ctx.store, id);
    // A different hub invalidates what the last one said about itself (and a pin made for it).
    const sameHub = normaliseHubUrl(hubUrl)?.toString() === normaliseHubUrl(cur.hubUrl)?.toString();
    // Consent is recorded with its time; withdrawing it clears the time.
    const want = { ...cur.policy, ...p.policy };
    const policy = SitePolicySchema.safeParse({ ...want, consentedAt: want.shareSpectra ? (cur.policy.shareSpectra ? cur.policy.consentedAt : new Date().toISOString()) : null });
    if (!policy.success) throw new FedSegError('INVALID_ARGUMENT', `sharing policy: ${policy.error.issues[0]?.path.join('.')}: ${policy.error.issues[0]?.message}`);
    return {
      transport, flowerAddress, flowerRootCertificates,
      policy: policy.data,
      hubUrl, siteName: p.siteName.trim(), datasetIds, ca, hub: sameHub ? this.storedHub() : null,
      trustedFingerprint: sameHub || p.trustedFingerprint !== undefined ? trustedFingerprint : null,
    };
  }

  private write(s: Saved, token?: string): void {
    this.ctx.store.transaction(() => {
      this.ctx.store.setSetting(SETTINGS_KEY, s);
      if (token) sealedToken(this.ctx).set(token);
    });
    if (!this.worker) this.update({ ...targetOf(s), siteName: s.siteName });
  }

  private probe(s: Saved, token: string): Promise<ConnectionReport> {
    return probeHub({ hubUrl: s.hubUrl, site: s.siteName, token, identity: siteKey(this.ctx), ...(s.ca ? { ca: s.ca } : {}), trustedFingerprint: s.trustedFingerprint });
  }

  /** Saves settings; a new token is kept only if the hub accepts it (the working one is never lost to a typo). */
  async save(p: SettingsInput & { token?: string }): Promise<FederationSettings & { report: ConnectionReport | null }> {
    const s = this.merged(p);
    let report: ConnectionReport | null = null;
    let token: string | undefined;
    // A hub's token is tested where it is used; a Flower SuperLink takes no token.
    if (p.token && s.transport === 'hub') {
      report = await this.probe(s, p.token);
      if (report.ok) {
        token = p.token;
        s.hub = report.hub;
      } else report = { ...report, message: `The new token was not saved${this.tokenSet() ? ' (the previous one is kept)' : ''}. ${report.message}` };
    }
    this.write(s, token);
    return { ...this.publicSettings(), report };
  }

  /** Tests what the page shows (or what is saved); a success saves it, so Join uses exactly what was tested. */
  async test(p: Partial<SettingsInput> & { token?: string }): Promise<ConnectionReport> {
    const cur = this.settings();
    const s = this.merged({ ...p, hubUrl: p.hubUrl ?? cur.hubUrl, siteName: p.siteName ?? cur.siteName });
    if (s.transport === 'flower') {
      if (!s.flowerAddress) return flowerReport('url', 'Enter the Flower SuperLink address the coordinator gave you (host:port).', 'no address');
      const report = await probeFlower(s.flowerAddress, s.flowerRootCertificates);
      if (report.ok) this.write(s);
      return report;
    }
    const report = await this.probe(s, p.token || this.token());
    if (report.ok) this.write({ ...s, hub: report.hub }, p.token || undefined);
    return report;
  }

  current(): FederationStatus {
    return this.status;
  }

  private update(p: Partial<FederationStatus>): void {
    this.status = { ...this.status, ...p };
    this.ctx.emit('federationStatus', this.status);
  }

  private progress(p: Partial<TrainingProgress> & Pick<TrainingProgress, 'phase' | 'message'>): void {
    const prev = this.lastProgress;
    const next: TrainingProgress = {
      runId: String(this.runId ?? 0), mode: 'federated', backend: this.backend, dice: null, losses: prev?.losses ?? {}, samplesPerSec: 0, etaSec: null,
      epoch: 0, step: 0, totalSteps: 0, round: prev?.round ?? null, totalRounds: this.totalRounds, fraction: null, ...p,
    };
    this.lastProgress = next;
    this.ctx.emit('trainingProgress', next);
  }

  private record(round: number, m: { loss?: number; dice?: number }): void {
    if (this.runId === null) return;
    const old = this.ctx.store.listRoundMetrics(this.runId).find((r) => r.round === round)?.metrics ?? {};
    const next = { ...old, step: round, ...(m.loss !== undefined && Number.isFinite(m.loss) ? { loss: m.loss } : {}), ...(m.dice !== undefined ? { dice: m.dice } : {}) };
    try {
      this.ctx.store.putRoundMetrics(this.runId, round, next);
    } catch {
      /* the history is a convenience; the participation goes on without it */
    }
  }

  private historyEntry(round: number, loss: number | null): void {
    const h = this.status.history.filter((x) => x.round !== round);
    const old = this.status.history.find((x) => x.round === round);
    h.push({ round, loss: loss ?? old?.loss ?? null, unseenDice: old?.unseenDice ?? null });
    h.sort((a, b) => a.round - b.round);
    this.update({ history: h });
  }

  private onSite(e: SiteEvent): void {
    const round = this.status.round;
    switch (e.type) {
      case 'connecting':
        return this.update({
          state: this.status.state === 'reconnecting' || this.status.state === 'connected' || this.status.state === 'training' ? 'reconnecting' : 'connecting',
          message: `connecting to the ${this.status.transport === 'flower' ? 'Flower SuperLink' : 'hub'} (attempt ${e.attempt})`,
        });
      case 'flower-node':
        this.progress({ phase: 'waiting', message: `joined the Flower SuperLink as node ${e.nodeId}; waiting for work` });
        return this.update({
          state: 'connected', message: `joined the Flower SuperLink at ${e.address} as node ${e.nodeId}; waiting for the coordinator to start a run`, problem: null,
          flower: { nodeId: e.nodeId, runId: null, strategy: null },
        });
      case 'flower-run': {
        if (e.totalRounds !== null) this.totalRounds = e.totalRounds;
        const rounds = e.totalRounds === null ? '' : `, ${e.totalRounds} round(s)`;
        this.progress({ phase: 'waiting', message: `Flower run ${e.runId}${rounds}: waiting for the first request` });
        return this.update({
          state: this.status.state === 'training' ? 'training' : 'connected', message: `taking part in Flower run ${e.runId}${e.strategy ? ` (${e.strategy})` : ''}${rounds}`,
          flower: { nodeId: this.status.flower?.nodeId ?? null, runId: e.runId, strategy: e.strategy }, ...(e.totalRounds !== null ? { totalRounds: e.totalRounds } : {}),
        });
      }
      case 'connected': {
        void this.pollHub();
        this.totalRounds = e.welcome.totalRounds;
        // What the hub says about itself is kept for the Outbox preview (its real window size).
        try {
          const s = this.settings();
          this.ctx.store.setSetting(SETTINGS_KEY, { ...s, hub: hubInfo(e.welcome) });
        } catch {
          /* only a preview depends on it */
        }
        this.progress({ phase: 'waiting', round: e.welcome.round, message: `connected to ${e.welcome.hub}; waiting for round ${e.welcome.round + 1} of ${e.welcome.totalRounds}` });
        return this.update({
          state: 'connected', message: `connected to ${e.welcome.hub} (${e.welcome.mode})`, model: describeSpec(e.welcome.model), totalRounds: e.welcome.totalRounds, problem: null,
          round: { number: e.welcome.round, phase: 'waiting', deadline: null, quorum: null },
        });
      }
      case 'disconnected':
        return this.update({ state: 'reconnecting', message: `connection lost (${e.reason || e.code}); retrying in ${Math.round(e.retryInMs / 1000)} s` });
      case 'spectrum-sent':
        return this.update({ message: `shared ${e.count} amplitude window(s) of ${e.channels}x${2 * e.halfWidth + 1}x${2 * e.halfWidth + 1} (${e.bytes} bytes)` });
      case 'bank':
        return this.update({ message: `received ${e.count} amplitude window(s) from ${e.sources} other site(s)` });
      case 'round-start': {
        // A Flower run whose config does not say how many rounds reports 0: what is known is kept.
        const total = e.totalRounds || this.totalRounds || 0;
        this.totalRounds = total || null;
        const of = total ? ` of ${total}` : '';
        this.update({ state: 'training', totalRounds: this.totalRounds, message: `round ${e.round}${of}`, round: { number: e.round, phase: 'training', deadline: e.deadline === null ? null : new Date(e.deadline).toISOString(), quorum: null } });
        return this.progress({ phase: 'training', round: e.round, totalRounds: this.totalRounds, fraction: 0, message: `round ${e.round}${of}: local training` });
      }
      case 'progress': {
        const losses = Object.fromEntries(Object.entries(e.losses ?? {}).filter(([k]) => k !== 'elapsedMs'));
        return this.progress({
          phase: e.work === 'train' ? 'training' : 'evaluating', round: e.round, step: e.step ?? 0, totalSteps: e.steps ?? 0, fraction: e.fraction,
          ...(Object.keys(losses).length ? { losses } : {}), message: e.note ?? `round ${e.round}: ${e.work === 'train' ? 'local training' : 'evaluating'} ${Math.round(e.fraction * 100)}%`,
        });
      }
      case 'round-sent': {
        const losses = Object.fromEntries(Object.entries(e.metrics).filter(([k]) => k.startsWith('loss_')).map(([k, v]) => [k.slice(5), v]));
        const loss = losses.total ?? Object.values(losses)[0];
        this.record(e.round, { ...(loss !== undefined ? { loss } : {}) });
        this.historyEntry(e.round, loss ?? null);
        this.update({ state: 'connected', message: `sent the update for round ${e.round}`, round: { number: e.round, phase: 'waiting for other sites', deadline: null, quorum: null } });
        return this.progress({ phase: 'waiting', round: e.round, fraction: 1, losses, message: `round ${e.round}: update sent (${e.bytes} bytes); waiting for the other sites` });
      }
      case 'evaluated':
        return this.update({ message: `evaluated the global model of round ${e.round}` });
      case 'global-model':
        return this.update({ message: `kept the global model of round ${e.round} (Segment lists it)` });
      case 'refused':
        return this.update({ message: `refused the hub's ${e.request}: ${e.message}` });
      case 'bank-dropped':
        return this.update({ message: `left ${e.dropped} received amplitude window(s) out: ${e.reason}` });
      case 'hub-error':
        return this.update({ message: `${this.status.transport === 'flower' ? 'Flower SuperLink' : 'hub'}: ${e.message}` });
      case 'finished':
        this.progress({ phase: 'done', round: e.rounds, fraction: 1, message: `the federation finished after ${e.rounds} round(s)` });
        return this.update({ state: 'finished', message: `the federation finished after ${e.rounds} round(s)`, round: round ? { ...round, phase: 'finished' } : null, sites: this.selfOffline() });
    }
  }

  /**
   * The site list with this site shown offline: once its participation ended it is not connected,
   * whatever the last status poll (taken while it still was) said, and the next poll may never come
   * (the hub may already be gone).
   */
  private selfOffline(): FederationStatus['sites'] {
    return this.status.sites.map((s) => (s.name === this.status.siteName ? { ...s, state: 'offline' } : s));
  }

  /**
   * Reads the hub's public status view (docs/security.md §6: counts, round, mean unseen-site Dice; no
   * other site's name); `always` also after the site stopped. The site list holds this site and one
   * line for the others' counts.
   */
  private async pollHub(always = false): Promise<void> {
    // A Flower SuperLink has no such page (its hubUrl is a host:port, not a hub).
    if (this.status.transport !== 'hub') return;
    const u = normaliseHubUrl(this.status.hubUrl);
    if (!u) return;
    u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
    u.pathname = '/status';
    try {
      const res = await fetch(u, { signal: AbortSignal.timeout(3000) });
      if (!res.ok) return;
      const parsed = HubPublicStatusSchema.safeParse(await res.json());
      if (!parsed.success) return;
      const s = parsed.data;
      const here = this.status.state === 'connected' || this.status.state === 'training';
      // Once the run is over the hub is letting every site go; a count taken then would include this site
      // (its goodbye may not have reached the hub yet), so nobody is shown as still connected.
      const over = s.phase === 'finished' || s.phase === 'stopped';
      const others = { enrolled: Math.max(0, s.sites.enrolled - 1), connected: over ? 0 : Math.max(0, s.sites.connected - (here ? 1 : 0)) };
      const sites = [
        ...(this.status.siteName ? [{ name: this.status.siteName, state: here ? 'connected' : 'offline', lastSeen: null }] : []),
        ...(others.enrolled > 0 ? [{ name: `${others.enrolled} other site${others.enrolled === 1 ? '' : 's'} (${others.connected} connected)`, state: others.connected > 0 ? 'connected' : 'offline', lastSeen: null }] : []),
      ];
      const round = s.currentRound
        ? { number: s.currentRound, phase: s.phase, deadline: s.deadline === null ? null : new Date(s.deadline).toISOString(), quorum: s.minSites }
        : this.status.round;
      const history = this.status.history.map((h) => {
        const d = s.rounds.find((r) => r.round === h.round)?.meanDice ?? null;
        if (d !== null && d !== h.unseenDice) this.record(h.round, { dice: d });
        return d === null ? h : { ...h, unseenDice: d };
      });
      if (!(always || this.worker)) return;
      const changed = JSON.stringify({ sites, round, history }) !== JSON.stringify({ sites: this.status.sites, round: this.status.round, history: this.status.history });
      if (changed) this.update({ sites, round, history, totalRounds: s.totalRounds });
    } catch {
      /* the status page is optional (TLS with a private CA, proxies); the site client reports the rest */
    }
  }

  /** Checks that the saved settings are complete for their transport (opening the keys), and returns what the worker will be given for a run. */
  private jobFor(saved: Saved): (runId: number, datasetIds: number[]) => FederationJob {
    const { siteName } = saved;
    if (saved.transport === 'flower') {
      if (!saved.flowerAddress) throw new FedSegError('INVALID_ARGUMENT', 'enter the Flower SuperLink address (host:port) on the Federation page first');
      const address = checkedFlowerAddress(saved.flowerAddress);
      if (!siteName) throw new FedSegError('INVALID_ARGUMENT', 'set this site\'s name on the Federation page first (the Flower federation\'s ServerApp sees it)');
      if (!saved.flowerRootCertificates && !isLoopbackHost(splitFlowerAddress(address).host))
        throw new FedSegError('INVALID_ARGUMENT', `the Flower SuperLink at ${address} is on another computer: enter its root certificate (PEM, from the coordinator) so the connection is encrypted`);
      const identityKey = flowerKey(this.ctx).exportPrivate();
      return (runId, datasetIds) => ({
        transport: 'flower', runId, address, site: siteName, identityKey, policy: saved.policy, datasetIds,
        ...(saved.flowerRootCertificates ? { rootCertificates: saved.flowerRootCertificates } : {}),
      });
    }
    const token = this.token();
    const url = normaliseHubUrl(saved.hubUrl);
    if (!url) throw new FedSegError('INVALID_ARGUMENT', 'set a valid hub address on the Federation page first');
    if (!siteName || !token) throw new FedSegError('INVALID_ARGUMENT', 'set this site\'s name and join token on the Federation page first (Test connection saves them when the hub accepts them)');
    const identityKey = siteKey(this.ctx).exportPrivate();
    return (runId, datasetIds) => ({
      transport: 'hub', runId, hubUrl: url.toString(), site: siteName, token, identityKey, policy: saved.policy, datasetIds,
      ...(saved.ca ? { ca: saved.ca } : {}), ...(saved.trustedFingerprint ? { trustedFingerprint: saved.trustedFingerprint } : {}),
    });
  }

  join(datasetIds: string[]): FederationStatus {
    if (this.worker) throw new FedSegError('ALREADY_EXISTS', 'this site is already taking part; leave first');
    const other = this.otherBusy();
    if (other) throw new FedSegError('ALREADY_EXISTS', other);
    const saved = this.settings();
    const { siteName, transport } = saved;
    const flower = transport === 'flower';
    const where = targetOf(saved).hubUrl;
    // Everything is checked (and the keys opened) before a run is recorded: a refused join leaves no run behind.
    const makeJob = this.jobFor(saved);
    if (datasetIds.length === 0) throw new FedSegError('INVALID_ARGUMENT', 'choose the dataset(s) this site takes part with');
    const ds = datasetIds.map((id) => requireDataset(this.ctx.store, id));
    this.ctx.store.setSetting(SETTINGS_KEY, { ...saved, hub: this.storedHub(), datasetIds });
    const names = ds.map((d) => d.name);
    const run = this.ctx.store.createRun({
      name: flower ? `Federation ${siteName} @ Flower ${where}` : `Federation ${siteName} @ ${where}`,
      config: { mode: 'federated', transport, ...(flower ? { flowerAddress: where } : { hubUrl: where }), siteName, datasetIds, datasets: names },
    });
    this.runId = run.id;
    this.totalRounds = null;
    this.lastProgress = null;
    const job = makeJob(run.id, ds.map((d) => d.id));
    let finish: (o: JobOutcome) => void = () => {};
    const spawned = spawnJobWorker({ dbPath: this.ctx.dbPath, work: { kind: 'federate', job } }, (m) => {
      if (m.t === 'site') this.onSite(m.e);
      else if (m.t === 'backend') this.backend = m.backend;
      else if (m.t === 'done') finish(m.outcome);
    }, (why) => finish({ status: 'failed', modelId: null, message: why }));
    const worker = spawned.worker;
    this.worker = spawned;
    this.status = {
      ...this.idle(saved, `joining ${flower ? `the Flower SuperLink at ${where} ` : ''}with ${names.map((n) => `'${n}'`).join(', ')}`), state: 'connecting', active: true, datasets: names, runId: String(run.id),
    };
    this.ctx.emit('federationStatus', this.status);
    this.progress({ phase: 'starting', message: `joining ${flower ? 'the Flower SuperLink at ' : ''}${where} with ${names.join(', ')}` });
    // A Flower SuperLink has no public status page to poll.
    if (!flower) this.poll = setInterval(() => void this.pollHub(), 3000);
    let done = false;
    finish = (o: JobOutcome) => {
      if (done) return;
      done = true;
      if (this.poll) clearInterval(this.poll);
      this.poll = null;
      this.worker = null;
      try {
        this.ctx.store.finishRun(run.id, o.status, { message: o.message });
      } catch {
        /* already finished */
      }
      const round = this.status.round && o.status === 'finished' ? { ...this.status.round, phase: 'finished' } : this.status.round;
      const failed = o.status === 'failed' ? (flower ? explainFlowerFailure : explainFailure)(o.code, o.message) : null;
      const message = o.status === 'cancelled' ? 'left the federation' : failed ? failed.message : o.message;
      this.progress({ phase: o.status === 'finished' ? 'done' : o.status, fraction: o.status === 'finished' ? 1 : null, message });
      this.update({ state: failed ? 'error' : o.status === 'finished' ? 'finished' : 'idle', active: false, message, round, problem: failed?.problem ?? null, sites: this.selfOffline() });
      void this.pollHub(true);
      void worker.terminate();
    };
    worker.on('error', (e) => finish({ status: 'failed', modelId: null, message: `the federation worker crashed: ${e.message}` }));
    worker.on('exit', (code) => finish({ status: 'failed', modelId: null, message: `the federation worker stopped (exit code ${code})` }));
    return this.status;
  }

  /** Leaves a running participation; from an error or finished state, clears it so Join is offered again. */
  async leave(): Promise<FederationStatus> {
    const job = this.worker;
    if (!job) {
      this.status = { ...this.idle(this.settings(), 'not connected'), history: this.status.history, totalRounds: this.status.totalRounds, runId: this.status.runId };
      this.ctx.emit('federationStatus', this.status);
      return this.status;
    }
    const w = job.worker;
    job.cancel();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        void w.terminate();
        resolve();
      }, 5000);
      w.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
    return this.status;
  }

  async close(): Promise<void> {
    await this.leave();
  }
}

export function federationHandlers(_ctx: EngineContext, fed: FederationManager): Pick<AppHandlers,
  'getFederationSettings' | 'saveFederationSettings' | 'testConnection' | 'joinFederation' | 'leaveFederation' | 'getFederationStatus'> {
  return {
    async getFederationSettings() {
      return fed.publicSettings();
    },
    async saveFederationSettings(args) {
      return fed.save(args);
    },
    async testConnection(args) {
      return fed.test(args);
    },
    async joinFederation({ datasetIds }) {
      return fed.join(datasetIds);
    },
    async leaveFederation() {
      return fed.leave();
    },
    async getFederationStatus() {
      return fed.current();
    },
  };
}

