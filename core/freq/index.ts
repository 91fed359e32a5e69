// Frequency-space numerics: FFT, CFSI (FedDG Eq. 1-3), spectra.
export { fft2, ifft2, fftshift2, ifftshift2, type Complex2D } from './fft2d.js';
export {
  type AmplitudeWindow,
  type InterpolateOptions,
  type CfsiPresetName,
  CFSI_PRESETS,
  CLIP_8BIT,
  clipRangeFor,
  windowHalfWidth,
  alphaForHalfWidth,
  presetAlpha,
  sampleLambda,
  sharedWindowAlpha,
  extractAmplitudeWindow,
  interpolateAmplitude,
  interpolateAmplitudeFull,
  randomInterpolation,
} from './amplitude-interpolation.js';
export { simdAvailable } from './simd-kernels.js';
export { amplitudePhase, fromAmplitudePhase, logAmplitudeSpectrum } from './spectrum.js';
