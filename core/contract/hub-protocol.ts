// The hub <-> site wire protocol (FedDG federated setting, docs/algorithms.md §1-2): versioned,
// `kind`-discriminated messages validated with zod at BOTH ends (this is a trust boundary).
//
// Framing (one WebSocket message = one protocol message):
//  - a message without tensors travels as a TEXT frame holding its JSON;
//  - a message with tensors (weights, amplitude windows) travels as a BINARY frame:
//      "FSE1" | u32 LE headerLength | header JSON (the message) | pad to 4 bytes | weights frame
//    where the weights frame is core/contract/weights.ts's encodeWeights output (small JSON manifest of
//    names/shapes/dtypes + raw little-endian float32/float16 data). Tensors never travel as JSON arrays.
// Every schema is strict (unknown keys are rejected), so a test can prove that nothing beyond what the
// schema names (spectrum windows, weights, counts, metrics) ever goes on the wire.
import { z } from 'zod';
import { FedSegError, type ErrorCode } from './errors.js';
import { ModelKindSchema, ModelSpecSchema } from './model-spec.js';
import { decodeWeights, encodeWeights, type NamedArray, type WireDtype } from './weights.js';

/**
 * 2: Welcome carries a full ModelSpec and the hub's run id; InitIns its seed; TrainIns the time left; GlobalModel.
 * 3: the hub opens with a Challenge; Hello is signed with the site's key pair (the token only enrols
 *    the key, docs/security.md §2); SpectrumIns names the largest window half-width the hub accepts;
 *    Capabilities carry the site's maxPayload; Welcome carries the run's differential-privacy budget.
 */
export const PROTOCOL_VERSION = 3;
/** Default ws maxPayload (bytes) on both ends; the hub advertises its own value in Welcome. */
export const DEFAULT_MAX_PAYLOAD = 64 * 1024 * 1024;
/**
 * The largest amplitude a window may hold (docs/security.md §3): the unnormalised DFT of a 4096x4096
 * image of 8-bit values peaks at 255 * 4096^2 ~ 4.3e9 (the DC term), so anything far above is not an
 * image's spectrum. The hub refuses uploads past it; a site drops received windows past it.
 */
export const MAX_WINDOW_AMPLITUDE = 1e12;
/** The most amplitude windows a hub asks one site for (spectrum_ins maxWindows). */
export const MAX_SPECTRUM_WINDOWS = 100000;
/** WebSocket close codes FedSeg uses (4000-4999 is the application range). */
export const CLOSE = {
  normal: 1000,
  tooLarge: 1009,
  authFailed: 4001,
  versionMismatch: 4002,
  protocolError: 4003,
  duplicate: 4004,
  finished: 4005,
  shutdown: 4006,
} as const;

const SiteName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'site names are 1-64 chars of [A-Za-z0-9_.-]');
const Int = z.number().int();
const NonNeg = Int.nonnegative();
/** Metrics are finite numbers by name (zod numbers reject NaN/Infinity). */
const Metrics = z.record(z.string().regex(/^[A-Za-z0-9_./-]{1,64}$/), z.number()).refine((m) => Object.keys(m).length <= 256, 'too many metrics');
export const TrainModeSchema = z.enum(['fedavg', 'elcfs']);
export type TrainMode = z.infer<typeof TrainModeSchema>;
export const SiteRoleSchema = z.enum(['train', 'eval']);
export type SiteRole = z.infer<typeof SiteRoleSchema>;

export const CapabilitiesSchema = z.strictObject({
  backend: z.string().max(64),
  modes: z.array(TrainModeSchema).max(4),
  /** Network kinds this site can build (core/models/registry.ts). */
  kinds: z.array(ModelKindSchema).max(16),
  float16: z.boolean(),
  role: SiteRoleSchema,
  /** The largest message this site accepts (bytes); the hub keeps what it sends this site below it. */
  maxPayload: Int.positive().optional(),
  /**
   * A connection test (the app's Test connection): the hub authenticates it and answers with its
   * Welcome, then closes it. It never takes part: it holds no place under the site's name (the site's
   * own connection is neither refused nor replaced because of it), and is never asked for windows,
   * the initial model or an update.
   */
  probe: z.literal(true).optional(),
});
export type Capabilities = z.infer<typeof CapabilitiesSchema>;

/** Identifies one federated run of a hub (random, kept in the hub's state across restarts). */
export const RunIdSchema = z.string().regex(/^[0-9a-f]{16,64}$/);

/** Local training hyper-parameters the hub hands every site (docs/algorithms.md §1 reference values by default). */
export const TrainConfigSchema = z.strictObject({
  localEpochs: Int.min(1).max(1000),
  batchSize: Int.min(1).max(4096),
  lr: z.number().positive(),
  /** CFSI window fraction alpha (docs/algorithms.md §2); b = max(1, floor(min(H,W) * alpha)). */
  alpha: z.number().min(0).max(0.5),
  /** Upper bound on steps per local epoch (0 = no bound), to keep demos short. */
  maxStepsPerEpoch: NonNeg,
  /**
   * Share of its training images a site holds out as a validation split and reports the validation loss
   * of the received global model and of its local model on (val_loss_global / val_loss_local metrics;
   * FedDG-GA, docs/feddg-ga.md §2). Absent or 0: no split.
   */
  valFraction: z.number().min(0).max(0.5).optional(),
});
export type TrainConfig = z.infer<typeof TrainConfigSchema>;

/** An Ed25519 public key (32 raw bytes) and signature (64 raw bytes), base64. */
const PublicKeyB64 = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'an Ed25519 public key is 32 bytes of base64');
const SignatureB64 = z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'an Ed25519 signature is 64 bytes of base64');
export const NONCE_RE = /^[0-9a-f]{64}$/;
/** Hub -> site, first message on every connection: the nonce the site signs in its Hello (no replay). */
const Challenge = z.strictObject({ kind: z.literal('challenge'), protocol: Int, nonce: z.string().regex(NONCE_RE) });
const Hello = z.strictObject({
  kind: z.literal('hello'),
  protocol: Int,
  site: SiteName,
  /** The enrolment token: needed only until the hub has bound this site's public key. */
  token: z.string().min(1).max(256).optional(),
  /** The site's public key and its signature of helloSigningPayload(nonce, site, publicKey, role). */
  identity: z.strictObject({ publicKey: PublicKeyB64, signature: SignatureB64 }),
  capabilities: CapabilitiesSchema,
  /** The round the site was working on before a drop or a crash (rejoin). */
  resumeRound: NonNeg.optional(),
});
/** A run's site-level differential-privacy budget (docs/security.md §8): the mechanism and its epsilon. */
export const PrivacyBudgetSchema = z.strictObject({
  mechanism: z.literal('gaussian'),
  noiseMultiplier: z.number().positive(),
  clipNorm: z.number().positive(),
  delta: z.number().positive().max(1),
  epsilonPerRound: z.number().nonnegative(),
  /** After all the run's rounds. */
  epsilonTotal: z.number().nonnegative(),
});
const Welcome = z.strictObject({
  kind: z.literal('welcome'),
  protocol: Int,
  hub: z.string().max(128),
  runId: RunIdSchema,
  mode: TrainModeSchema,
  round: NonNeg,
  totalRounds: NonNeg,
  model: ModelSpecSchema,
  train: TrainConfigSchema,
  maxPayload: Int.positive(),
  wireDtype: z.enum(['float32', 'float16']),
  heartbeatMs: Int.positive(),
  /** true when the hub still needs this site's spectrum windows. */
  spectrumNeeded: z.boolean(),
  /** Site-level differential privacy of this run (docs/security.md §8), when the hub adds noise. */
  privacy: PrivacyBudgetSchema.optional(),
});
const ErrorMsg = z.strictObject({
  kind: z.literal('error'),
  code: z.string().regex(/^[A-Z_]{2,40}$/),
  message: z.string().max(2000),
  round: NonNeg.optional(),
});
const Bye = z.strictObject({
  kind: z.literal('bye'),
  reason: z.enum(['finished', 'shutdown', 'leaving']),
  message: z.string().max(2000).optional(),
});
const Heartbeat = z.strictObject({
  kind: z.literal('heartbeat'),
  t: z.number(),
  round: NonNeg.optional(),
  /** Local progress 0..1 of the current work (for the hub's status page). */
  progress: z.number().min(0).max(1).optional(),
});
/** Hub -> one site: build the Welcome's model, initialised from `seed`, and send its weights (one global init). */
const InitIns = z.strictObject({ kind: z.literal('init_ins'), seed: Int });
const InitRes = z.strictObject({ kind: z.literal('init_res') });
/** Hub -> site: send your amplitude windows (docs/algorithms.md §2: the (2b+1)^2 x C window only). */
const SpectrumIns = z.strictObject({
  kind: z.literal('spectrum_ins'),
  alpha: z.number().min(0).max(0.5),
  maxWindows: Int.min(1).max(MAX_SPECTRUM_WINDOWS),
  /** The largest window half-width b the hub stores; larger windows are refused (docs/security.md §3). */
  maxHalfWidth: NonNeg.max(512),
});
/** Attachment: one entry per image, name `w/<i>`, shape [C, 2b+1, 2b+1]. */
const SpectrumRes = z.strictObject({ kind: z.literal('spectrum_res'), count: Int.min(1), channels: Int.min(1).max(64), halfWidth: NonNeg.max(512) });
/** Attachment: entries `s<source>/<i>`; sources are anonymous indices, never the recipient, never an eval site. */
const SpectrumBank = z.strictObject({ kind: z.literal('spectrum_bank'), sources: NonNeg, count: NonNeg, version: NonNeg });
/** Attachment: the global weights by name. */
const TrainIns = z.strictObject({
  kind: z.literal('train_ins'),
  round: Int.min(1),
  mode: TrainModeSchema,
  /** sha-256 (hex) of the global weights frame, so a site that already trained from it can resend. */
  globalHash: z.string().regex(/^[0-9a-f]{64}$/),
  /** The round's deadline on the hub's clock (ms since the epoch), for display. */
  deadline: z.number(),
  /** Time left until the deadline when the hub sent this (clock-independent; the site stops when it runs out). */
  timeLeftMs: NonNeg,
});
/** Attachment: the locally trained weights by name. */
const TrainRes = z.strictObject({ kind: z.literal('train_res'), round: Int.min(1), globalHash: z.string().regex(/^[0-9a-f]{64}$/), numSamples: Int.min(1), metrics: Metrics });
/** Attachment: the global model of `round`, sent to every site when the run finishes (final = true). */
const GlobalModel = z.strictObject({ kind: z.literal('global_model'), round: NonNeg, final: z.boolean() });
/** Attachment: the weights to evaluate. */
const EvaluateIns = z.strictObject({ kind: z.literal('evaluate_ins'), round: NonNeg });
const EvaluateRes = z.strictObject({ kind: z.literal('evaluate_res'), round: NonNeg, numSamples: NonNeg, metrics: Metrics });

export const HubMessageSchema = z.discriminatedUnion('kind', [
  Challenge, Hello, Welcome, ErrorMsg, Bye, Heartbeat, InitIns, InitRes, SpectrumIns, SpectrumRes, SpectrumBank, TrainIns, TrainRes, EvaluateIns, EvaluateRes, GlobalModel,
]);
export type HubMessage = z.infer<typeof HubMessageSchema>;
/** The Welcome on its own (the site's 'connected' event carries it). */
export const WelcomeSchema = Welcome;
export type MessageKind = HubMessage['kind'];
export type MessageOf<K extends MessageKind> = Extract<HubMessage, { kind: K }>;
export type HelloMsg = MessageOf<'hello'>;
export type ChallengeMsg = MessageOf<'challenge'>;
export type PrivacyBudget = NonNullable<WelcomeMsg['privacy']>;
export type WelcomeMsg = MessageOf<'welcome'>;
export type TrainInsMsg = MessageOf<'train_ins'>;
export type TrainResMsg = MessageOf<'train_res'>;

/** Kinds that carry a tensor attachment (binary frame) — and only these may. */
export const ATTACHMENT_KINDS: ReadonlySet<MessageKind> = new Set<MessageKind>([
  'init_res', 'spectrum_res', 'spectrum_bank', 'train_ins', 'train_res', 'evaluate_ins', 'global_model',
]);
/** Who may send what. */
export const SITE_TO_HUB: ReadonlySet<MessageKind> = new Set<MessageKind>(['hello', 'heartbeat', 'init_res', 'spectrum_res', 'train_res', 'evaluate_res', 'error', 'bye']);
export const HUB_TO_SITE: ReadonlySet<MessageKind> = new Set<MessageKind>([
  'challenge', 'welcome', 'error', 'bye', 'heartbeat', 'init_ins', 'spectrum_ins', 'spectrum_bank', 'train_ins', 'evaluate_ins', 'global_model',
]);

export interface DecodedFrame {
  msg: HubMessage;
  /** Present exactly when the message kind carries tensors. */
  arrays?: NamedArray[];
  /** The raw weights-frame bytes (for hashing / storing without re-encoding). */
  attachment?: Uint8Array;
  bytes: number;
}

const MAGIC = 0x31455346; // "FSE1" little-endian
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Encode a message; `weights` is either named arrays or an already encoded weights frame. */
export function encodeMessage(
  msg: HubMessage,
  weights?: NamedArray[] | Uint8Array,
  opts: { dtype?: WireDtype } = {},
): { data: Uint8Array | string; binary: boolean; bytes: number } {
  const checked = HubMessageSchema.safeParse(msg);
  if (!checked.success) throw new FedSegError('PROTOCOL_ERROR', `refusing to send an invalid '${msg.kind}' message: ${checked.error.issues[0]?.message ?? 'invalid'}`);
  const needs = ATTACHMENT_KINDS.has(msg.kind);
  if (needs !== (weights !== undefined))
    throw new FedSegError('PROTOCOL_ERROR', `'${msg.kind}' ${needs ? 'needs' : 'must not carry'} a tensor attachment`);
  const json = JSON.stringify(msg);
  if (!weights) return { data: json, binary: false, bytes: enc.encode(json).byteLength };
  const frame = weights instanceof Uint8Array ? weights : encodeWeights(weights, { dtype: opts.dtype ?? 'float32' });
  const head = enc.encode(json);
  const headLen = 8 + Math.ceil(head.length / 4) * 4;
  const out = new Uint8Array(headLen + frame.byteLength);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, head.length, true);
  out.set(head, 8);
  out.set(frame, headLen);
  return { data: out, binary: true, bytes: out.byteLength };
}

export interface DecodeOptions {
  /** Largest number of tensor values accepted in one attachment. */
  maxValues?: number;
  /** Which direction this end accepts (a hub accepts SITE_TO_HUB, a site HUB_TO_SITE). */
  accept?: ReadonlySet<MessageKind>;
}

function protocolError(m: string): FedSegError {
  return new FedSegError('PROTOCOL_ERROR', `malformed message: ${m}`);
}

/** Decode and validate one WebSocket message (text or binary). Throws FedSegError('PROTOCOL_ERROR'). */
export function decodeMessage(data: Uint8Array | string, binary: boolean, opts: DecodeOptions = {}): DecodedFrame {
  let json: string;
  let attachment: Uint8Array | undefined;
  const bytes = typeof data === 'string' ? enc.encode(data).byteLength : data.byteLength;
  if (!binary) {
    json = typeof data === 'string' ? data : safeUtf8(data);
  } else {
    if (typeof data === 'string') throw protocolError('binary frame expected');
    if (data.byteLength < 8) throw protocolError('binary frame shorter than its header');
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (dv.getUint32(0, true) !== MAGIC) throw protocolError('binary frame has a bad magic number');
    const hlen = dv.getUint32(4, true);
    if (hlen > 65536 || 8 + hlen > data.byteLength) throw protocolError('binary frame header length out of range');
    json = safeUtf8(data.subarray(8, 8 + hlen));
    attachment = data.subarray(8 + Math.ceil(hlen / 4) * 4);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw protocolError('not valid JSON');
  }
  const parsed = HubMessageSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const kind = typeof raw === 'object' && raw !== null && 'kind' in raw ? String((raw as { kind: unknown }).kind).slice(0, 40) : '?';
    throw protocolError(`'${kind}': ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`);
  }
  const msg = parsed.data;
  if (opts.accept && !opts.accept.has(msg.kind)) throw protocolError(`'${msg.kind}' is not accepted in this direction`);
  const needs = ATTACHMENT_KINDS.has(msg.kind);
  if (needs && !attachment) throw protocolError(`'${msg.kind}' must be a binary frame with a tensor attachment`);
  if (!needs && attachment) throw protocolError(`'${msg.kind}' must not carry a tensor attachment`);
  if (!attachment) return { msg, bytes };
  const { arrays, meta } = decodeWeights(attachment, { maxValues: opts.maxValues ?? 1 << 27, maxManifestBytes: 1 << 20 });
  if (meta !== undefined) throw protocolError('tensor attachments carry no metadata');
  return { msg, arrays, attachment, bytes };
}

function safeUtf8(b: Uint8Array): string {
  try {
    return dec.decode(b);
  } catch {
    throw protocolError('not valid UTF-8');
  }
}

/** The error value carried by an Error message, typed. */
export function errorFromMessage(m: MessageOf<'error'>): FedSegError {
  return new FedSegError(m.code as ErrorCode, m.message);
}

/** Standard attachment entry names. */
export const windowEntryName = (i: number) => `w/${i}`;
export const bankEntryName = (source: number, i: number) => `s${source}/${i}`;
export const BANK_ENTRY_RE = /^s(\d{1,4})\/(\d{1,6})$/;
export const WINDOW_ENTRY_RE = /^w\/(\d{1,6})$/;

/** What a site signs in its Hello: binds the signature to this connection's nonce, the name, the key and the role. */
export function helloSigningPayload(nonce: string, site: string, publicKey: string, role: SiteRole): Uint8Array {
  return enc.encode(`fedseg-hello\n${PROTOCOL_VERSION}\n${nonce}\n${site}\n${publicKey}\n${role}`);
}

/**
 * The kind of a message without decoding it: the JSON of a text frame, or only the small header of a
 * binary one (never its attachment). null when the frame is not even that. Lets a receiver refuse a
 * message that is not allowed in its state before paying for decoding its tensors.
 */
export function peekKind(data: Uint8Array | string, binary: boolean): string | null {
  try {
    let head: string;
    if (!binary) head = typeof data === 'string' ? data : dec.decode(data);
    else {
      if (typeof data === 'string' || data.byteLength < 8) return null;
      const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
      if (dv.getUint32(0, true) !== MAGIC) return null;
      const hlen = dv.getUint32(4, true);
      if (hlen > 65536 || 8 + hlen > data.byteLength) return null;
      head = dec.decode(data.subarray(8, 8 + hlen));
    }
    if (head.length > 1 << 20) return null;
    const v = JSON.parse(head) as unknown;
    return typeof v === 'object' && v !== null && typeof (v as { kind?: unknown }).kind === 'string' ? (v as { kind: string }).kind.slice(0, 40) : null;
  } catch {
    return null;
  }
}
