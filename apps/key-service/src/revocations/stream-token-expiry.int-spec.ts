import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as jwt from 'jsonwebtoken';
import { GATEWAY_PROTO } from '@lib/contracts';
import { TokenService } from '../auth/token.service';
import { DEVELOPMENT_JWT_SECRET } from '../config/app.config';
import { freePort } from '../../../../test/support/service-process';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';
import { openStream } from '../../../../test/support/sse-stream';

const TTL_S = 2;

describe('a revocation stream ends when its token expires', () => {
  let t: TestApp;
  let port: number;
  let grpcAddress: string;
  let tokens: TokenService;
  let Gateway: any;

  beforeEach(async () => {
    const grpcPort = await freePort();
    t = await startTestApp({ grpc: true, env: { GRPC_PORT: String(grpcPort), REVOCATION_HEARTBEAT_MS: '200' } });
    await t.app.startAllMicroservices();
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as { port: number }).port;
    grpcAddress = `127.0.0.1:${grpcPort}`;
    tokens = t.app.get(TokenService);
    const definition = protoLoader.loadSync(GATEWAY_PROTO, { keepCase: true, longs: String, defaults: false, oneofs: true });
    Gateway = (grpc.loadPackageDefinition(definition) as any).modelkeys.v1.Gateway;
  });
  afterEach(() => t.close());

  const gatewayToken = (ttlSeconds: number) => tokens.sign({ teamId: 'platform', userId: 'gw', role: 'gateway' }, ttlSeconds);
  const metadataFor = (token: string) => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    return metadata;
  };

  it('SSE: at the token’s exp the last event is `end` with reason token_expired, then the stream closes; a longer token’s stream stays', async () => {
    const owner = t.token('team-1', 'u1', 'owner');
    const expiresAt = (Math.floor(Date.now() / 1000) + TTL_S) * 1000;
    const short = openStream(port, gatewayToken(TTL_S));
    const long = openStream(port, gatewayToken(3600));
    // Live until then: a revocation reaches it.
    const created = await t.call('POST', KEYS, { token: owner, body: { name: 'k' } });
    await t.call('PUT', `${KEYS}/${created.body.api_key_info.uuid}/regenerate`, { token: owner });
    const closedAt = await short.closed;
    expect(short.status()).toBe(200);
    expect(closedAt).toBeGreaterThanOrEqual(expiresAt - 50);
    expect(closedAt).toBeLessThan(expiresAt + 1000);
    expect(short.events.some((e) => e.event === 'revocation')).toBe(true);
    expect(short.events.some((e) => e.event === 'heartbeat')).toBe(true);
    expect(short.events[short.events.length - 1]).toEqual({
      event: 'end',
      data: { reason: 'token_expired', message: 'the token this stream was opened with has expired: reconnect with a new one' },
    });
    // The other stream is still open and beating.
    const beats = long.events.filter((e) => e.event === 'heartbeat').length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(long.events.filter((e) => e.event === 'heartbeat').length).toBeGreaterThan(beats);
    expect(long.events.some((e) => e.event === 'end')).toBe(false);
    long.close();
  });

  it('SSE: reconnecting with the expired token is refused with 401', async () => {
    const token = gatewayToken(1);
    await openStream(port, token).closed;
    const again = openStream(port, token);
    await again.closed;
    expect(again.status()).toBe(401);
  });

  it('gRPC WatchRevocations: at the token’s exp the call ends with UNAUTHENTICATED and says why', async () => {
    const client = new Gateway(grpcAddress, grpc.credentials.createInsecure());
    const expiresAt = (Math.floor(Date.now() / 1000) + TTL_S) * 1000;
    const items: any[] = [];
    const call = client.WatchRevocations({ after: '0' }, metadataFor(gatewayToken(TTL_S)));
    call.on('data', (item: any) => items.push(item));
    const error = await new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
    const endedAt = Date.now();
    expect(items.some((i) => i.heartbeat)).toBe(true);
    expect(error.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(error.details).toBe('token expired: the token this call was opened with has expired; call again with a new one');
    expect(error.metadata.get('error-code')).toEqual(['UNAUTHENTICATED']);
    expect(endedAt).toBeGreaterThanOrEqual(expiresAt - 50);
    expect(endedAt).toBeLessThan(expiresAt + 1000);
    client.close();
  });

  it('gRPC: a token without exp is refused, on VerifyKey and WatchRevocations', async () => {
    const client = new Gateway(grpcAddress, grpc.credentials.createInsecure());
    const forever = metadataFor(jwt.sign({ team_id: 'platform', sub: 'gw', role: 'gateway' }, DEVELOPMENT_JWT_SECRET));
    const verify = await new Promise<grpc.ServiceError>((resolve) => client.VerifyKey({ key: 'mak_x' }, forever, (e: grpc.ServiceError) => resolve(e)));
    expect(verify.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(verify.details).toBe('token lacks exp');
    const call = client.WatchRevocations({ after: '0' }, forever);
    call.on('data', () => undefined);
    const watch = await new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
    expect(watch.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(watch.details).toBe('token lacks exp');
    client.close();
  });
});
