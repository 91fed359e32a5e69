// Seeded pseudo-random numbers for everything in FedSeg that is random (init, shuffling, lambda
// sampling, synthetic data). Pure maths takes an explicit Rng so runs are reproducible
// (docs/algorithms.md §1: "Seeds fixed").
//
// Generator: sfc32 (Chris Doty-Humphrey's Small Fast Counter, 128-bit state, period >= 2^32),
// seeded from a 32-bit seed through splitmix32 and 12 warm-up draws. Normals: Box-Muller with the
// second value cached. Uniform ints: rejection sampling (no modulo bias).
import { FedSegError } from './contract/errors.js';

export interface Rng {
  /** Uniform float in [0, 1) with 32 random bits. */
  next(): number;
  /** Standard normal N(0, 1) (Box-Muller). */
  normal(): number;
  /** Uniform integer in [0, n), n a positive integer <= 2^32. */
  int(n: number): number;
  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(arr: T[]): T[];
  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** A new independent generator seeded from this one (for sub-streams). */
  fork(): Rng;
  /** Raw 32-bit unsigned integer. */
  nextU32(): number;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Creates a seeded generator. The seed must be a finite number; it is reduced to 32 bits. */
export function createRng(seed: number): Rng {
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw new FedSegError('INVALID_ARGUMENT', `createRng: seed must be a finite number, got ${String(seed)}`);
  }
  // Fold any finite number (negative, > 2^32, fractional) into 32 bits deterministically.
  const folded = (Math.floor(seed) ^ Math.floor(seed / 4294967296)) >>> 0;
  const sm = splitmix32(folded);
  let a = sm();
  let b = sm();
  let c = sm();
  let d = sm() | 1;
  const u32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) u32();

  let spare: number | null = null;
  const next = (): number => u32() / 4294967296;
  const rng: Rng = {
    next,
    nextU32: u32,
    normal(): number {
      if (spare !== null) {
        const v = spare;
        spare = null;
        return v;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    int(n: number): number {
      if (!Number.isInteger(n) || n <= 0 || n > 4294967296) {
        throw new FedSegError('INVALID_ARGUMENT', `rng.int: n must be an integer in [1, 2^32], got ${n}`);
      }
      // Rejection sampling: accept only draws below the largest multiple of n.
      const limit = 4294967296 - (4294967296 % n);
      for (;;) {
        const x = u32();
        if (x < limit) return x % n;
      }
    },
    shuffle<T>(arr: T[]): T[] {
      for (let i = arr.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        const tmp = arr[i]!;
        arr[i] = arr[j]!;
        arr[j] = tmp;
      }
      return arr;
    },
    uniform(lo: number, hi: number): number {
      if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi < lo) {
        throw new FedSegError('INVALID_ARGUMENT', `rng.uniform: need finite lo <= hi, got [${lo}, ${hi})`);
      }
      return lo + (hi - lo) * next();
    },
    fork(): Rng {
      return createRng(u32());
    },
  };
  return rng;
}

/** Derives a 32-bit seed from a list of integers (FNV-1a over their 32-bit words). */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    let v = p >>> 0;
    for (let i = 0; i < 4; i++) {
      h ^= v & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
      v >>>= 8;
    }
  }
  return h >>> 0;
}
