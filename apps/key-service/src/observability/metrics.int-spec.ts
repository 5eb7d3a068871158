import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { freePort } from '../../../../test/support/service-process';
import { SERVICE_PROTOS } from '@lib/contracts';
import { ConfigError, loadConfig } from '../config/app.config';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';
import { Metrics } from './metrics';
import { MetricsServer } from './metrics.http';

/**
 * parse-prometheus-text-format is a real parser of the exposition format (ported from the Python
 * client's), and it throws on a malformed line; but it folds the series of a labelled histogram into
 * one, so histograms are read through prom-client's registry API as a second check.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const parsePrometheusText: (text: string) => ParsedFamily[] = require('parse-prometheus-text-format');

interface ParsedFamily {
  name: string;
  type: string;
  help: string;
  metrics: Array<{ value?: string; labels?: Record<string, string> }>;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const KEY_ROUTE = '/v2/gen-ai/models/api_keys/:uuid';

describe('/metrics after known traffic', () => {
  let t: TestApp;
  const now = new Date('2026-11-22T10:00:00.000Z');
  const clock = { now: () => now };

  beforeEach(async () => {
    t = await startTestApp({ clock, env: { EXPIRY_SCAN_MS: '3600000' } });
  });
  afterEach(() => t.close());

  const scrape = async (path = '/metrics') => {
    const res = await t.app.inject({ method: 'GET', url: path });
    return { status: res.statusCode, type: String(res.headers['content-type']), text: res.body };
  };
  const value = (families: ParsedFamily[], name: string, labels: Record<string, string> = {}) => {
    const family = families.find((f) => f.name === name);
    const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
    return sample?.value === undefined ? undefined : Number(sample.value);
  };
  /** A histogram's observation count for these labels, from the registry (see above). */
  const histogramCount = async (name: string, labels: Record<string, string> = {}) => {
    const metric = t.app.get(Metrics).registry.getSingleMetric(name);
    if (!metric) throw new Error(`no metric ${name}`);
    const { values } = (await metric.get()) as { values: Array<{ metricName?: string; labels: Record<string, string | number>; value: number }> };
    const count = values.find((v) => v.metricName === `${name}_count` && Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l));
    return count?.value ?? 0;
  };

  it('counts creates, each verify code, a 404 and the commands, with no id, team or secret in any label', async () => {
    const owner = t.token('team-metrics-7', 'user-42', 'owner');
    const gateway = t.token('platform', 'gw-1', 'gateway');
    const first = await t.call('POST', KEYS, { token: owner, body: { name: 'one', expires_at: '2027-01-31' } });
    const second = await t.call('POST', KEYS, { token: owner, body: { name: 'two' } });
    expect([first.status, second.status]).toEqual([200, 200]);
    const secret = first.body.api_key_info.secret_key as string;
    const uuid = first.body.api_key_info.uuid as string;
    expect((await t.call('POST', '/v1/keys/verify', { token: gateway, body: { key: secret } })).body.code).toBe('VALID');
    expect((await t.call('POST', '/v1/keys/verify', { token: gateway, body: { key: 'mak_never-issued' } })).body.code).toBe('NOT_FOUND');
    const missing = '0b7c2a4e-1111-4222-8333-944455556666';
    expect((await t.call('GET', `${KEYS}/${missing}`, { token: owner })).status).toBe(404);
    expect((await t.call('DELETE', `${KEYS}/${missing}`, { token: owner, body: {} })).status).toBe(404);

    const { status, type, text } = await scrape();
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusText(text);

    // verify: one verdict of each code, each timed
    expect(value(families, 'key_service_verify_decisions_total', { code: 'VALID' })).toBe(1);
    expect(value(families, 'key_service_verify_decisions_total', { code: 'NOT_FOUND' })).toBe(1);
    expect(value(families, 'key_service_verify_decisions_total', { code: 'EXPIRED' })).toBe(0);
    expect(await histogramCount('key_service_verify_duration_seconds')).toBe(2);

    // HTTP: by route template, never the URL with its uuid
    expect(await histogramCount('key_service_http_request_duration_seconds', { method: 'POST', route: '/v2/gen-ai/models/api_keys', status: '200' })).toBe(2);
    expect(await histogramCount('key_service_http_request_duration_seconds', { method: 'POST', route: '/v1/keys/verify', status: '200' })).toBe(2);
    expect(await histogramCount('key_service_http_request_duration_seconds', { method: 'GET', route: KEY_ROUTE, status: '404' })).toBe(1);

    // commands by type and outcome
    expect(await histogramCount('key_service_command_duration_seconds', { command: 'CreateModelAccessKey', outcome: 'ok' })).toBe(2);
    expect(await histogramCount('key_service_command_duration_seconds', { command: 'DeleteModelAccessKey', outcome: 'not_found' })).toBe(1);

    // the event store: two appended creates (and their name claims), in at least one group commit
    expect(await histogramCount('key_service_event_store_append_duration_seconds', { outcome: 'ok' })).toBeGreaterThanOrEqual(2);
    expect(await histogramCount('key_service_event_store_group_commit_appends')).toBeGreaterThanOrEqual(1);
    const head = await t.store.headPosition();
    expect(value(families, 'key_service_event_store_head_position')).toBe(head);
    expect(value(families, 'key_service_event_store_up')).toBe(1);

    // every projection caught up: its position is the head, its lag 0
    for (const projection of ['key_views', 'revocations', 'audit_events', 'provider_key_views']) {
      expect(value(families, 'key_service_projection_position', { projection })).toBe(head);
      expect(value(families, 'key_service_projection_lag_events', { projection })).toBe(0);
    }

    // the feed has no subscriber; the expiry scheduler knows the next due time and has no backlog
    expect(value(families, 'key_service_revocation_feed_subscribers', { transport: 'sse' })).toBe(0);
    expect(value(families, 'key_service_expiry_next_due_timestamp_seconds')).toBe(Date.parse('2027-01-31T00:00:00Z') / 1000);
    expect(value(families, 'key_service_expiry_backlog_keys')).toBe(0);

    // not part of the API: left out of the OpenAPI document (and so of the fuzzer's runs)
    expect(Object.keys((await t.call('GET', '/openapi.json')).body.paths)).not.toContain('/metrics');

    // Node's default process metrics
    expect(families.map((f) => f.name)).toEqual(expect.arrayContaining(['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']));

    // no key uuid, team id, user id or secret anywhere: not in a label, not in the text at all
    for (const needle of [uuid, second.body.api_key_info.uuid, missing, 'team-metrics-7', 'user-42', secret, secret.slice(0, 12)]) {
      expect(text).not.toContain(needle);
    }
    expect(text).not.toMatch(UUID);
    const labelValues = (await t.app.get(Metrics).registry.getMetricsAsJSON()).flatMap((m) => m.values.flatMap((v) => Object.values(v.labels).map(String)));
    expect(labelValues.length).toBeGreaterThan(0);
    expect(labelValues.filter((v) => UUID.test(v) || v.includes('team-') || v.startsWith('mak_'))).toEqual([]);
  });

  it('counts the records sent to a revocation stream and its subscriber while it is open', async () => {
    const owner = t.token('team-1', 'u1', 'owner');
    const gateway = t.token('platform', 'gw-1', 'gateway');
    const key = (await t.call('POST', KEYS, { token: owner, body: { name: 'k' } })).body.api_key_info;
    await t.call('PUT', `${KEYS}/${key.uuid}/regenerate`, { token: owner });
    const fastify = t.app.getHttpAdapter().getInstance();
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    const { port } = fastify.server.address() as { port: number };
    const controller = new AbortController();
    const response = await fetch(`http://127.0.0.1:${port}/v1/revocations/stream?after=0`, { headers: { authorization: `Bearer ${gateway}` }, signal: controller.signal });
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    let seen = '';
    while (!seen.includes('"key_uuid"')) seen += new TextDecoder().decode((await reader.read()).value);
    const families = parsePrometheusText((await scrape()).text);
    expect(value(families, 'key_service_revocation_feed_subscribers', { transport: 'sse' })).toBe(1);
    expect(value(families, 'key_service_revocation_feed_records_sent_total', { transport: 'sse' })).toBe(1);
    controller.abort();
    await reader.cancel().catch(() => undefined);
  });

  it('serves /metrics only on METRICS_PORT when that is set', async () => {
    await t.close();
    t = await startTestApp({ clock, env: { METRICS_PORT: '0' } });
    expect((await scrape()).status).toBe(404);
    const port = await t.app.get(MetricsServer).listen();
    expect(port).toBeGreaterThan(0);
    await t.call('POST', KEYS, { token: t.token('team-1', 'u1', 'owner'), body: { name: 'k' } });
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    const families = parsePrometheusText(await res.text());
    expect(families.map((f) => f.name)).toContain('key_service_verify_decisions_total');
    expect(value(families, 'key_service_event_store_head_position')).toBe(await t.store.headPosition());
    expect((await fetch(`http://127.0.0.1:${port}/v2/gen-ai/models/api_keys`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('times gRPC calls by method and status', async () => {
    await t.close();
    const port = await freePort();
    t = await startTestApp({ clock, grpc: true, env: { GRPC_PORT: String(port) } });
    await t.app.startAllMicroservices();
    const definition = protoLoader.loadSync(SERVICE_PROTOS, { keepCase: true, defaults: false, arrays: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(definition) as any;
    const client = new pkg.modelkeys.v1.ModelAccessKeys(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${t.token('team-1', 'u1', 'owner')}`);
    const call = (method: string, request: object) =>
      new Promise<grpc.ServiceError | null>((resolve) => client[method](request, metadata, (error: grpc.ServiceError | null) => resolve(error)));
    try {
      expect(await call('CreateKey', { name: 'grpc-key' })).toBeNull();
      expect((await call('GetKey', { uuid: '0b7c2a4e-1111-4222-8333-944455556666' }))?.code).toBe(grpc.status.NOT_FOUND);
    } finally {
      client.close();
    }
    const method = (name: string) => `/modelkeys.v1.ModelAccessKeys/${name}`;
    expect(await histogramCount('key_service_grpc_request_duration_seconds', { method: method('CreateKey'), status: 'OK' })).toBe(1);
    expect(await histogramCount('key_service_grpc_request_duration_seconds', { method: method('GetKey'), status: 'NOT_FOUND' })).toBe(1);
    expect(await histogramCount('key_service_command_duration_seconds', { command: 'CreateModelAccessKey', outcome: 'ok' })).toBe(1);
  });

  it('shows the Kafka relay behind and counting broker errors while the broker is unreachable', async () => {
    await t.close();
    const closedPort = await freePort();
    t = await startTestApp({ clock, env: { KAFKA_BROKERS: `127.0.0.1:${closedPort}`, REVOCATION_HEARTBEAT_MS: '100' } });
    const owner = t.token('team-1', 'u1', 'owner');
    const key = (await t.call('POST', KEYS, { token: owner, body: { name: 'k' } })).body.api_key_info;
    await t.call('PUT', `${KEYS}/${key.uuid}/regenerate`, { token: owner });
    const head = await t.store.headPosition();
    let families: ParsedFamily[] = [];
    for (let i = 0; i < 100; i++) {
      families = parsePrometheusText((await scrape()).text);
      if ((value(families, 'key_service_kafka_relay_errors_total') ?? 0) >= 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(value(families, 'key_service_kafka_relay_errors_total')).toBeGreaterThanOrEqual(1);
    expect(value(families, 'key_service_kafka_relay_position')).toBe(0);
    expect(value(families, 'key_service_kafka_relay_lag_events')).toBe(head);
    expect(value(families, 'key_service_kafka_relay_records_sent_total')).toBe(0);
  });

  it('refuses a METRICS_PORT that is not a port or is taken by PORT or GRPC_PORT, naming the variable', () => {
    expect(() => loadConfig({ METRICS_PORT: 'nine' })).toThrow(ConfigError);
    expect(() => loadConfig({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/);
    expect(() => loadConfig({ PORT: '9000', METRICS_PORT: '9000' })).toThrow(/METRICS_PORT/);
    expect(() => loadConfig({ METRICS_PORT: '50051' })).toThrow(/METRICS_PORT/);
    expect(loadConfig({ METRICS_PORT: '9464' }).metricsPort).toBe(9464);
    expect(loadConfig({}).metricsPort).toBeNull();
  });
});
