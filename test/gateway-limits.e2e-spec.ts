import { GatewayProcess, Upstream, eventually, startGatewayRig } from './support/gateway-process';
import { ServiceProcess, api } from './support/service-process';

const KEYS = '/v2/gen-ai/models/api_keys';

/**
 * Issue 19: rate limits counted in the gateway process, from the limits the verify answer carries;
 * the upstream reports token usage (10 prompt + 5 completion tokens an answer).
 */
describe('the reference gateway enforces a key\'s rate limits (in process)', () => {
  let service: ServiceProcess;
  let upstream: Upstream;
  let gateway: GatewayProcess;
  let owner: string;

  beforeAll(async () => {
    ({ service, upstream, gateways: [gateway], owner } = await startGatewayRig(1, { RATE_LIMIT_REDIS_URL: '' }));
  });
  afterAll(async () => {
    await gateway?.kill();
    await service?.kill();
    await upstream?.close();
  });

  const create = async (limits: Record<string, unknown>) => {
    const res = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'limited', limits });
    expect(res.status).toBe(200);
    return res.body.api_key_info as { uuid: string; secret_key: string };
  };

  it('requests over requests_per_minute get 429 with Retry-After, and the next window admits them again', async () => {
    const key = await create({ requests_per_minute: 30 }); // a burst of 30, then one every 2 s
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await gateway.chat(key.secret_key)).status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const refused = await gateway.chat(key.secret_key);
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'RATE_LIMITED', type: 'rate_limit_exceeded' });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(2);
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    expect((await gateway.chat(key.secret_key)).status).toBe(200);
    expect((await gateway.status()).rateLimited).toBeGreaterThanOrEqual(1);
  });

  it('tokens_per_minute counts the usage the upstream reports: the call that crosses it passes, the next is 429', async () => {
    const key = await create({ tokens_per_minute: 40 }); // 15 tokens an answer
    for (let i = 0; i < 3; i++) expect((await gateway.chat(key.secret_key)).status).toBe(200); // 15, 30, 45
    const refused = await gateway.chat(key.secret_key);
    expect(refused.status).toBe(429);
    expect(refused.body.error.message).toContain('tokens_per_minute');
  });

  it('a key without limits is never refused for rate', async () => {
    const res = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'free' });
    for (let i = 0; i < 40; i++) expect((await gateway.chat(res.body.api_key_info.secret_key)).status).toBe(200);
  });

  it('new limits reach the gateway through the feed (limits_changed), without waiting for the cache to expire', async () => {
    const key = await create({ requests_per_minute: 1 });
    expect((await gateway.chat(key.secret_key)).status).toBe(200);
    expect((await gateway.chat(key.secret_key)).status).toBe(429);
    expect((await api(service.baseUrl, 'PUT', `${KEYS}/${key.uuid}/limits`, owner, {})).status).toBe(200);
    await eventually(async () => (await gateway.chat(key.secret_key)).status === 200, 2000, 'the lifted limit at the gateway');
  });
});

/** Issue 19: the reference gateway reports usage (POST /v1/usage) at least once a second. */
describe('the reference gateway reports usage to the key service', () => {
  let service: ServiceProcess;
  let upstream: Upstream;
  let gateway: GatewayProcess;
  let owner: string;

  beforeAll(async () => {
    ({ service, upstream, gateways: [gateway], owner } = await startGatewayRig(
      1,
      { RATE_LIMIT_REDIS_URL: '', GATEWAY_USAGE_REPORT_MS: '200' },
      { prompt_tokens: 12, completion_tokens: 7 },
    ));
  });
  afterAll(async () => {
    await gateway?.kill();
    await service?.kill();
    await upstream?.close();
  });

  it('requests, tokens from the upstream and denials reach api_key_info; last_used_at moves', async () => {
    const created = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'reported', limits: { requests_per_minute: 3 } });
    const key = created.body.api_key_info as { uuid: string; secret_key: string };
    const info = async () => (await api(service.baseUrl, 'GET', `${KEYS}/${key.uuid}`, owner)).body.api_key_info;
    expect((await info()).last_used_at).toBeNull();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await gateway.chat(key.secret_key)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    await eventually(async () => (await info()).usage.requests === 3, 3000, 'the reported usage');
    const shown = await info();
    expect(shown.usage).toMatchObject({ period: 'month', requests: 3, input_tokens: 36, output_tokens: 21, tokens: 57 });
    const minute = Date.parse(shown.last_used_at);
    expect(minute % 60_000).toBe(0);
    expect(Date.now() - minute).toBeLessThan(2 * 60_000);
    const status = await gateway.status();
    expect(status.usageReports.sent).toBeGreaterThanOrEqual(1);
    expect(status.usageReports.failures).toBe(0);
  });
});

/** Issue 19: a quota spent through two gateways; both deny once the quota_exhausted record reaches them. */
describe('a request quota spent through two reference gateways', () => {
  let service: ServiceProcess;
  let upstream: Upstream;
  let gateways: GatewayProcess[] = [];
  let owner: string;

  beforeAll(async () => {
    ({ service, upstream, gateways, owner } = await startGatewayRig(2, { RATE_LIMIT_REDIS_URL: '', GATEWAY_USAGE_REPORT_MS: '250' }));
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.kill()));
    await service?.kill();
    await upstream?.close();
  });

  it('both gateways deny with USAGE_EXCEEDED within the bound (report interval + a feed round trip)', async () => {
    const created = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'quota', limits: { quota: { requests: 20, period: 'day' } } });
    const key = created.body.api_key_info as { uuid: string; secret_key: string };
    let admitted = 0;
    const started = Date.now();
    const denied = new Set<number>();
    for (let i = 0; denied.size < 2 && Date.now() - started < 5000; i++) {
      const which = i % 2;
      const answer = await gateways[which].chat(key.secret_key);
      if (answer.status === 200) admitted++;
      else {
        expect(answer).toMatchObject({ status: 429, body: { error: { code: 'USAGE_EXCEEDED', type: 'insufficient_quota' } } });
        expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
        denied.add(which);
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(denied.size).toBe(2);
    const overshoot = admitted - 20;
    // The bound: what the key sent during one report interval (250 ms) plus the feed's delay, here
    // at most one request every ~5 ms on each gateway: far under 250.
    expect(overshoot).toBeGreaterThanOrEqual(0);
    expect(overshoot).toBeLessThan(250);
    const info = (await api(service.baseUrl, 'GET', `${KEYS}/${key.uuid}`, owner)).body.api_key_info;
    expect(info.usage.requests).toBeGreaterThanOrEqual(20);
  });
});
