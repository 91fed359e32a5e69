// Import handlers (dry-run preview + transactional import). Wired to C's importers in core/data.
import type { AppHandlers } from '../contract/app-api.js';
import { FedSegError } from '../contract/errors.js';
import type { EngineContext } from './context.js';

export function importHandlers(_ctx: EngineContext): Pick<AppHandlers, 'previewImport' | 'importDataset'> {
  const missing = () => new FedSegError('UNSUPPORTED', 'folder import is not available yet in this build');
  return {
    async previewImport() {
      throw missing();
    },
    async importDataset() {
      throw missing();
    },
  };
}
