// electron-builder `afterPack` hook (package.json build.afterPack): flips the packaged Electron binary's
// fuses (docs/security.md §5) before electron-builder signs it, so the shipped app cannot be turned
// into a general Node.js runtime or debugged into by whoever can start it:
//   RunAsNode off                       ELECTRON_RUN_AS_NODE=1 no longer makes FedSeg a plain `node`
//   EnableNodeOptionsEnvironmentVariable off   NODE_OPTIONS (--require, --inspect) is ignored
//   EnableNodeCliInspectArguments off   --inspect / --inspect-brk are ignored
//   EnableEmbeddedAsarIntegrityValidation on  app.asar must match the hash electron-builder embeds
//                                       (macOS and Windows; Electron does not check it on Linux)
//   OnlyLoadAppFromAsar on              no app/ folder or loose files next to app.asar are loaded
//   EnableCookieEncryption on           the session's cookies are encrypted with the OS keychain key
// Fuses electron-builder's @electron/fuses (1.x, which runs on Node 20) does not name are left as
// Electron ships them. A binary without the fuse sentinel fails the packaging instead of shipping
// unfused. Tested on a fake binary with the sentinel and fuse wire (electron/fuses.test.ts).
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { flipFuses, FuseV1Options, FuseVersion } = require('@electron/fuses');

/** The fuses FedSeg ships with: option index -> on/off. */
export const FEDSEG_FUSES = {
  [FuseV1Options.RunAsNode]: false,
  [FuseV1Options.EnableNodeOptionsEnvironmentVariable]: false,
  [FuseV1Options.EnableNodeCliInspectArguments]: false,
  [FuseV1Options.EnableEmbeddedAsarIntegrityValidation]: true,
  [FuseV1Options.OnlyLoadAppFromAsar]: true,
  [FuseV1Options.EnableCookieEncryption]: true,
};

/** The Electron executable electron-builder packed (the same path its own fuse step uses). */
export function electronBinary(context) {
  const { appOutDir, electronPlatformName, packager } = context;
  if (electronPlatformName === 'linux') return join(appOutDir, packager.executableName);
  const ext = electronPlatformName === 'win32' ? '.exe' : electronPlatformName === 'darwin' || electronPlatformName === 'mas' ? '.app' : '';
  return join(appOutDir, `${packager.appInfo.productFilename}${ext}`);
}

export default async function afterPack(context) {
  const binary = electronBinary(context);
  // arm64 macOS refuses to run a binary whose ad-hoc signature no longer matches; re-sign it ad hoc
  // (electron-builder's real signing comes after this hook). Arch 3 is electron-builder's Arch.arm64.
  const resetAdHocDarwinSignature = (context.electronPlatformName === 'darwin' || context.electronPlatformName === 'mas') && context.arch === 3;
  const sentinels = await flipFuses(binary, { version: FuseVersion.V1, resetAdHocDarwinSignature, ...FEDSEG_FUSES });
  console.log(`  • fuses flipped in ${binary} (${sentinels} fuse wire${sentinels === 1 ? '' : 's'}): RunAsNode, NODE_OPTIONS and --inspect off; asar integrity and asar-only loading on`);
}
