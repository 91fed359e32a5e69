// Spectrum bank (FedDG §3.1 / docs/algorithms.md §2): sites share only the low-frequency amplitude WINDOW of
// each training image; the hub redistributes them so every site can interpolate towards the amplitude
// distributions of the OTHER source sites. A recipient never gets its own windows back and never an
// eval (unseen) site's windows (those are never stored: see HubState.listSpectra). Sources are renumbered
// per recipient (s0, s1, ...), so the bank does not name the sites.
import { FedSegError } from '../core/contract/errors.js';
import { bankEntryName, WINDOW_ENTRY_RE } from '../core/contract/hub-protocol.js';
import { decodeWeights, type NamedArray } from '../core/contract/weights.js';

/** Validates a site's spectrum upload: `count` entries w/0..w/(count-1), shape [C, 2b+1, 2b+1], finite, >= 0. */
export function checkWindows(arrays: NamedArray[], count: number, channels: number, halfWidth: number, maxWindows: number): void {
  const side = 2 * halfWidth + 1;
  if (count > maxWindows) throw new FedSegError('BAD_UPDATE', `spectrum upload holds ${count} windows; at most ${maxWindows} are accepted`);
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
    for (const v of a.data) if (!Number.isFinite(v) || v < 0) throw new FedSegError('BAD_UPDATE', `spectrum entry '${a.name}' holds an invalid amplitude (${v})`);
  }
}

/** Picks at most `max` of n indices, evenly spaced (0 = all). */
function subset(n: number, max: number): number[] {
  if (max <= 0 || n <= max) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: max }, (_, i) => Math.floor((i * n) / max));
}

/** Builds the bank for `recipient` from the stored uploads of the other train sites. */
export function buildBank(recipient: string, stored: { site: string; windows: Uint8Array }[], maxPerSite = 0): { arrays: NamedArray[]; sources: string[] } {
  const arrays: NamedArray[] = [];
  const sources: string[] = [];
  for (const s of stored) {
    if (s.site === recipient) continue;
    const src = sources.length;
    sources.push(s.site);
    const ws = decodeWeights(s.windows).arrays;
    subset(ws.length, maxPerSite).forEach((i, j) => {
      const w = ws[i]!;
      arrays.push({ name: bankEntryName(src, j), shape: w.shape, data: w.data });
    });
  }
  return { arrays, sources };
}
