import { GatewayProcess, Upstream, eventually, startGateway, startUpstream } from './support/gateway-process';
import { ServiceProcess, startService } from './support/service-process';

const readyz = async (gateway: GatewayProcess) => {
  const response = await fetch(`${gateway.baseUrl}/readyz`);
  return { status: response.status, body: (await response.json()) as { status: string; message?: string } };
};

describe('the reference gateway: /readyz says whether it can verify, /healthz only that it is up', () => {
  let service: ServiceProcess;
  let upstream: Upstream;
  const gateways: GatewayProcess[] = [];

  beforeAll(async () => {
    service = await startService({ env: { REVOCATION_HEARTBEAT_MS: '200' } });
    upstream = await startUpstream();
  });
  afterAll(async () => {
    for (const gateway of gateways) await gateway.kill();
    await service?.kill('SIGKILL');
    await upstream?.close();
  });

  const start = async (token: string) => {
    const gateway = await startGateway({ KEY_SERVICE_URL: service.baseUrl, GATEWAY_TOKEN: token, UPSTREAM_URL: upstream.url, FEED_MAX_SILENCE_MS: '1000' });
    gateways.push(gateway);
    return gateway;
  };

  it('turns 503 token_expired once its token has expired, while /healthz still answers 200', async () => {
    const gateway = await start(service.keyctl('token', '--team', 'platform', '--user', 'gw-short', '--role', 'gateway', '--ttl', '4').stdout.trim());
    await eventually(async () => (await readyz(gateway)).status === 200, 5000, 'the gateway to be ready');
    await eventually(async () => (await readyz(gateway)).status === 503, 8000, 'the gateway to be not ready');
    expect((await readyz(gateway)).body).toMatchObject({ status: 'token_expired' });
    expect((await fetch(`${gateway.baseUrl}/healthz`)).status).toBe(200);
  });

  it('turns 503 service_unreachable once the service has been unreachable past FEED_MAX_SILENCE_MS', async () => {
    const gateway = await start(service.token('platform', 'gw', 'gateway'));
    await eventually(async () => (await readyz(gateway)).status === 200, 5000, 'the gateway to be ready');
    await service.kill('SIGKILL');
    const took = await eventually(async () => (await readyz(gateway)).status === 503, 8000, 'the gateway to be not ready');
    // Not before the bound: a heartbeat missed once is not an outage.
    expect(took).toBeGreaterThanOrEqual(500);
    expect((await readyz(gateway)).body).toMatchObject({ status: 'service_unreachable' });
    expect((await fetch(`${gateway.baseUrl}/healthz`)).status).toBe(200);
  });

  it('is ready again once the service is back, with no traffic of its own (an unready gateway gets none)', async () => {
    service = await startService({ env: { REVOCATION_HEARTBEAT_MS: '200' } });
    const { PORT, GRPC_PORT } = service.env;
    const gateway = await start(service.token('platform', 'gw-back', 'gateway'));
    await eventually(async () => (await readyz(gateway)).status === 200, 5000, 'the gateway to be ready');
    await service.kill('SIGKILL');
    // A verification while the service is down fails closed and marks the service as failing.
    expect((await gateway.chat('mak_not-cached-anywhere')).status).toBe(503);
    await eventually(async () => (await readyz(gateway)).status === 503, 8000, 'the gateway to be not ready');
    service = await startService({ dataDir: service.dataDir, env: { REVOCATION_HEARTBEAT_MS: '200', PORT, GRPC_PORT } });
    await eventually(async () => (await readyz(gateway)).status === 200, 10_000, 'the gateway to be ready again');
  });
});
