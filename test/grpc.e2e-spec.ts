import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, ServiceProcess, api, startService } from './support/service-process';

type Client = grpc.Client & Record<string, (req: object, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: any) => void) => void>;

describe('the gRPC API (a real @grpc/grpc-js client against the started service)', () => {
  let service: ServiceProcess;
  let client: Client;
  let owner: grpc.Metadata;

  beforeAll(async () => {
    // The service runs eight hours behind UTC: instants must not depend on the host's zone.
    service = await startService({ env: { TZ: 'America/Los_Angeles' } });
    const definition = protoLoader.loadSync(path.join(ROOT, 'libs/contracts/src/proto/model_access_keys.proto'), {
      keepCase: true,
      defaults: false,
      arrays: true,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(definition) as any;
    client = new pkg.modelkeys.v1.ModelAccessKeys(service.grpcAddress, grpc.credentials.createInsecure());
    owner = metadataFor(service.token('team-1', '100', 'owner'));
  });
  afterAll(async () => {
    client?.close();
    await service?.kill('SIGKILL');
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
  });

  const metadataFor = (token: string | null) => {
    const md = new grpc.Metadata();
    if (token) md.set('authorization', `Bearer ${token}`);
    return md;
  };
  const call = (method: string, request: object, md: grpc.Metadata = owner) =>
    new Promise<any>((resolve, reject) => client[method](request, md, (error, response) => (error ? reject(error) : resolve(response))));
  const failure = (method: string, request: object, md: grpc.Metadata = owner) =>
    call(method, request, md).then(
      () => {
        throw new Error(`${method} unexpectedly succeeded`);
      },
      (error: grpc.ServiceError) => ({ code: error.code, errorCode: error.metadata?.get('error-code')[0], details: error.details }),
    );

  it('runs the same commands and queries as HTTP', async () => {
    const created = (await call('CreateKey', { name: 'grpc-key', models: ['llama3'] })).api_key_info;
    expect(created).toMatchObject({ name: 'grpc-key', all_models: false, models: ['llama3'], legacy: false });
    expect(created.secret_key).toMatch(/^mak_/);
    expect((await call('GetKey', { uuid: created.uuid })).api_key_info.secret_key).toBeUndefined();
    expect((await call('RenameKey', { uuid: created.uuid, name: 'renamed' })).api_key_info.name).toBe('renamed');
    const regenerated = (await call('RegenerateKey', { uuid: created.uuid, confirm_name: 'renamed' })).api_key_info;
    expect(regenerated.secret_key).not.toBe(created.secret_key);
    expect((await call('AttachDeployment', { uuid: created.uuid, deployment_name: 'dep-1' })).api_key_info.deployment_names).toEqual(['dep-1']);
    expect(await failure('DeleteKey', { uuid: created.uuid })).toMatchObject({ code: grpc.status.ABORTED, errorCode: 'KEY_ATTACHED_TO_DEPLOYMENTS' });
    await call('DetachDeployment', { uuid: created.uuid, deployment_name: 'dep-1' });
    const list = await call('ListKeys', { page: 1, per_page: 10 });
    expect(list).toMatchObject({ page: 1, pages: 1, total: 1 });
    expect((await call('DeleteKey', { uuid: created.uuid })).api_key_info.deleted_at).toEqual(expect.any(String));
    expect(await failure('GetKey', { uuid: created.uuid })).toMatchObject({ code: grpc.status.NOT_FOUND, errorCode: 'KEY_NOT_FOUND' });
  });

  it('limits: given at CreateKey, replaced whole by SetKeyLimits, with the HTTP rules (issue 19)', async () => {
    const text = (limits: any) =>
      // int64 as strings; proto3 optional fields come with synthetic oneof markers (_tokens, ...), dropped.
      JSON.parse(
        JSON.stringify(limits ?? {}, (key, value) =>
          key.startsWith('_') ? undefined : value && typeof value === 'object' && 'low' in value && 'high' in value ? String(value) : value,
        ),
      );
    const created = (await call('CreateKey', { name: 'limited', limits: { requests_per_minute: 5, quota: { tokens: 1000, period: 'day' } } })).api_key_info;
    expect(text(created.limits)).toMatchObject({ requests_per_minute: '5', quota: { tokens: '1000', period: 'day' } });
    const changed = (await call('SetKeyLimits', { uuid: created.uuid, limits: { tokens_per_minute: 300 } })).api_key_info;
    expect(text(changed.limits)).toEqual({ tokens_per_minute: '300' });
    expect(text((await call('GetKey', { uuid: created.uuid })).api_key_info.limits)).toEqual({ tokens_per_minute: '300' });
    expect(await failure('SetKeyLimits', { uuid: created.uuid, limits: { quota: { requests: 0, period: 'day' } } })).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      errorCode: 'VALIDATION_FAILED',
    });
    expect(await failure('SetKeyLimits', { uuid: created.uuid, limits: { quota: { requests: 3, period: 'week' } } })).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
    });
    expect(text((await call('SetKeyLimits', { uuid: created.uuid })).api_key_info.limits)).toEqual({});
    expect((await failure('SetKeyLimits', { uuid: created.uuid, limits: {} }, metadataFor(service.token('team-2', '100', 'owner')))).code).toBe(grpc.status.NOT_FOUND);
  });

  it('usage reads: GetKeyUsage and GetTeamUsage answer what GET /v1/usage/keys/{uuid} and GET /v1/usage do (issue 19)', async () => {
    const key = (await call('CreateKey', { name: 'used' })).api_key_info;
    const minute = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60_000).toISOString();
    const gateway = service.token('platform', 'gw-1', 'gateway');
    const report = await api(service.baseUrl, 'POST', '/v1/usage', gateway, {
      gateway_id: 'grpc-e2e',
      sequence: 1,
      records: [{ key_uuid: key.uuid, minute, model: 'llama3', requests: 3, input_tokens: 30, output_tokens: 7, denials: { RATE_LIMITED: 2 } }],
    });
    expect(report.body).toMatchObject({ counted: true });
    const range = { from: new Date(Date.parse(minute) - 3_600_000).toISOString(), granularity: 'minute' };
    const owner = service.token('team-1', '100', 'owner');
    const viaHttp = (await api(service.baseUrl, 'GET', `/v1/usage/keys/${key.uuid}?from=${encodeURIComponent(range.from)}&granularity=minute`, owner)).body;
    const viaGrpc = await call('GetKeyUsage', { uuid: key.uuid, ...range });
    const counts = (c: any) => ({ start: c.start, requests: Number(c.requests), input_tokens: Number(c.input_tokens), output_tokens: Number(c.output_tokens), denials: Object.fromEntries(Object.entries(c.denials ?? {}).map(([k, v]) => [k, Number(v)])) });
    expect(viaGrpc.key_uuid).toBe(key.uuid);
    expect(viaGrpc.series.map(counts)).toEqual([{ start: minute, requests: 3, input_tokens: 30, output_tokens: 7, denials: { RATE_LIMITED: 2 } }]);
    expect(viaGrpc.series.map(counts)).toEqual(viaHttp.series);
    expect(counts(viaGrpc.totals)).toEqual({ ...viaHttp.totals });
    const team = await call('GetTeamUsage', range);
    expect(team.keys.map((k: { key_uuid: string }) => k.key_uuid)).toEqual([key.uuid]);
    expect(team).toMatchObject({ page: 1, pages: 1, total: 1 });
    expect((await call('GetTeamUsage', { ...range, page: 2 })).keys ?? []).toEqual([]);
    expect(await failure('GetTeamUsage', { ...range, per_page: 51 })).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'VALIDATION_FAILED' });
    expect(await failure('GetKeyUsage', { uuid: key.uuid, granularity: 'week' })).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'VALIDATION_FAILED' });
    expect((await failure('GetKeyUsage', { uuid: key.uuid }, metadataFor(service.token('team-2', '100', 'owner')))).code).toBe(grpc.status.NOT_FOUND);
    expect((await failure('GetTeamUsage', {}, metadataFor(gateway))).code).toBe(grpc.status.PERMISSION_DENIED);
    // A deleted key's usage stays readable, with deleted_at (absent for a live key).
    expect(viaGrpc.deleted_at).toBeUndefined();
    const deletedAt = (await call('DeleteKey', { uuid: key.uuid })).api_key_info.deleted_at;
    expect((await call('GetKeyUsage', { uuid: key.uuid, ...range })).deleted_at).toBe(deletedAt);
  });

  it('an Idempotency-Key in the request replays the first answer', async () => {
    const first = await call('CreateKey', { name: 'idem', idempotency_key: 'g-1' });
    const second = await call('CreateKey', { name: 'idem', idempotency_key: 'g-1' });
    expect(second.api_key_info.secret_key).toBe(first.api_key_info.secret_key);
  });

  it('keeps the same rules: no token, a bad token, another team, a member on a teammate’s key, bad input, a wrong confirmation', async () => {
    const key = (await call('CreateKey', { name: 'rules' })).api_key_info;
    expect((await failure('ListKeys', {}, metadataFor(null))).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await failure('GetKey', { uuid: key.uuid }, metadataFor('bad.token.here'))).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await failure('GetKey', { uuid: key.uuid }, metadataFor(service.token('team-2', '100', 'owner')))).code).toBe(grpc.status.NOT_FOUND);
    expect((await failure('RenameKey', { uuid: key.uuid, name: 'x' }, metadataFor(service.token('team-1', '200', 'member')))).code).toBe(
      grpc.status.NOT_FOUND,
    );
    expect((await failure('RenameKey', { uuid: key.uuid, name: 'x' }, metadataFor(service.token('team-1', '300', 'auditor')))).code).toBe(
      grpc.status.PERMISSION_DENIED,
    );
    expect((await failure('ListKeys', {}, metadataFor(service.token('team-1', '400', 'gateway')))).code).toBe(grpc.status.PERMISSION_DENIED);
    const invalid = await failure('CreateKey', { name: '' });
    expect(invalid).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'VALIDATION_FAILED' });
    expect(invalid.details).toContain('name');
    expect((await failure('GetKey', { uuid: 'nope' })).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(await failure('CreateKey', { name: 'b', models: ['m'], batch_inference_enabled: true })).toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      errorCode: 'BATCH_REQUIRES_ALL_MODELS',
    });
    expect(await failure('RegenerateKey', { uuid: key.uuid, confirm_name: 'other' })).toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      errorCode: 'CONFIRMATION_MISMATCH',
    });
  });

  it('holds names and instants to the HTTP rules: control characters, bidirectional overrides, NFC, no offset', async () => {
    for (const name of ['a\u0000b', 'invoice\u202Etxt.exe', ' ', 'n'.repeat(256)]) {
      expect(await failure('CreateKey', { name })).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'VALIDATION_FAILED' });
    }
    const key = (await call('CreateKey', { name: 'Cafe\u0301' })).api_key_info;
    expect(key.name).toBe('Caf\u00e9');
    expect(await failure('RenameKey', { uuid: key.uuid, name: 'bell\u0007' })).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect(await failure('CreateKey', { name: 'tz', expires_at: '2099-01-31T10:00:00' })).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      errorCode: 'VALIDATION_FAILED',
    });
    expect((await call('CreateKey', { name: 'tz', expires_at: '2099-01-31T10:00:00+01:00' })).api_key_info.expires_at).toBe('2099-01-31T09:00:00.000Z');
  });

  it('RegenerateKey takes grace_period_seconds: the old secret keeps verifying until then', async () => {
    const created = (await call('CreateKey', { name: 'grpc-overlap' })).api_key_info;
    const regenerated = (await call('RegenerateKey', { uuid: created.uuid, grace_period_seconds: 600 })).api_key_info;
    const gateway = service.token('platform', 'gw', 'gateway');
    const old = await api(service.baseUrl, 'POST', '/v1/keys/verify', gateway, { key: created.secret_key });
    expect(old.body).toMatchObject({ valid: true, code: 'VALID', secret_ends_at: expect.any(String) });
    expect((await api(service.baseUrl, 'POST', '/v1/keys/verify', gateway, { key: regenerated.secret_key })).body.code).toBe('VALID');
    expect(await failure('RegenerateKey', { uuid: created.uuid, grace_period_seconds: 604_801 })).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      errorCode: 'VALIDATION_FAILED',
    });
  });
});
