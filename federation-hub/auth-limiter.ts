// Failed pre-authentication attempts per remote address (docs/security.md §6): a token bucket of
// `burst` failures refilled at `perMinute`; an address whose bucket is empty has its connections
// refused with RATE_LIMITED before any work (no challenge, no signature check, no audit row). Audit
// rows are sampled: a failure is written in full only while its address has tokens left and the hub's
// budget of full rows for the interval is not spent; everything else is counted and written as one
// summary row per interval. IPv6 addresses share a bucket per /64 (one host usually holds the whole
// prefix), and the table of addresses is bounded.

export interface AuthLimiterOptions {
  /** Failures an address may have in a row before it is refused. */
  burst: number;
  /** Failures regained per minute. */
  perMinute: number;
  /** Length of a summary interval (ms). */
  intervalMs: number;
  /** Failures written in full per interval, all addresses together. */
  fullRowsPerInterval: number;
  /** Addresses tracked at once (the oldest are forgotten first). */
  maxAddresses?: number;
  /** How the summary row names what it counts (default: connections, failed attempts, addresses). */
  words?: { refused: string; unlogged: string; keys: string };
}

const ADDRESS_WORDS = { refused: 'connection(s) refused as rate limited', unlogged: 'failed attempt(s) not logged one by one', keys: 'address(es)' };

interface Bucket {
  tokens: number;
  at: number;
}

/** The rate-limiting key of a remote address: IPv4 as is (also IPv4-mapped IPv6), IPv6 by its /64. */
export function addressKey(remote: string): string {
  const a = remote.toLowerCase().replace(/^\[|\]$/g, '');
  const v4 = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/.exec(a);
  if (v4) return v4[1]!;
  if (!a.includes(':')) return a;
  // Expand '::' just enough to take the first four groups.
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export class AuthLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** This interval: connections refused and failures not written in full, per address. */
  private refused = new Map<string, number>();
  private unlogged = new Map<string, number>();
  private fullRows = 0;
  private timer?: ReturnType<typeof setInterval>;
  private readonly max: number;

  constructor(private readonly o: AuthLimiterOptions, private readonly report: (summary: string) => void, private readonly now: () => number = Date.now) {
    this.max = o.maxAddresses ?? 10_000;
  }

  private bucket(addr: string): Bucket {
    const t = this.now();
    let b = this.buckets.get(addr);
    if (!b) {
      if (this.buckets.size >= this.max) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.o.burst, at: t };
      this.buckets.set(addr, b);
    } else {
      b.tokens = Math.min(this.o.burst, b.tokens + ((t - b.at) * this.o.perMinute) / 60_000);
      b.at = t;
    }
    return b;
  }

  /** True when the address has no failure left: refuse its connection now (counted for the summary). */
  refuse(remote: string): boolean {
    const addr = addressKey(remote);
    if (!this.buckets.has(addr) || this.bucket(addr).tokens >= 1) return false;
    this.refused.set(addr, (this.refused.get(addr) ?? 0) + 1);
    return true;
  }

  /**
   * A failed attempt before authentication. `full`: write its audit row and log line; `nowLimited`:
   * this failure used the address's last token (its next connections are refused).
   */
  failure(remote: string): { full: boolean; nowLimited: boolean } {
    const addr = addressKey(remote);
    const b = this.bucket(addr);
    const had = b.tokens >= 1;
    if (had) b.tokens -= 1;
    const full = had && this.fullRows < this.o.fullRowsPerInterval;
    if (full) this.fullRows++;
    else this.unlogged.set(addr, (this.unlogged.get(addr) ?? 0) + 1);
    return { full, nowLimited: had && b.tokens < 1 };
  }

  /** Writes the interval's summary (if anything was refused or left out) and starts a new interval. */
  flush(): void {
    const refused = sum(this.refused);
    const unlogged = sum(this.unlogged);
    if (refused + unlogged > 0) {
      const per = new Map<string, number>();
      for (const m of [this.refused, this.unlogged]) for (const [a, n] of m) per.set(a, (per.get(a) ?? 0) + n);
      const top = [...per].sort((x, y) => y[1] - x[1]).slice(0, 5).map(([a, n]) => `${a} ${n}`).join(', ');
      const w = this.o.words ?? ADDRESS_WORDS;
      this.report(`${refused} ${w.refused} and ${unlogged} ${w.unlogged}` +
        ` since the last summary (at most ${Math.round(this.o.intervalMs / 1000)} s), from ${per.size} ${w.keys}: ${top}${per.size > 5 ? ', ...' : ''}`);
    }
    this.refused = new Map();
    this.unlogged = new Map();
    this.fullRows = 0;
    // Addresses back to a full bucket need no memory.
    for (const [a, b] of this.buckets) if (b.tokens + ((this.now() - b.at) * this.o.perMinute) / 60_000 >= this.o.burst) this.buckets.delete(a);
  }

  start(): void {
    this.timer ??= setInterval(() => this.flush(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }
}

function sum(m: Map<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}
