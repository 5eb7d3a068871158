/**
 * Rate limits as the gateways count them (issue 19), with GCRA (the generic cell rate algorithm, as in
 * ATM networks' traffic policing and redis-cell): per key and per limit, one number, the theoretical
 * arrival time (TAT). A limit of L per minute is a cell every T = 60,000 / L ms with a burst tolerance
 * of 60,000 - T ms, so at most L requests pass in any 60 s, a full burst of L included, and the budget
 * refills smoothly (one request every T ms) rather than all at once at a window edge.
 *
 * Tokens cannot be known before the answer, so they are charged after it (`charge`): the answer that
 * crosses the budget passes, and the key's next call is refused until enough of the minute has refilled.
 */

/** The limits the verify answer carries for a key; null: not limited. */
export interface RateLimits {
  readonly requestsPerMinute: number | null;
  readonly tokensPerMinute: number | null;
}

export type RateDecision =
  | { readonly allowed: true }
  /** `retryAfterMs`: when the key's window admits a request again, from `now`. */
  | { readonly allowed: false; readonly retryAfterMs: number; readonly limit: 'requests_per_minute' | 'tokens_per_minute' };

export const ALLOWED: RateDecision = { allowed: true };

export interface RateLimiter {
  /** Whether the key may make one more request now; counts it when it may. */
  take(keyUuid: string, limits: RateLimits, nowMs: number): RateDecision | Promise<RateDecision>;
  /** Charges the tokens an answer used (input plus output) to the key's tokens_per_minute. */
  charge(keyUuid: string, tokensPerMinute: number, tokens: number, nowMs: number): void | Promise<void>;
  /** true: `take` answers at once (in process); false: it asks a store shared by the gateways. */
  readonly local: boolean;
  close?(): Promise<void>;
}

export const MINUTE_MS = 60_000;

interface KeyCells {
  /** TAT of the request limit (ms since the epoch); 0: never used. */
  requests: number;
  /** TAT of the token budget. */
  tokens: number;
}

/**
 * Counts in this process: each gateway instance enforces each key's limits on its own traffic, so N
 * instances behind a balancer admit up to N times the limit between them (RATE_LIMIT_REDIS_URL shares
 * the count). Keys idle for over a minute are dropped, so memory follows the keys active in the last
 * minute: about 100 bytes each.
 */
export class LocalRateLimiter implements RateLimiter {
  readonly local = true;
  private readonly cells = new Map<string, KeyCells>();
  private nextSweep = 0;

  get size(): number {
    return this.cells.size;
  }

  take(keyUuid: string, limits: RateLimits, nowMs: number): RateDecision {
    this.sweep(nowMs);
    let cells = this.cells.get(keyUuid);
    if (cells === undefined) this.cells.set(keyUuid, (cells = { requests: 0, tokens: 0 }));
    if (limits.tokensPerMinute !== null) {
      const wait = tokenWait(cells.tokens, limits.tokensPerMinute, nowMs);
      if (wait > 0) return { allowed: false, retryAfterMs: wait, limit: 'tokens_per_minute' };
    }
    if (limits.requestsPerMinute !== null) {
      const step = MINUTE_MS / limits.requestsPerMinute;
      const tat = Math.max(cells.requests, nowMs);
      const allowAt = tat - (MINUTE_MS - step);
      if (nowMs < allowAt) return { allowed: false, retryAfterMs: Math.ceil(allowAt - nowMs), limit: 'requests_per_minute' };
      cells.requests = tat + step;
    }
    return ALLOWED;
  }

  charge(keyUuid: string, tokensPerMinute: number, tokens: number, nowMs: number): void {
    if (!(tokens > 0)) return;
    let cells = this.cells.get(keyUuid);
    if (cells === undefined) this.cells.set(keyUuid, (cells = { requests: 0, tokens: 0 }));
    cells.tokens = Math.max(cells.tokens, nowMs) + (tokens * MINUTE_MS) / tokensPerMinute;
  }

  /** At most once a minute: keys whose cells are all in the past hold nothing a fresh entry would not. */
  private sweep(nowMs: number): void {
    if (nowMs < this.nextSweep) return;
    this.nextSweep = nowMs + MINUTE_MS;
    for (const [keyUuid, cells] of this.cells) if (cells.requests <= nowMs && cells.tokens <= nowMs) this.cells.delete(keyUuid);
  }
}

/**
 * How long until the token budget admits a request: the budget is spent while the tokens' TAT is a
 * full minute or more ahead (every token of the last minute used); 0 when there is room.
 */
export function tokenWait(tokensTat: number, tokensPerMinute: number, nowMs: number): number {
  const ahead = tokensTat - nowMs;
  if (ahead < MINUTE_MS) return 0;
  return Math.ceil(ahead - MINUTE_MS + MINUTE_MS / tokensPerMinute);
}
