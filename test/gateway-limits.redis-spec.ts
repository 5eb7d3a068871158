import { GatewayProcess, Upstream, startGatewayRig } from './support/gateway-process';
import { ServiceProcess, api } from './support/service-process';

const KEYS = '/v2/gen-ai/models/api_keys';
const redisUrl = process.env.RATE_LIMIT_REDIS_URL;
if (!redisUrl) throw new Error('RATE_LIMIT_REDIS_URL is not set: run npm run test:redis (scripts/with-redis.sh)');

/** Issue 19: two reference gateways sharing one real Redis count one budget per key between them. */
describe('two gateways sharing a real Redis (RATE_LIMIT_REDIS_URL)', () => {
  let service: ServiceProcess;
  let upstream: Upstream;
  let gateways: GatewayProcess[] = [];
  let owner: string;

  beforeAll(async () => {
    ({ service, upstream, gateways, owner } = await startGatewayRig(2, { RATE_LIMIT_REDIS_URL: redisUrl }));
  });
  afterAll(async () => {
    await Promise.all(gateways.map((g) => g.kill()));
    await service?.kill();
    await upstream?.close();
  });

  const create = async (limits: Record<string, unknown>) => {
    const res = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'shared', limits });
    expect(res.status).toBe(200);
    return res.body.api_key_info as { uuid: string; secret_key: string };
  };

  it('admit at most requests_per_minute between them, and the next window admits again', async () => {
    const key = await create({ requests_per_minute: 20 }); // a burst of 20, then one every 3 s
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => gateways[i % 2].chat(key.secret_key)));
    const admitted = answers.filter((a) => a.status === 200).length;
    expect(admitted).toBe(20);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(40);
    const retryAfter = Math.max(...answers.filter((a) => a.status === 429).map((a) => Number(a.headers.get('retry-after'))));
    expect(retryAfter).toBeLessThanOrEqual(3);
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    expect((await gateways[1].chat(key.secret_key)).status).toBe(200);
    for (const gateway of gateways) expect((await gateway.status()).rateLimiter).toBe('shared');
  });

  it('tokens one gateway charges refuse the key at the other', async () => {
    const key = await create({ tokens_per_minute: 20 }); // 15 tokens an answer
    expect((await gateways[0].chat(key.secret_key)).status).toBe(200);
    expect((await gateways[0].chat(key.secret_key)).status).toBe(200); // 30 now
    expect(await gateways[1].chat(key.secret_key)).toMatchObject({ status: 429, body: { error: { code: 'RATE_LIMITED' } } });
  });
});
