// Spectrum bank (FedDG §3.1 / docs/algorithms.md §2): sites share only the low-frequency amplitude WINDOW of
// each training image; the hub redistributes them so every site can interpolate towards the amplitude
// distributions of the OTHER source sites. A recipient never gets its own windows back and never an
// eval (unseen) site's windows (those are never stored: see HubState.listSpectra). Sources are renumbered
// per recipient (s0, s1, ...), so the bank does not name the sites, and every source contributes the
// same number of windows (subsampled evenly or repeated), so the bank's size says nothing about how many
// images any site has (docs/security.md §3). The bank sent to a site is kept below the largest message
// that site accepts.
import { FedSegError } from '../core/contract/errors.js';
import { bankEntryName, MAX_WINDOW_AMPLITUDE, WINDOW_ENTRY_RE } from '../core/contract/hub-protocol.js';
import { decodeWeights, type NamedArray } from '../core/contract/weights.js';

/** What the hub asked a site for and what the run's model takes (docs/security.md §3). */
export interface WindowRules {
  channels: number;
  maxHalfWidth: number;
  maxWindows: number;
}

/**
 * Validates a site's spectrum upload: `count` entries w/0..w/(count-1), shape [C, 2b+1, 2b+1] with C
 * the model's input channels and b at most what the hub asked for, every amplitude finite, >= 0 and
 * at most MAX_WINDOW_AMPLITUDE.
 */
export function checkWindows(arrays: NamedArray[], count: number, channels: number, halfWidth: number, rules: WindowRules): void {
  const side = 2 * halfWidth + 1;
  if (channels !== rules.channels)
    throw new FedSegError('BAD_UPDATE', `spectrum upload has ${channels} channel(s); this run's model takes ${rules.channels} (windows of other images cannot be interpolated)`);
  if (halfWidth > rules.maxHalfWidth)
    throw new FedSegError('BAD_UPDATE', `spectrum upload has half-width ${halfWidth}; the hub asked for at most ${rules.maxHalfWidth} (low-frequency windows only)`);
  if (count > rules.maxWindows) throw new FedSegError('BAD_UPDATE', `spectrum upload holds ${count} windows; at most ${rules.maxWindows} are accepted`);
  if (arrays.length !== count) throw new FedSegError('BAD_UPDATE', `spectrum upload announces ${count} windows but carries ${arrays.length}`);
  const seen = new Set<number>();
  for (const a of arrays) {
    const m = WINDOW_ENTRY_RE.exec(a.name);
    if (!m) throw new FedSegError('BAD_UPDATE', `spectrum entry '${a.name}' is not named w/<index>`);
    const i = Number(m[1]);
    if (i >= count || seen.has(i)) throw new FedSegError('BAD_UPDATE', `spectrum entry '${a.name}' is out of range or repeated`);
    seen.add(i);
    if (a.shape.length !== 3 || a.shape[0] !== channels || a.shape[1] !== side || a.shape[2] !== side)
      throw new FedSegError('BAD_UPDATE', `spectrum entry '${a.name}' has shape [${a.shape}], expected [${channels},${side},${side}] (amplitude windows only)`);
    for (const v of a.data) if (!Number.isFinite(v) || v < 0 || v > MAX_WINDOW_AMPLITUDE) throw new FedSegError('BAD_UPDATE', `spectrum entry '${a.name}' holds an invalid amplitude (${v})`);
  }
}

/** Exactly `k` of n indices: evenly spaced when n >= k, every index in turn (repeated) when n < k; all n when k = 0. */
export function evenPick(n: number, k: number): number[] {
  if (k <= 0) return Array.from({ length: n }, (_, i) => i);
  if (n === 0) return [];
  return Array.from({ length: k }, (_, i) => (n >= k ? Math.floor((i * n) / k) : i % n));
}

/** Bytes of one bank entry on the wire (float32 data, its manifest entry, frame header share). */
const entryBytes = (w: NamedArray) => w.data.length * 4 + 96;

/**
 * Builds the bank for `recipient` from the stored uploads of the other train sites: `perSource`
 * windows from each (0 = all of them), fewer for every source alike when the bank would not fit in
 * `maxBytes` (the recipient's message limit with headroom). Sources keep the stored order, renumbered
 * from 0 per recipient.
 */
export function buildBank(recipient: string, stored: { site: string; windows: Uint8Array }[], perSource = 0, maxBytes = Infinity): { arrays: NamedArray[]; sources: string[]; perSource: number } {
  const others = stored.filter((s) => s.site !== recipient).map((s) => ({ site: s.site, ws: decodeWeights(s.windows).arrays }));
  let k = perSource;
  const bytesFor = (kk: number) => others.reduce((t, o) => t + (kk > 0 ? kk : o.ws.length) * (o.ws[0] ? entryBytes(o.ws[0]) : 0), 4096);
  if (bytesFor(k) > maxBytes) {
    const per = others.reduce((t, o) => t + (o.ws[0] ? entryBytes(o.ws[0]) : 0), 0);
    k = Math.max(1, Math.floor((maxBytes - 4096) / Math.max(1, per)));
  }
  const arrays: NamedArray[] = [];
  const sources: string[] = [];
  for (const o of others) {
    const src = sources.length;
    sources.push(o.site);
    evenPick(o.ws.length, k).forEach((i, j) => {
      const w = o.ws[i]!;
      arrays.push({ name: bankEntryName(src, j), shape: w.shape, data: w.data });
    });
  }
  return { arrays, sources, perSource: k };
}
