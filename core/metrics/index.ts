// Segmentation metrics: Dice, medpy-equal HD95/ASD, evaluation post-processing (docs/algorithms.md §6).
export { dice } from './dice.js';
export { hd95, hausdorff, asd, assd, surfaceDistancesOf, percentileLinear } from './hausdorff.js';
export { postprocess, evaluateMasks, aggregateEvaluations, type MaskEvaluation, type EvaluationSummary } from './evaluate.js';
