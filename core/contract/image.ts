// Plain image and mask values shared by every layer (no tensors, no I/O).
// Layout is HWC, row-major: data[(y * width + x) * channels + c].

/** A float image. Fundus/RGB images hold 0..255; MRI holds z-scored values. */
export interface ImageF32 {
  width: number;
  height: number;
  channels: number;
  data: Float32Array;
}

/**
 * A multi-label mask: channel c is the binary mask (0/1) of structure c.
 * Fundus: c0 = optic disc (including cup), c1 = cup. Prostate/cells: one channel.
 */
export interface MaskU8 {
  width: number;
  height: number;
  classes: number;
  data: Uint8Array;
}

/** One training/evaluation sample. */
export interface Sample {
  name: string;
  image: ImageF32;
  mask: MaskU8;
}
