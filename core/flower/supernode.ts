// A FedSeg site as a Flower SuperNode (docs/flower.md §2-5): it registers and activates its P-384 key
// with the SuperLink's Fleet API, heartbeats, pulls messages, reads their content through Flower's
// object protocol (core/flower/objects.ts), does the work with the run API's trainer (train, evaluate,
// initial model, amplitude windows under the site's own policy: docs/security.md §3), and pushes the
// reply with its objects. Every global model received is kept in the site's store; every message in
// and out is in the audit log (the app's Outbox). A lost SuperLink is retried with backoff and the
// reply not yet delivered is pushed again after reconnecting; refused credentials end the site with
// one plain line.
import { FedSegError, toErrorValue } from '../contract/errors.js';
import { isLoopbackHost } from '../contract/loopback.js';
import type { SiteEvent } from '../contract/site-events.js';
import { DEFAULT_SITE_POLICY, refuseSpectrumRequest, refuseTraining, refuseWindowSize, windowBudget, type SitePolicy } from '../contract/site-policy.js';
import type { NamedArray } from '../contract/weights.js';
import { MAX_SPECTRUM_WINDOWS } from '../contract/hub-protocol.js';
import { saveGlobalModel } from '../run/checkpoints.js';
import { auditWriterFor, isTransientStoreError } from '../federation/site-audit.js';
import type { SiteRunSummary } from '../federation/site-options.js';
import {
  configRecord, describeContent, inOrderOf, metricsRecord, num, readBank, readConfig, readSpec, readTrainConfig, readWeights, weightsRecord, windowsArray,
} from './content.js';
import { FleetClient } from './fleet-client.js';
import type { FlowerSiteOptions } from './flower-options.js';
import { deflateMessage, inflateMessage, treeIds, type Deflated, type FlowerError, type RecordDict } from './objects.js';
import { create } from '@bufbuild/protobuf';
import { MessageSchema, MetadataSchema, type Metadata } from './gen/flwr/proto/message_pb.js';
import { RecordDictSchema } from './gen/flwr/proto/recorddict_pb.js';
import { ErrorSchema } from './gen/flwr/proto/error_pb.js';
import type { Scalar } from './gen/flwr/proto/transport_pb.js';

/** Flower's error codes (flwr.common.constant.ErrorCode) used in replies. */
const CLIENT_APP_RAISED_EXCEPTION = 2;
const HEARTBEAT_INTERVAL_S = 30;
const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => {
    clearTimeout(t);
    resolve();
  }, { once: true });
});

export type { FlowerSiteOptions };

/** Runs the SuperNode until its runs are done (options.runs), it is stopped, or its credentials are refused. */
export function runFlowerSite(o: FlowerSiteOptions): Promise<SiteRunSummary> {
  return new SuperNode(o).run();
}

/**
 * A SuperLink address is HOST:PORT of its Fleet API; plaintext gRPC is allowed to loopback only, unless
 * the operator says --insecure (the weights would cross the network unencrypted). INVALID_ARGUMENT otherwise.
 */
export function checkFlowerAddress(address: string, o: { rootCertificates?: string; insecure?: boolean } = {}): void {
  const m = /^(\[[^\]]+\]|[^:/\s]+):(\d{1,5})$/.exec(address);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new FedSegError('INVALID_ARGUMENT', `'${address}' is not a Flower SuperLink address: HOST:PORT of its Fleet API (e.g. 127.0.0.1:9092)`);
  const host = m[1]!.replace(/^\[|\]$/g, '');
  if (!o.rootCertificates && !o.insecure && !isLoopbackHost(host))
    throw new FedSegError('INVALID_ARGUMENT', `plaintext gRPC to ${address} would send this site's weights unencrypted: give the SuperLink's root certificate (--flower-ca FILE), or --insecure on a network you trust`);
}

interface RunInfo {
  runId: bigint;
  config: Map<string, string | number | boolean>;
  totalRounds: number | null;
}

interface Pending {
  msg: Deflated;
  metadata: Metadata;
  error: FlowerError | null;
  runId: bigint;
  startedAt: number;
  /** The audit log's account of the reply, made when the reply is (not re-read from its objects). */
  summary: string;
}

function scalar(s: Scalar): string | number | boolean {
  const v = s.scalar;
  switch (v.case) {
    case 'double': case 'bool': case 'string': return v.value;
    case 'sint64': case 'uint64': return Number(v.value);
    case 'bytes': return Buffer.from(v.value).toString('base64');
    default: return '';
  }
}

class SuperNode {
  private readonly client: FleetClient;
  private readonly policy: SitePolicy;
  private readonly role;
  private readonly work = new AbortController();
  private nodeId: bigint | null = null;
  private heartbeat?: ReturnType<typeof setInterval>;
  private readonly runs = new Map<bigint, RunInfo>();
  private readonly finishedRuns = new Set<bigint>();
  private workedRun: bigint | null = null;
  private pending: Pending | null = null;
  private summary: SiteRunSummary = { roundsTrained: 0, roundsEvaluated: 0, reconnects: 0, refused: 0, lastMetrics: null };
  private lastRound = 0;

  constructor(private readonly o: FlowerSiteOptions) {
    this.policy = o.policy ?? DEFAULT_SITE_POLICY;
    this.role = o.role ?? 'train';
    this.client = new FleetClient({ address: o.address, identity: o.identity, ...(o.rootCertificates ? { rootCertificates: o.rootCertificates } : {}) });
  }

  private emit(e: SiteEvent): void {
    try {
      this.o.onEvent?.(e);
    } catch {
      /* a listener's failure is not the site's */
    }
  }

  private audit(direction: 'in' | 'out', kind: string, bytes: number, summary: string): void {
    const onTrouble = (message: string) => this.emit({ type: 'hub-error', code: 'DB_ERROR', message: `local: ${message}` });
    auditWriterFor(this, this.o.ledger, { onTrouble }).append({ direction, kind, bytes, peer: `flower://${this.o.address}`, summary });
  }

  async run(): Promise<SiteRunSummary> {
    const stop = () => this.work.abort();
    this.o.signal?.addEventListener('abort', stop, { once: true });
    try {
      checkFlowerAddress(this.o.address, this.o);
      await this.connect();
      await this.loop();
      return { ...this.summary };
    } catch (e) {
      if (this.o.signal?.aborted) throw new FedSegError('CANCELLED', 'site stopped');
      throw e;
    } finally {
      this.o.signal?.removeEventListener('abort', stop);
      this.stopHeartbeat();
      if (this.nodeId !== null) {
        // Deactivate (not unregister): the same key keeps its node id when the site comes back.
        await this.client.call('deactivateNode', { nodeId: this.nodeId }, 5000).catch(() => undefined);
      }
      this.client.close();
      auditWriterFor(this, this.o.ledger).flush();
    }
  }

  /** Register (once per key; a known key is reused) and activate, with the reconnect rules. */
  private async connect(): Promise<void> {
    const first = this.nodeId === null && this.summary.reconnects === 0;
    let attempt = 0;
    const lostAt = Date.now();
    let delay = this.o.backoff?.initialMs ?? 1000;
    for (;;) {
      attempt++;
      this.emit({ type: 'connecting', attempt, url: `flower://${this.o.address}` });
      try {
        const pk = Buffer.from(this.o.identity.publicKeyPem, 'utf8');
        try {
          await this.client.call('registerNode', { publicKey: pk }, 15_000);
        } catch (e) {
          // An already registered key (a restart), or a SuperLink that registers nodes itself: activation decides.
          if (!(e instanceof FedSegError) || e.code !== 'PROTOCOL_ERROR') throw e;
        }
        const { res } = await this.client.call('activateNode', { publicKey: pk, heartbeatInterval: HEARTBEAT_INTERVAL_S }, 15_000);
        this.nodeId = res.nodeId;
        this.audit('out', 'hello', 0, `Flower SuperNode activated as node ${res.nodeId} (${this.role})`);
        this.emit({ type: 'flower-node', nodeId: String(res.nodeId), address: this.o.address });
        this.startHeartbeat();
        return;
      } catch (e) {
        const v = toErrorValue(e);
        if (this.work.signal.aborted) throw new FedSegError('CANCELLED', 'site stopped');
        if (v.code === 'PROTOCOL_ERROR' && /could not be activated|No SuperNode found/i.test(v.message))
          throw new FedSegError('AUTH_FAILED', `the Flower SuperLink refused this site's node: ${v.message} (a SuperLink with --enable-supernode-auth needs the site's public key registered by its coordinator)`);
        if (v.code !== 'CONNECTION_FAILED') throw e;
        const tooMany = first && attempt >= (this.o.firstAttempts ?? 3);
        const tooLong = !first && Date.now() - lostAt > (this.o.giveUpAfterMs ?? 15 * 60_000);
        if (tooMany || tooLong) throw new FedSegError('CONNECTION_FAILED', `${v.message}; gave up after ${attempt} attempt(s)`);
        this.emit({ type: 'disconnected', code: 0, reason: v.message, retryInMs: delay });
        await sleep(delay, this.work.signal);
        delay = Math.min(this.o.backoff?.maxMs ?? 30_000, delay * 2);
      }
    }
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      if (this.nodeId === null) return;
      void this.client.call('sendNodeHeartbeat', { node: { nodeId: this.nodeId }, heartbeatInterval: HEARTBEAT_INTERVAL_S }, 5000).catch(() => undefined);
    }, (HEARTBEAT_INTERVAL_S * 1000) / 3);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  private get node() {
    return { nodeId: this.nodeId ?? 0n };
  }

  /** Pull, work, push, until the runs asked for are finished or the site is stopped. */
  private async loop(): Promise<void> {
    let idle = 0;
    let reactivated = false;
    for (;;) {
      if (this.work.signal.aborted) throw new FedSegError('CANCELLED', 'site stopped');
      try {
        if (this.pending) await this.push(this.pending);
        const got = await this.pullOne();
        reactivated = false;
        if (got) {
          idle = 0;
          continue;
        }
        idle++;
        // A run this site worked for that the SuperLink reports as finished ends its participation.
        if (this.workedRun !== null && idle % 5 === 1 && (await this.runFinished(this.workedRun))) {
          this.finishedRuns.add(this.workedRun);
          this.emit({ type: 'finished', rounds: this.lastRound });
          this.workedRun = null;
          const want = this.o.runs ?? 1;
          if (want > 0 && this.finishedRuns.size >= want) return;
        }
        await sleep(this.o.pollMs ?? 1000, this.work.signal);
      } catch (e) {
        const v = toErrorValue(e);
        if (this.work.signal.aborted) throw new FedSegError('CANCELLED', 'site stopped');
        // A SuperLink restarted between two polls has forgotten this node (its state is in memory): one
        // new registration and activation is tried before refused credentials count as final.
        if (v.code === 'AUTH_FAILED' && !reactivated) {
          reactivated = true;
          this.stopHeartbeat();
          await this.connect();
          continue;
        }
        if (v.code !== 'CONNECTION_FAILED') throw e;
        this.stopHeartbeat();
        this.summary.reconnects++;
        this.emit({ type: 'disconnected', code: 0, reason: v.message, retryInMs: this.o.backoff?.initialMs ?? 1000 });
        await sleep(this.o.backoff?.initialMs ?? 1000, this.work.signal);
        await this.connect();
      }
    }
  }

  private async runFinished(runId: bigint): Promise<boolean> {
    try {
      const { res } = await this.client.call('getRun', { node: this.node, runId }, 15_000);
      return res.run?.status?.status === 'finished';
    } catch (e) {
      if (toErrorValue(e).code === 'CONNECTION_FAILED') throw e;
      // A run the SuperLink no longer knows is over for this site too.
      return true;
    }
  }

  private async runInfo(runId: bigint): Promise<RunInfo> {
    const have = this.runs.get(runId);
    if (have) return have;
    const { res, receivedBytes } = await this.client.call('getRun', { node: this.node, runId }, 30_000);
    const config = new Map(Object.entries(res.run?.overrideConfig ?? {}).map(([k, v]) => [k, scalar(v)] as const));
    const nr = config.get('num-server-rounds');
    const info: RunInfo = { runId, config, totalRounds: typeof nr === 'number' && Number.isInteger(nr) && nr >= 0 ? nr : null };
    this.runs.set(runId, info);
    this.audit('in', 'run', receivedBytes, `Flower run ${runId}${res.run?.fabId ? ` of ${res.run.fabId}` : ''}`);
    const strategy = config.get('strategy');
    this.emit({ type: 'flower-run', runId: String(runId), totalRounds: info.totalRounds, strategy: typeof strategy === 'string' ? strategy : null });
    return info;
  }

  /** One message: pulled with its objects, confirmed, worked on; its reply becomes pending. */
  private async pullOne(): Promise<boolean> {
    const { res, receivedBytes } = await this.client.call('pullMessages', { node: this.node }, 30_000);
    const proto = res.messagesList[0];
    const tree = res.messageObjectTrees[0];
    if (!proto || !tree) return false;
    const md = proto.metadata;
    if (!md) throw new FedSegError('PROTOCOL_ERROR', 'the SuperLink sent a message without metadata');
    const runId = md.runId;
    const run = await this.runInfo(runId);
    if (tree.objectId !== md.messageId) throw new FedSegError('PROTOCOL_ERROR', `message ${md.messageId.slice(0, 12)} comes with the object tree of ${tree.objectId.slice(0, 12)}`);
    const ids = treeIds(tree);
    const objects = new Map<string, Uint8Array>();
    const max = this.o.maxPayload ?? 256 * 1024 * 1024;
    let total = 0;
    for (const id of ids) {
      const bytes = await this.pullObject(runId, id);
      total += bytes.length;
      if (total > max) throw new FedSegError('MESSAGE_TOO_LARGE', `a Flower message is larger than this site accepts (${max} bytes)`);
      objects.set(id, bytes);
    }
    await this.client.call('confirmMessageReceived', { node: this.node, runId, messageObjectId: md.messageId }, 30_000);
    let content: RecordDict | null = null;
    let reply: { content: RecordDict } | { error: FlowerError };
    let what = md.messageType;
    try {
      const m = inflateMessage(tree, objects);
      content = m.content;
      this.audit('in', kindOf(md.messageType), receivedBytes + total, `${md.messageType} (round ${md.groupId || '-'}): ${describeContent(content)}`);
      if (!content) throw new FedSegError('PROTOCOL_ERROR', `the ServerApp sent a ${md.messageType} message without content`);
      this.workedRun = runId;
      reply = { content: await this.handle(md, content, run) };
    } catch (e) {
      const v = toErrorValue(e);
      if (v.code === 'CANCELLED' && this.work.signal.aborted) throw e;
      if (v.code === 'POLICY_REFUSED' || v.code === 'CONSENT_REQUIRED') {
        this.summary.refused++;
        this.emit({ type: 'refused', request: md.messageType, code: v.code, message: v.message });
      } else this.emit({ type: 'hub-error', code: v.code, message: `local: ${md.messageType}: ${v.message}` });
      if (!content) this.audit('in', 'malformed', receivedBytes + total, `${md.messageType}: ${v.message}`);
      reply = { error: { code: CLIENT_APP_RAISED_EXCEPTION, reason: `site ${this.o.site} (${v.code}): ${v.message}` } };
      what = `error reply to ${md.messageType}`;
    }
    const now = Date.now() / 1000;
    const metadata = create(MetadataSchema, {
      runId, srcNodeId: this.nodeId ?? 0n, dstNodeId: md.srcNodeId, replyToMessageId: md.messageId, groupId: md.groupId,
      createdAt: now, ttl: Math.max(0.001, md.createdAt + md.ttl - now), messageType: md.messageType,
    });
    const d = 'content' in reply ? deflateMessage(metadata, reply.content) : deflateMessage(metadata, null, reply.error);
    const summary = 'content' in reply ? `${what} reply: ${describeContent(reply.content)}` : what;
    this.pending = { msg: d, metadata, error: 'error' in reply ? reply.error : null, runId, startedAt: Date.now(), summary };
    await this.push(this.pending);
    return true;
  }

  private async pullObject(runId: bigint, objectId: string): Promise<Uint8Array> {
    const until = Date.now() + 120_000;
    for (;;) {
      const { res } = await this.client.call('pullObject', { node: this.node, runId, objectId }, 60_000);
      if (!res.objectFound) throw new FedSegError('PROTOCOL_ERROR', `the SuperLink does not know object ${objectId.slice(0, 12)} of the message`);
      if (res.objectAvailable) return res.objectContent;
      if (Date.now() > until) throw new FedSegError('TIMEOUT', `object ${objectId.slice(0, 12)} did not become available within 2 min`);
      await sleep(250, this.work.signal);
    }
  }

  /** PushMessages (the reply without its content) then PushObject for every object the SuperLink asks for. */
  private async push(p: Pending): Promise<void> {
    const proto = create(MessageSchema, {
      metadata: create(MetadataSchema, { ...p.metadata, messageId: p.msg.id }),
      ...(p.error ? { error: create(ErrorSchema, { code: BigInt(p.error.code), reason: p.error.reason }) } : { content: create(RecordDictSchema, {}) }),
    });
    const { res, sentBytes } = await this.client.call('pushMessages', {
      node: this.node, messagesList: [proto], messageObjectTrees: [p.msg.tree], clientappRuntimeList: [(Date.now() - p.startedAt) / 1000],
    }, 60_000);
    const want = new Set(res.objectsToPush);
    let bytes = sentBytes;
    for (const id of treeIds(p.msg.tree)) {
      if (!want.has(id)) continue;
      const content = p.msg.objects.get(id)!;
      const r = await this.client.call('pushObject', { node: this.node, runId: p.runId, objectId: id, objectContent: content }, 120_000);
      if (!r.res.stored) throw new FedSegError('PROTOCOL_ERROR', `the SuperLink did not store object ${id.slice(0, 12)} of the reply`);
      bytes += r.sentBytes;
    }
    const accepted = Object.values(res.results);
    this.pending = null;
    this.audit('out', p.error ? 'error' : kindOfReply(p.metadata.messageType), bytes, `${p.summary}${accepted.some((x) => x !== 0) ? ' (the SuperLink did not accept it)' : ''}`);
  }

  private keepGlobal(spec: ReturnType<typeof readSpec>, arrays: NamedArray[], round: number, run: RunInfo): void {
    const total = run.totalRounds ?? undefined;
    if (round < 1 || (total !== undefined && round > total)) return;
    try {
      const info = saveGlobalModel(this.o.ledger, {
        spec, arrays, hub: `flower://${this.o.address}`, hubName: 'Flower SuperLink', runKey: `flower://${this.o.address}#${run.runId}`, round, ...(total !== undefined ? { totalRounds: total } : {}),
      });
      if (info) this.emit({ type: 'global-model', round, modelId: info.id });
    } catch (e) {
      if (!isTransientStoreError(e)) throw e;
      this.emit({ type: 'hub-error', code: 'DB_ERROR', message: `local: the store is locked by another process, so the global model of round ${round} was not kept` });
    }
  }

  private async handle(md: Metadata, content: RecordDict, run: RunInfo): Promise<RecordDict> {
    const c = readConfig(content);
    const type = md.messageType;
    const round = num(c, 'server-round', Number(md.groupId) || 0, (x) => Number.isInteger(x) && x >= 0);
    const trainer = this.o.trainer;
    if (type === 'query.describe') {
      const d = trainer.describe?.() ?? null;
      return new Map([
        ['config', configRecord({ client: 'fedseg', site: this.o.site, role: this.role, kinds: trainer.kinds.join(','), ...(d ? { channels: d.channels, height: d.height, width: d.width, classes: d.classes } : {}) })],
        ['metrics', metricsRecord({ 'num-examples': trainer.numSamples() })],
      ]);
    }
    if (type === 'query.init') {
      const no = refuseTraining(this.role, 'init_ins');
      if (no) throw new FedSegError(no.code, no.message);
      const spec = readSpec(c, run.config);
      const seed = num(c, 'seed', 0, Number.isSafeInteger);
      return new Map([['arrays', weightsRecord(await trainer.initWeights(spec, seed))], ['metrics', metricsRecord({ 'num-examples': trainer.numSamples() })]]);
    }
    if (type === 'query.spectra') {
      const ins = {
        kind: 'spectrum_ins' as const, alpha: num(c, 'alpha', 0.003, (x) => x >= 0 && x <= 0.5),
        maxWindows: num(c, 'max-windows', MAX_SPECTRUM_WINDOWS, (x) => Number.isInteger(x) && x >= 1 && x <= MAX_SPECTRUM_WINDOWS),
        maxHalfWidth: num(c, 'max-half-width', 512, (x) => Number.isInteger(x) && x >= 0 && x <= 512),
      };
      const no = refuseSpectrumRequest(this.policy, this.role, ins);
      if (no) throw new FedSegError(no.code, no.message);
      const ws = await trainer.spectrumWindows(ins.alpha, windowBudget(this.policy, ins));
      if (ws.length === 0) throw new FedSegError('INVALID_INPUT', 'this site has no training images to share windows of');
      const tooBig = refuseWindowSize(this.policy, ins, ws[0]!.halfWidth);
      if (tooBig) throw new FedSegError(tooBig.code, tooBig.message);
      const b = ws[0]!.halfWidth;
      this.emit({ type: 'spectrum-sent', count: ws.length, bytes: ws.length * ws[0]!.data.length * 4, channels: ws[0]!.channels, halfWidth: b });
      return new Map([['arrays', { type: 'array', arrays: new Map([['windows', windowsArray(ws)]]) }], ['metrics', metricsRecord({ 'num-examples': trainer.numSamples(), count: ws.length })]]);
    }
    if (type === 'train') {
      const no = refuseTraining(this.role, 'train_ins');
      if (no) throw new FedSegError(no.code, no.message);
      const spec = readSpec(c, run.config);
      const { mode, config } = readTrainConfig(c);
      const global = readWeights(content);
      requireFinite(global);
      const bank = readBank(content);
      const total = num(c, 'total-rounds', run.totalRounds ?? 0, (x) => Number.isInteger(x) && x >= 0);
      if (total > 0) run.totalRounds = total;
      this.lastRound = round;
      if (bank.length) this.emit({ type: 'bank', sources: bank.length, count: bank.reduce((t, g) => t + g.length, 0) });
      this.emit({ type: 'round-start', round: Math.max(1, round), totalRounds: run.totalRounds ?? 0, mode, deadline: md.createdAt > 0 ? Math.round((md.createdAt + md.ttl) * 1000) : null });
      this.keepGlobal(spec, global, round - 1, run);
      const res = await trainer.train({
        round: Math.max(1, round), mode, model: spec, runKey: `flower://${this.o.address}#${run.runId}`, config, global, bank, signal: this.work.signal,
        onProgress: (fraction, note, detail) => this.emit({ type: 'progress', round, fraction: Math.min(1, Math.max(0, fraction)), work: 'train', ...(note ? { note } : {}), ...(detail ? { step: detail.step, steps: detail.steps, losses: detail.losses } : {}) }),
      });
      const weights = inOrderOf(global, res.weights);
      const metrics: Record<string, number> = { ...res.metrics, 'num-examples': res.numSamples };
      if (res.metrics.loss_total !== undefined) metrics.train_loss = res.metrics.loss_total;
      this.summary.roundsTrained++;
      this.summary.lastMetrics = res.metrics;
      const reply: RecordDict = new Map([['arrays', weightsRecord(weights)], ['metrics', metricsRecord(metrics)]]);
      this.emit({ type: 'round-sent', round: Math.max(1, round), bytes: weights.reduce((t, a) => t + a.data.length * 4, 0), resent: false, metrics: res.metrics });
      return reply;
    }
    if (type === 'evaluate') {
      const spec = readSpec(c, run.config);
      const global = readWeights(content);
      requireFinite(global);
      this.lastRound = Math.max(this.lastRound, round);
      this.keepGlobal(spec, global, round, run);
      const res = await trainer.evaluate({
        round, model: spec, global, signal: this.work.signal,
        onProgress: (fraction) => this.emit({ type: 'progress', round, fraction: Math.min(1, Math.max(0, fraction)), work: 'evaluate' }),
      });
      const dice = Object.entries(res.metrics).filter(([k]) => /^dice_c\d+$/.test(k)).map(([, v]) => v);
      const metrics: Record<string, number> = { ...res.metrics, 'num-examples': res.numSamples, ...(dice.length ? { mean_dice: dice.reduce((a, b) => a + b, 0) / dice.length } : {}) };
      this.summary.roundsEvaluated++;
      this.emit({ type: 'evaluated', round, metrics: res.metrics });
      return new Map([['metrics', metricsRecord(metrics)]]);
    }
    throw new FedSegError('UNSUPPORTED', `FedSeg sites answer query.describe, query.init, query.spectra, train and evaluate; not '${type}'`);
  }
}

function requireFinite(arrays: NamedArray[]): void {
  for (const a of arrays) for (let i = 0; i < a.data.length; i++) if (!Number.isFinite(a.data[i]!)) throw new FedSegError('BAD_UPDATE', `the global model holds a non-finite value in '${a.name}'`);
}

function kindOfReply(type: string): string {
  if (type === 'train') return 'weights-update';
  if (type === 'evaluate') return 'evaluation-metrics';
  if (type === 'query.spectra') return 'amplitude-window';
  if (type === 'query.init') return 'initial-model';
  return 'metrics';
}

function kindOf(type: string): string {
  if (type === 'train' || type === 'evaluate') return 'global-model';
  if (type === 'query.spectra') return 'spectrum-request';
  if (type === 'query.init') return 'init-request';
  return 'request';
}
