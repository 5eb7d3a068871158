import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as jwt from 'jsonwebtoken';
import { decodeProtectedHeader } from 'jose';
import { GATEWAY_PROTO, MODEL_ACCESS_KEYS_PROTO } from '@lib/contracts';
import { hs256KeyId } from './token.service';
import { freePort } from '../../../../test/support/service-process';
import { AUDIENCE, JwksServer, ProviderKey, startJwksServer } from '../../../../test/support/jwks-server';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';
import { openStream } from '../../../../test/support/sse-stream';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('tokens from an OpenID Connect provider (a real JWKS server, keys made by jose)', () => {
  let idp: JwksServer;
  let rsa: ProviderKey;
  let ec: ProviderKey;
  let ed: ProviderKey;
  let t: TestApp | null = null;

  beforeAll(async () => {
    idp = await startJwksServer();
    [rsa, ec, ed] = await Promise.all([idp.newKey('RS256'), idp.newKey('ES256'), idp.newKey('EdDSA')]);
  });
  beforeEach(() => {
    idp.publish(rsa, ec, ed);
    idp.fetches = 0;
    idp.failing = false;
  });
  afterEach(async () => {
    await t?.close();
    t = null;
  });
  afterAll(() => idp.close());

  const providerEnv = (extra: Record<string, string> = {}) => ({
    AUTH_JWKS_URL: idp.url,
    AUTH_ISSUER: idp.issuer,
    AUTH_AUDIENCE: AUDIENCE,
    ...extra,
  });
  const start = async (env: Record<string, string>) => (t = await startTestApp({ env }));
  const app = () => t as TestApp;
  const owner = { team_id: 'team-1', sub: 'alice', role: 'owner' };
  const gateway = { team_id: 'platform', sub: 'gw', role: 'gateway' };

  it('accepts RS256, ES256 and EdDSA tokens on the management routes, the verify route and the revocation feed', async () => {
    await start(providerEnv());
    for (const key of [rsa, ec, ed]) {
      const created = await app().call('POST', KEYS, { token: await idp.sign(key, owner), body: { name: `by-${key.alg}` } });
      expect([key.alg, created.status, created.body.api_key_info?.created_by]).toEqual([key.alg, 200, 'alice']);
      const verified = await app().call('POST', '/v1/keys/verify', { token: await idp.sign(key, gateway), body: { key: created.body.api_key_info.secret_key } });
      expect([key.alg, verified.status, verified.body.valid]).toEqual([key.alg, 200, true]);
      expect((await app().call('GET', '/v1/revocations', { token: await idp.sign(key, gateway) })).status).toBe(200);
    }
    // The service's own tokens still work beside them.
    expect((await app().call('GET', KEYS, { token: app().token('team-1', 'bob', 'owner') })).status).toBe(200);
  });

  it('refuses a wrong issuer, a wrong audience, an expired token, a token without exp and one living past AUTH_MAX_TOKEN_TTL_S, saying why', async () => {
    await start(providerEnv({ AUTH_MAX_TOKEN_TTL_S: '3600' }));
    const refusals: Array<[string, Promise<string>, string]> = [
      ['issuer', idp.sign(rsa, owner, { issuer: 'https://evil.example.com/' }), 'invalid token: unexpected "iss" claim value (AUTH_ISSUER)'],
      ['audience', idp.sign(ec, owner, { audience: 'another-service' }), 'invalid token: unexpected "aud" claim value (AUTH_AUDIENCE)'],
      ['expired', idp.sign(rsa, owner, { iatOffsetSeconds: -600, ttlSeconds: 300 }), 'token expired'],
      ['no exp', idp.sign(ed, owner, { ttlSeconds: null }), 'token lacks exp'],
      ['too long', idp.sign(ec, owner, { ttlSeconds: 7200 }), 'token lives longer than the 3600 s this service accepts (AUTH_MAX_TOKEN_TTL_S)'],
    ];
    for (const [what, token, message] of refusals) {
      const answer = await app().call('GET', KEYS, { token: await token });
      expect([what, answer.status, answer.body.message]).toEqual([what, 401, message]);
    }
    // A token signed by a key the provider does not publish.
    const stranger = await idp.newKey('RS256', rsa.kid);
    const forged = await app().call('GET', KEYS, { token: await idp.sign(stranger, owner) });
    expect([forged.status, forged.body.message]).toEqual([401, 'invalid token']);
    // Unsigned or HMAC-with-the-public-key confusion: alg none is not accepted at all.
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: rsa.kid })).toString('base64url')}.${Buffer.from(JSON.stringify({ ...owner, exp: 9e9 })).toString('base64url')}.`;
    expect((await app().call('GET', KEYS, { token: none })).body.message).toBe('invalid token: alg "none" is not accepted (HS256, RS256, ES256, EdDSA)');
  });

  it('a rotated provider key is fetched when a token names its new kid, with no restart', async () => {
    await start(providerEnv({ AUTH_JWKS_COOLDOWN_MS: '300' }));
    expect((await app().call('GET', KEYS, { token: await idp.sign(rsa, owner) })).status).toBe(200);
    expect(idp.fetches).toBe(1);
    // The provider rotates: a new key, the old one withdrawn.
    const next = await idp.newKey('RS256');
    idp.publish(next);
    await sleep(350);
    const rotated = await app().call('GET', KEYS, { token: await idp.sign(next, owner) });
    expect(rotated.status).toBe(200);
    expect(idp.fetches).toBe(2);
  });

  it('tokens naming kids nobody publishes are refused, and fetch the key set at most once per AUTH_JWKS_COOLDOWN_MS', async () => {
    await start(providerEnv({ AUTH_JWKS_COOLDOWN_MS: '60000' }));
    expect((await app().call('GET', KEYS, { token: await idp.sign(rsa, owner) })).status).toBe(200);
    expect(idp.fetches).toBe(1);
    const strangers = await Promise.all([1, 2, 3, 4, 5].map((i) => idp.newKey('ES256', `unknown-${i}`)));
    for (const stranger of strangers) {
      const answer = await app().call('GET', KEYS, { token: await idp.sign(stranger, owner) });
      expect([answer.status, answer.body.message]).toEqual([401, 'invalid token: no key of the identity provider (AUTH_JWKS_URL) has its kid']);
    }
    // Within the cooldown of the first fetch: no fetch at all.
    expect(idp.fetches).toBe(1);
  });

  it('while the key set cannot be fetched, tokens naming unknown kids are refused without fetching again within AUTH_JWKS_COOLDOWN_MS; known kids still pass', async () => {
    await start(providerEnv({ AUTH_JWKS_COOLDOWN_MS: '2000' }));
    expect((await app().call('GET', KEYS, { token: await idp.sign(rsa, owner) })).status).toBe(200);
    expect(idp.fetches).toBe(1);
    const bogus = await Promise.all(Array.from({ length: 30 }, (_, i) => idp.newKey('ES256', `bogus-${i}`)));
    await new Promise((r) => setTimeout(r, 2100)); // past jose's cooldown after its successful fetch
    idp.failing = true;
    const stranger = await idp.newKey('ES256');
    const unknown = await app().call('GET', KEYS, { token: await idp.sign(stranger, owner) });
    expect(unknown).toMatchObject({ status: 401, body: { message: "token not checked: the identity provider's keys (AUTH_JWKS_URL) could not be fetched" } });
    // jose's own cooldown counts from a successful fetch only: the outage would be hit once per token.
    for (const key of bogus) expect((await app().call('GET', KEYS, { token: await idp.sign(key, owner) })).status).toBe(401);
    expect(idp.fetches).toBeLessThanOrEqual(3); // 2: the good fetch, and the one that failed
    // A kid of the last good set is still checked against it.
    expect((await app().call('GET', KEYS, { token: await idp.sign(ec, owner) })).status).toBe(200);
  });

  it('maps Keycloak-style nested role arrays and Auth0-style namespaced claims through AUTH_ROLE_MAP', async () => {
    await start(
      providerEnv({
        AUTH_TEAM_CLAIM: 'org.id',
        AUTH_USER_CLAIM: 'preferred_username',
        AUTH_ROLE_CLAIM: 'realm_access.roles',
        AUTH_ROLE_MAP: 'platform-admins:owner,devs:member,readers:auditor',
      }),
    );
    const person = (roles: string[], user = 'carol') => ({ sub: 'f81d4fae-7dec', preferred_username: user, org: { id: 'team-1' }, realm_access: { roles } });
    const dev = await app().call('POST', KEYS, { token: await idp.sign(rsa, person(['offline_access', 'devs'])), body: { name: 'dev-key' } });
    expect([dev.status, dev.body.api_key_info.created_by]).toEqual([200, 'carol']);
    // A member sees only their own keys; in both groups the user is an owner and sees the team's.
    await app().call('POST', KEYS, { token: await idp.sign(rsa, person(['devs'], 'dave')), body: { name: 'dave-key' } });
    const names = (answer: { body: { api_key_infos: Array<{ name: string }> } }) => answer.body.api_key_infos.map((k) => k.name).sort();
    expect(names(await app().call('GET', KEYS, { token: await idp.sign(ec, person(['devs'])) }))).toEqual(['dev-key']);
    const both = await app().call('GET', KEYS, { token: await idp.sign(ec, person(['devs', 'platform-admins'])) });
    expect(names(both)).toEqual(['dave-key', 'dev-key']);
    const reader = await app().call('POST', KEYS, { token: await idp.sign(ed, person(['readers'])), body: { name: 'nope' } });
    expect([reader.status, reader.body.id]).toEqual([403, 'forbidden']);

    await t!.close();
    t = null;
    await start(providerEnv({ AUTH_TEAM_CLAIM: 'https://example.com/team', AUTH_ROLE_CLAIM: 'https://example.com/roles', AUTH_ROLE_MAP: 'key-admin:owner' }));
    const auth0 = { sub: 'auth0|42', 'https://example.com/team': 'team-2', 'https://example.com/roles': 'key-admin' };
    const created = await app().call('POST', KEYS, { token: await idp.sign(rsa, auth0), body: { name: 'auth0-key' } });
    expect([created.status, created.body.api_key_info.created_by]).toEqual([200, 'auth0|42']);
  });

  it('refuses a token whose claims do not map, naming the claim: 403 for an unmapped role, 401 for a missing claim', async () => {
    await start(providerEnv({ AUTH_TEAM_CLAIM: 'org.id', AUTH_ROLE_CLAIM: 'realm_access.roles', AUTH_ROLE_MAP: 'devs:member' }));
    const unmapped = await app().call('GET', KEYS, { token: await idp.sign(rsa, { sub: 'u', org: { id: 'team-1' }, realm_access: { roles: ['offline_access', 'uma_authorization'] } }) });
    expect([unmapped.status, unmapped.body.message]).toEqual([
      403,
      'token\'s claim realm_access.roles (AUTH_ROLE_CLAIM) maps to no role of this service (AUTH_ROLE_MAP): "offline_access", "uma_authorization"',
    ]);
    const noRoles = await app().call('GET', KEYS, { token: await idp.sign(rsa, { sub: 'u', org: { id: 'team-1' } }) });
    expect([noRoles.status, noRoles.body.message]).toEqual([401, 'token lacks the claim realm_access.roles (AUTH_ROLE_CLAIM)']);
    const noTeam = await app().call('GET', KEYS, { token: await idp.sign(rsa, { sub: 'u', realm_access: { roles: ['devs'] } }) });
    expect([noTeam.status, noTeam.body.message]).toEqual([401, 'token lacks the claim org.id (AUTH_TEAM_CLAIM)']);
    const badTeam = await app().call('GET', KEYS, { token: await idp.sign(rsa, { sub: 'u', org: { id: 'a/b' }, realm_access: { roles: ['devs'] } }) });
    expect([badTeam.status, badTeam.body.message]).toMatchObject([401, expect.stringContaining('invalid token: team_id must be')]);
  });

  it('gRPC calls and both revocation streams accept provider tokens, and the streams end when such a token expires', async () => {
    const grpcPort = await freePort();
    t = await startTestApp({ grpc: true, env: providerEnv({ GRPC_PORT: String(grpcPort), REVOCATION_HEARTBEAT_MS: '200' }) });
    await app().app.startAllMicroservices();
    await app().app.listen(0, '127.0.0.1');
    const port = (app().app.getHttpServer().address() as { port: number }).port;
    const load = (file: string) => grpc.loadPackageDefinition(protoLoader.loadSync(file, { keepCase: true, longs: String, defaults: false, oneofs: true })) as any;
    const keys = new (load(MODEL_ACCESS_KEYS_PROTO).modelkeys.v1.ModelAccessKeys)(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    const gatewayClient = new (load(GATEWAY_PROTO).modelkeys.v1.Gateway)(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    const metadataFor = (token: string) => {
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${token}`);
      return metadata;
    };
    try {
      const unary = (client: any, method: string, request: object, token: string) =>
        new Promise<any>((resolve, reject) => client[method](request, metadataFor(token), (e: Error | null, r: unknown) => (e ? reject(e) : resolve(r))));
      const created = await unary(keys, 'CreateKey', { name: 'over-grpc' }, await idp.sign(ec, owner));
      expect(created.api_key_info.created_by).toBe('alice');
      const verdict = await unary(gatewayClient, 'VerifyKey', { key: created.api_key_info.secret_key }, await idp.sign(rsa, gateway));
      expect(verdict.valid).toBe(true);
      const refused: grpc.ServiceError = await unary(keys, 'ListKeys', {}, await idp.sign(rsa, owner, { audience: 'other' })).catch((e) => e);
      expect([refused.code, refused.details]).toEqual([grpc.status.UNAUTHENTICATED, 'invalid token: unexpected "aud" claim value (AUTH_AUDIENCE)']);

      // Streams opened with a provider token living 2 s end at its exp.
      const short = await idp.sign(ed, gateway, { ttlSeconds: 2 });
      const expiresAt = ((JSON.parse(Buffer.from(short.split('.')[1], 'base64url').toString()) as { exp: number }).exp) * 1000;
      const sse = openStream(port, short);
      const watch = gatewayClient.WatchRevocations({ after: '0' }, metadataFor(short));
      const items: any[] = [];
      watch.on('data', (item: any) => items.push(item));
      const watchEnded = new Promise<grpc.ServiceError>((resolve) => watch.on('error', resolve));
      const [sseClosedAt, watchError] = await Promise.all([sse.closed, watchEnded]);
      const watchEndedAt = Date.now();
      expect(sse.status()).toBe(200);
      expect(sse.events[sse.events.length - 1]).toMatchObject({ event: 'end', data: { reason: 'token_expired' } });
      expect(sseClosedAt).toBeGreaterThanOrEqual(expiresAt - 50);
      expect(sseClosedAt).toBeLessThan(expiresAt + 1000);
      expect(items.some((i) => i.heartbeat)).toBe(true);
      expect(watchError.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(watchEndedAt).toBeGreaterThanOrEqual(expiresAt - 50);
      expect(watchEndedAt).toBeLessThan(expiresAt + 1000);
    } finally {
      keys.close();
      gatewayClient.close();
    }
  });
});

describe('the service\'s own HS256 tokens: a kid, and a previous secret accepted during a rotation', () => {
  const OLD = 'the-old-secret-that-is-being-rotated-out-0001';
  const NEW = 'the-new-secret-that-signs-from-now-on-00000002';
  let t: TestApp | null = null;
  afterEach(async () => {
    await t?.close();
    t = null;
  });

  it('signs with the current secret under its kid; a token of the previous secret is accepted while listed and refused once removed', async () => {
    t = await startTestApp({ env: { AUTH_JWT_SECRET: OLD } });
    const oldToken = t.token('team-1', 'u1', 'owner');
    expect(decodeProtectedHeader(oldToken)).toEqual({ alg: 'HS256', typ: 'JWT', kid: hs256KeyId(OLD) });
    expect(hs256KeyId(OLD)).not.toContain(OLD.slice(0, 8));
    // An older token, signed before tokens had a kid.
    const withoutKid = jwt.sign({ team_id: 'team-1', sub: 'u1', role: 'owner' }, OLD, { algorithm: 'HS256', expiresIn: 600 });
    await t.close();

    t = await startTestApp({ env: { AUTH_JWT_SECRET: NEW, AUTH_JWT_PREVIOUS_SECRETS: `${OLD}, another-previous-secret-at-least-32-chars` } });
    const newToken = t.token('team-1', 'u1', 'owner');
    expect(decodeProtectedHeader(newToken).kid).toBe(hs256KeyId(NEW));
    for (const token of [oldToken, withoutKid, newToken]) expect((await t.call('GET', KEYS, { token })).status).toBe(200);
    await t.close();

    t = await startTestApp({ env: { AUTH_JWT_SECRET: NEW } });
    const refused = await t.call('GET', KEYS, { token: oldToken });
    expect([refused.status, refused.body.message]).toEqual([
      401,
      'invalid token: signed with a secret this service does not hold (neither AUTH_JWT_SECRET nor AUTH_JWT_PREVIOUS_SECRETS)',
    ]);
    expect((await t.call('GET', KEYS, { token: withoutKid })).status).toBe(401);
    expect((await t.call('GET', KEYS, { token: newToken })).status).toBe(200);
  });
});

