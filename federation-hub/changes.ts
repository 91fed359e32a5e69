// Waiting for the hub's state to change: the round runner waits on predicates (quorum reached, every
// update in, deadline passed) that are re-checked whenever something happened and at least every
// `pollMs` (deadlines pass without an event).
export class Changes {
  private waiters: (() => void)[] = [];

  /** Something changed: every wait re-checks its predicate now. */
  notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when pred() holds. */
  async until(pred: () => boolean, pollMs: number): Promise<void> {
    while (!pred()) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pollMs);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}
