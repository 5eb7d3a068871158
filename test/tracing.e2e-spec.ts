import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ROOT, ServiceProcess, api, startService } from './support/service-process';
import { OTLP_SPAN_KIND as KIND, startOtlpReceiver } from './support/otlp-receiver';

const KEYS = '/v2/gen-ai/models/api_keys';

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** Issue 16, section 3: OpenTelemetry spans over OTLP/HTTP, the caller's traceparent honoured, the trace id in the events. */
describe('traces (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let service: ServiceProcess;
  let owner: string;
  let auditor: string;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    service = await startService({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'keys-under-test' } });
    owner = service.token('team-trace', 'user-t', 'owner');
    auditor = service.token('team-trace', 'aud-1', 'auditor');
  });
  afterAll(async () => {
    await service.kill();
    fs.rmSync(service.dataDir, { recursive: true, force: true });
    await receiver.close();
  });

  const eventsOf = async (uuid: string) => {
    const answer = await api(service.baseUrl, 'GET', `/v1/audit/keys/${uuid}/events`, auditor);
    expect(answer.status).toBe(200);
    return answer.body.events as Array<{ type: string; metadata: Record<string, unknown> }>;
  };

  it('a create under a caller traceparent: HTTP span -> command span -> append span, one trace, and the events name it', async () => {
    const traceId = hex(16);
    const callerSpan = hex(8);
    const created = await fetch(`${service.baseUrl}${KEYS}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpan}-01` },
      body: JSON.stringify({ name: 'traced-key' }),
    });
    expect(created.status).toBe(200);
    const uuid = ((await created.json()) as { api_key_info: { uuid: string } }).api_key_info.uuid;

    const server = await receiver.waitFor(() => receiver.spans.find((s) => s.traceId === traceId && s.kind === KIND.SERVER), 'for the request');
    expect(server).toMatchObject({
      name: `POST ${KEYS}`,
      parentSpanId: callerSpan,
      service: 'keys-under-test',
      attributes: { 'http.request.method': 'POST', 'http.route': KEYS, 'http.response.status_code': 200, 'url.scheme': 'http' },
    });
    const command = await receiver.waitFor(() => receiver.spans.find((s) => s.traceId === traceId && s.name === 'command CreateModelAccessKey'), 'for the command');
    expect(command.parentSpanId).toBe(server.spanId);
    expect(command.attributes).toMatchObject({ 'command.type': 'CreateModelAccessKey', 'event_store.stream_id': `model_access_key-${uuid}` });
    const append = await receiver.waitFor(
      () => receiver.spans.find((s) => s.traceId === traceId && s.name === 'append model_access_key' && s.parentSpanId === command.spanId),
      'for the append under the command',
    );
    expect(append).toMatchObject({
      kind: KIND.CLIENT,
      attributes: { 'db.system.name': service.env.EVENT_STORE === 'postgres' ? 'postgresql' : 'sqlite', 'db.operation.name': 'append', 'db.collection.name': 'model_access_key', 'event_store.stream_id': `model_access_key-${uuid}`, 'event_store.expected_revision': 'no_stream' },
    });
    expect(Number(append.attributes['event_store.position'])).toBeGreaterThan(0);
    // No path, query or header is an attribute: the key's name never is.
    expect(receiver.spans.filter((s) => JSON.stringify(s).includes('traced-key'))).toEqual([]);

    const [event] = await eventsOf(uuid);
    expect(event.metadata).toMatchObject({ traceId, spanId: server.spanId, correlationId: expect.any(String) });
    // What the exporter sent: OTLP/HTTP JSON to {endpoint}/v1/traces.
    expect(receiver.paths[0]).toBe('POST /v1/traces application/json');
  });

  it('a request without a traceparent starts a trace of its own, which its events name', async () => {
    const created = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'untraced-caller' });
    expect(created.status).toBe(200);
    const [event] = await eventsOf(created.body.api_key_info.uuid);
    expect(event.metadata.traceId).toMatch(/^[0-9a-f]{32}$/);
    const server = await receiver.waitFor(() => receiver.spans.find((s) => s.traceId === event.metadata.traceId && s.kind === KIND.SERVER), 'for the request');
    expect(server.parentSpanId).toBeUndefined();
    expect(server.spanId).toBe(event.metadata.spanId);
  });

  it('a 4xx is not an ERROR server span, and the verify route is traced by its route template', async () => {
    const traceId = hex(16);
    const first = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'to-verify' });
    expect(first.status).toBe(200);
    const missing = await fetch(`${service.baseUrl}${KEYS}/00000000-0000-4000-8000-000000000000`, {
      headers: { authorization: `Bearer ${owner}`, traceparent: `00-${traceId}-${hex(8)}-01` },
    });
    expect(missing.status).toBe(404);
    const server = await receiver.waitFor(() => receiver.spans.find((s) => s.traceId === traceId && s.kind === KIND.SERVER), 'for the 404');
    expect(server).toMatchObject({ name: `GET ${KEYS}/:uuid`, attributes: { 'http.response.status_code': 404 } });
    expect(server.status?.code ?? 0).not.toBe(2); // STATUS_CODE_ERROR

    const gateway = service.token('ops', 'gw-1', 'gateway');
    const verifyTrace = hex(16);
    const verified = await fetch(`${service.baseUrl}/v1/keys/verify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway}`, 'content-type': 'application/json', traceparent: `00-${verifyTrace}-${hex(8)}-01` },
      body: JSON.stringify({ key: first.body.api_key_info.secret_key, model: 'llama3.3-70b-instruct' }),
    });
    expect(verified.status).toBe(200);
    const verify = await receiver.waitFor(() => receiver.spans.find((s) => s.traceId === verifyTrace), 'for verify');
    expect(verify).toMatchObject({ name: 'POST /v1/keys/verify', attributes: { 'http.route': '/v1/keys/verify' } });
    expect(JSON.stringify(receiver.spans)).not.toContain(first.body.api_key_info.secret_key);
  });

  it('a gRPC call under a traceparent in its metadata: a server span named after the method, the command its child', async () => {
    const definition = protoLoader.loadSync(path.join(ROOT, 'libs/contracts/src/proto/model_access_keys.proto'), { keepCase: true, defaults: false, arrays: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(definition) as any;
    const client = new pkg.modelkeys.v1.ModelAccessKeys(service.grpcAddress, grpc.credentials.createInsecure());
    const traceId = hex(16);
    const callerSpan = hex(8);
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${owner}`);
    md.set('traceparent', `00-${traceId}-${callerSpan}-01`);
    try {
      const created = await new Promise<any>((resolve, reject) => client.CreateKey({ name: 'grpc-traced' }, md, (error: Error | null, response: any) => (error ? reject(error) : resolve(response))));
      const server = await receiver.waitFor(() => receiver.spans.find((s) => s.traceId === traceId && s.kind === KIND.SERVER), 'for the call');
      expect(server).toMatchObject({
        name: 'modelkeys.v1.ModelAccessKeys/CreateKey',
        parentSpanId: callerSpan,
        attributes: { 'rpc.system': 'grpc', 'rpc.service': 'modelkeys.v1.ModelAccessKeys', 'rpc.method': 'CreateKey', 'rpc.grpc.status_code': 0 },
      });
      const command = await receiver.waitFor(() => receiver.spans.find((s) => s.traceId === traceId && s.name === 'command CreateModelAccessKey'), 'for the command');
      expect(command.parentSpanId).toBe(server.spanId);
      const [event] = await eventsOf(created.api_key_info.uuid);
      expect(event.metadata).toMatchObject({ traceId, spanId: server.spanId });
    } finally {
      client.close();
    }
  });
});

describe('traces off (no OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  let service: ServiceProcess;
  beforeAll(async () => {
    service = await startService();
  });
  afterAll(async () => {
    await service.kill();
    fs.rmSync(service.dataDir, { recursive: true, force: true });
  });

  it("still records the caller's trace and span from a valid traceparent, and nothing from a malformed one", async () => {
    const owner = service.token('team-off', 'u1', 'owner');
    const auditor = service.token('team-off', 'a1', 'auditor');
    const traceId = hex(16);
    const spanId = hex(8);
    const create = (name: string, traceparent: string) =>
      fetch(`${service.baseUrl}${KEYS}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json', traceparent },
        body: JSON.stringify({ name }),
      }).then((r) => r.json() as Promise<{ api_key_info: { uuid: string } }>);
    const traced = await create('with-parent', `00-${traceId}-${spanId}-01`);
    const malformed = await create('with-bad-parent', `00-${'0'.repeat(32)}-${spanId}-01`);
    const metadataOf = async (uuid: string) => (await api(service.baseUrl, 'GET', `/v1/audit/keys/${uuid}/events`, auditor)).body.events[0].metadata;
    expect(await metadataOf(traced.api_key_info.uuid)).toMatchObject({ traceId, spanId });
    const bad = await metadataOf(malformed.api_key_info.uuid);
    expect(bad.traceId).toBeUndefined();
    expect(bad.spanId).toBeUndefined();
  });
});

describe('traces at shutdown', () => {
  it('SIGTERM sends the spans still waiting for their batch before the process exits', async () => {
    const receiver = await startOtlpReceiver();
    // A batch delay far longer than the test: only the shutdown can send these spans.
    const service = await startService({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '600000' } });
    try {
      const traceId = hex(16);
      const created = await fetch(`${service.baseUrl}${KEYS}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${service.token('team-stop', 'u1', 'owner')}`, 'content-type': 'application/json', traceparent: `00-${traceId}-${hex(8)}-01` },
        body: JSON.stringify({ name: 'last-words' }),
      });
      expect(created.status).toBe(200);
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.spans.filter((s) => s.traceId === traceId)).toEqual([]);
      await service.kill('SIGTERM');
      expect(service.child.exitCode).toBe(0);
      expect(receiver.spans.filter((s) => s.traceId === traceId).map((s) => s.name).sort()).toEqual(['POST /v2/gen-ai/models/api_keys', 'append model_access_key', 'command CreateModelAccessKey']);
    } finally {
      await service.kill();
      fs.rmSync(service.dataDir, { recursive: true, force: true });
      await receiver.close();
    }
  });
});
