import { GatewayProcess, Upstream, eventually, startGateway, startUpstream } from './support/gateway-process';
import { ServiceProcess, api, startService } from './support/service-process';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const parsePrometheusText: (text: string) => Array<{ name: string; metrics: Array<{ value?: string; labels?: Record<string, string> }> }> = require('parse-prometheus-text-format');

const KEYS = '/v2/gen-ai/models/api_keys';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

const scrape = async (baseUrl: string) => {
  const response = await fetch(`${baseUrl}/metrics`);
  expect(response.status).toBe(200);
  const text = await response.text();
  return { text, families: parsePrometheusText(text) };
};
const valueOf = (families: ReturnType<typeof parsePrometheusText>, name: string, labels: Record<string, string> = {}) => {
  const sample = families.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? undefined : Number(sample.value);
};

describe('metrics of the started service and the reference gateway', () => {
  let service: ServiceProcess;
  let upstream: Upstream;
  let gateway: GatewayProcess;
  let owner: string;

  beforeAll(async () => {
    service = await startService({ env: { REVOCATION_HEARTBEAT_MS: '200' } });
    upstream = await startUpstream();
    owner = service.token('team-e2e-metrics', 'u1', 'owner');
    gateway = await startGateway({
      KEY_SERVICE_URL: service.baseUrl,
      GATEWAY_TOKEN: service.token('platform', 'gw', 'gateway'),
      UPSTREAM_URL: upstream.url,
      FEED_MAX_SILENCE_MS: '1500',
    });
  });
  afterAll(async () => {
    await gateway?.kill();
    await service?.kill();
    await upstream?.close();
  });

  it('the gateway counts cache hits and misses, its feed position and upstream latency; the service its stream subscriber', async () => {
    const created = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'k' });
    const secret = created.body.api_key_info.secret_key as string;
    await eventually(async () => (await gateway.status()).feedFresh === true, 5000, 'a fresh feed');
    expect((await gateway.chat(secret)).status).toBe(200); // a miss: asked the service
    expect((await gateway.chat(secret)).status).toBe(200); // a hit
    expect((await gateway.chat('mak_unknown')).status).toBe(401);

    const { text, families } = await scrape(gateway.baseUrl);
    expect(valueOf(families, 'gateway_verify_cache_hits_total')).toBe(1);
    expect(valueOf(families, 'gateway_verify_cache_misses_total')).toBe(2);
    expect(valueOf(families, 'gateway_verify_fail_closed_total')).toBe(0);
    expect(valueOf(families, 'gateway_fail_closed')).toBe(0);
    expect(valueOf(families, 'gateway_key_service_failovers_total')).toBe(0);
    expect(valueOf(families, 'gateway_feed_connected')).toBe(1);
    expect(valueOf(families, 'gateway_feed_lag_events')).toBe(0);
    expect(valueOf(families, 'gateway_feed_position')).toBe(valueOf(families, 'gateway_feed_head_position'));
    expect(text).toMatch(/^gateway_upstream_request_duration_seconds_count\{route="\/v1\/chat\/completions",status="200"\} 2$/m);
    expect(families.map((f) => f.name)).toContain('process_cpu_user_seconds_total');
    expect(text).not.toMatch(UUID);
    expect(text).not.toContain(secret);

    const service_ = await scrape(service.baseUrl);
    expect(valueOf(service_.families, 'key_service_revocation_feed_subscribers', { transport: 'sse' })).toBe(1);
    expect(valueOf(service_.families, 'key_service_verify_decisions_total', { code: 'VALID' })).toBe(1);
    expect(valueOf(service_.families, 'key_service_verify_decisions_total', { code: 'NOT_FOUND' })).toBe(1);
    expect(service_.text).not.toMatch(UUID);
    expect(service_.text).not.toContain('team-e2e-metrics');
  });
});
