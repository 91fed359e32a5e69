// WebAssembly SIMD kernels for the two full-image passes of window-only CFSI (docs/algorithms.md §2;
// amplitude-interpolation.ts): per-row sums sum(f), sum(f cos), sum(f sin) at one frequency, and the
// per-row sinusoid correction out = clamp(f + g0 + g1r cos - g1i sin). Both work on HWC rows as
// f32x4 vectors in chunks of 12 floats, so they apply when C divides 12 and W*C is a multiple of 12
// (lane l of a chunk holds channel l mod C). The module is assembled here byte by byte (no toolchain,
// no dependency) and validated at load; if WebAssembly SIMD is unavailable the callers fall back to
// the plain TypeScript loops. Row sums accumulate in f32 over at most W*C/4 values per lane and are
// combined in f64, which keeps CFSI within ~1e-7 of the f64 oracle (tests require 1e-6).

// ---- a tiny wasm encoder -------------------------------------------------------------------------
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
const str = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const i32c = (v: number) => [0x41, ...sleb(v)];
const add = [0x6a];
const ltU = [0x49];
const geU = [0x4f];
const simd = (op: number) => [0xfd, ...uleb(op)];
const load = (off: number) => [...simd(0x00), 4, ...uleb(off)];
const store = (off: number) => [...simd(0x0b), 4, ...uleb(off)];
const zero = [...simd(0x0c), ...new Array<number>(16).fill(0)];
const splat = simd(0x13);
const fadd = simd(0xe4);
const fsub = simd(0xe5);
const fmul = simd(0xe6);
const fmin = simd(0xe8);
const fmax = simd(0xe9);
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const END = [0x0b];
const brIf = (d: number) => [0x0d, ...uleb(d)];
const br = (d: number) => [0x0c, ...uleb(d)];
const addTo = (local: number, v: number) => [...get(local), ...i32c(v), ...add, ...set(local)];
const addLocal = (local: number, other: number) => [...get(local), ...get(other), ...add, ...set(local)];

// fwd(inPtr, rowLen, h, cosPtr, sinPtr, outPtr): for each row, 9 f32x4 accumulators
// (sum x3, cos x3, sin x3) stored at outPtr + 144 y.
function fwdBody(): number[] {
  const [inP, rowLen, h, cosP, sinP, outP] = [0, 1, 2, 3, 4, 5];
  const [y, j, rowBytes] = [6, 7, 8];
  const acc = (k: number) => 9 + k; // 9..17: a0 a1 a2 c0 c1 c2 s0 s1 s2
  const v = 18;
  const locals = vec([[...uleb(3), I32], [...uleb(10), V128]]);
  const code: number[] = [...get(rowLen), ...i32c(4), 0x6c, ...set(rowBytes), ...i32c(0), ...set(y)];
  code.push(...BLOCK, ...LOOP, ...get(y), ...get(h), ...geU, ...brIf(1));
  for (let k = 0; k < 9; k++) code.push(...zero, ...set(acc(k)));
  code.push(...i32c(0), ...set(j), ...LOOP);
  for (let k = 0; k < 3; k++) {
    const off = 16 * k;
    code.push(...get(inP), ...get(j), ...add, ...load(off), ...set(v));
    code.push(...get(acc(k)), ...get(v), ...fadd, ...set(acc(k)));
    code.push(...get(acc(3 + k)), ...get(v), ...get(cosP), ...get(j), ...add, ...load(off), ...fmul, ...fadd, ...set(acc(3 + k)));
    code.push(...get(acc(6 + k)), ...get(v), ...get(sinP), ...get(j), ...add, ...load(off), ...fmul, ...fadd, ...set(acc(6 + k)));
  }
  code.push(...addTo(j, 48), ...get(j), ...get(rowBytes), ...ltU, ...brIf(0), ...END);
  for (let k = 0; k < 9; k++) code.push(...get(outP), ...get(acc(k)), ...store(16 * k));
  code.push(...addLocal(inP, rowBytes), ...addTo(outP, 144), ...addTo(y, 1), ...br(0), ...END, ...END, ...END);
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

// inv(inPtr, outPtr, rowLen, h, cosPtr, sinPtr, gPtr, lo, hi): out = clamp(in + G0 + G1r cos - G1i sin)
// with per-row lane vectors G0 x3, G1r x3, G1i x3 read from gPtr + 144 y.
function invBody(): number[] {
  const [inP, outP, rowLen, h, cosP, sinP, gP, lo, hi] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [y, j, rowBytes] = [9, 10, 11];
  const [vlo, vhi] = [12, 13];
  const g = (k: number) => 14 + k; // G0 0..2, G1r 3..5, G1i 6..8
  const locals = vec([[...uleb(3), I32], [...uleb(11), V128]]);
  const code: number[] = [...get(rowLen), ...i32c(4), 0x6c, ...set(rowBytes), ...i32c(0), ...set(y)];
  code.push(...get(lo), ...splat, ...set(vlo), ...get(hi), ...splat, ...set(vhi));
  code.push(...BLOCK, ...LOOP, ...get(y), ...get(h), ...geU, ...brIf(1));
  for (let k = 0; k < 9; k++) code.push(...get(gP), ...load(16 * k), ...set(g(k)));
  code.push(...i32c(0), ...set(j), ...LOOP);
  for (let k = 0; k < 3; k++) {
    const off = 16 * k;
    code.push(...get(outP), ...get(j), ...add);
    code.push(...get(inP), ...get(j), ...add, ...load(off), ...get(g(k)), ...fadd);
    code.push(...get(g(3 + k)), ...get(cosP), ...get(j), ...add, ...load(off), ...fmul, ...fadd);
    code.push(...get(g(6 + k)), ...get(sinP), ...get(j), ...add, ...load(off), ...fmul, ...fsub);
    code.push(...get(vhi), ...fmin, ...get(vlo), ...fmax, ...store(off));
  }
  code.push(...addTo(j, 48), ...get(j), ...get(rowBytes), ...ltU, ...brIf(0), ...END);
  code.push(...addLocal(inP, rowBytes), ...addLocal(outP, rowBytes), ...addTo(gP, 144), ...addTo(y, 1), ...br(0), ...END, ...END, ...END);
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const types = vec([
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32]]), 0x00],
    [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32], [F32], [F32]]), 0x00],
  ]);
  const funcs = vec([[0], [1]]);
  const mems = vec([[0x00, ...uleb(1)]]);
  const exports = vec([
    [...str('mem'), 0x02, 0],
    [...str('fwd'), 0x00, 0],
    [...str('inv'), 0x00, 1],
  ]);
  const code = [...uleb(2), ...fwdBody(), ...invBody()];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, types),
    ...section(3, funcs),
    ...section(5, mems),
    ...section(7, exports),
    ...section(10, code),
  ]);
}

// ---- runtime -------------------------------------------------------------------------------------
interface Exports {
  mem: WebAssembly.Memory;
  fwd: (inP: number, rowLen: number, h: number, cosP: number, sinP: number, outP: number) => void;
  inv: (inP: number, outP: number, rowLen: number, h: number, cosP: number, sinP: number, gP: number, lo: number, hi: number) => void;
}

let kernels: Exports | null | undefined;

function instance(): Exports | null {
  if (kernels !== undefined) return kernels;
  try {
    const bytes = moduleBytes();
    if (typeof WebAssembly !== 'object' || !WebAssembly.validate(bytes)) {
      kernels = null;
    } else {
      const inst = new WebAssembly.Instance(new WebAssembly.Module(bytes), {});
      kernels = inst.exports as unknown as Exports;
    }
  } catch {
    kernels = null;
  }
  return kernels;
}

/** True when the SIMD kernels loaded (WebAssembly SIMD present). */
export function simdAvailable(): boolean {
  return instance() !== null;
}

/** Whether an h x w x C image can use the kernels. */
export function simdEligible(w: number, c: number): boolean {
  return 12 % c === 0 && (w * c) % 12 === 0 && simdAvailable();
}

interface Layout {
  trig: number; // cos at trig, sin at trig + rowBytes
  img: number;
  out: number;
  rows: number; // 144 bytes per row
  end: number;
}

const align16 = (n: number): number => (n + 15) & ~15;

function layout(k: Exports, w: number, h: number, c: number): Layout {
  const rowBytes = w * c * 4;
  const trig = 0;
  const img = align16(trig + 2 * rowBytes);
  const out = align16(img + h * rowBytes);
  const rows = align16(out + h * rowBytes);
  const end = rows + 144 * h;
  const need = Math.ceil(end / 65536) - k.mem.buffer.byteLength / 65536;
  if (need > 0) k.mem.grow(need);
  return { trig, img, out, rows, end };
}

function writeTrig(k: Exports, L: Layout, w: number, c: number, cos1: Float64Array, sin1: Float64Array): void {
  const rowLen = w * c;
  const cv = new Float32Array(k.mem.buffer, L.trig, rowLen);
  const sv = new Float32Array(k.mem.buffer, L.trig + rowLen * 4, rowLen);
  for (let i = 0; i < rowLen; i++) {
    const x = (i / c) | 0;
    cv[i] = cos1[x]!;
    sv[i] = sin1[x]!;
  }
}

/**
 * Row sums for every row and channel: s0[y*C + c] = sum_x f, s1 = sum_x f cos(2 pi x / W),
 * s2 = sum_x f sin(2 pi x / W). cos1/sin1: the v = 1 tables of length W (for b = 0 pass zeros).
 */
export function simdRowSums(
  data: Float32Array, w: number, h: number, c: number, cos1: Float64Array, sin1: Float64Array,
): { s0: Float64Array; s1: Float64Array; s2: Float64Array } {
  const k = instance()!;
  const L = layout(k, w, h, c);
  writeTrig(k, L, w, c, cos1, sin1);
  new Float32Array(k.mem.buffer, L.img, data.length).set(data);
  k.fwd(L.img, w * c, h, L.trig, L.trig + w * c * 4, L.rows);
  const r = new Float32Array(k.mem.buffer, L.rows, 36 * h);
  const s0 = new Float64Array(h * c);
  const s1 = new Float64Array(h * c);
  const s2 = new Float64Array(h * c);
  for (let y = 0; y < h; y++) {
    const o = 36 * y;
    for (let i = 0; i < 12; i++) {
      const ch = i % c;
      s0[y * c + ch] = s0[y * c + ch]! + r[o + i]!;
      s1[y * c + ch] = s1[y * c + ch]! + r[o + 12 + i]!;
      s2[y * c + ch] = s2[y * c + ch]! + r[o + 24 + i]!;
    }
  }
  return { s0, s1, s2 };
}

/**
 * out[y, x, c] = clamp(data[y, x, c] + g0[y*C+c] + g1r[y*C+c] cos(2 pi x / W) - g1i[y*C+c] sin(2 pi x / W), lo, hi).
 * Expects simdRowSums to have been called for the same image (trig tables and image are reused).
 */
export function simdApplyRows(
  data: Float32Array, w: number, h: number, c: number, cos1: Float64Array, sin1: Float64Array,
  g0: Float64Array, g1r: Float64Array, g1i: Float64Array, lo: number, hi: number, out: Float32Array, imageLoaded: boolean,
): void {
  const k = instance()!;
  const L = layout(k, w, h, c);
  if (!imageLoaded) {
    writeTrig(k, L, w, c, cos1, sin1);
    new Float32Array(k.mem.buffer, L.img, data.length).set(data);
  }
  const gv = new Float32Array(k.mem.buffer, L.rows, 36 * h);
  for (let y = 0; y < h; y++) {
    const o = 36 * y;
    for (let i = 0; i < 12; i++) {
      const ch = y * c + (i % c);
      gv[o + i] = g0[ch]!;
      gv[o + 12 + i] = g1r[ch]!;
      gv[o + 24 + i] = g1i[ch]!;
    }
  }
  k.inv(L.img, L.out, w * c, h, L.trig, L.trig + w * c * 4, L.rows, lo, hi);
  out.set(new Float32Array(k.mem.buffer, L.out, data.length));
}
