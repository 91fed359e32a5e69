// Frequency-space views of the app API (FedDG/ELCFS, Liu et al. CVPR 2021, §3.2 continuous
// frequency-space interpolation, docs/algorithms.md §2): the fftshifted log-amplitude spectrum with the
// low-frequency window of half-width b = floor(min(H, W) * alpha), the local/received amplitude bank,
// a preview of Eq. 2-3 (image amplitude moved towards a bank window by lambda, phase kept), and the
// windows that joining a federation would share, with whether this site's own policy would refuse the
// hub's request and why (docs/security.md §3). The maths is core/freq; this adapts it.
import type { AppHandlers, BankEntry, HubInfo } from '../contract/app-api.js';
import { FedSegError } from '../contract/errors.js';
import type { ImageF32 } from '../contract/image.js';
import { extractAmplitudeWindow, interpolateAmplitude, sharedWindowAlpha, windowHalfWidth } from '../freq/amplitude-interpolation.js';
import { logAmplitudeSpectrum } from '../freq/spectrum.js';
import type { AmplitudeWindowRecord, NewAmplitudeWindow } from '../store/dataset-store.js';
import { encodeMessage, MAX_SPECTRUM_WINDOWS } from '../contract/hub-protocol.js';
import { encodeWeights } from '../contract/weights.js';
import { spectrumUpload } from '../federation/site-spectra.js';
import { participantData } from '../store/sample-source.js';
import { DEFAULT_SITE_POLICY, refuseSpectrumRequest, refuseWindowSize, type SitePolicy } from '../contract/site-policy.js';
import { type EngineContext, parseId, requireDataset } from './context.js';
import { displayRange, imageToRaster, toFloatField, windowToField } from './raster.js';

const BANK_LIST_LIMIT = 300;
/** The hub's default window fraction (federation-hub/config.ts train.alpha), used before any hub was reached. */
const DEFAULT_ALPHA = 0.003;

export function loadImage(ctx: EngineContext, datasetId: string, index: number): { image: ImageF32; name: string; site: string } {
  const d = requireDataset(ctx.store, datasetId);
  const row = ctx.store.listSamples(d.id, { offset: index, limit: 1 })[0];
  if (!row) throw new FedSegError('NOT_FOUND', `dataset '${d.name}' has ${d.sampleCount} image(s); there is no image number ${index + 1}`);
  const s = ctx.store.getSample(row.id)!;
  return { image: s.image, name: s.name, site: typeof d.meta.site === 'string' ? d.meta.site : 'local' };
}

function bankEntry(r: AmplitudeWindowRecord): BankEntry {
  return { id: String(r.id), site: r.site, source: r.source, name: r.sampleName ?? `window ${r.id}`, channels: r.window.channels, halfWidth: r.window.halfWidth };
}

function is8bit(img: ImageF32): boolean {
  const [lo, hi] = displayRange(img);
  return lo === 0 && hi === 255;
}

export function frequencyHandlers(ctx: EngineContext, hubOf: () => HubInfo | null = () => null, policyOf: () => SitePolicy = () => DEFAULT_SITE_POLICY): Pick<AppHandlers,
  'getSpectrum' | 'listAmplitudeBank' | 'buildAmplitudeBank' | 'previewInterpolation' | 'previewOutgoingWindows'> {
  const { store } = ctx;
  // The λ slider asks for previews many times a second: keep windows by id, reload on a miss (the
  // federation worker adds received windows through its own connection).
  let cache = new Map<number, AmplitudeWindowRecord>();
  const windowById = (id: number): AmplitudeWindowRecord | undefined => {
    if (!cache.has(id)) cache = new Map(store.listAmplitudeWindows().map((r) => [r.id, r]));
    return cache.get(id);
  };
  return {
    async getSpectrum({ datasetId, index, alpha }) {
      const { image } = loadImage(ctx, datasetId, index);
      const spec = logAmplitudeSpectrum(image);
      return { spectrum: toFloatField(spec.width, spec.height, spec.data), halfWidth: windowHalfWidth(image.height, image.width, alpha), alpha };
    },

    async listAmplitudeBank() {
      return store.listAmplitudeWindows().slice(0, BANK_LIST_LIMIT).map(bankEntry);
    },

    async buildAmplitudeBank({ datasetId, alpha }) {
      const d = requireDataset(store, datasetId);
      const site = typeof d.meta.site === 'string' ? d.meta.site : 'local';
      const windows: NewAmplitudeWindow[] = [];
      for (const s of store.iterateSamples(d.id))
        windows.push({ source: 'local' as const, site, datasetId: d.id, sampleName: s.name, alpha, window: extractAmplitudeWindow(s.image, alpha) });
      store.transaction(() => {
        store.deleteAmplitudeWindows({ source: 'local', datasetId: d.id });
        store.putAmplitudeWindows(windows);
      });
      return { added: windows.length };
    },

    async previewInterpolation({ datasetId, index, bankId, lambda }) {
      const { image } = loadImage(ctx, datasetId, index);
      const id = parseId(bankId, 'amplitude window id');
      const rec = windowById(id);
      if (!rec) throw new FedSegError('NOT_FOUND', `amplitude window ${bankId} is no longer in the bank`);
      if (rec.window.channels !== image.channels)
        throw new FedSegError('SHAPE_MISMATCH', `this window has ${rec.window.channels} channel(s) but the image has ${image.channels}; choose a window from the same kind of images`);
      const eight = is8bit(image);
      const out = interpolateAmplitude(image, rec.window, lambda, { clip: eight ? [0, 255] : null });
      return {
        image: imageToRaster(out, eight ? [0, 255] : displayRange(image)),
        window: windowToField(rec.window.channels, rec.window.halfWidth, rec.window.data),
      };
    },

    async previewOutgoingWindows({ datasetIds, alpha, limit }) {
      // The same images, window size and encoding the site client uses when the hub asks
      // (core/run/participation.ts spectrumWindows, core/federation/site-spectra.ts), so the preview
      // agrees with what the Outbox then records. The hub decides alpha: the one it announced at the
      // last connection, unless the caller asks for another.
      for (const id of datasetIds) requireDataset(store, id);
      const hub = hubOf();
      const basis = alpha !== undefined ? 'given' : hub ? 'hub' : 'default';
      const a = alpha ?? hub?.alpha ?? DEFAULT_ALPHA;
      const policy = policyOf();
      // As many windows as the site client would send: its policy's count limit (the hub's own is not announced).
      const train = participantData(store, datasetIds.map(Number)).train().slice(0, Math.min(MAX_SPECTRUM_WINDOWS, policy.maxWindows));
      const s0 = train[0]!;
      const shared = sharedWindowAlpha(s0.image.height, s0.image.width, a);
      const out: { name: string; spectrum: ReturnType<typeof windowToField> }[] = [];
      for (const s of train.slice(0, limit)) {
        const w = extractAmplitudeWindow(s.image, shared);
        out.push({ name: s.name, spectrum: windowToField(w.channels, w.halfWidth, w.data) });
      }
      const halfWidth = windowHalfWidth(s0.image.height, s0.image.width, shared);
      const channels = s0.image.channels;
      const side = 2 * halfWidth + 1;
      // Sizes depend only on shapes and names: zero windows give the exact frame length without an FFT per image.
      const up = spectrumUpload(train.map(() => ({ channels, halfWidth, data: new Float32Array(channels * side * side) })));
      const totalBytes = encodeMessage({ kind: 'spectrum_res', count: up.arrays.length, channels, halfWidth }, encodeWeights(up.arrays)).bytes;
      const sharesWindows = basis !== 'hub' || hub!.sharesWindows;
      // The checks the site client makes when the request comes (core/federation/site-client.ts); the
      // hub's own half-width limit is not announced, so only this site's is applied here. The app's site
      // is a training site.
      const ins = { kind: 'spectrum_ins' as const, alpha: a, maxWindows: MAX_SPECTRUM_WINDOWS, maxHalfWidth: 512 };
      const refusal = sharesWindows ? refuseSpectrumRequest(policy, 'train', ins) ?? refuseWindowSize(policy, ins, halfWidth) : null;
      return {
        windows: out, bytesEach: channels * side * side * 4, totalCount: train.length, totalBytes, alpha: a, channels, halfWidth, basis,
        hub: hub?.name ?? null, sharesWindows, refusal,
      };
    },
  };
}
