// Per-file decode limits, checked against what a file's header declares BEFORE anything of the
// decoded size is allocated (docs/security.md §4 Import budgets): a few kilobytes of PNG, JPEG or
// gzip can declare gigabytes of pixels, so every codec reads the header, compares it with these
// limits and the file's own size, and only then decodes. The per-import budget (total decoded
// bytes, read-ahead) lives in core/data/import/budget.ts.
import { FedSegError } from '../../contract/errors.js';

export interface DecodeLimits {
  /** Largest image (PNG/JPEG, or one H x W plane of a .npy array), in millions of pixels. */
  maxMegapixels: number;
  /** Largest NIfTI volume, in millions of voxels. */
  maxMegavoxels: number;
  /** Largest file, in bytes, on disk and (for .nii.gz) once gunzipped. */
  maxFileBytes: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxMegapixels: 64,
  maxMegavoxels: 128,
  maxFileBytes: 1024 ** 3,
});

/** Limits with every field a positive finite number; anything else is an INVALID_ARGUMENT naming it. */
export function decodeLimits(partial: Partial<DecodeLimits> = {}): DecodeLimits {
  const out = { ...DEFAULT_DECODE_LIMITS };
  for (const k of Object.keys(DEFAULT_DECODE_LIMITS) as (keyof DecodeLimits)[]) {
    const v = partial[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new FedSegError('INVALID_ARGUMENT', `import limit ${k} must be a positive number, got ${String(v)}`);
    out[k] = v;
  }
  return out;
}

/** "1.5 GiB", "65 KiB", "300 bytes": sizes in messages people read. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${n} bytes`;
  return `${v >= 100 || Number.isInteger(v) ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
}

function millions(n: number): string {
  const m = n / 1e6;
  return m >= 10 ? m.toFixed(1) : m.toPrecision(3);
}

/** Refuses an image whose declared size is over the per-file megapixel limit. */
export function checkImageSize(file: string, width: number, height: number, limits: DecodeLimits): void {
  const px = width * height;
  if (px > limits.maxMegapixels * 1e6) {
    throw new FedSegError('INVALID_INPUT', `${file}: ${millions(px)} megapixels (${width}x${height}), over the ${limits.maxMegapixels} megapixel limit per image`);
  }
}

/** Refuses a volume whose declared size is over the per-file megavoxel limit. */
export function checkVolumeSize(file: string, dims: number[], limits: DecodeLimits): void {
  const n = dims.reduce((a, b) => a * b, 1);
  if (n > limits.maxMegavoxels * 1e6) {
    throw new FedSegError('INVALID_INPUT', `${file}: ${millions(n)} megavoxels (${dims.join('x')}), over the ${limits.maxMegavoxels} megavoxel limit per volume`);
  }
}

/** Refuses a file (or a gunzipped stream) larger than the per-file byte limit. */
export function checkFileBytes(file: string, bytes: number, limits: Pick<DecodeLimits, 'maxFileBytes'>, what = ''): void {
  if (bytes > limits.maxFileBytes) {
    throw new FedSegError('INVALID_INPUT', `${file}: ${formatBytes(bytes)}${what}, over the ${formatBytes(limits.maxFileBytes)} limit per file`);
  }
}
