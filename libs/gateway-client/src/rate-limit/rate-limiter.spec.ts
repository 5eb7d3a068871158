import { LocalRateLimiter, MINUTE_MS, RateLimits } from './rate-limiter';

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
const rpm = (n: number): RateLimits => ({ requestsPerMinute: n, tokensPerMinute: null });
const tpm = (n: number): RateLimits => ({ requestsPerMinute: null, tokensPerMinute: n });

describe('the in-process rate limiter (GCRA)', () => {
  it('admits a burst of requests_per_minute, refuses the next with the time until one is admitted again', () => {
    const limiter = new LocalRateLimiter();
    for (let i = 0; i < 10; i++) expect(limiter.take('k', rpm(10), T0).allowed).toBe(true);
    const refused = limiter.take('k', rpm(10), T0);
    expect(refused).toEqual({ allowed: false, retryAfterMs: 6000, limit: 'requests_per_minute' });
    expect(limiter.take('k', rpm(10), T0 + 5999).allowed).toBe(false);
    expect(limiter.take('k', rpm(10), T0 + 6000).allowed).toBe(true);
    expect(limiter.take('k', rpm(10), T0 + 6000).allowed).toBe(false);
  });

  it('under constant pressure admits the limit per minute after the first burst, evenly; an idle minute gives the whole burst back', () => {
    const limiter = new LocalRateLimiter();
    const admitted: number[] = [];
    for (let t = 0; t < 5 * MINUTE_MS; t += 250) if (limiter.take('k', rpm(30), T0 + t).allowed) admitted.push(t);
    // The burst of 30, then one every 2 s: 30 + 149 in five minutes, and after the first minute never two within 2 s.
    expect(admitted.length).toBe(30 + 149);
    const steady = admitted.filter((t) => t >= MINUTE_MS);
    for (let i = 1; i < steady.length; i++) expect(steady[i] - steady[i - 1]).toBeGreaterThanOrEqual(2000);
    const after = T0 + 5 * MINUTE_MS + MINUTE_MS;
    let burst = 0;
    while (limiter.take('k', rpm(30), after).allowed) burst++;
    expect(burst).toBe(30);
  });

  it('counts each key on its own', () => {
    const limiter = new LocalRateLimiter();
    expect(limiter.take('a', rpm(1), T0).allowed).toBe(true);
    expect(limiter.take('a', rpm(1), T0).allowed).toBe(false);
    expect(limiter.take('b', rpm(1), T0).allowed).toBe(true);
  });

  it('tokens are charged after the answer: the call that crosses the budget passed, the next is refused until the minute has room', () => {
    const limiter = new LocalRateLimiter();
    expect(limiter.take('k', tpm(1000), T0).allowed).toBe(true);
    limiter.charge('k', 1000, 600, T0);
    expect(limiter.take('k', tpm(1000), T0).allowed).toBe(true);
    limiter.charge('k', 1000, 600, T0);
    const refused = limiter.take('k', tpm(1000), T0);
    expect(refused).toMatchObject({ allowed: false, limit: 'tokens_per_minute' });
    // 1,200 tokens against 1,000 a minute: room again once 200 have refilled (12 s), plus one token's worth.
    expect(refused.allowed === false && refused.retryAfterMs).toBe(12_060);
    expect(limiter.take('k', tpm(1000), T0 + 12_060).allowed).toBe(true);
  });

  it('a token-limited key refused for tokens is not counted against its request limit', () => {
    const limiter = new LocalRateLimiter();
    const both: RateLimits = { requestsPerMinute: 2, tokensPerMinute: 10 };
    expect(limiter.take('k', both, T0).allowed).toBe(true);
    limiter.charge('k', 10, 50, T0);
    expect(limiter.take('k', both, T0)).toMatchObject({ allowed: false, limit: 'tokens_per_minute' });
    expect(limiter.take('k', both, T0 + 5 * MINUTE_MS).allowed).toBe(true);
    expect(limiter.take('k', both, T0 + 5 * MINUTE_MS).allowed).toBe(true);
    expect(limiter.take('k', both, T0 + 5 * MINUTE_MS)).toMatchObject({ allowed: false, limit: 'requests_per_minute' });
  });

  it('forgets keys idle for over a minute', () => {
    const limiter = new LocalRateLimiter();
    for (let i = 0; i < 100; i++) limiter.take(`k${i}`, rpm(60), T0);
    expect(limiter.size).toBe(100);
    limiter.take('other', rpm(60), T0 + 2 * MINUTE_MS);
    expect(limiter.size).toBe(1);
  });
});
