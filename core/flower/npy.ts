// The bytes of a Flower Array (docs/flower.md §4: stype numpy.ndarray) are a NumPy .npy file. FedSeg's
// one .npy codec (core/data/codecs/npy.ts) writes them as numpy.save does (version 1.0, '<f4', the
// header padded to 64 bytes: the golden fixture of core/flower/objects.test.ts checks the bytes) and
// reads float32/64 and integer arrays as float32. Here a received array must also be exactly as long
// as its header says, and any problem is a refused update, not a corrupt file.
import { FedSegError, toErrorValue } from '../contract/errors.js';
import { readNpy, readNpyHeader, writeNpy } from '../data/codecs/npy.js';

export interface NpyArray {
  shape: number[];
  data: Float32Array;
  /** The dtype the data had on the wire (e.g. 'float32'). */
  dtype: string;
}

export function encodeNpy(shape: readonly number[], data: Float32Array): Uint8Array {
  return writeNpy([...shape], data);
}

/** Reads a received .npy array into float32; a malformed, oversized or trailing-data array is BAD_UPDATE. */
export function decodeNpy(bytes: Uint8Array, maxValues = 1 << 28): NpyArray {
  try {
    const h = readNpyHeader(bytes, 'a Flower array', maxValues);
    const extra = bytes.length - h.dataStart - h.count * h.bytesPerValue;
    if (extra !== 0) throw new FedSegError('CORRUPT_FILE', `a Flower array holds ${extra} bytes more than its shape [${h.shape.join(', ')}] of ${h.dtype} needs`);
    const a = readNpy(bytes, 'a Flower array', maxValues);
    return { shape: a.shape, data: a.data, dtype: a.dtype };
  } catch (e) {
    throw new FedSegError('BAD_UPDATE', `not a usable .npy array: ${toErrorValue(e).message}`);
  }
}
