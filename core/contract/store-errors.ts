// Which store errors pass (docs/security.md §9): another process holds the site store's lock
// (SQLITE_BUSY / SQLITE_LOCKED, also when the store wrapped them as DB_ERROR with the SQLite error as
// its cause) or the disk is full. Writers made from socket and timer callbacks, and the writes a round
// can do without, wait or skip on these instead of failing.
export function isTransientStoreError(e: unknown): boolean {
  for (let x: unknown = e, depth = 0; x && depth < 4; x = (x as { cause?: unknown }).cause, depth++) {
    const code = String((x as { code?: unknown }).code ?? '');
    if (/^SQLITE_(BUSY|LOCKED|FULL)/.test(code)) return true;
  }
  return false;
}
