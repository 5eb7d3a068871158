import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { Agent, request } from 'undici';
import { GATEWAY_PROTO } from '@lib/contracts';
import { TokenService } from '../auth/token.service';
import { loadConfig } from '../config/app.config';
import { createApp, listen } from '../http-app';
import { Pki, createPki } from '../../../../test/support/pki';
import { freePort } from '../../../../test/support/service-process';
import { eventually } from '../../../../test/support/gateway-process';

const GATEWAY_ID = 'spiffe://example.org/team/platform/role/gateway/user/gw-1';

/**
 * The service over TLS on both ports, with a CA, certificates and keys made by openssl for the run:
 * real handshakes from undici, grpc-js and node:tls.
 */
describe('TLS and mutual TLS on HTTP and gRPC', () => {
  let pki: Pki;
  let otherPki: Pki;
  let dir: string;
  let app: NestFastifyApplication;
  let httpPort: number;
  let grpcPort: number;
  let gatewayToken: string;
  let ownerToken: string;
  let firstSerial: string;
  const certFile = () => path.join(dir, 'tls.crt');
  const keyFile = () => path.join(dir, 'tls.key');

  beforeAll(async () => {
    pki = createPki('Service CA');
    otherPki = createPki('Another CA');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tls-int-'));
    const server = pki.server('server-a', { chain: true });
    firstSerial = server.serial;
    fs.copyFileSync(server.cert, certFile());
    fs.copyFileSync(server.key, keyFile());
    grpcPort = await freePort();
    const config = loadConfig({
      DATA_DIR: path.join(dir, 'data'),
      NODE_ENV: 'test',
      LOG_LEVEL: 'error',
      PORT: String(await freePort()),
      GRPC_PORT: String(grpcPort),
      TLS_CERT_FILE: certFile(),
      TLS_KEY_FILE: keyFile(),
      TLS_CLIENT_CA_FILE: pki.caCert,
      TLS_REQUIRE_CLIENT_CERT_FOR: 'gateway',
    });
    app = await createApp(config);
    await listen(app, config);
    httpPort = config.port;
    const tokens = app.get(TokenService);
    gatewayToken = tokens.sign({ teamId: 'platform', userId: 'gw-token', role: 'gateway' });
    ownerToken = tokens.sign({ teamId: 'team-1', userId: 'u1', role: 'owner' });
  });
  afterAll(async () => {
    await app?.close();
    pki?.remove();
    otherPki?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A new connection's view of the server certificate: its serial number. */
  const servedSerial = (port: number, alpn: string[]) =>
    new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', servername: 'localhost', port, ca: fs.readFileSync(pki.caCert), ALPNProtocols: alpn }, () => {
        const serial = socket.getPeerCertificate().serialNumber;
        socket.destroy();
        resolve(serial.toUpperCase());
      });
      socket.once('error', reject);
    });

  const https = async (url: string, init: { method?: 'GET' | 'POST'; token?: string; body?: unknown; client?: { cert: string; key: string } } = {}) => {
    const dispatcher = new Agent({
      connect: {
        ca: fs.readFileSync(pki.caCert),
        ...(init.client ? { cert: fs.readFileSync(init.client.cert), key: fs.readFileSync(init.client.key) } : {}),
      },
    });
    try {
      const response = await request(`https://127.0.0.1:${httpPort}${url}`, {
        method: init.method ?? 'GET',
        dispatcher,
        headers: {
          ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
          ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      const text = await response.body.text();
      return { status: response.statusCode, body: text ? JSON.parse(text) : undefined };
    } finally {
      await dispatcher.close();
    }
  };

  const gatewayClient = (client?: { cert: string; key: string }) => {
    const definition = protoLoader.loadSync(GATEWAY_PROTO, { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true });
    const pkg = grpc.loadPackageDefinition(definition) as any;
    const credentials = grpc.credentials.createSsl(
      fs.readFileSync(pki.caCert),
      client ? fs.readFileSync(client.key) : null,
      client ? fs.readFileSync(client.cert) : null,
    );
    return new pkg.modelkeys.v1.Gateway(`127.0.0.1:${grpcPort}`, credentials) as grpc.Client & Record<string, any>;
  };
  const verifyOverGrpc = (client: grpc.Client & Record<string, any>, token?: string) =>
    new Promise<{ code: string } | grpc.ServiceError>((resolve) => {
      const metadata = new grpc.Metadata();
      if (token) metadata.set('authorization', `Bearer ${token}`);
      client.VerifyKey({ key: 'mak_unknown' }, metadata, (error: grpc.ServiceError | null, answer: { code: string }) => resolve(error ?? answer));
    });

  it('serves HTTPS that a client trusting the CA reaches, and refuses plain HTTP on the port', async () => {
    expect(await https('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await https('/v2/gen-ai/models/api_keys', { token: ownerToken })).toMatchObject({ status: 200 });
    await expect(fetch(`http://127.0.0.1:${httpPort}/healthz`)).rejects.toThrow();
  });

  it('serves gRPC over TLS: a client with the CA calls VerifyKey; a plaintext client cannot', async () => {
    const good = pki.client('grpc-gw', GATEWAY_ID);
    const client = gatewayClient(good);
    expect(await verifyOverGrpc(client, gatewayToken)).toMatchObject({ code: 'NOT_FOUND' });
    client.close();
    const definition = protoLoader.loadSync(GATEWAY_PROTO, { keepCase: true });
    const plain = new (grpc.loadPackageDefinition(definition) as any).modelkeys.v1.Gateway(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    const answer = await new Promise<grpc.ServiceError>((resolve) =>
      plain.VerifyKey({ key: 'mak_x' }, new grpc.Metadata(), { deadline: Date.now() + 2000 }, (error: grpc.ServiceError) => resolve(error)),
    );
    expect(answer.code).not.toBe(grpc.status.OK);
    plain.close();
  });

  it('mTLS: a gateway certificate from the CA is a principal (no token needed); without one, or with one from another CA, the gateway role is refused', async () => {
    const good = pki.client('gw-1', GATEWAY_ID);
    const foreign = otherPki.client('gw-1', GATEWAY_ID);
    const noIdentity = pki.client('no-identity');
    const verify = (init: { token?: string; client?: { cert: string; key: string } }) => https('/v1/keys/verify', { method: 'POST', body: { key: 'mak_unknown' }, ...init });

    // HTTP: the certificate alone, on the plain Fastify verify route and on a Nest route.
    expect(await verify({ client: good })).toMatchObject({ status: 200, body: { valid: false, code: 'NOT_FOUND' } });
    expect(await https('/v1/revocations?after=0&limit=1', { client: good })).toMatchObject({ status: 200 });
    // A valid gateway token over a connection without a verified certificate: 403 naming the reason.
    const refused = { status: 403, body: { code: 'FORBIDDEN', message: 'role gateway must connect with a verified client certificate (TLS_REQUIRE_CLIENT_CERT_FOR)' } };
    expect(await verify({ token: gatewayToken })).toMatchObject(refused);
    expect(await https('/v1/revocations?after=0&limit=1', { token: gatewayToken })).toMatchObject(refused);
    // Another CA's certificate does not verify: the connection is let through (TLS_CLIENT_AUTH=request) but is not a principal.
    expect(await verify({ client: foreign })).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    expect(await verify({ client: foreign, token: gatewayToken })).toMatchObject(refused);
    // A verified certificate must name the token's team and role: one without an identity does not satisfy
    // the rule, nor does another team's or role's (a stolen token rides on no certificate but its owner's).
    expect(await verify({ client: noIdentity })).toMatchObject({ status: 401 });
    expect(await verify({ client: noIdentity, token: gatewayToken })).toMatchObject({
      status: 403,
      body: { code: 'FORBIDDEN', message: 'role gateway must connect with a client certificate that names its team and role (TLS_REQUIRE_CLIENT_CERT_FOR)' },
    });
    const otherTeam = pki.client('gw-9', 'spiffe://example.org/team/elsewhere/role/gateway/user/gw-9');
    const serviceRole = pki.client('svc-1', 'spiffe://example.org/team/platform/role/service/user/svc-1');
    const mismatch = { status: 403, body: { code: 'FORBIDDEN', message: 'the bearer token and the client certificate name different teams or roles' } };
    expect(await verify({ client: otherTeam, token: gatewayToken })).toMatchObject(mismatch);
    expect(await verify({ client: serviceRole, token: gatewayToken })).toMatchObject(mismatch);
    expect(await verify({ client: good, token: gatewayToken })).toMatchObject({ status: 200, body: { code: 'NOT_FOUND' } });
    // People keep using tokens, with or without a certificate.
    expect(await https('/v2/gen-ai/models/api_keys', { token: ownerToken })).toMatchObject({ status: 200 });

    // gRPC: the same rules.
    const withCert = gatewayClient(good);
    expect(await verifyOverGrpc(withCert)).toMatchObject({ code: 'NOT_FOUND' });
    withCert.close();
    const withoutCert = gatewayClient();
    expect(await verifyOverGrpc(withoutCert, gatewayToken)).toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: refused.body.message });
    expect(await verifyOverGrpc(withoutCert)).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    withoutCert.close();
    const withForeign = gatewayClient(foreign);
    expect(await verifyOverGrpc(withForeign, gatewayToken)).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    withForeign.close();
  });

  it('a certificate swapped on disk is served to new connections without a restart; a mismatched pair keeps the old one', async () => {
    expect(await servedSerial(httpPort, ['http/1.1'])).toBe(firstSerial);
    expect(await servedSerial(grpcPort, ['h2'])).toBe(firstSerial);

    // A half-written renewal (the new certificate, the old key) is not taken.
    const renewed = pki.server('server-b');
    fs.copyFileSync(renewed.cert, certFile());
    await new Promise((r) => setTimeout(r, 2500));
    expect(await servedSerial(httpPort, ['http/1.1'])).toBe(firstSerial);
    expect(await https('/healthz')).toMatchObject({ status: 200 });

    // The key arrives: both ports serve the new certificate to new connections.
    fs.copyFileSync(renewed.key, keyFile());
    await eventually(async () => (await servedSerial(httpPort, ['http/1.1'])) === renewed.serial, 10_000, 'HTTPS serving the renewed certificate');
    await eventually(async () => (await servedSerial(grpcPort, ['h2'])) === renewed.serial, 10_000, 'gRPC serving the renewed certificate');
    expect(await https('/healthz')).toMatchObject({ status: 200 });
    const client = gatewayClient(pki.client('gw-after', GATEWAY_ID));
    expect(await verifyOverGrpc(client)).toMatchObject({ code: 'NOT_FOUND' });
    client.close();
  });
});
