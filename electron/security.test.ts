import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowNavigation, allowPermission, isTrustedSender, RENDERER_CSP, rendererUrl, secureWebPreferences, withCsp } from './security.js';

test('web preferences follow the Electron security checklist', () => {
  const p = secureWebPreferences('/app/preload.cjs');
  assert.equal(p.contextIsolation, true);
  assert.equal(p.nodeIntegration, false);
  assert.equal(p.nodeIntegrationInWorker, false);
  assert.equal(p.nodeIntegrationInSubFrames, false);
  assert.equal(p.sandbox, true);
  assert.equal(p.webSecurity, true);
  assert.equal(p.webviewTag, false);
  assert.equal(p.allowRunningInsecureContent, false);
  assert.equal(p.preload, '/app/preload.cjs');
});

test('the CSP allows only our own files: no remote content, no eval, no inline code', () => {
  const d = Object.fromEntries(RENDERER_CSP.split('; ').map((x) => [x.split(' ')[0], x.split(' ').slice(1)]));
  assert.deepEqual(d['default-src'], ["'none'"]);
  assert.deepEqual(d['script-src'], ["'self'"]);
  assert.deepEqual(d['connect-src'], ["'none'"]);
  assert.deepEqual(d['object-src'], ["'none'"]);
  assert.doesNotMatch(RENDERER_CSP, /unsafe-inline|unsafe-eval|https?:|\*/);
  const h = withCsp({ 'content-security-policy': ["default-src *"], 'X-Other': ['1'] });
  assert.deepEqual(h['Content-Security-Policy'], [RENDERER_CSP]);
  assert.equal(h['content-security-policy'], undefined, 'a server-sent CSP is replaced, not kept');
  assert.deepEqual(h['X-Other'], ['1']);
});

test('only the FedSeg page in the top frame may call the app API', () => {
  const trusted = rendererUrl('/opt/FedSeg/resources/app/dist-renderer/index.html');
  const frame = (url: string, topUrl?: string) => {
    const f: { url: string; top: { url: string } | null } = { url, top: null };
    f.top = topUrl === undefined ? f : { url: topUrl };
    return f;
  };
  assert.equal(isTrustedSender(frame(trusted), trusted), true);
  assert.equal(isTrustedSender(frame(`${trusted}#/segment`), trusted), true);
  assert.equal(isTrustedSender(frame('file:///tmp/evil/index.html'), trusted), false);
  assert.equal(isTrustedSender(frame('https://example.org/'), trusted), false);
  assert.equal(isTrustedSender(frame('not a url'), trusted), false);
  assert.equal(isTrustedSender(null, trusted), false);
  assert.equal(isTrustedSender(frame(trusted, 'https://example.org/'), trusted), false, 'a sub-frame inside another page');
});

test('navigation, new windows and permissions are all refused', () => {
  assert.equal(allowNavigation('https://example.org'), false);
  assert.equal(allowNavigation('file:///etc/passwd'), false);
  assert.equal(allowPermission('media'), false);
  assert.equal(allowPermission('notifications'), false);
});
