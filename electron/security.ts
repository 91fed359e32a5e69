// The Electron security checklist as data and pure functions, unit-tested in Node (security.test.ts):
// web preferences (context isolation on, Node integration off, sandbox on, no webview), the strict CSP
// for the renderer (no remote content, no eval, no inline script), which frames may call the app API
// (VS Code's validatedIpcMain idea: only our own top-level file:// page), navigation and permissions.
import type { WebPreferencesLike } from './electron-api.js';

export const RENDERER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

export function secureWebPreferences(preload: string): WebPreferencesLike {
  return {
    preload,
    contextIsolation: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    sandbox: true,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    spellcheck: false,
    navigateOnDragDrop: false,
  };
}

/** file:// URL of the renderer's index.html (the only page the window ever shows). */
export function rendererUrl(indexPath: string): string {
  return new URL(`file://${indexPath.startsWith('/') ? '' : '/'}${indexPath.replace(/\\/g, '/')}`).href;
}

/** True only for our own renderer page (query/hash ignored), in the top frame of the window. */
export function isTrustedSender(frame: { url: string; top: { url: string } | null } | null, trustedUrl: string): boolean {
  if (!frame) return false;
  if (frame.top && frame.top !== frame && frame.top.url !== frame.url) return false;
  let u: URL;
  try {
    u = new URL(frame.url);
  } catch {
    return false;
  }
  u.search = '';
  u.hash = '';
  return u.protocol === 'file:' && u.href === new URL(trustedUrl).href;
}

/** The app never navigates: every navigation and every window.open is refused. */
export function allowNavigation(_url: string): boolean {
  return false;
}

/** No camera, microphone, notifications, geolocation, ... : the app needs none. */
export function allowPermission(_permission: string): boolean {
  return false;
}

/** Response headers with our CSP added (replacing any CSP already there). */
export function withCsp(headers: Record<string, string[]> | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() !== 'content-security-policy') out[k] = v;
  out['Content-Security-Policy'] = [RENDERER_CSP];
  out['X-Content-Type-Options'] = ['nosniff'];
  return out;
}
