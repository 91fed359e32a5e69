// How the site names and describes each protocol message in its audit log (the app's Outbox:
// "what leaves this hospital"). The token is never logged.
import type { HubMessage } from '../contract/hub-protocol.js';

export const auditKind: Record<HubMessage['kind'], string> = {
  challenge: 'challenge', hello: 'hello', welcome: 'welcome', error: 'error', bye: 'bye', heartbeat: 'heartbeat', init_ins: 'init-request', init_res: 'initial-model',
  spectrum_ins: 'spectrum-request', spectrum_res: 'amplitude-window', spectrum_bank: 'spectrum-bank', train_ins: 'global-model',
  train_res: 'weights-update', evaluate_ins: 'global-model', evaluate_res: 'evaluation-metrics', global_model: 'global-model',
};

export function describeMessage(m: HubMessage): string {
  switch (m.kind) {
    case 'hello': return `hello as ${m.site} (protocol ${m.protocol}, ${m.capabilities.role})`;
    case 'welcome': return `welcome from ${m.hub}: ${m.mode}, round ${m.round}/${m.totalRounds}, model ${m.model.kind}`;
    case 'spectrum_res': return `${m.count} amplitude windows ${m.channels}x${2 * m.halfWidth + 1}x${2 * m.halfWidth + 1}`;
    case 'spectrum_bank': return `${m.count} windows from ${m.sources} other sites`;
    // Round numbering (same as the hub's checkpoints and status): the global model "of round r" is the one
    // produced by round r; train_ins for round r carries the model of round r-1 (round 0 = initial model).
    case 'train_ins': return `global model of round ${m.round - 1} (${m.round === 1 ? 'initial model' : 'after round ' + (m.round - 1)}), to train round ${m.round} (${m.mode})`;
    case 'train_res': return `weights trained in round ${m.round}, ${m.numSamples} samples, metrics ${Object.keys(m.metrics).join(',')}`;
    case 'evaluate_ins': return `global model of round ${m.round} to evaluate`;
    case 'evaluate_res': return `evaluation of round ${m.round} on ${m.numSamples} samples`;
    case 'global_model': return `${m.final ? 'final ' : ''}global model of round ${m.round}`;
    case 'error': return `${m.code}: ${m.message}`;
    case 'bye': return `${m.reason}${m.message ? `: ${m.message}` : ''}`;
    default: return m.kind;
  }
}
