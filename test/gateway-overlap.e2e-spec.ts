import { GatewayProcess, Upstream, eventually, startGateway, startUpstream } from './support/gateway-process';
import { ServiceProcess, api, startService } from './support/service-process';

const KEYS = '/v2/gen-ai/models/api_keys';

describe('regenerate with an overlap, through two reference gateways', () => {
  let service: ServiceProcess;
  let upstream: Upstream;
  let gateways: GatewayProcess[] = [];
  let owner: string;
  let gatewayToken: string;

  beforeAll(async () => {
    service = await startService({ env: { REVOCATION_HEARTBEAT_MS: '200', EXPIRY_SCAN_MS: '200' } });
    upstream = await startUpstream();
    owner = service.token('team-1', 'u1', 'owner');
    gatewayToken = service.token('platform', 'gw', 'gateway');
    const env = (deployment: string) => ({
      KEY_SERVICE_URL: service.baseUrl,
      GATEWAY_TOKEN: gatewayToken,
      UPSTREAM_URL: upstream.url,
      GATEWAY_DEPLOYMENT_NAME: deployment,
      FEED_MAX_SILENCE_MS: '1500',
    });
    gateways = await Promise.all([startGateway(env('dep-a')), startGateway(env('dep-b'))]);
  });
  afterAll(async () => {
    await Promise.all(gateways.map((gateway) => gateway.kill()));
    await service?.kill();
    await upstream?.close();
  });

  it('with a 3 s overlap both secrets work on every gateway, then only the new one does, and the feed says so', async () => {
    const created = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'rotated' });
    const key = created.body.api_key_info as { uuid: string; secret_key: string };
    for (const deployment of ['dep-a', 'dep-b']) {
      expect((await api(service.baseUrl, 'POST', `${KEYS}/${key.uuid}/deployments`, owner, { deployment_name: deployment })).status).toBe(200);
    }
    for (const gateway of gateways) expect((await gateway.chat(key.secret_key)).status).toBe(200); // cached from here on

    const started = Date.now();
    const regenerated = await api(service.baseUrl, 'PUT', `${KEYS}/${key.uuid}/regenerate`, owner, { grace_period_seconds: 3 });
    expect(regenerated.status).toBe(200);
    const fresh = regenerated.body.api_key_info.secret_key as string;

    for (const gateway of gateways) {
      expect((await gateway.chat(key.secret_key)).status).toBe(200);
      expect((await gateway.chat(fresh)).status).toBe(200);
    }
    expect(Date.now() - started).toBeLessThan(2500); // the checks above ran inside the overlap

    for (const gateway of gateways) {
      await eventually(async () => (await gateway.chat(key.secret_key)).status === 401, 6000, 'the old secret denied');
      expect(await gateway.chat(key.secret_key)).toMatchObject({ status: 401, body: { error: { code: 'NOT_FOUND' } } });
      expect((await gateway.chat(fresh)).status).toBe(200);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);

    // The scheduler recorded the end, and every gateway applied the feed's record of it.
    let recordPosition = 0;
    await eventually(
      async () => {
        const feed = await api(service.baseUrl, 'GET', '/v1/revocations?after=0', gatewayToken);
        const record = (feed.body.revocations as Array<{ reason: string; key_uuid: string; position: number }>).find(
          (r) => r.reason === 'previous_secret_revoked' && r.key_uuid === key.uuid,
        );
        recordPosition = record?.position ?? 0;
        return record !== undefined;
      },
      3000,
      'the previous_secret_revoked record',
    );
    for (const gateway of gateways) {
      await eventually(async () => (await gateway.status()).position >= recordPosition, 3000, 'the gateway to apply the record');
    }
  });
});
