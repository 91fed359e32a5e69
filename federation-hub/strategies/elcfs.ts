// ELCFS (Liu et al., CVPR 2021 "FedDG: Federated Domain Generalization on Medical Image Segmentation
// via Episodic Learning in Continuous Frequency Space"; docs/algorithms.md §2, §5) on the hub side:
// FedAvg aggregation plus the spectrum bank. Each train site first uploads the low-frequency amplitude
// windows of its training images (only the (2b+1)^2 x C window per image); a site is ready for rounds
// once its windows are in; before its local training every site gets the windows of the OTHER train
// sites (never its own, never an eval site's), re-sent whenever the bank changed. Sites then run the
// episodic meta step locally (train_ins mode 'elcfs'). The bank is validated (docs/security.md §3): a
// site's windows are accepted once, only after the hub asked for them, with the model's channels, at
// most the half-width asked for and bounded amplitudes; each bank fits the recipient's message limit.
import { FedSegError } from '../../core/contract/errors.js';
import type { DecodedFrame } from '../../core/contract/hub-protocol.js';
import { buildBank, checkWindows } from '../spectrum-bank.js';
import { FedAvgStrategy } from './fedavg.js';
import type { Strategy, StrategySite } from './strategy.js';

export class ElcfsStrategy extends FedAvgStrategy {
  override readonly name: string = 'elcfs';
  override readonly cites: string = 'FedDG / ELCFS, Liu et al. 2021';
  override readonly localMode: Strategy['localMode'] = 'elcfs';

  override ready(site: StrategySite): boolean {
    return this.ctx.state.hasSpectra(site.name);
  }

  override owes(site: StrategySite): boolean {
    return site.role === 'train' && !this.ctx.state.hasSpectra(site.name);
  }

  override onJoin(site: StrategySite): void {
    if (!this.owes(site)) return;
    const c = this.ctx.config;
    site.notes.set('spectrumAsked', true);
    this.ctx.send(site, { kind: 'spectrum_ins', alpha: c.train.alpha, maxWindows: c.spectrumMaxWindows, maxHalfWidth: c.spectrumMaxHalfWidth });
  }

  override beforeTrain(site: StrategySite): void {
    const stored = this.ctx.state.listSpectra();
    const key = stored.filter((x) => x.site !== site.name).map((x) => `${x.site}:${x.count}`).join('|');
    if (site.notes.get('bank') === key) return;
    // Half the site's limit: the frame's manifest and header come on top, and the site may run a smaller limit than it reports.
    const bank = buildBank(site.name, stored, this.ctx.config.spectrumPerSource, Math.floor(site.maxPayload / 2));
    site.notes.set('bank', key);
    if (bank.perSource !== this.ctx.config.spectrumPerSource)
      this.ctx.log(`site ${site.name}: bank reduced to ${bank.perSource} window(s) per source to fit its ${site.maxPayload}-byte message limit`);
    this.ctx.send(site, { kind: 'spectrum_bank', sources: bank.sources.length, count: bank.arrays.length, version: stored.length }, bank.arrays);
  }

  override onMessage(site: StrategySite, f: DecodedFrame): boolean {
    if (f.msg.kind !== 'spectrum_res') return false;
    const m = f.msg;
    if (site.role !== 'train') throw new FedSegError('PROTOCOL_ERROR', 'eval (unseen) sites do not share spectra');
    if (this.ctx.state.hasSpectra(site.name)) throw new FedSegError('PROTOCOL_ERROR', 'this site\'s spectrum windows are already in the bank (they are accepted once per run)');
    if (site.notes.get('spectrumAsked') !== true) throw new FedSegError('PROTOCOL_ERROR', 'spectrum windows arrived without a spectrum request on this connection');
    const c = this.ctx.config;
    checkWindows(f.arrays!, m.count, m.channels, m.halfWidth, { channels: c.model.inChannels, maxHalfWidth: c.spectrumMaxHalfWidth, maxWindows: c.spectrumMaxWindows });
    site.notes.delete('spectrumAsked');
    this.ctx.state.saveSpectra(site.name, m.count, m.channels, m.halfWidth, f.attachment!.slice());
    this.ctx.log(`site ${site.name}: ${m.count} spectrum windows (${m.channels}x${2 * m.halfWidth + 1}^2)`);
    this.ctx.changed();
    return true;
  }
}
