// 1-D complex FFT of any length, numpy.fft.fft convention: X[k] = sum_j x[j] exp(-2 pi i j k / n)
// (forward unnormalised). Used by the 2-D FFT behind CFSI (docs/algorithms.md §2; FedDG Eq. 1-3).
//
// Algorithm: recursive mixed-radix decimation in time (the KISS FFT structure) with specialised
// radix-4, -2 and -3 butterflies and a generic O(p^2) butterfly for the other small primes
// (5, 7, 11, 13). Lengths with a prime factor > 13 use Bluestein's chirp-z algorithm, which turns the
// DFT into a circular convolution of power-of-two length done with the same mixed-radix code.
// 384 = 4^3 * 2 * 3 runs entirely through specialised butterflies. Twiddles are computed directly
// with cos/sin per index (no recurrence), so rounding error stays at a few ulps * log n.

const MAX_DIRECT_PRIME = 13;

function factorize(n: number): number[] {
  // Returns [p1, m1, p2, m2, ...]: radix p_i with remaining length m_i = n / (p1 ... p_i).
  const out: number[] = [];
  let m = n;
  let p = 4;
  while (m > 1) {
    while (m % p !== 0) {
      if (p === 4) p = 2;
      else if (p === 2) p = 3;
      else p += 2;
      if (p * p > m) p = m;
    }
    m /= p;
    out.push(p, m);
  }
  return out;
}

function largestPrimeFactor(n: number): number {
  let m = n;
  let best = 1;
  for (let p = 2; p * p <= m; p++) {
    while (m % p === 0) {
      best = p;
      m /= p;
    }
  }
  return m > 1 ? Math.max(best, m) : best;
}

interface Bluestein {
  m: number;
  plan: FftPlan;
  chirpRe: Float64Array; // exp(-i pi j^2 / n)
  chirpIm: Float64Array;
  kernRe: Float64Array; // FFT of the conjugate chirp, wrapped, length m
  kernIm: Float64Array;
  bufRe: Float64Array;
  bufIm: Float64Array;
  outRe: Float64Array;
  outIm: Float64Array;
}

/** A reusable plan for forward transforms of length n (inverse via conjugation in fft2d). */
export class FftPlan {
  readonly n: number;
  private readonly factors: number[];
  private readonly twRe: Float64Array;
  private readonly twIm: Float64Array;
  private readonly blue: Bluestein | null;
  private readonly scrRe: Float64Array;
  private readonly scrIm: Float64Array;

  constructor(n: number) {
    this.n = n;
    this.scrRe = new Float64Array(MAX_DIRECT_PRIME);
    this.scrIm = new Float64Array(MAX_DIRECT_PRIME);
    if (n > 1 && largestPrimeFactor(n) > MAX_DIRECT_PRIME) {
      this.factors = [];
      this.twRe = new Float64Array(0);
      this.twIm = new Float64Array(0);
      this.blue = makeBluestein(n);
      return;
    }
    this.blue = null;
    this.factors = n > 1 ? factorize(n) : [];
    this.twRe = new Float64Array(n);
    this.twIm = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const a = (-2 * Math.PI * j) / n;
      this.twRe[j] = Math.cos(a);
      this.twIm[j] = Math.sin(a);
    }
  }

  /**
   * Forward DFT of x[j] = (inRe, inIm)[inOff + j * inStride], j < n, written contiguously to
   * outRe/outIm[0..n). inIm may be null (real input). Output must not alias the input.
   */
  forward(
    inRe: Float64Array,
    inIm: Float64Array | null,
    inOff: number,
    inStride: number,
    outRe: Float64Array,
    outIm: Float64Array,
  ): void {
    const n = this.n;
    if (n === 1) {
      outRe[0] = inRe[inOff]!;
      outIm[0] = inIm ? inIm[inOff]! : 0;
      return;
    }
    if (this.blue) {
      bluesteinForward(this.blue, n, inRe, inIm, inOff, inStride, outRe, outIm);
      return;
    }
    this.work(outRe, outIm, 0, inRe, inIm, inOff, 1, inStride, 0);
  }

  private work(
    oRe: Float64Array,
    oIm: Float64Array,
    oOff: number,
    iRe: Float64Array,
    iIm: Float64Array | null,
    iOff: number,
    fstride: number,
    inStride: number,
    fIdx: number,
  ): void {
    // fstride: twiddle stride (product of the radices above this level); input step fstride*inStride.
    const p = this.factors[fIdx]!;
    const m = this.factors[fIdx + 1]!;
    const end = oOff + p * m;
    const step = fstride * inStride;
    if (m === 1) {
      let f = iOff;
      if (iIm) {
        for (let o = oOff; o < end; o++, f += step) {
          oRe[o] = iRe[f]!;
          oIm[o] = iIm[f]!;
        }
      } else {
        for (let o = oOff; o < end; o++, f += step) {
          oRe[o] = iRe[f]!;
          oIm[o] = 0;
        }
      }
    } else {
      let f = iOff;
      for (let o = oOff; o < end; o += m, f += step) {
        this.work(oRe, oIm, o, iRe, iIm, f, fstride * p, inStride, fIdx + 2);
      }
    }
    const tws = fstride;
    if (p === 4) this.bfly4(oRe, oIm, oOff, tws, m);
    else if (p === 2) this.bfly2(oRe, oIm, oOff, tws, m);
    else if (p === 3) this.bfly3(oRe, oIm, oOff, tws, m);
    else this.bflyGeneric(oRe, oIm, oOff, tws, m, p);
  }

  private bfly2(re: Float64Array, im: Float64Array, off: number, tws: number, m: number): void {
    const twRe = this.twRe;
    const twIm = this.twIm;
    for (let k = 0; k < m; k++) {
      const a = off + k;
      const b = a + m;
      const wr = twRe[k * tws]!;
      const wi = twIm[k * tws]!;
      const tr = re[b]! * wr - im[b]! * wi;
      const ti = re[b]! * wi + im[b]! * wr;
      re[b] = re[a]! - tr;
      im[b] = im[a]! - ti;
      re[a] = re[a]! + tr;
      im[a] = im[a]! + ti;
    }
  }

  private bfly4(re: Float64Array, im: Float64Array, off: number, tws: number, m: number): void {
    const twRe = this.twRe;
    const twIm = this.twIm;
    for (let k = 0; k < m; k++) {
      const i0 = off + k;
      const i1 = i0 + m;
      const i2 = i1 + m;
      const i3 = i2 + m;
      const w1r = twRe[k * tws]!;
      const w1i = twIm[k * tws]!;
      const w2r = twRe[2 * k * tws]!;
      const w2i = twIm[2 * k * tws]!;
      const w3r = twRe[3 * k * tws]!;
      const w3i = twIm[3 * k * tws]!;
      const s0r = re[i1]! * w1r - im[i1]! * w1i;
      const s0i = re[i1]! * w1i + im[i1]! * w1r;
      const s1r = re[i2]! * w2r - im[i2]! * w2i;
      const s1i = re[i2]! * w2i + im[i2]! * w2r;
      const s2r = re[i3]! * w3r - im[i3]! * w3i;
      const s2i = re[i3]! * w3i + im[i3]! * w3r;
      const x0r = re[i0]!;
      const x0i = im[i0]!;
      const s5r = x0r - s1r;
      const s5i = x0i - s1i;
      const f0r = x0r + s1r;
      const f0i = x0i + s1i;
      const s3r = s0r + s2r;
      const s3i = s0i + s2i;
      const s4r = s0r - s2r;
      const s4i = s0i - s2i;
      re[i2] = f0r - s3r;
      im[i2] = f0i - s3i;
      re[i0] = f0r + s3r;
      im[i0] = f0i + s3i;
      re[i1] = s5r + s4i;
      im[i1] = s5i - s4r;
      re[i3] = s5r - s4i;
      im[i3] = s5i + s4r;
    }
  }

  private bfly3(re: Float64Array, im: Float64Array, off: number, tws: number, m: number): void {
    const twRe = this.twRe;
    const twIm = this.twIm;
    const epi3i = -Math.sqrt(3) / 2; // Im exp(-2 pi i / 3)
    for (let k = 0; k < m; k++) {
      const i0 = off + k;
      const i1 = i0 + m;
      const i2 = i1 + m;
      const w1r = twRe[k * tws]!;
      const w1i = twIm[k * tws]!;
      const w2r = twRe[2 * k * tws]!;
      const w2i = twIm[2 * k * tws]!;
      const s1r = re[i1]! * w1r - im[i1]! * w1i;
      const s1i = re[i1]! * w1i + im[i1]! * w1r;
      const s2r = re[i2]! * w2r - im[i2]! * w2i;
      const s2i = re[i2]! * w2i + im[i2]! * w2r;
      const s3r = s1r + s2r;
      const s3i = s1i + s2i;
      const s0r = (s1r - s2r) * epi3i;
      const s0i = (s1i - s2i) * epi3i;
      const x0r = re[i0]!;
      const x0i = im[i0]!;
      const mr = x0r - s3r * 0.5;
      const mi = x0i - s3i * 0.5;
      re[i0] = x0r + s3r;
      im[i0] = x0i + s3i;
      re[i2] = mr + s0i;
      im[i2] = mi - s0r;
      re[i1] = mr - s0i;
      im[i1] = mi + s0r;
    }
  }

  private bflyGeneric(re: Float64Array, im: Float64Array, off: number, tws: number, m: number, p: number): void {
    const twRe = this.twRe;
    const twIm = this.twIm;
    const n = this.n;
    const sr = this.scrRe;
    const si = this.scrIm;
    for (let u = 0; u < m; u++) {
      for (let q = 0, k = off + u; q < p; q++, k += m) {
        sr[q] = re[k]!;
        si[q] = im[k]!;
      }
      for (let q1 = 0, k = u; q1 < p; q1++, k += m) {
        let accR = sr[0]!;
        let accI = si[0]!;
        let tw = 0;
        const step = (tws * k) % n;
        for (let q = 1; q < p; q++) {
          tw += step;
          if (tw >= n) tw -= n;
          const wr = twRe[tw]!;
          const wi = twIm[tw]!;
          accR += sr[q]! * wr - si[q]! * wi;
          accI += sr[q]! * wi + si[q]! * wr;
        }
        re[off + k] = accR;
        im[off + k] = accI;
      }
    }
  }
}

function makeBluestein(n: number): Bluestein {
  let m = 1;
  while (m < 2 * n - 1) m *= 2;
  const plan = new FftPlan(m);
  const chirpRe = new Float64Array(n);
  const chirpIm = new Float64Array(n);
  const n2 = 2 * n;
  for (let j = 0; j < n; j++) {
    // j^2 mod 2n keeps the angle small and exact for large j.
    const jj = Number((BigInt(j) * BigInt(j)) % BigInt(n2));
    const a = (-Math.PI * jj) / n;
    chirpRe[j] = Math.cos(a);
    chirpIm[j] = Math.sin(a);
  }
  // b[j] = conj(chirp[|j|]) for j in -(n-1)..(n-1), wrapped into length m.
  const bRe = new Float64Array(m);
  const bIm = new Float64Array(m);
  bRe[0] = chirpRe[0]!;
  bIm[0] = -chirpIm[0]!;
  for (let j = 1; j < n; j++) {
    bRe[j] = chirpRe[j]!;
    bIm[j] = -chirpIm[j]!;
    bRe[m - j] = chirpRe[j]!;
    bIm[m - j] = -chirpIm[j]!;
  }
  const kernRe = new Float64Array(m);
  const kernIm = new Float64Array(m);
  plan.forward(bRe, bIm, 0, 1, kernRe, kernIm);
  return {
    m,
    plan,
    chirpRe,
    chirpIm,
    kernRe,
    kernIm,
    bufRe: new Float64Array(m),
    bufIm: new Float64Array(m),
    outRe: new Float64Array(m),
    outIm: new Float64Array(m),
  };
}

function bluesteinForward(
  b: Bluestein,
  n: number,
  inRe: Float64Array,
  inIm: Float64Array | null,
  inOff: number,
  inStride: number,
  outRe: Float64Array,
  outIm: Float64Array,
): void {
  const { m, chirpRe, chirpIm, bufRe, bufIm } = b;
  bufRe.fill(0);
  bufIm.fill(0);
  for (let j = 0, f = inOff; j < n; j++, f += inStride) {
    const xr = inRe[f]!;
    const xi = inIm ? inIm[f]! : 0;
    bufRe[j] = xr * chirpRe[j]! - xi * chirpIm[j]!;
    bufIm[j] = xr * chirpIm[j]! + xi * chirpRe[j]!;
  }
  b.plan.forward(bufRe, bufIm, 0, 1, b.outRe, b.outIm);
  // Pointwise product with the kernel spectrum, then an inverse FFT by conjugation.
  for (let k = 0; k < m; k++) {
    const ar = b.outRe[k]!;
    const ai = b.outIm[k]!;
    const kr = b.kernRe[k]!;
    const ki = b.kernIm[k]!;
    bufRe[k] = ar * kr - ai * ki;
    bufIm[k] = -(ar * ki + ai * kr);
  }
  b.plan.forward(bufRe, bufIm, 0, 1, b.outRe, b.outIm);
  const inv = 1 / m;
  for (let k = 0; k < n; k++) {
    const cr = b.outRe[k]! * inv;
    const ci = -b.outIm[k]! * inv;
    outRe[k] = cr * chirpRe[k]! - ci * chirpIm[k]!;
    outIm[k] = cr * chirpIm[k]! + ci * chirpRe[k]!;
  }
}

const plans = new Map<number, FftPlan>();

/** Cached plan for length n (plans hold scratch buffers: use from one thread, not re-entrantly). */
export function getPlan(n: number): FftPlan {
  let p = plans.get(n);
  if (!p) {
    p = new FftPlan(n);
    if (plans.size > 64) plans.clear();
    plans.set(n, p);
  }
  return p;
}
