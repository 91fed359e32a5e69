// WGSL programs for 2-D convolution training on tfjs's webgpu backend.
//
// All three convolution products are written as one implicit GEMM, C[m, n] = Σ_k A[m, k] · B[k, n],
// where A is gathered on the fly from the NHWC activations (no im2col buffer). With x: [B,H,W,Ci],
// w: [KH,KW,Ci,Co], dy: [B,OH,OW,Co], pad (PT, PL), stride (SH, SW), dilation (DH, DW):
//   forward  y[p, co]        = Σ_(kh,kw,ci) x[b, oy·SH+kh·DH−PT, ox·SW+kw·DW−PL, ci] · w[kh,kw,ci,co]
//            M = B·OH·OW, N = Co, K = KH·KW·Ci
//   dx       dx[q, ci]       = Σ_(kh,kw,co) dy[b, (iy+PT−kh)/SH, (ix+PL−kw)/SW, co] · w[kh,kw,ci,co]
//            (terms whose division is inexact or out of range are 0)      M = B·H·W, N = Ci, K = KH·KW·Co
//   dW       dw[(kh,kw,ci), co] = Σ_(b,oy,ox) x[b, oy·SH+kh−PT, ox·SW+kw−PL, ci] · dy[b,oy,ox,co]
//            M = KH·KW·Ci, N = Co, K = B·OH·OW (huge) -> split-K: S workgroup slices write partial sums
//            [S, M, N], a second program adds them (no float atomics in WGSL).
// These are the standard convolution gradient identities (e.g. Dumoulin & Visin 2016, "A guide to
// convolution arithmetic", §4; cuDNN's implicit-GEMM formulation).
//
// Tiling: a workgroup computes a TM×TN tile of C; each thread a 4×4 micro-tile whose rows/cols are
// strided by the thread-grid size (conflict-free shared-memory reads, coalesced writes). Per step a TM×TK
// slice of A and a TK×TN slice of B are staged in workgroup memory (padded rows against bank conflicts),
// loaded so that neighbouring threads read neighbouring channels (contiguous in NHWC). Shapes are baked
// into the shader as constants (divisions by constants become multiply-shifts); the shader key carries
// them, so each conv shape compiles once. The K loop has a constant trip count so that
// workgroupBarrier() stays in uniform control flow (WGSL uniformity rules).

/** The subset of tfjs-backend-webgpu's WebGPUProgram interface that makeShader/runWebGPUProgram use. */
export interface WgslProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  workgroupSize: [number, number, number];
  size?: boolean;
  uniforms?: string;
  getUserCode(): string;
}

export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  dilH: number;
  dilW: number;
  padTop: number;
  padLeft: number;
}

const RM = 4;
const RN = 4;
const TK = 16;
const MAX_DISPATCH = 65535;

interface GemmSpec {
  key: string;
  M: number;
  N: number;
  K: number;
  splits: number;
  kChunk: number;
  aFastK: boolean;
  bFastK: boolean;
  /** WGSL statements computing `v` for A[m, k] (m < M, k < K guaranteed). */
  loadA: string;
  loadB: string;
  constants: Record<string, number>;
  variableNames: [string, string];
  outputShape: number[];
}

function tileN(n: number): number {
  return n <= 16 ? 16 : n <= 32 ? 32 : 64;
}

function constBlock(c: Record<string, number>): string {
  return Object.entries(c)
    .map(([k, v]) => `const ${k}: i32 = ${Math.trunc(v)};`)
    .join('\n');
}

class GemmProgram implements WgslProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [0], y: [1] };
  dispatch: [number, number, number];
  variableNames: string[];
  workgroupSize: [number, number, number];
  private readonly tm = 64;
  private readonly tn: number;

  constructor(private readonly s: GemmSpec) {
    this.tn = tileN(s.N);
    const tx = this.tn / RN;
    const ty = this.tm / RM;
    this.workgroupSize = [tx * ty, 1, 1];
    this.dispatch = [Math.ceil(s.N / this.tn), Math.ceil(s.M / this.tm), s.splits];
    if (this.dispatch.some((d) => d > MAX_DISPATCH)) throw new Error(`conv too large for one dispatch (${this.dispatch.join('x')})`);
    this.outputShape = s.outputShape;
    this.variableNames = s.variableNames;
    const c = Object.entries(s.constants).map(([k, v]) => `${k}${v}`).join('_');
    this.shaderKey = `fedsegGemm_${s.key}_${s.M}_${s.N}_${s.K}_${s.splits}_${s.kChunk}_${this.tn}_${c}`;
  }

  getUserCode(): string {
    const s = this.s;
    const TM = this.tm;
    const TN = this.tn;
    const TX = TN / RN;
    const TY = TM / RM;
    const WG = TX * TY;
    const TMP = TM + 1;
    const TNP = TN + 1;
    const steps = Math.ceil(s.kChunk / TK);
    const accDecl: string[] = [];
    const aLoads: string[] = [];
    const bLoads: string[] = [];
    const fmas: string[] = [];
    const writes: string[] = [];
    for (let i = 0; i < RM; i++) aLoads.push(`let a${i} = As[kk * ${TMP} + ty + ${i * TY}];`);
    for (let j = 0; j < RN; j++) bLoads.push(`let b${j} = Bs[kk * ${TNP} + tx + ${j * TX}];`);
    for (let i = 0; i < RM; i++) {
      for (let j = 0; j < RN; j++) {
        accDecl.push(`var c${i}_${j} = 0.0;`);
        fmas.push(`c${i}_${j} = fma(a${i}, b${j}, c${i}_${j});`);
        writes.push(`{ let m = m0 + ty + ${i * TY}; let n = n0 + tx + ${j * TX};
          if (m < GM && n < GN) { result[(split * GM + m) * GN + n] = c${i}_${j}; } }`);
      }
    }
    const aIdx = s.aFastK ? `let kk = i % ${TK}; let mm = i / ${TK};` : `let mm = i % ${TM}; let kk = i / ${TM};`;
    const bIdx = s.bFastK ? `let kk = i % ${TK}; let nn = i / ${TK};` : `let nn = i % ${TN}; let kk = i / ${TN};`;
    return `
${constBlock({ GM: s.M, GN: s.N, GK: s.K, KCHUNK: s.kChunk, ...s.constants })}
var<workgroup> As: array<f32, ${TK * TMP}>;
var<workgroup> Bs: array<f32, ${TK * TNP}>;

fn fsLoadA(m: i32, k: i32) -> f32 {
  var v = 0.0;
  ${s.loadA}
  return v;
}
fn fsLoadB(k: i32, n: i32) -> f32 {
  var v = 0.0;
  ${s.loadB}
  return v;
}

fn main() {
  _ = uniforms.NAN; // keeps the uniform binding in the 'auto' pipeline layout
  let tid = i32(localIndex);
  let tx = tid % ${TX};
  let ty = tid / ${TX};
  let n0 = i32(workgroupId.x) * ${TN};
  let m0 = i32(workgroupId.y) * ${TM};
  let split = i32(workgroupId.z);
  let kBegin = split * KCHUNK;
  let kEnd = min(kBegin + KCHUNK, GK);
  ${accDecl.join('\n  ')}
  for (var t = 0; t < ${steps}; t = t + 1) {
    let k0 = kBegin + t * ${TK};
    for (var i = tid; i < ${TM * TK}; i = i + ${WG}) {
      ${aIdx}
      let gm = m0 + mm;
      let gk = k0 + kk;
      var v = 0.0;
      if (gm < GM && gk < kEnd) { v = fsLoadA(gm, gk); }
      As[kk * ${TMP} + mm] = v;
    }
    for (var i = tid; i < ${TN * TK}; i = i + ${WG}) {
      ${bIdx}
      let gn = n0 + nn;
      let gk = k0 + kk;
      var v = 0.0;
      if (gn < GN && gk < kEnd) { v = fsLoadB(gk, gn); }
      Bs[kk * ${TNP} + nn] = v;
    }
    workgroupBarrier();
    for (var kk = 0; kk < ${TK}; kk = kk + 1) {
      ${aLoads.join('\n      ')}
      ${bLoads.join('\n      ')}
      ${fmas.join('\n      ')}
    }
    workgroupBarrier();
  }
  ${writes.join('\n  ')}
}
`;
  }
}

/** Sums partial results [S, ...outShape] over S. */
export class SplitSumProgram implements WgslProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames = ['partials'];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  private readonly count: number;

  constructor(outShape: number[], private readonly splits: number) {
    this.outputShape = outShape;
    this.count = outShape.reduce((a, b) => a * b, 1);
    this.dispatchLayout = { x: outShape.map((_, i) => i) };
    this.dispatch = [Math.ceil(this.count / 64), 1, 1];
    this.shaderKey = `fedsegSplitSum_${splits}_${this.count}`;
  }

  getUserCode(): string {
    return `
fn main(index: i32) {
  if (index < uniforms.size) {
    var s = 0.0;
    for (var p = 0; p < ${this.splits}; p = p + 1) {
      s = s + partials[p * ${this.count} + index];
    }
    result[index] = s;
  }
}
`;
  }
}

/**
 * Forward convolution, NHWC, any stride/dilation/padding. Inputs: [x, w]. Output [S, B·OH·OW, Co]
 * partial sums when plan.splits > 1 (add with SplitSumProgram), else [B, OH, OW, Co]. Split-K matters for
 * the filter gradient that core/tf/conv-grad.ts writes as a forward conv of xᵀ with dyᵀ: there the
 * "image" is tiny (Ci×KH×KW outputs) and the "filter" huge (OH·OW·B taps).
 */
export function conv2dForwardProgram(g: ConvGeometry, plan: SplitPlan = { splits: 1, kChunk: g.kH * g.kW * g.inC }): WgslProgram {
  const M = g.batch * g.outH * g.outW;
  return new GemmProgram({
    key: 'fwd',
    M,
    N: g.outC,
    K: g.kH * g.kW * g.inC,
    splits: plan.splits,
    kChunk: plan.kChunk,
    aFastK: true,
    bFastK: false,
    constants: cst(g),
    variableNames: ['xIn', 'wIn'],
    outputShape: plan.splits === 1 ? [g.batch, g.outH, g.outW, g.outC] : [plan.splits, M, g.outC],
    loadA: `
  let b = m / (OH * OW); let r = m - b * (OH * OW); let oy = r / OW; let ox = r - oy * OW;
  let kh = k / (KW * CI); let r2 = k - kh * (KW * CI); let kw = r2 / CI; let ci = r2 - kw * CI;
  let iy = oy * SH + kh * DH - PT; let ix = ox * SW + kw * DW - PL;
  if (iy >= 0 && iy < IH && ix >= 0 && ix < IW) { v = xIn[((b * IH + iy) * IW + ix) * CI + ci]; }`,
    loadB: `v = wIn[k * CO + n];`,
  });
}

/** Input gradient (Conv2DBackpropInput), NHWC, dilation 1. Inputs: [dy, w]. Output [B, H, W, Ci]. */
export function conv2dBackpropInputProgram(g: ConvGeometry): WgslProgram {
  return new GemmProgram({
    key: 'dx',
    M: g.batch * g.inH * g.inW,
    N: g.inC,
    K: g.kH * g.kW * g.outC,
    splits: 1,
    kChunk: g.kH * g.kW * g.outC,
    aFastK: true,
    bFastK: true,
    constants: cst(g),
    variableNames: ['dyIn', 'wIn'],
    outputShape: [g.batch, g.inH, g.inW, g.inC],
    loadA: `
  let b = m / (IH * IW); let r = m - b * (IH * IW); let iy = r / IW; let ix = r - iy * IW;
  let kh = k / (KW * CO); let r2 = k - kh * (KW * CO); let kw = r2 / CO; let co = r2 - kw * CO;
  let ty = iy + PT - kh; let tx = ix + PL - kw;
  if (ty >= 0 && tx >= 0) {
    let oy = ty / SH; let ox = tx / SW;
    if (oy * SH == ty && ox * SW == tx && oy < OH && ox < OW) { v = dyIn[((b * OH + oy) * OW + ox) * CO + co]; }
  }`,
    loadB: `
  let kh = k / (KW * CO); let r2 = k - kh * (KW * CO); let kw = r2 / CO; let co = r2 - kw * CO;
  v = wIn[((kh * KW + kw) * CI + n) * CO + co];`,
  });
}

export interface SplitPlan {
  splits: number;
  kChunk: number;
}

/** Chooses S for split-K so that about `targetGroups` workgroups run, each over ≥ minChunk reduction steps. */
export function planSplitK(M: number, N: number, K: number, targetGroups = 1024, minChunk = 256): SplitPlan {
  const tiles = Math.ceil(M / 64) * Math.ceil(N / tileN(N));
  let splits = Math.max(1, Math.min(Math.ceil(targetGroups / tiles), Math.ceil(K / minChunk), MAX_DISPATCH));
  const kChunk = Math.ceil(Math.ceil(K / splits) / TK) * TK;
  splits = Math.ceil(K / kChunk);
  return { splits, kChunk };
}

/**
 * Filter gradient (Conv2DBackpropFilter), NHWC, dilation 1. Inputs: [x, dy]. Output [S, KH·KW·Ci, Co]
 * partial sums (S = plan.splits); add them with SplitSumProgram (or reshape when S = 1).
 */
export function conv2dBackpropFilterProgram(g: ConvGeometry, plan: SplitPlan): WgslProgram {
  const M = g.kH * g.kW * g.inC;
  return new GemmProgram({
    key: 'dw',
    M,
    N: g.outC,
    K: g.batch * g.outH * g.outW,
    splits: plan.splits,
    kChunk: plan.kChunk,
    aFastK: false,
    bFastK: false,
    constants: cst(g),
    variableNames: ['xIn', 'dyIn'],
    outputShape: [plan.splits, M, g.outC],
    loadA: `
  let kh = m / (KW * CI); let r2 = m - kh * (KW * CI); let kw = r2 / CI; let ci = r2 - kw * CI;
  let b = k / (OH * OW); let r = k - b * (OH * OW); let oy = r / OW; let ox = r - oy * OW;
  let iy = oy * SH + kh - PT; let ix = ox * SW + kw - PL;
  if (iy >= 0 && iy < IH && ix >= 0 && ix < IW) { v = xIn[((b * IH + iy) * IW + ix) * CI + ci]; }`,
    loadB: `v = dyIn[k * CO + n];`,
  });
}

function cst(g: ConvGeometry): Record<string, number> {
  return {
    IH: g.inH,
    IW: g.inW,
    CI: g.inC,
    OH: g.outH,
    OW: g.outW,
    CO: g.outC,
    KH: g.kH,
    KW: g.kW,
    SH: g.strideH,
    SW: g.strideW,
    DH: g.dilH,
    DW: g.dilW,
    PT: g.padTop,
    PL: g.padLeft,
  };
}
