// The site's side of the spectrum exchange (docs/algorithms.md §2): its amplitude windows as the
// upload's named arrays (w/<i>, [C, 2b+1, 2b+1], all the same size), and the bank it receives parsed
// back into windows grouped by (anonymous) source site.
import { FedSegError } from '../contract/errors.js';
import { BANK_ENTRY_RE, windowEntryName } from '../contract/hub-protocol.js';
import type { NamedArray } from '../contract/weights.js';
import type { SpectrumWindow } from './trainer.js';

export function spectrumUpload(wins: SpectrumWindow[]): { arrays: NamedArray[]; channels: number; halfWidth: number } {
  if (wins.length === 0) throw new FedSegError('INVALID_INPUT', 'this site has no training images to share spectra of');
  const { channels, halfWidth } = wins[0]!;
  const side = 2 * halfWidth + 1;
  const arrays = wins.map((w, i) => {
    if (w.channels !== channels || w.halfWidth !== halfWidth) throw new FedSegError('SHAPE_MISMATCH', 'amplitude windows differ in size');
    return { name: windowEntryName(i), shape: [channels, side, side], data: w.data };
  });
  return { arrays, channels, halfWidth };
}

export function parseBank(arrays: NamedArray[]): SpectrumWindow[][] {
  const groups = new Map<number, SpectrumWindow[]>();
  for (const a of arrays) {
    const mm = BANK_ENTRY_RE.exec(a.name);
    if (!mm || a.shape.length !== 3) throw new FedSegError('PROTOCOL_ERROR', `bad spectrum bank entry '${a.name}'`);
    const src = Number(mm[1]);
    if (!groups.has(src)) groups.set(src, []);
    groups.get(src)!.push({ channels: a.shape[0]!, halfWidth: (a.shape[1]! - 1) / 2, data: a.data });
  }
  return [...groups.values()];
}
