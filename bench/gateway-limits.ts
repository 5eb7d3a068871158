/**
 * The rate-limit and quota figures of bench:gateway (issue 19), each beside a baseline from the same run:
 * a. cached verification of keys with an in-process requests_per_minute, against the same for keys
 *    without limits (alternating slices; target ratio >= 0.8);
 * b. with the limit counted in a real Redis (RATE_LIMIT_REDIS_URL, or scripts/redis.sh started here when
 *    redis-server is installed): the latency a verify() call gains, p50 and p99;
 * c. quota overshoot: two gateway clients, each reporting usage every second, call verify() at full
 *    speed for one key with a 10,000-request quota until each is denied USAGE_EXCEEDED; how many passed
 *    beyond the quota, against the documented bound (traffic rate x (report interval + feed delay)).
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { GatewayClient, RedisRateLimiter } from '@lib/gateway-client';
import { ROOT, freePort, percentile } from './support';

export interface LimitsContext {
  readonly origin: string;
  readonly gatewayToken: string;
  createKeys(n: number, limits?: object): Promise<Array<{ uuid: string; secret_key: string }>>;
  /** GET as the keys' owner. */
  get(url: string): Promise<any>;
}

const MODEL = 'llama3-8b-instruct';
/** A limit no benchmark reaches: every request is counted, none refused. */
const NEVER_REACHED = { requests_per_minute: 1_000_000_000_000 };
const QUOTA = 10_000;
const REPORT_INTERVAL_MS = 1000;
/** The stream feed's propagation target (p99, section 3): the feed delay in the documented bound. */
const FEED_DELAY_MS = 25;

/** Runs `body` in a loop for `ms`; operations per second. */
function loopRate(ms: number, body: (i: number) => unknown): number {
  let n = 0;
  let sink = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) for (let i = 0; i < 1000; i++, n++) if (body(n) !== undefined) sink++;
  if (sink < 0) console.log(sink);
  return n / (ms / 1000);
}

const newClient = (ctx: LimitsContext, extra: Partial<ConstructorParameters<typeof GatewayClient>[0]> = {}) =>
  new GatewayClient({ serviceUrl: ctx.origin, token: ctx.gatewayToken, feed: { kind: 'stream' }, maxFeedSilenceMs: 60_000, ...extra });

/** Starts Redis with scripts/redis.sh on a free port; null (and why) when redis-server is not installed. */
async function startRedis(): Promise<{ url: string; stop: () => void } | { missing: string }> {
  if (process.env.RATE_LIMIT_REDIS_URL) return { url: process.env.RATE_LIMIT_REDIS_URL, stop: () => undefined };
  try {
    execFileSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' });
  } catch {
    return { missing: 'redis-server is not installed (Debian: apt-get install redis-server) and RATE_LIMIT_REDIS_URL is unset' };
  }
  const env = { ...process.env, REDIS_TEST_PORT: String(await freePort()) };
  const script = path.join(ROOT, 'scripts/redis.sh');
  const url = execFileSync('bash', [script, 'start'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  return { url, stop: () => execFileSync('bash', [script, 'stop'], { env, stdio: 'ignore' }) };
}

export async function measureLimits(ctx: LimitsContext): Promise<string[]> {
  const lines: string[] = [];
  const plain = (await ctx.createKeys(1000)).map((k) => k.secret_key);
  const limited = (await ctx.createKeys(1000, NEVER_REACHED)).map((k) => k.secret_key);

  // a. In process.
  console.error('4/4 a. cached verification with an in-process rate limit...');
  const local = newClient(ctx);
  await local.start();
  await local.waitUntilFresh();
  for (const secret of [...plain, ...limited]) await local.verify(secret, { model: MODEL });
  let plainOps = 0;
  let limitedOps = 0;
  for (let slice = 0; slice < 20; slice++) {
    plainOps += loopRate(250, (i) => local.verifyCached(plain[i % plain.length], { model: MODEL })) / 20;
    limitedOps += loopRate(250, (i) => local.verifyCached(limited[i % limited.length], { model: MODEL })) / 20;
  }
  const notAdmitted = limited.filter((s) => local.verifyCached(s, { model: MODEL })?.valid !== true).length;
  if (notAdmitted > 0) throw new Error(`${notAdmitted} limited secrets were not admitted from the cache`);
  await local.stop();
  lines.push('4. rate limits and quotas (issue 19)');
  lines.push('   a. cached verification, 1000 keys each, 20 alternating 250 ms slices');
  lines.push(`      with requests_per_minute (in process): ${limitedOps.toFixed(0).padStart(10)} /s`);
  lines.push(`      baseline, keys without limits:         ${plainOps.toFixed(0).padStart(10)} /s`);
  lines.push(`      ratio ${(limitedOps / plainOps).toFixed(2)} (target >= 0.8: ${limitedOps / plainOps >= 0.8 ? 'met' : 'NOT met'})`);

  // b. The same limit counted in Redis: one Lua script per request.
  const redis = await startRedis();
  if ('missing' in redis) {
    lines.push(`   b. with Redis: not measured: ${redis.missing}`);
  } else {
    console.error('4/4 b. the latency a Redis-counted rate limit adds to verify()...');
    const limiter = new RedisRateLimiter({ url: redis.url, prefix: `bench:${Date.now()}:` });
    const shared = newClient(ctx, { rateLimiter: limiter });
    await shared.start();
    await shared.waitUntilFresh();
    for (const secret of [...plain, ...limited]) await shared.verify(secret, { model: MODEL });
    const timed: Record<'plain' | 'limited', number[]> = { plain: [], limited: [] };
    for (let slice = 0; slice < 20; slice++) {
      for (const [name, secrets] of [['plain', plain], ['limited', limited]] as const) {
        for (let i = 0; i < 1000; i++) {
          const started = performance.now();
          const answer = await shared.verify(secrets[(slice * 1000 + i) % secrets.length], { model: MODEL });
          timed[name].push(performance.now() - started);
          if (!answer.valid) throw new Error(`a Redis-limited verify answered ${answer.code}`);
        }
      }
    }
    await shared.stop();
    const errors = limiter.errors;
    redis.stop();
    if (errors > 0) throw new Error(`the Redis limiter failed open ${errors} times: ${limiter.lastError}`);
    const [p, l] = [timed.plain.sort((x, y) => x - y), timed.limited.sort((x, y) => x - y)];
    const us = (ms: number) => `${(ms * 1000).toFixed(0)} us`;
    lines.push(`   b. verify() from the cache, 20,000 sequential calls each, requests_per_minute counted in Redis (one Lua script per call)`);
    lines.push(`      with Redis:   p50 ${us(percentile(l, 50))}  p99 ${us(percentile(l, 99))}`);
    lines.push(`      baseline, keys without limits: p50 ${us(percentile(p, 50))}  p99 ${us(percentile(p, 99))}`);
    lines.push(`      added:        p50 ${us(percentile(l, 50) - percentile(p, 50))}  p99 ${us(percentile(l, 99) - percentile(p, 99))}`);
  }

  // c. Quota overshoot: two gateways at full speed.
  console.error(`4/4 c. two gateways at full speed against a ${QUOTA}-request quota...`);
  const [quotaKey] = await ctx.createKeys(1, { quota: { requests: QUOTA, period: 'day' } });
  const gateways = [0, 1].map((i) => newClient(ctx, { usageReportIntervalMs: REPORT_INTERVAL_MS, gatewayId: `bench-quota-${i}` }));
  for (const gateway of gateways) {
    await gateway.start();
    await gateway.waitUntilFresh();
  }
  const admitted = [0, 0];
  const deniedAt: Array<number | null> = [null, null];
  let crossedAt: number | null = null;
  const started = performance.now();
  await Promise.all(
    gateways.map(async (gateway, i) => {
      while (deniedAt[i] === null) {
        if (performance.now() - started > 60_000) throw new Error(`gateway ${i} was still admitting after 60 s`);
        for (let n = 0; n < 200; n++) {
          const answer = await gateway.verify(quotaKey.secret_key, { model: MODEL });
          if (answer.valid) {
            admitted[i]++;
            if (admitted[0] + admitted[1] === QUOTA) crossedAt = performance.now();
          } else if (answer.code === 'USAGE_EXCEEDED') {
            deniedAt[i] = performance.now();
            break;
          } else throw new Error(`gateway ${i}: verify answered ${answer.code}`);
        }
        // Timers and sockets (the usage report, the feed) get their turn between rounds, as on a busy gateway.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }),
  );
  for (const gateway of gateways) await gateway.stop(); // the last reports are sent
  const total = admitted[0] + admitted[1];
  const lastDenial = Math.max(deniedAt[0]!, deniedAt[1]!);
  const rate = total / ((lastDenial - started) / 1000);
  const overshoot = total - QUOTA;
  const bound = rate * ((REPORT_INTERVAL_MS + FEED_DELAY_MS) / 1000);
  const counted = (await ctx.get(`/v2/gen-ai/models/api_keys/${quotaKey.uuid}`)).api_key_info.usage.requests as number;
  lines.push(`   c. quota overshoot: two gateway clients (one process), usage reported every ${REPORT_INTERVAL_MS} ms, verify() at full speed, a ${QUOTA}-request quota`);
  lines.push(`      admitted ${total} (${admitted.join(' + ')}) at ${rate.toFixed(0)} /s; the service counted ${counted}`);
  lines.push(
    `      denied USAGE_EXCEEDED ${deniedAt.map((t) => `${(t! - (crossedAt ?? started)).toFixed(0)} ms`).join(' and ')} after the quota was crossed`,
  );
  lines.push(
    `      overshoot ${overshoot} requests; bound rate x (report interval + feed delay ${FEED_DELAY_MS} ms) = ${bound.toFixed(0)}` +
      ` (${overshoot <= bound ? 'within' : 'NOT within'})`,
  );
  return lines;
}
