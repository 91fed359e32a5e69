// Site identity on loopback (docs/security.md §2): before, the join token was a static bearer secret
// (anyone holding a copy was the site, forever, and a recorded hello could be replayed). Now the token
// only enrols the site's key once, before it expires; the hub then knows the site by its key and a
// signature of the connection's own challenge.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeMessage, type HelloMsg } from '../../core/contract/hub-protocol.js';
import { newSiteIdentity, signedHello } from '../../core/contract/site-identity.js';
import { FakeTrainer } from './helpers/fake-trainer.js';
import { identityOf, site, startHub, tempDir, waitFor, within } from './helpers/hub-harness.js';
import { rawConn, RAW_CAPS } from './helpers/raw-hello.js';

test('a copied token is useless once the site enrolled its key; a replayed hello fails; an expired token enrols nothing', { timeout: 60_000 }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const { hub, url, tokens } = await startHub(dir, { mode: 'fedavg', rounds: 1, minSites: 1, evaluate: 'none' }, [{ name: 'A' }]);
    // A enrols its key with its token (first join) and finishes the run.
    const run = hub.run();
    const a = site(url, 'A', tokens.A!, new FakeTrainer({ target: 1, samples: 2 }));
    await within(Promise.all([a.promise, run]), 20_000, 'run');
    assert.equal(hub.state.listSites()[0]!.publicKey, identityOf(url, 'A').publicKey);
    assert.equal(hub.state.listAudit({ event: 'key_bound' }).length, 1);

    // Someone with a copy of A's token but not its key: refused, whatever else is right.
    const thief = await rawConn(url);
    thief.ws.send(encodeMessage(signedHello({ nonce: thief.nonce, site: 'A', identity: newSiteIdentity(), token: tokens.A!, capabilities: RAW_CAPS })).data);
    assert.equal(await thief.closed, 4001);
    assert.match(JSON.stringify(thief.got), /signed with another key than the one it enrolled/);

    // A recorded hello of A (its real key) replayed on another connection: the challenge differs.
    const first = await rawConn(url);
    const recorded: HelloMsg = signedHello({ nonce: first.nonce, site: 'A', identity: identityOf(url, 'A'), capabilities: RAW_CAPS });
    first.ws.close();
    const replay = await rawConn(url);
    replay.ws.send(encodeMessage(recorded).data);
    assert.equal(await replay.closed, 4001);
    assert.match(JSON.stringify(replay.got), /signature does not match/);

    // A itself, with its key and no token at all: welcome.
    const again = await rawConn(url);
    again.ws.send(encodeMessage(signedHello({ nonce: again.nonce, site: 'A', identity: identityOf(url, 'A'), capabilities: RAW_CAPS })).data);
    await waitFor(() => again.got.some((m) => m.kind === 'welcome' || m.kind === 'bye'), 10_000, 'welcome');
    again.ws.close();

    // A token past its lifetime binds no key.
    const tokE = hub.state.addSite('E', 'train', -1000);
    const late = await rawConn(url);
    late.ws.send(encodeMessage(signedHello({ nonce: late.nonce, site: 'E', identity: newSiteIdentity(), token: tokE, capabilities: RAW_CAPS })).data);
    assert.equal(await late.closed, 4001);
    assert.match(JSON.stringify(late.got), /enrolment token expired/);
    assert.equal(hub.state.listSites().find((s) => s.name === 'E')!.publicKey, null);
    await hub.stop();
  } finally {
    cleanup();
  }
});
