import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { GATEWAY_PROTO } from '@lib/contracts';
import { GatewayProcess, Upstream, eventually, startGateway, startUpstream } from './support/gateway-process';
import { ServiceProcess, api, startService } from './support/service-process';

const KEYS = '/v2/gen-ai/models/api_keys';

describe('the reference gateway on the revocation stream (SSE), against the running service', () => {
  let service: ServiceProcess;
  let upstream: Upstream;
  let gatewayA: GatewayProcess;
  let gatewayB: GatewayProcess;
  let owner: string;
  let gatewayToken: string;

  const gatewayEnv = (deployment: string) => ({
    KEY_SERVICE_URL: service.baseUrl,
    GATEWAY_TOKEN: gatewayToken,
    UPSTREAM_URL: upstream.url,
    GATEWAY_DEPLOYMENT_NAME: deployment,
    FEED_MAX_SILENCE_MS: '1500',
  });

  beforeAll(async () => {
    service = await startService({ env: { REVOCATION_HEARTBEAT_MS: '200', EXPIRY_SCAN_MS: '200' } });
    upstream = await startUpstream();
    owner = service.token('team-1', 'u1', 'owner');
    gatewayToken = service.token('platform', 'gw', 'gateway');
    gatewayA = await startGateway(gatewayEnv('dep-a'));
    gatewayB = await startGateway(gatewayEnv('dep-b'));
  });
  afterAll(async () => {
    await gatewayA?.kill();
    await gatewayB?.kill();
    await service?.kill();
    await upstream?.close();
  });

  const create = async (body: Record<string, unknown> = {}) => {
    const res = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'k', ...body });
    expect(res.status).toBe(200);
    const info = res.body.api_key_info as { uuid: string; secret_key: string };
    for (const deployment of ['dep-a', 'dep-b']) {
      expect((await api(service.baseUrl, 'POST', `${KEYS}/${info.uuid}/deployments`, owner, { deployment_name: deployment })).status).toBe(200);
    }
    return info;
  };
  const deniedWithin = (gateway: GatewayProcess, secret: string, status: number) =>
    eventually(async () => (await gateway.chat(secret)).status === status, 2000, `a ${status} from the gateway`);

  it('create: the gateway accepts and forwards; a missing or unknown key is 401', async () => {
    const key = await create();
    const ok = await gatewayA.chat(key.secret_key);
    expect(ok.status).toBe(200);
    expect(ok.body.model).toBe('llama3-8b-instruct');
    expect(upstream.calls.at(-1)).toMatchObject({ path: '/v1/chat/completions', keyUuid: key.uuid, authorization: undefined });
    expect((await gatewayA.chat(null)).status).toBe(401);
    const unknown = await gatewayA.chat('mak_unknown');
    expect(unknown).toMatchObject({ status: 401, body: { error: { code: 'NOT_FOUND' } } });
  });

  it('a scope denial is 403 with the code', async () => {
    const res = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'scoped', models: ['mistral-7b'] });
    const secret = res.body.api_key_info.secret_key;
    expect(await gatewayA.chat(secret, 'mistral-7b')).toMatchObject({ status: 403, body: { error: { code: 'DEPLOYMENT_NOT_ALLOWED' } } });
    await api(service.baseUrl, 'POST', `${KEYS}/${res.body.api_key_info.uuid}/deployments`, owner, { deployment_name: 'dep-a' });
    expect((await gatewayA.chat(secret, 'mistral-7b')).status).toBe(200);
    expect(await gatewayA.chat(secret, 'gpt-4o')).toMatchObject({ status: 403, body: { error: { code: 'MODEL_NOT_ALLOWED' } } });
  });

  it('regenerate: the old secret is denied at once, the new one accepted', async () => {
    const key = await create();
    expect((await gatewayA.chat(key.secret_key)).status).toBe(200);
    expect((await gatewayA.chat(key.secret_key)).status).toBe(200); // now from the cache
    const regenerated = await api(service.baseUrl, 'PUT', `${KEYS}/${key.uuid}/regenerate`, owner);
    const took = await deniedWithin(gatewayA, key.secret_key, 401);
    expect(took).toBeLessThan(500);
    expect((await gatewayA.chat(regenerated.body.api_key_info.secret_key)).status).toBe(200);
  });

  it('detach: denied for that deployment only; delete: denied everywhere', async () => {
    const key = await create();
    expect((await gatewayA.chat(key.secret_key)).status).toBe(200);
    expect((await gatewayB.chat(key.secret_key)).status).toBe(200);
    await api(service.baseUrl, 'DELETE', `${KEYS}/${key.uuid}/deployments/dep-a`, owner);
    await deniedWithin(gatewayA, key.secret_key, 403);
    expect((await gatewayA.chat(key.secret_key)).body.error.code).toBe('DEPLOYMENT_NOT_ALLOWED');
    expect((await gatewayB.chat(key.secret_key)).status).toBe(200);

    await api(service.baseUrl, 'DELETE', `${KEYS}/${key.uuid}/deployments/dep-b`, owner);
    expect((await api(service.baseUrl, 'DELETE', `${KEYS}/${key.uuid}`, owner)).status).toBe(200);
    await deniedWithin(gatewayB, key.secret_key, 401);
  });

  it('expiry: denied once expires_at passes, never forwarded; the scheduler records it', async () => {
    const expiresAt = new Date(Date.now() + 2500).toISOString();
    const key = await create({ expires_at: expiresAt });
    expect((await gatewayA.chat(key.secret_key)).status).toBe(200);
    const before = upstream.calls.length;
    await new Promise((r) => setTimeout(r, Date.parse(expiresAt) - Date.now() + 20));
    const denied = await gatewayA.chat(key.secret_key);
    expect(denied).toMatchObject({ status: 401, body: { error: { code: 'EXPIRED' } } });
    expect(upstream.calls.length).toBe(before);

    await eventually(async () => {
      const page = await api(service.baseUrl, 'GET', '/v1/revocations?after=0&limit=1000', gatewayToken);
      return page.body.revocations.some((r: { key_uuid: string; reason: string }) => r.key_uuid === key.uuid && r.reason === 'expired');
    }, 3000, 'the expired revocation');
  });

  it('the gateway restarted resumes from its saved position and catches up on what it missed', async () => {
    const key = await create();
    expect((await gatewayA.chat(key.secret_key)).status).toBe(200);
    const saved = (await gatewayA.status()).position;
    await gatewayA.kill();
    await api(service.baseUrl, 'PUT', `${KEYS}/${key.uuid}/regenerate`, owner);
    gatewayA = await startGateway(gatewayEnv('dep-a'), gatewayA.stateDir);
    const status = await gatewayA.status();
    expect(status.startedFrom).toBeGreaterThanOrEqual(saved);
    expect(status.startedFrom).toBeGreaterThan(0);
    await eventually(async () => {
      const s = await gatewayA.status();
      return s.feedFresh && s.lag === 0;
    }, 5000, 'the restarted gateway catching up');
    expect((await gatewayA.chat(key.secret_key)).status).toBe(401);
  });

  it('gRPC: VerifyKey and WatchRevocations (backlog, then live)', async () => {
    const definition = protoLoader.loadSync(GATEWAY_PROTO, { keepCase: true, longs: String, defaults: false, oneofs: true });
    const Gateway = (grpc.loadPackageDefinition(definition) as any).modelkeys.v1.Gateway;
    const client = new Gateway(service.grpcAddress, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${gatewayToken}`);
    const key = await create();
    const verified = await new Promise<any>((resolve, reject) =>
      client.VerifyKey({ key: key.secret_key, deployment_name: 'dep-a' }, metadata, (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))),
    );
    expect(verified).toMatchObject({ valid: true, code: 'VALID', key_uuid: key.uuid });

    const refused = await new Promise<any>((resolve) => client.VerifyKey({ key: 'x' }, new grpc.Metadata(), (e: unknown) => resolve(e)));
    expect(refused.code).toBe(grpc.status.UNAUTHENTICATED);

    const items: any[] = [];
    const call = client.WatchRevocations({ after: '0' }, metadata);
    call.on('data', (item: any) => items.push(item));
    call.on('error', () => undefined);
    await eventually(async () => items.some((i) => i.heartbeat), 3000, 'the first heartbeat');
    const backlog = items.filter((i) => i.revocation).length;
    expect(backlog).toBeGreaterThan(0);
    await api(service.baseUrl, 'PUT', `${KEYS}/${key.uuid}/regenerate`, owner);
    await eventually(async () => items.some((i) => i.revocation?.key_uuid === key.uuid), 2000, 'the live revocation');
    const live = items.find((i) => i.revocation?.key_uuid === key.uuid).revocation;
    expect(live).toMatchObject({ reason: 'regenerated', team_id: 'team-1' });
    const positions = items.filter((i) => i.revocation).map((i) => Number(i.revocation.position));
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    call.cancel();
    client.close();
  });

  it('fails closed: with the service gone, cached answers stop being trusted and calls are denied', async () => {
    const key = await create();
    expect((await gatewayA.chat(key.secret_key)).status).toBe(200);
    await service.kill('SIGKILL');
    await eventually(async () => (await gatewayA.chat(key.secret_key)).status === 503, 5000, 'a fail-closed 503');
    const status = await gatewayA.status();
    expect(status.feedFresh).toBe(false);
    expect(status.failClosed).toBeGreaterThan(0);
  });
});
