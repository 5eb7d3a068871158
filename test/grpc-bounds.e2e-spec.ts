import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT, ServiceProcess, startService } from './support/service-process';

type Client = grpc.Client & Record<string, (...args: any[]) => any>;

/**
 * The gRPC side of "numbers out of range": the same bounds as HTTP (ListKeys' page and per_page are
 * ListKeysRequest's; WatchRevocations' int64 `after` is a position, at most 2^53 - 1), refused with
 * INVALID_ARGUMENT naming the field, never an INTERNAL from SQL.
 */
describe('gRPC numbers out of range (a real @grpc/grpc-js client against the started service)', () => {
  let service: ServiceProcess;
  let keys: Client;
  let gateway: Client;
  let owner: grpc.Metadata;
  let gatewayToken: grpc.Metadata;

  const load = (file: string) =>
    grpc.loadPackageDefinition(
      protoLoader.loadSync(path.join(ROOT, 'libs/contracts/src/proto', file), { keepCase: true, longs: String, defaults: false, arrays: true, oneofs: true }),
    ) as any;
  const metadataFor = (token: string) => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    return md;
  };

  beforeAll(async () => {
    service = await startService();
    keys = new (load('model_access_keys.proto').modelkeys.v1.ModelAccessKeys)(service.grpcAddress, grpc.credentials.createInsecure());
    gateway = new (load('gateway.proto').modelkeys.v1.Gateway)(service.grpcAddress, grpc.credentials.createInsecure());
    owner = metadataFor(service.token('team-1', '100', 'owner'));
    gatewayToken = metadataFor(service.token('platform', 'gw-1', 'gateway'));
  });
  afterAll(async () => {
    keys?.close();
    gateway?.close();
    await service?.kill('SIGKILL');
    if (service) fs.rmSync(service.dataDir, { recursive: true, force: true });
  });

  const listKeys = (request: object) =>
    new Promise<{ error: grpc.ServiceError | null; response: any }>((resolve) =>
      keys.ListKeys(request, owner, (error: grpc.ServiceError | null, response: any) =>
        resolve({ error, response }),
      ),
    );

  /** The first thing the stream says: an error, or its first item. */
  const watchFrom = (after: string) =>
    new Promise<{ error: grpc.ServiceError | null; item: any }>((resolve) => {
      const call = gateway.WatchRevocations({ after }, gatewayToken);
      call.on('data', (item: any) => {
        resolve({ error: null, item });
        call.cancel();
      });
      call.on('error', (error: grpc.ServiceError) => resolve({ error, item: null }));
    });

  it.each([
    [{ page: 2_147_483_647 }, 'page'],
    [{ page: 1_000_001 }, 'page'],
    [{ page: -1 }, 'page'],
    [{ per_page: 201 }, 'per_page'],
    [{ per_page: 2_147_483_647 }, 'per_page'],
    [{ per_page: -5 }, 'per_page'],
  ])('ListKeys %j answers INVALID_ARGUMENT naming %s', async (request, field) => {
    const { error } = await listKeys(request);
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error?.metadata.get('error-code')).toEqual(['VALIDATION_FAILED']);
    expect(error?.details).toContain(field);
  });

  it('ListKeys serves the largest page and per_page (an empty page past the end)', async () => {
    const { error, response } = await listKeys({ page: 1_000_000, per_page: 200 });
    expect(error).toBeNull();
    expect(response).toMatchObject({ page: 1_000_000, total: 0 });
  });

  it.each(['+275760-09-13T00:00:00Z', '10000-01-01'])('CreateKey with expires_at %s answers INVALID_ARGUMENT naming expires_at', async (expiresAt) => {
    const error = await new Promise<grpc.ServiceError | null>((resolve) => keys.CreateKey({ name: 'far', expires_at: expiresAt }, owner, resolve));
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error?.details).toContain('expires_at');
  });

  it.each(['9223372036854775807', '9007199254740992', '-1'])('WatchRevocations from after=%s answers INVALID_ARGUMENT naming after', async (after) => {
    const { error } = await watchFrom(after);
    expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error?.details).toContain('after');
  });

  it('WatchRevocations from the largest position starts (a heartbeat)', async () => {
    const { error, item } = await watchFrom(String(Number.MAX_SAFE_INTEGER));
    expect(error).toBeNull();
    expect(item.heartbeat).toBeDefined();
  });
});
