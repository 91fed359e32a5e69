// The ELCFS episodic meta step (FedDG Eq. 4, 8, 9; docs/algorithms.md §5) and the plain FedAvg step.
//
// ELCFS, per mini-batch at site k (x raw images, t_j = CFSI(x) with spectra of other sites, y masks):
//   1. L_inner = Dice(net(x; theta), y);  g = dL_inner/dtheta;  theta' = theta - beta * clip(g, -c, c)
//      (beta 1e-3, c 100).
//   2. L_meta = mean_j Dice(net(t_j; theta'), y) + gamma * mean_j L_boundary(Z_x from theta, Z_tj from theta')
//      (gamma 0.1; one view t by default as the reference, or K-1 views).
//   3. One Adam step on theta with d(L_inner + L_meta)/dtheta.
// First order (the reference's default): g is a constant, so dtheta'/dtheta = I and
//   d/dtheta = dL_inner/dtheta + dL_meta/dtheta|_(theta' fixed) + dL_meta/dtheta'.
// Second order (exact, beyond the reference): dtheta'/dtheta = I - beta * D * H, D = diag(|g| <= c)
// (the clip's derivative), H = Hessian of L_inner, so the meta gradient gains -beta * H (D v) with
// v = dL_meta/dtheta'. Two ways:
//   'fd-hvp': H u by central differences of gradients, (grad L_inner(theta + eps u) - grad L_inner(theta - eps u)) / (2 eps),
//             eps chosen so that ||eps u|| = 1e-3 * ||theta|| (relative step; two extra gradient passes);
//   'exact':  nested reverse-mode autodiff through the inner gradient (works because core/tf's gradient
//             overrides make conv/pool/sigmoid gradients differentiable; much more memory).
// FedAvg: plain Dice step, loss = Dice(net(x; theta), y).
//
// Readbacks: the loss terms (and for 'fd-hvp' the squared norms that set eps) stay on the device while
// the step is built and are read back in ONE batch per step (a stacked vector): `await` in the async
// API (computeStepGradientsAsync, trainStep), a single dataSync in the sync computeStepGradients. The
// webgpu backend in Node has no synchronous readback (docs/gpu.md), so training uses the async API.
import { tf } from '../tf/tf.js';
import { FedSegError } from '../contract/errors.js';
import type { ForwardOutput, SegModel, WeightMap } from '../models/seg-model.js';
import { withFusedNormGradient } from '../models/unet.js';
import { diceLoss } from '../losses/dice-loss.js';
import { boundaryLoss, BOUNDARY_GAMMA, NTXENT_TAU, type BoundaryRegions } from '../losses/boundary-loss.js';
import type { Adam } from './adam.js';

export type TrainMode = 'elcfs' | 'fedavg';
export type SecondOrder = 'none' | 'fd-hvp' | 'exact';

export interface MetaStepOptions {
  mode: TrainMode;
  /** Inner (meta) step size beta. Default 1e-3. */
  beta?: number;
  /** Inner gradient clip value c. Default 100. */
  clip?: number;
  /** Boundary-loss weight gamma. Default 0.1 (0 disables the boundary term). */
  gamma?: number;
  /** NT-Xent temperature. Default 0.05. */
  tau?: number;
  /** Meta-gradient order. Default 'none' (first order, as the reference). */
  secondOrder?: SecondOrder;
  /** Relative finite-difference step for 'fd-hvp'. Default 1e-3. */
  hvpRelStep?: number;
}

export interface StepInputs {
  /** Raw images [B,H,W,C]. */
  x: tf.Tensor4D;
  /** Ground truth [B,H,W,classes] as 0/1 floats. */
  y: tf.Tensor4D;
  /** ELCFS: the CFSI views of x, one [B,H,W,C] tensor per meta-test view (>= 1). */
  meta?: tf.Tensor4D[];
  /** ELCFS with gamma > 0: boundary / background regions of y (see boundaryRegions). */
  regions?: BoundaryRegions;
}

export interface StepLosses {
  /** Dice on raw images with theta (FedAvg: the only term). */
  inner: number;
  /** Mean Dice over meta views with theta' (0 for FedAvg). */
  metaDice: number;
  /** Mean boundary loss over views, before gamma (0 for FedAvg or gamma 0). */
  boundary: number;
  /** inner + metaDice + gamma * boundary. */
  total: number;
}

export interface StepGradients {
  grads: WeightMap;
  losses: StepLosses;
}

interface Resolved {
  mode: TrainMode;
  beta: number;
  clip: number;
  gamma: number;
  tau: number;
  secondOrder: SecondOrder;
  hvpRelStep: number;
}

function resolve(o: MetaStepOptions): Resolved {
  if (o.mode !== 'elcfs' && o.mode !== 'fedavg') throw new FedSegError('INVALID_ARGUMENT', `meta step: mode must be 'elcfs' or 'fedavg', got ${String(o.mode)}`);
  const r: Resolved = {
    mode: o.mode,
    beta: o.beta ?? 1e-3,
    clip: o.clip ?? 100,
    gamma: o.gamma ?? BOUNDARY_GAMMA,
    tau: o.tau ?? NTXENT_TAU,
    secondOrder: o.secondOrder ?? 'none',
    hvpRelStep: o.hvpRelStep ?? 1e-3,
  };
  if (!(r.beta >= 0) || !(r.clip > 0) || !(r.gamma >= 0) || !(r.tau > 0) || !(r.hvpRelStep > 0))
    throw new FedSegError('INVALID_ARGUMENT', `meta step: need beta >= 0, clip > 0, gamma >= 0, tau > 0; got ${JSON.stringify(r)}`);
  if (!['none', 'fd-hvp', 'exact'].includes(r.secondOrder))
    throw new FedSegError('INVALID_ARGUMENT', `meta step: secondOrder must be 'none', 'fd-hvp' or 'exact', got ${String(r.secondOrder)}`);
  return r;
}

const fromList = (names: string[], ts: tf.Tensor[]): WeightMap => Object.fromEntries(names.map((n, i) => [n, ts[i]!]));

/**
 * Value and gradients of f wrt every tensor in xs, as tf.valueAndGrads but weights that do not reach
 * the loss (e.g. the U-Net's conv biases in front of instance norm) get zeros instead of an error.
 * Nested calls record on the outer tape, so this composes for second order. Caller disposes.
 */
export function valueAndGradsAllowUnused(f: (...xs: tf.Tensor[]) => tf.Scalar, xs: tf.Tensor[]): { value: tf.Scalar; grads: tf.Tensor[] } {
  const { value, grads } = tf.engine().gradients(() => f(...xs), xs, undefined, true);
  return { value: value as tf.Scalar, grads: grads.map((g, i) => g ?? tf.zerosLike(xs[i]!)) };
}

/**
 * A new tensor sharing t's device buffer but unknown to the gradient tape (a constant for any outer
 * backward), without a readback: the engine wraps the data id (as backends do for kernel outputs) and
 * the backend's reference count keeps the buffer alive until both tensors are disposed.
 */
function detach(t: tf.Tensor): tf.Tensor {
  const c = tf.engine().makeTensorFromTensorInfo({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
  tf.engine().backend.incRef(t.dataId);
  return c;
}

/** Gradients plus the (kept, caller-disposed) loss value; nothing is read back. */
function gradsOf(xs: tf.Tensor[], f: (...ws: tf.Tensor[]) => tf.Scalar): { value: tf.Scalar; grads: tf.Tensor[] } {
  return valueAndGradsAllowUnused(f, xs);
}

/**
 * A step whose host-side scalars are still on the device: `scalars` is one 1-D tensor (loss terms and,
 * for 'fd-hvp', squared norms); `finish(values)` builds the result from its values. Exactly one of
 * finish / abandon must be called; either disposes everything the step still holds.
 */
interface PendingStep {
  scalars: tf.Tensor1D;
  finish(values: ArrayLike<number>): StepGradients;
  abandon(): void;
}

function checkInputs(model: SegModel, weights: WeightMap, inp: StepInputs, r: Resolved): void {
  if (!inp.x || !inp.y || inp.x.rank !== 4 || inp.y.rank !== 4) throw new FedSegError('SHAPE_MISMATCH', 'meta step: x and y must be [B,H,W,C] tensors');
  if (inp.x.shape[0] !== inp.y.shape[0] || inp.x.shape[1] !== inp.y.shape[1] || inp.x.shape[2] !== inp.y.shape[2] || inp.y.shape[3] !== model.classes)
    throw new FedSegError('SHAPE_MISMATCH', `meta step: x [${inp.x.shape}] and y [${inp.y.shape}] disagree (model has ${model.classes} classes)`);
  if (Object.keys(weights).length === 0) throw new FedSegError('INVALID_ARGUMENT', 'meta step: empty weight map');
  if (r.mode === 'elcfs') {
    if (!inp.meta || inp.meta.length === 0) throw new FedSegError('INVALID_ARGUMENT', 'ELCFS step: at least one meta-test (CFSI) view of the batch is required');
    for (const t of inp.meta)
      if (t.shape.some((d, i) => d !== inp.x.shape[i])) throw new FedSegError('SHAPE_MISMATCH', `ELCFS step: meta view [${t.shape}] differs from x [${inp.x.shape}]`);
    if (r.gamma > 0 && !inp.regions) throw new FedSegError('INVALID_ARGUMENT', 'ELCFS step: boundary regions are required when gamma > 0');
  }
}

/**
 * Computes the step's gradients (the caller disposes result.grads) and its loss terms. Every mode but
 * 'exact' needs first-order gradients only, so they run with instance norm's closed-form backward
 * (withFusedNormGradient); 'exact' differentiates through gradients and uses plain autodiff.
 */
export function computeStepGradients(model: SegModel, weights: WeightMap, inp: StepInputs, opts: MetaStepOptions): StepGradients {
  const { pending, run } = beginStep(model, weights, inp, opts);
  let values: Float32Array;
  try {
    values = pending.scalars.dataSync() as Float32Array;
  } catch (e) {
    pending.abandon();
    throw e;
  }
  return run(() => pending.finish(values));
}

/** computeStepGradients with the step's one readback awaited (works on every backend, webgpu included). */
export async function computeStepGradientsAsync(model: SegModel, weights: WeightMap, inp: StepInputs, opts: MetaStepOptions): Promise<StepGradients> {
  const { pending, run } = beginStep(model, weights, inp, opts);
  let values: Float32Array;
  try {
    values = (await pending.scalars.data()) as Float32Array;
  } catch (e) {
    pending.abandon();
    throw e;
  }
  return run(() => pending.finish(values));
}

function beginStep(model: SegModel, weights: WeightMap, inp: StepInputs, opts: MetaStepOptions): { pending: PendingStep; run: <T>(fn: () => T) => T } {
  const r = resolve(opts);
  checkInputs(model, weights, inp, r);
  const run = r.secondOrder === 'exact' ? <T>(fn: () => T): T => fn() : withFusedNormGradient;
  return { pending: run(() => stepGradients(model, weights, inp, r)), run };
}

function stepGradients(model: SegModel, weights: WeightMap, inp: StepInputs, r: Resolved): PendingStep {
  const names = Object.keys(weights);
  const theta = names.map((n) => weights[n]!);
  const innerLoss = (ws: tf.Tensor[]) => tf.tidy(() => diceLoss(model.forward(fromList(names, ws), inp.x, { training: true }).probs, inp.y));

  if (r.mode === 'fedavg') {
    const { value, grads } = gradsOf(theta, (...ws) => innerLoss(ws));
    const scalars = tf.tidy(() => tf.reshape(value, [1]) as tf.Tensor1D);
    value.dispose();
    return {
      scalars,
      finish: (vals) => {
        scalars.dispose();
        const v = vals[0]!;
        return { grads: fromList(names, grads), losses: { inner: v, metaDice: 0, boundary: 0, total: v } };
      },
      abandon: () => tf.dispose([scalars, ...grads]),
    };
  }

  const views = inp.meta!;
  const nv = views.length;
  const n = names.length;
  // Kept copies of the loss terms (read back with the step's one readback).
  let innerT = null as tf.Scalar | null;
  let metaDiceT = null as tf.Scalar | null;
  let boundaryT = null as tf.Scalar | null;
  /** L_meta(theta', Z_x) = mean_j Dice(net(t_j; theta')) + gamma * mean_j L_boundary(Z_x, Z_tj); records the values. */
  const metaTerms = (outX: ForwardOutput, thp: tf.Tensor[]): tf.Scalar => {
    let md: tf.Scalar = tf.scalar(0);
    let bl: tf.Scalar = tf.scalar(0);
    for (const t of views) {
      const outT = model.forward(fromList(names, thp), t, { training: true });
      md = tf.add(md, diceLoss(outT.probs, inp.y));
      if (r.gamma > 0) {
        if (!outX.features || !outT.features) throw new FedSegError('UNSUPPORTED', `ELCFS step: model '${model.kind}' returns no features Z for the boundary loss (set gamma 0)`);
        bl = tf.add(bl, boundaryLoss(outX.features, outT.features, inp.regions!, r.tau));
      }
    }
    md = tf.div(md, nv);
    bl = tf.div(bl, nv);
    metaDiceT = tf.keep(tf.clone(md));
    boundaryT = tf.keep(tf.clone(bl));
    return tf.add(md, tf.mul(bl, r.gamma)) as tf.Scalar;
  };

  // One recorded forward pass of x serves both the inner gradient and the final backward: the inner
  // gradient is a nested backward over the tape recorded so far (no second forward of x, like the
  // reference's retain_graph). First order: g is copied off the tape (a constant), so
  // theta' = theta - beta*clip(g) has dtheta'/dtheta = I and the one outer backward over
  // L_inner(theta) + L_meta(theta, theta') gives the whole first-order gradient. 'exact' keeps g on the
  // tape, so the outer backward also differentiates through the inner gradient (second order).
  // 'fd-hvp' adds zero tensors delta to theta' to read v = dL_meta/dtheta' off the same backward.
  const exact = r.secondOrder === 'exact';
  const withDelta = r.secondOrder === 'fd-hvp';
  const deltas = withDelta ? theta.map((t) => tf.zerosLike(t)) : [];
  let gConst: tf.Tensor[] = [];
  let out: { value: tf.Scalar; grads: tf.Tensor[] };
  try {
    out = gradsOf([...theta, ...deltas], (...ws) => {
      const th = ws.slice(0, n);
      const outX = model.forward(fromList(names, th), inp.x, { training: true });
      const li = diceLoss(outX.probs, inp.y);
      innerT = tf.keep(tf.clone(li));
      const g = tf.engine().gradients(() => li, th, undefined, true).grads.map((gi, i) => gi ?? tf.zerosLike(th[i]!));
      let gUse = g;
      if (!exact) {
        // A copy off the tape (a constant for the outer backward), made on the device.
        gConst = g.map((gi) => tf.keep(detach(gi)));
        gUse = gConst;
      }
      const thp = th.map((w, i) => {
        const p = tf.sub(w, tf.mul(tf.clipByValue(gUse[i]!, -r.clip, r.clip), r.beta));
        return withDelta ? tf.add(p, ws[n + i]!) : p;
      });
      return tf.add(li, metaTerms(outX, thp)) as tf.Scalar;
    });
  } catch (e) {
    tf.dispose([innerT, metaDiceT, boundaryT].filter((t): t is tf.Scalar => t !== null));
    tf.dispose(gConst);
    throw e;
  } finally {
    tf.dispose(deltas);
  }
  const terms = [innerT!, metaDiceT!, boundaryT!, out.value];
  const lossesOf = (vals: ArrayLike<number>): StepLosses => ({ inner: vals[0]!, metaDice: vals[1]!, boundary: vals[2]!, total: vals[3]! });
  if (!withDelta) {
    tf.dispose(gConst);
    const scalars = tf.tidy(() => tf.stack(terms) as tf.Tensor1D);
    tf.dispose(terms);
    return {
      scalars,
      finish: (vals) => {
        scalars.dispose();
        return { grads: fromList(names, out.grads), losses: lossesOf(vals) };
      },
      abandon: () => tf.dispose([scalars, ...out.grads]),
    };
  }
  // fd-hvp: result = (first-order gradient) - beta * H (D v), v = dL_meta/dtheta', D = [|g| <= clip],
  // H u by central differences of inner gradients. The squared norms of u and theta (per tensor, summed
  // on the host as before) travel with the loss terms in the step's one readback.
  const first = out.grads.slice(0, n);
  const v = out.grads.slice(n);
  const u = tf.tidy(() => v.map((vi, i) => tf.mul(vi, tf.cast(tf.lessEqual(tf.abs(gConst[i]!), r.clip), 'float32'))));
  tf.dispose([...v, ...gConst]);
  const scalars = tf.tidy(() => tf.concat([tf.stack(terms), ...u.map((t) => tf.reshape(tf.sum(tf.square(t)), [1])), ...theta.map((t) => tf.reshape(tf.sum(tf.square(t)), [1]))]) as tf.Tensor1D);
  tf.dispose(terms);
  return {
    scalars,
    abandon: () => tf.dispose([scalars, ...first, ...u]),
    finish: (vals) => {
      scalars.dispose();
      const norm = (from: number) => {
        let acc = 0;
        for (let i = 0; i < n; i++) acc += vals[from + i]!;
        return Math.sqrt(acc);
      };
      const uNorm = norm(4);
      let result: tf.Tensor[];
      try {
        if (uNorm === 0) {
          result = first;
        } else {
          const eps = (r.hvpRelStep * Math.max(norm(4 + n), 1)) / uNorm;
          const shifted = (sgn: number) => {
            const th = tf.tidy(() => theta.map((w, i) => tf.add(w, tf.mul(u[i]!, sgn))));
            const { value, grads } = gradsOf(th, (...ws) => innerLoss(ws));
            tf.dispose([th, value].flat());
            return grads;
          };
          const gp = shifted(eps);
          const gm = shifted(-eps);
          result = tf.tidy(() => first.map((f, i) => tf.sub(f, tf.mul(tf.sub(gp[i]!, gm[i]!), r.beta / (2 * eps)))));
          tf.dispose([...gp, ...gm, ...first]);
        }
      } finally {
        tf.dispose(u);
      }
      return { grads: fromList(names, result), losses: lossesOf(vals) };
    },
  };
}

/**
 * The scalar the meta step differentiates, L_inner(theta) + L_meta(theta, theta'(theta)), with theta'
 * computed from theta (for numerical verification of the meta-gradient; FedAvg: L_inner only).
 */
export async function metaObjective(model: SegModel, weights: WeightMap, inp: StepInputs, opts: MetaStepOptions): Promise<number> {
  const r = resolve(opts);
  checkInputs(model, weights, inp, r);
  const names = Object.keys(weights);
  const theta = names.map((n) => weights[n]!);
  const value = tf.tidy(() => {
    const inner = valueAndGradsAllowUnused((...ws: tf.Tensor[]) => diceLoss(model.forward(fromList(names, ws), inp.x, { training: true }).probs, inp.y), theta).grads;
    const outX = model.forward(weights, inp.x, { training: true });
    let total = diceLoss(outX.probs, inp.y);
    if (r.mode === 'fedavg') return total;
    const thp = fromList(names, theta.map((w, i) => tf.sub(w, tf.mul(tf.clipByValue(inner[i] ?? tf.zerosLike(w), -r.clip, r.clip), r.beta))));
    const nv = inp.meta!.length;
    for (const t of inp.meta!) {
      const outT = model.forward(thp, t, { training: true });
      total = tf.add(total, tf.div(diceLoss(outT.probs, inp.y), nv));
      if (r.gamma > 0) total = tf.add(total, tf.mul(boundaryLoss(outX.features!, outT.features!, inp.regions!, r.tau), r.gamma / nv));
    }
    return total;
  });
  try {
    return (await value.data())[0]!;
  } finally {
    value.dispose();
  }
}

/**
 * One training step: gradients, then one Adam update of `weights` in place. Resolves to the loss terms.
 * One awaited readback per step (the loss terms, checked finite before the update is applied).
 */
export async function trainStep(model: SegModel, weights: WeightMap, adam: Adam, inp: StepInputs, opts: MetaStepOptions): Promise<StepLosses> {
  const { grads, losses } = await computeStepGradientsAsync(model, weights, inp, opts);
  try {
    for (const [k, v] of Object.entries(losses))
      if (!Number.isFinite(v)) throw new FedSegError('NUMERIC_ERROR', `training step: loss term '${k}' is ${v} (diverged or bad input)`);
    adam.apply(weights, grads);
  } finally {
    tf.dispose(Object.values(grads));
  }
  return losses;
}
