/**
 * Reconnect delays with decorrelated jitter (Marc Brooker, "Exponential Backoff And Jitter", AWS
 * Architecture Blog, 2015): each delay is drawn uniformly from [base, 3 × the previous delay], capped.
 * Gateways that lost their instance at the same moment therefore spread their reconnects over the
 * window instead of arriving together on every doubling, while the expected delay still grows about
 * threefold per failure. The floor (an SSE `retry:` the service sent) raises the base.
 */
export class DecorrelatedJitterBackoff {
  private previousMs: number;

  /**
   * baseMs: the shortest delay and the first one's lower bound, ms (> 0); capMs: the longest, ms;
   * random: a source of [0, 1) numbers (Math.random; tests pass their own).
   */
  constructor(
    private readonly options: { readonly baseMs: number; readonly capMs: number; readonly random?: () => number },
  ) {
    if (!(options.baseMs > 0) || !(options.capMs >= options.baseMs)) {
      throw new RangeError(`backoff needs 0 < baseMs <= capMs (got ${options.baseMs} and ${options.capMs})`);
    }
    this.previousMs = options.baseMs;
  }

  /** The next delay in ms, at least `floorMs` (the server's reconnection time) when one is given. */
  next(floorMs = 0): number {
    const base = Math.max(this.options.baseMs, floorMs);
    // A floor above the cap wins: the server asked to be left alone for that long.
    const cap = Math.max(this.options.capMs, base);
    const upper = Math.max(base, this.previousMs * 3);
    const random = this.options.random ?? Math.random;
    const delay = Math.min(cap, base + random() * (upper - base));
    this.previousMs = delay;
    return Math.round(delay);
  }

  /** After a connection that worked: the next failure starts again from the base. */
  reset(): void {
    this.previousMs = this.options.baseMs;
  }
}
