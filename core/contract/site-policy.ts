// The site's own privacy policy (docs/security.md §3): what this hospital lets leave, whatever a hub
// asks. A hub (or anyone posing as one) can ask for any window fraction and any number of windows; the
// site shares amplitude windows only after its operator consented, only up to its own half-width,
// alpha and count limits, and an unseen (eval) site shares no spectra and trains nothing. A refused
// request is answered with an error to the hub, written to the site's audit log and shown to the
// operator. One schema for the app, the CLI and the site client.
import { z } from 'zod';
import type { ErrorCode } from './errors.js';
import { MAX_SPECTRUM_WINDOWS, type MessageOf, type SiteRole } from './hub-protocol.js';

const Int = z.number().int();

export const SitePolicySchema = z.strictObject({
  /** The operator's consent to share amplitude windows at all (off until given). */
  shareSpectra: z.boolean(),
  /** When the consent was given (ISO 8601), for the record; null without consent. */
  consentedAt: z.string().max(40).nullable(),
  /** The largest window fraction alpha this site accepts (docs/algorithms.md §2). */
  maxAlpha: z.number().min(0).max(0.5),
  /** The largest window half-width b: a window is (2b+1)^2 values per channel. */
  maxHalfWidth: Int.min(0).max(64),
  /** The most windows (one per training image) this site shares. */
  maxWindows: Int.min(1).max(MAX_SPECTRUM_WINDOWS),
});
export type SitePolicy = z.infer<typeof SitePolicySchema>;

/**
 * Defaults: no consent; alpha up to 0.05 and b up to 4 (a 9x9 window, 81 of a 384x384 image's 147,456
 * frequencies per channel: the protocol's low-frequency promise with room for larger images), at most
 * 10,000 windows.
 */
export const DEFAULT_SITE_POLICY: SitePolicy = { shareSpectra: false, consentedAt: null, maxAlpha: 0.05, maxHalfWidth: 4, maxWindows: 10000 };

export interface Refusal {
  code: ErrorCode;
  message: string;
}

/** Whether a spectrum request may be served at all; null = yes (the window size is checked once computed). */
export function refuseSpectrumRequest(policy: SitePolicy, role: SiteRole, ins: MessageOf<'spectrum_ins'>): Refusal | null {
  if (role === 'eval') return { code: 'POLICY_REFUSED', message: 'this is an unseen (eval) site: it shares no amplitude windows' };
  if (!policy.shareSpectra) return { code: 'CONSENT_REQUIRED', message: 'the operator of this site has not agreed to share amplitude windows (Federation settings, or fedseg site --share-spectra)' };
  if (ins.alpha > policy.maxAlpha) return { code: 'POLICY_REFUSED', message: `the hub asked for windows at alpha ${ins.alpha}; this site's policy allows at most ${policy.maxAlpha}` };
  return null;
}

/** Whether windows of half-width b computed for the request may leave; null = yes. */
export function refuseWindowSize(policy: SitePolicy, ins: MessageOf<'spectrum_ins'>, halfWidth: number): Refusal | null {
  const side = 2 * halfWidth + 1;
  if (halfWidth > policy.maxHalfWidth)
    return { code: 'POLICY_REFUSED', message: `at alpha ${ins.alpha} this site's images give ${side}x${side} windows; its policy allows at most ${2 * policy.maxHalfWidth + 1}x${2 * policy.maxHalfWidth + 1}` };
  if (halfWidth > ins.maxHalfWidth)
    return { code: 'POLICY_REFUSED', message: `at alpha ${ins.alpha} this site's images give ${side}x${side} windows; the hub accepts at most ${2 * ins.maxHalfWidth + 1}x${2 * ins.maxHalfWidth + 1}` };
  return null;
}

/** How many windows to share: the smaller of the hub's ask and the policy. */
export function windowBudget(policy: SitePolicy, ins: MessageOf<'spectrum_ins'>): number {
  return Math.min(policy.maxWindows, ins.maxWindows);
}

/** An unseen site's data is held out: it never trains on it nor builds the initial model. */
export function refuseTraining(role: SiteRole, what: 'train_ins' | 'init_ins'): Refusal | null {
  if (role !== 'eval') return null;
  return { code: 'POLICY_REFUSED', message: `this is an unseen (eval) site: it does not ${what === 'train_ins' ? 'train on its held-out data' : 'build models'}; it only evaluates` };
}
