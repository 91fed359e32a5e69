// Input checks shared by morphology and metrics: every mask is a Uint8Array of 0/1 values, length h*w,
// row-major. Bad input throws FedSegError naming the problem (never a silent wrong number).
import { FedSegError } from '../contract/errors.js';

/** Throws unless h and w are positive integers. */
export function checkDims(h: number, w: number, fn: string): void {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new FedSegError('INVALID_ARGUMENT', `${fn}: height and width must be positive integers, got ${h}x${w}`);
  }
}

/** Throws unless mask is a Uint8Array of length h*w holding only 0 and 1. */
export function checkMask(mask: Uint8Array, h: number, w: number, fn: string, name = 'mask'): void {
  checkDims(h, w, fn);
  if (!(mask instanceof Uint8Array)) {
    throw new FedSegError('INVALID_ARGUMENT', `${fn}: ${name} must be a Uint8Array of 0/1 values`);
  }
  if (mask.length !== h * w) {
    throw new FedSegError('SHAPE_MISMATCH', `${fn}: ${name} has ${mask.length} values but ${h}x${w} = ${h * w} expected`);
  }
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]! > 1) {
      throw new FedSegError('INVALID_INPUT', `${fn}: ${name} is not binary (value ${mask[i]} at index ${i}; only 0 and 1 allowed)`);
    }
  }
}

/** Throws unless iterations is a positive integer. */
export function checkIterations(iterations: number, fn: string): void {
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new FedSegError('INVALID_ARGUMENT', `${fn}: iterations must be a positive integer, got ${iterations}`);
  }
}
