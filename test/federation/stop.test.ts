// A hub stopped while it waits for its quorum ends its run: the wait must not keep polling a closed
// state (an embedded hub, as in the app's tests and the demo, would otherwise keep its process alive).
import { test } from 'node:test';
import { FakeTrainer } from './helpers/fake-trainer.js';
import { mkdirSync } from 'node:fs';
import { site, startHub, tempDir, TRANSPORTS, waitFor, within } from './helpers/hub-harness.js';

for (const transport of TRANSPORTS) {
  test(`stop() during the quorum wait ends run() (${transport})`, { timeout: 30_000 }, async () => {
    const { dir, cleanup } = tempDir();
    try {
      for (const strategy of ['fedavg', 'elcfs']) {
        mkdirSync(`${dir}/${strategy}`);
        const { hub, url, tokens } = await startHub(`${dir}/${strategy}`, { strategy, rounds: 2, minSites: 2, evaluate: 'none' }, [{ name: 'A' }], { transport });
        const run = hub.run();
        const ac = new AbortController();
        const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 2 }), { signal: ac.signal });
        // One site of the two needed: the global model is initialised, then the round waits for quorum.
        await waitFor(() => hub.status().phase === 'waiting', 15_000, `${strategy}: the quorum wait`);
        await hub.stop();
        await within(run, 2_000, `${strategy}: run() after stop()`);
        ac.abort();
        await a.promise.catch(() => undefined);
      }
    } finally {
      cleanup();
    }
  });
}
