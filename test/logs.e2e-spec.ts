import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as fs from 'node:fs';
import { ProviderMock, startProviderMock } from './support/provider-mock';
import { ROOT, ServiceProcess, api, startService } from './support/service-process';
import { startGateway, startUpstream } from './support/gateway-process';

const KEYS = '/v2/gen-ai/models/api_keys';
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

interface LogLine {
  readonly level: string;
  readonly time: string;
  readonly msg?: string;
  readonly [field: string]: unknown;
}

/** Issue 16, section 2: at debug, with stdout piped (so JSON lines), traffic leaves parseable lines and no credential. */
describe('structured logs of the running service', () => {
  let anthropic: ProviderMock;
  let service: ServiceProcess;
  beforeAll(async () => {
    anthropic = await startProviderMock('anthropic', ['claude-sonnet-4-5']);
    // LOG_FORMAT is not set: stdout is a pipe here, so the default is JSON.
    service = await startService({ env: { LOG_LEVEL: 'debug', ANTHROPIC_API_BASE_URL: anthropic.url } });
  });
  afterAll(async () => {
    await service.kill();
    fs.rmSync(service.dataDir, { recursive: true, force: true });
    await anthropic.close();
  });

  it('writes every line as JSON with a UTC timestamp, one line per request with its fields, and no token, secret or provider key', async () => {
    const owner = service.token('team-logs', 'user-7', 'owner');
    const gateway = service.token('ops', 'gateway-1', 'gateway');
    // keyctl's stdout is the token and nothing else, even at debug.
    const minted = service.keyctl('token', '--team', 'team-logs', '--user', 'user-7', '--role', 'owner');
    expect(minted.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);

    const created = await fetch(`${service.baseUrl}${KEYS}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json', 'x-request-id': 'log-test-create-1' },
      body: JSON.stringify({ name: 'logged-key' }),
    });
    expect(created.status).toBe(200);
    const key = ((await created.json()) as { api_key_info: { uuid: string; secret_key: string } }).api_key_info;
    const regenerated = await api(service.baseUrl, 'PUT', `${KEYS}/${key.uuid}/regenerate`, owner);
    expect(regenerated.status).toBe(200);
    const secret: string = regenerated.body.api_key_info.secret_key;
    const verified = await api(service.baseUrl, 'POST', '/v1/keys/verify', gateway, { key: secret, model: 'llama3.3-70b-instruct' });
    expect(verified.status).toBe(200);
    const providerKey = `sk-ant-api03-${randomBytes(24).toString('base64url')}`;
    anthropic.validKeys.add(providerKey);
    expect((await api(service.baseUrl, 'POST', '/v2/gen-ai/anthropic/keys', owner, { api_key: providerKey, name: 'claude' })).status).toBe(200);
    // Errors: an unknown key (404), a bad token (401), a secret in a query string on an unknown path (404).
    expect((await api(service.baseUrl, 'GET', `${KEYS}/00000000-0000-4000-8000-000000000000`, owner)).status).toBe(404);
    expect((await api(service.baseUrl, 'GET', KEYS, 'not-a-token')).status).toBe(401);
    expect((await api(service.baseUrl, 'GET', `/nowhere?secret=${secret}`, owner)).status).toBe(404);

    // The line of the last request is written once its answer is sent: wait for it.
    const deadline = Date.now() + 10_000;
    while (!service.output().includes('"route":null') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));

    const raw = service.output().split('\n').filter((line) => line !== '');
    const lines: LogLine[] = raw.map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
    expect(lines.length).toBeGreaterThan(20);
    for (const line of lines) {
      expect(typeof line.level).toBe('string');
      expect(line.time).toMatch(ISO_UTC);
    }
    // Nest's own lines go through the same logger
    expect(lines.some((line) => line.context === 'NestFactory')).toBe(true);

    for (const needle of [owner, gateway, secret, key.secret_key, providerKey, 'Bearer ']) {
      const leaked = raw.filter((line) => line.includes(needle));
      expect(leaked).toEqual([]);
    }
    expect(raw.filter((line) => line.includes('authorization'))).toEqual([]);

    const requests = lines.filter((line) => typeof line.route !== 'undefined' && typeof line.status === 'number');
    const find = (method: string, route: string | null, status: number) => {
      const found = requests.filter((line) => line.method === method && line.route === route && line.status === status);
      if (found.length !== 1) throw new Error(`${method} ${route} ${status}: ${JSON.stringify(requests.map((l) => [l.method, l.route, l.status]))}`);
      return found[0];
    };
    const create = find('POST', KEYS, 200);
    expect(create).toMatchObject({ level: 'info', request_id: 'log-test-create-1', team_id: 'team-logs', user_id: 'user-7' });
    expect(create.duration_ms).toEqual(expect.any(Number));
    expect(create.duration_ms as number).toBeGreaterThan(0);
    expect(find('PUT', `${KEYS}/:uuid/regenerate`, 200)).toMatchObject({ team_id: 'team-logs', user_id: 'user-7' });
    expect(find('POST', '/v1/keys/verify', 200)).toMatchObject({ team_id: 'ops', user_id: 'gateway-1' });
    expect(find('POST', '/v2/gen-ai/:provider/keys', 200)).toMatchObject({ team_id: 'team-logs', user_id: 'user-7' });
    expect(find('GET', `${KEYS}/:uuid`, 404)).toMatchObject({ team_id: 'team-logs' });
    const unauthenticated = find('GET', KEYS, 401);
    expect(unauthenticated.team_id).toBeUndefined();
    expect(unauthenticated.user_id).toBeUndefined();
    find('GET', null, 404); // an unmatched path: no route, and never the raw URL
    for (const line of requests) {
      expect(line.request_id).toEqual(expect.stringMatching(/^[\w.-]{1,128}$/));
      expect(line.duration_ms).toEqual(expect.any(Number));
      expect(line).not.toHaveProperty('url');
      expect(JSON.stringify(line)).not.toContain(key.uuid); // templates, not paths
    }
    // The request id in the line is the one the client was told.
    expect(created.headers.get('x-request-id')).toBe('log-test-create-1');
  });

  it('the reference gateway writes the same JSON lines, one per request, without the secret it was given', async () => {
    const owner = service.token('team-logs', 'user-8', 'owner');
    const created = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'through-the-gateway' });
    const secret: string = created.body.api_key_info.secret_key;
    const upstream = await startUpstream();
    const gatewayToken = service.token('platform', 'gw', 'gateway');
    const gateway = await startGateway({ KEY_SERVICE_URL: service.baseUrl, GATEWAY_TOKEN: gatewayToken, UPSTREAM_URL: upstream.url });
    try {
      expect((await gateway.chat(secret)).status).toBe(200);
      expect((await gateway.chat('mak_not-a-key')).status).toBe(401);
      const deadline = Date.now() + 10_000;
      while ((gateway.output().match(/"route":"\/v1\/chat\/completions"/g) ?? []).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const raw = gateway.output().split('\n').filter((line) => line !== '');
      const lines = raw.map((line) => JSON.parse(line) as LogLine);
      for (const line of lines) {
        expect(line).toMatchObject({ service: 'gateway', level: expect.any(String) });
        expect(line.time).toMatch(ISO_UTC);
      }
      const requests = lines.filter((line) => line.route === '/v1/chat/completions');
      expect(requests.map((line) => line.status)).toEqual([200, 401]);
      for (const needle of [secret, gatewayToken, 'mak_not-a-key']) expect(raw.filter((line) => line.includes(needle))).toEqual([]);
    } finally {
      await gateway.kill();
      await upstream.close();
    }
  });

  it('a gRPC call is one line too: its path, status name, duration and request id; never its token or secret', async () => {
    const definition = protoLoader.loadSync(path.join(ROOT, 'libs/contracts/src/proto/model_access_keys.proto'), { keepCase: true, defaults: false, arrays: true, oneofs: true });
    const pkg = grpc.loadPackageDefinition(definition) as any;
    const client = new pkg.modelkeys.v1.ModelAccessKeys(service.grpcAddress, grpc.credentials.createInsecure());
    const token = service.token('team-grpc', 'user-g', 'owner');
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    const call = (method: string, request: object) =>
      new Promise<any>((resolve) => client[method](request, md, (error: grpc.ServiceError | null, response: any) => resolve(error ?? response)));
    try {
      const created = await call('CreateKey', { name: 'grpc-logged' });
      const secret: string = created.api_key_info.secret_key;
      expect((await call('GetKey', { uuid: '00000000-0000-4000-8000-000000000000' })).code).toBe(grpc.status.NOT_FOUND);
      const deadline = Date.now() + 10_000;
      while (!service.output().includes('"grpc_status":"NOT_FOUND"') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const raw = service.output().split('\n').filter((line) => line !== '');
      const calls = raw.map((line) => JSON.parse(line) as LogLine).filter((line) => line.transport === 'grpc');
      expect(calls.find((line) => line.route === '/modelkeys.v1.ModelAccessKeys/CreateKey')).toMatchObject({ level: 'info', grpc_status: 'OK', duration_ms: expect.any(Number), request_id: expect.any(String), team_id: 'team-grpc', user_id: 'user-g' });
      expect(calls.find((line) => line.route === '/modelkeys.v1.ModelAccessKeys/GetKey')).toMatchObject({ grpc_status: 'NOT_FOUND' });
      // The call's line and its event name the same request id, and the event's source is the peer's address alone.
      const auditor = service.token('team-grpc', 'aud-g', 'auditor');
      const [event] = (await api(service.baseUrl, 'GET', `/v1/audit/keys/${created.api_key_info.uuid}/events`, auditor)).body.events;
      expect(event.metadata.requestId).toBe(calls.find((line) => line.route === '/modelkeys.v1.ModelAccessKeys/CreateKey')!.request_id);
      expect(event.metadata.sourceIp).toBe('127.0.0.1');
      for (const needle of [token, secret]) expect(raw.filter((line) => line.includes(needle))).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('a request id that looks like a secret is replaced, never logged or stored in an event', async () => {
    const owner = service.token('team-rid', 'u1', 'owner');
    const auditor = service.token('team-rid', 'a1', 'auditor');
    const secretLike = `mak_${randomBytes(32).toString('base64url')}`;
    const created = await fetch(`${service.baseUrl}${KEYS}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${owner}`, 'content-type': 'application/json', 'x-request-id': secretLike },
      body: JSON.stringify({ name: 'rid-key' }),
    });
    expect(created.status).toBe(200);
    const answeredId = created.headers.get('x-request-id');
    expect(answeredId).toMatch(/^[0-9a-f-]{36}$/);
    const uuid = ((await created.json()) as { api_key_info: { uuid: string } }).api_key_info.uuid;
    const [event] = (await api(service.baseUrl, 'GET', `/v1/audit/keys/${uuid}/events`, auditor)).body.events;
    expect(event.metadata).toMatchObject({ requestId: answeredId, correlationId: answeredId });
    await new Promise((r) => setTimeout(r, 100));
    expect(service.output()).not.toContain(secretLike);
  });

  it('requests answered before any route ran (headers too large, a path that is not UTF-8, a parameter too long) are one line and one count each', async () => {
    const big = await fetch(`${service.baseUrl}/v2/gen-ai/models/api_keys`, { headers: { 'x-big': 'a'.repeat(70_000) } });
    expect(big.status).toBe(431);
    expect((await fetch(`${service.baseUrl}/v2/gen-ai/models/api_keys/%ff%fe`)).status).toBe(400);
    expect((await fetch(`${service.baseUrl}/v2/gen-ai/models/api_keys/${'a'.repeat(4000)}`)).status).toBe(414);
    await new Promise((r) => setTimeout(r, 100));
    const rejected = service
      .output()
      .split('\n')
      .filter((line) => line.includes('request rejected before routing'))
      .map((line) => JSON.parse(line) as LogLine);
    expect(rejected.map((line) => line.status).sort()).toEqual([400, 414, 431]);
    for (const line of rejected) expect(line).toMatchObject({ level: 'info', route: null, request_id: expect.any(String) });
    const metrics = await (await fetch(`${service.baseUrl}/metrics`)).text();
    for (const status of ['400', '414', '431']) expect(metrics).toContain(`key_service_http_rejected_requests_total{status="${status}"} 1`);
  });
});
