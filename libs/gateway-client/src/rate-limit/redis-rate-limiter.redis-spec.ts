import { randomUUID } from 'node:crypto';
import { RedisRateLimiter } from './redis-rate-limiter';

const url = process.env.RATE_LIMIT_REDIS_URL;
if (!url) throw new Error('RATE_LIMIT_REDIS_URL is not set: run npm run test:redis (scripts/with-redis.sh)');

describe('the shared rate limiter on a real Redis (one Lua script per request)', () => {
  const limiters: RedisRateLimiter[] = [];
  const limiter = () => {
    const made = new RedisRateLimiter({ url, prefix: `test:${randomUUID()}:` });
    limiters.push(made);
    return made;
  };
  afterAll(async () => {
    await Promise.all(limiters.map((l) => l.close()));
  });

  it('two limiters sharing the Redis admit at most the limit between them, even when asked at once', async () => {
    const prefix = `test:${randomUUID()}:`;
    const a = new RedisRateLimiter({ url, prefix });
    const b = new RedisRateLimiter({ url, prefix });
    limiters.push(a, b);
    const decisions = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).take('key-1', { requestsPerMinute: 25, tokensPerMinute: null })));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(25);
    const refused = decisions.find((d) => !d.allowed);
    expect(refused).toMatchObject({ allowed: false, limit: 'requests_per_minute' });
    // 25 a minute: one more every 2.4 s.
    expect(refused!.allowed === false && refused!.retryAfterMs).toBeGreaterThan(2000);
    expect(refused!.allowed === false && refused!.retryAfterMs).toBeLessThanOrEqual(2400);
    expect(a.errors + b.errors).toBe(0);
  });

  it('the next window admits again', async () => {
    const shared = limiter();
    const limits = { requestsPerMinute: 600, tokensPerMinute: null }; // one every 100 ms
    let admitted = 0;
    for (let i = 0; i < 700; i++) if ((await shared.take('key-2', limits)).allowed) admitted++;
    expect(admitted).toBeGreaterThanOrEqual(600);
    const refused = await shared.take('key-2', limits);
    expect(refused.allowed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, refused.allowed ? 0 : refused.retryAfterMs + 20));
    expect((await shared.take('key-2', limits)).allowed).toBe(true);
  });

  it('tokens charged by one gateway refuse the key on another', async () => {
    const prefix = `test:${randomUUID()}:`;
    const a = new RedisRateLimiter({ url, prefix });
    const b = new RedisRateLimiter({ url, prefix });
    limiters.push(a, b);
    const limits = { requestsPerMinute: null, tokensPerMinute: 1000 };
    expect((await a.take('key-3', limits)).allowed).toBe(true);
    await a.charge('key-3', 1000, 1200);
    expect(await b.take('key-3', limits)).toMatchObject({ allowed: false, limit: 'tokens_per_minute' });
  });

  it('a key idle past its window leaves nothing in Redis', async () => {
    const prefix = `test:${randomUUID()}:`;
    const shared = new RedisRateLimiter({ url, prefix });
    limiters.push(shared);
    await shared.take('key-4', { requestsPerMinute: 60_000, tokensPerMinute: null }); // its cell is 1 ms ahead
    const ttl = await shared.redis.pttl(`${prefix}key-4`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1002);
  });

  it('lets requests through when Redis cannot be reached (fail open), and counts the error', async () => {
    const down = new RedisRateLimiter({ url: 'redis://127.0.0.1:1', timeoutMs: 100 });
    limiters.push(down);
    expect((await down.take('key-5', { requestsPerMinute: 1, tokensPerMinute: null })).allowed).toBe(true);
    expect(down.errors).toBe(1);
  });
});
