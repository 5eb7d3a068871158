import Redis from 'ioredis';
import { ALLOWED, RateDecision, RateLimiter, RateLimits } from './rate-limiter';

/**
 * The same GCRA as LocalRateLimiter, in one Lua script per request, so that every gateway sharing
 * the Redis counts against one budget per key. Redis runs a script atomically, and its clock (TIME)
 * is the one all gateways use, so that their clocks need not agree. A key's hash
 * (`<prefix><key uuid>`, fields r: the requests' TAT, t: the tokens' TAT, ms) expires once both
 * cells are in the past: Redis memory follows the keys active in the last minute.
 *
 * ARGV: requests_per_minute (0: none), tokens_per_minute (0: none), tokens to charge (0: a request).
 * Returns {allowed 1|0, retry after ms, which limit 1: requests, 2: tokens}.
 */
export const GCRA_SCRIPT = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local charge = tonumber(ARGV[3])
local cells = redis.call('HMGET', KEYS[1], 'r', 't')
local r = tonumber(cells[1]) or 0
local t = tonumber(cells[2]) or 0
local function keep()
  redis.call('HSET', KEYS[1], 'r', r, 't', t)
  redis.call('PEXPIRE', KEYS[1], math.ceil(math.max(r, t) - now) + 1000)
end
if charge > 0 then
  if tpm > 0 then
    t = math.max(t, now) + charge * 60000 / tpm
    keep()
  end
  return {1, 0, 0}
end
if tpm > 0 and t - now >= 60000 then
  return {0, math.ceil(t - now - 60000 + 60000 / tpm), 2}
end
if rpm > 0 then
  local step = 60000 / rpm
  local tat = math.max(r, now)
  local allowAt = tat - (60000 - step)
  if now < allowAt then
    return {0, math.ceil(allowAt - now), 1}
  end
  r = tat + step
  keep()
end
return {1, 0, 0}
`;

type GcraCommand = (key: string, rpm: number, tpm: number, charge: number) => Promise<[number, number, number]>;

export interface RedisRateLimiterOptions {
  /** redis:// or rediss:// URL (RATE_LIMIT_REDIS_URL). */
  readonly url: string;
  /** Key prefix, default `model-keys:rl:`. */
  readonly prefix?: string;
  /** A call's time limit, ms (default 250): past it, the request is let through (fail open) and counted in errors. */
  readonly timeoutMs?: number;
}

/**
 * Rate limits shared by every gateway through one Redis (RATE_LIMIT_REDIS_URL). When Redis cannot
 * answer in time the request is let through (fail open: a rate limit protects capacity, and the key
 * itself was verified) and `errors` counts it; the caller logs it.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly local = false;
  readonly redis: Redis;
  private readonly prefix: string;
  private readonly gcra: GcraCommand;
  errors = 0;
  lastError: string | null = null;

  constructor(options: RedisRateLimiterOptions) {
    this.prefix = options.prefix ?? 'model-keys:rl:';
    this.redis = new Redis(options.url, {
      commandTimeout: options.timeoutMs ?? 250,
      disconnectTimeout: 200,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: true,
      lazyConnect: false,
    });
    this.redis.on('error', (error: Error) => {
      this.lastError = error.message;
    });
    this.redis.defineCommand('modelKeysGcra', { numberOfKeys: 1, lua: GCRA_SCRIPT });
    this.gcra = (this.redis as unknown as { modelKeysGcra: GcraCommand }).modelKeysGcra.bind(this.redis);
  }

  async take(keyUuid: string, limits: RateLimits): Promise<RateDecision> {
    try {
      const [allowed, retryAfterMs, which] = await this.gcra(this.prefix + keyUuid, limits.requestsPerMinute ?? 0, limits.tokensPerMinute ?? 0, 0);
      if (allowed === 1) return ALLOWED;
      return { allowed: false, retryAfterMs: Math.max(1, retryAfterMs), limit: which === 2 ? 'tokens_per_minute' : 'requests_per_minute' };
    } catch (error) {
      this.errors++;
      this.lastError = (error as Error).message;
      return ALLOWED;
    }
  }

  async charge(keyUuid: string, tokensPerMinute: number, tokens: number): Promise<void> {
    if (!(tokens > 0)) return;
    try {
      await this.gcra(this.prefix + keyUuid, 0, tokensPerMinute, Math.ceil(tokens));
    } catch (error) {
      this.errors++;
      this.lastError = (error as Error).message;
    }
  }

  /** Ends the connection; one that never got up is dropped rather than waited for. */
  async close(): Promise<void> {
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }
}
