// (being written) A FedSeg site as a Flower SuperNode: docs/flower.md.
import { FedSegError } from '../contract/errors.js';
import type { FlowerSiteOptions, SiteRunSummary } from './flower-options.js';

export function runFlowerSite(o: FlowerSiteOptions): Promise<SiteRunSummary> {
  return Promise.reject(new FedSegError('UNSUPPORTED', `not ready: ${o.address}`));
}
