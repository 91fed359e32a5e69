// Plain words for the site's sharing policy (docs/security.md §3) and the hub's privacy noise
// (docs/security.md §8), for the Federation and Outbox pages: what each limit means, whether the saved
// hub's request will be refused, what a refusal reported by the engine says, and the checks a typed
// limit must pass before it is saved (the same bounds as core/contract/site-policy.ts, so an operator
// hears about a bad number next to its field instead of from the engine).
import type { HubInfo } from '../../../core/contract/app-api.js';
import type { SitePolicy } from '../../../core/contract/site-policy.js';

export type PolicyLimits = Pick<SitePolicy, 'maxAlpha' | 'maxHalfWidth' | 'maxWindows'>;

/** "9 x 9": the side of a window of half-width b. */
export function windowSide(halfWidth: number): string {
  const s = 2 * halfWidth + 1;
  return `${s} x ${s}`;
}

/** The meaning of each limit, in words. */
export function limitWords(p: PolicyLimits): { alpha: string; halfWidth: string; windows: string } {
  return {
    alpha: `windows of at most ${formatPercent(p.maxAlpha)} of the image side (alpha ${p.maxAlpha})`,
    halfWidth: `largest window: ${windowSide(p.maxHalfWidth)} values per channel`,
    windows: `at most ${p.maxWindows.toLocaleString('en-US')} window${p.maxWindows === 1 ? '' : 's'} (one per training image)`,
  };
}

function formatPercent(x: number): string {
  return `${Number((x * 100).toPrecision(3))} %`;
}

/** A number for an operator: three significant digits, no exponent below 1e-3 turned into noise. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && Math.abs(x) < 1e-3) return Number(x.toPrecision(2)).toExponential();
  if (Math.abs(x) >= 100) return x.toFixed(0);
  return String(Number(x.toPrecision(3)));
}

/** Whether, and how much, the hub adds differential-privacy noise (HubInfo.privacy). */
export function privacyWords(p: HubInfo['privacy'] | undefined): string {
  if (!p) return 'This hub does not add privacy noise.';
  return `This hub adds noise for differential privacy: epsilon ${formatNumber(p.epsilonPerRound)} per round, ${formatNumber(p.epsilonTotal)} in total (delta ${formatNumber(p.delta)}).`;
}

/**
 * What the saved hub's request for windows will meet, before joining: null when the hub asks for none
 * or the policy allows its alpha (the window size is checked once the images are known: the Outbox
 * preview does that).
 */
export function hubRequestNote(hub: HubInfo | null, policy: Pick<SitePolicy, 'shareSpectra' | 'maxAlpha'>): { kind: 'consent' | 'alpha'; text: string } | null {
  if (!hub || !hub.sharesWindows) return null;
  if (!policy.shareSpectra)
    return {
      kind: 'consent',
      text: `The hub “${hub.name}” (${hub.strategy}) asks every site for its amplitude windows. Without your consent this site refuses them, and it will not take part in this federation until it consents.`,
    };
  if (hub.alpha > policy.maxAlpha)
    return {
      kind: 'alpha',
      text: `The hub “${hub.name}” asks for windows at alpha ${hub.alpha}; this site allows at most ${policy.maxAlpha}, so it will refuse them and not take part until the limit is raised.`,
    };
  return null;
}

const REQUESTS: [RegExp, string][] = [
  [/^spectrum_ins\b/, 'request for amplitude windows'],
  [/^train_ins\b/, 'request to train'],
  [/^init_ins\b/, 'request to build the initial model'],
];

/** A refusal in the engine's status message ("refused the hub's <request>: <why>"), in words; null if it is none. */
export function refusalFrom(message: string): { request: string; why: string; windows: boolean } | null {
  const m = /^refused the hub's (\S+)(?: \(([^)]*)\))?[^:]*: ([\s\S]+)$/.exec(message.trim());
  if (!m) return null;
  const [, kind, detail, why] = m as unknown as [string, string, string | undefined, string];
  const named = REQUESTS.find(([re]) => re.test(kind))?.[1] ?? `request '${kind}'`;
  return { request: detail ? `${named} (${detail})` : named, why, windows: kind === 'spectrum_ins' };
}

export type LimitField = keyof PolicyLimits;
export type LimitsCheck = { ok: true; value: PolicyLimits } | { ok: false; errors: Partial<Record<LimitField, string>> };

/** MAX_SPECTRUM_WINDOWS of core/contract/hub-protocol.ts, kept here so the page does not bundle the wire schemas (the test checks they agree). */
const MAX_WINDOWS = 100000;

/** The bounds of SitePolicySchema (core/contract/site-policy.ts); the test checks them against it. */
export const LIMIT_BOUNDS: Record<LimitField, { name: string; min: number; max: number; integer: boolean }> = {
  maxAlpha: { name: 'The window fraction (alpha)', min: 0, max: 0.5, integer: false },
  maxHalfWidth: { name: 'The window half-width', min: 0, max: 64, integer: true },
  maxWindows: { name: 'The number of windows', min: 1, max: MAX_WINDOWS, integer: true },
};

/** Checks typed limits (a number input gives a number, or null/undefined/'' when empty or not a number). */
export function checkLimits(raw: Record<LimitField, unknown>): LimitsCheck {
  const errors: Partial<Record<LimitField, string>> = {};
  const value: Partial<PolicyLimits> = {};
  for (const k of Object.keys(LIMIT_BOUNDS) as LimitField[]) {
    const b = LIMIT_BOUNDS[k];
    const v = raw[k];
    const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(n)) errors[k] = `${b.name} must be a number.`;
    else if (b.integer && !Number.isInteger(n)) errors[k] = `${b.name} must be a whole number.`;
    else if (n < b.min || n > b.max) errors[k] = `${b.name} must be between ${b.min} and ${b.max.toLocaleString('en-US')}.`;
    else value[k] = n;
  }
  return Object.keys(errors).length ? { ok: false, errors } : { ok: true, value: value as PolicyLimits };
}

/** When consent was given, for the record ("given on ..."), in the operator's locale. */
export function consentDate(iso: string | null): string | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(t).toLocaleString() : iso;
}
