import * as jwt from 'jsonwebtoken';
import { DEVELOPMENT_JWT_SECRET } from '../config/app.config';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';

const GCORE = '/cloud/v3/inference/team-1/api_keys';
const DAY = 24 * 3600;
const YEAR = 365 * DAY;
const now = () => Math.floor(Date.now() / 1000);
const signed = (claims: Record<string, unknown>) => jwt.sign({ team_id: 'team-1', sub: '100', ...claims }, DEVELOPMENT_JWT_SECRET, { algorithm: 'HS256' });

describe('bearer tokens: exp is required and the lifetime capped', () => {
  let t: TestApp;
  afterEach(() => t.close());

  /** The same token on a Nest route (Bearer and Gcore's APIKey) and on the plain Fastify verify route. */
  const everywhere = async (owner: string, gateway: string) => [
    await t.call('GET', KEYS, { token: owner }),
    await t.call('GET', GCORE, { headers: { authorization: `APIKey ${owner}` } }),
    await t.call('POST', '/v1/keys/verify', { token: gateway, body: { key: 'mak_x' } }),
    await t.call('GET', '/v1/revocations', { token: gateway }),
  ];

  it('a correctly signed token without exp is refused on every surface: 401 "token lacks exp"', async () => {
    t = await startTestApp();
    for (const answer of await everywhere(signed({ role: 'owner' }), signed({ role: 'gateway' }))) {
      expect(answer.status).toBe(401);
      expect(answer.body).toMatchObject({ id: 'unauthorized', code: 'UNAUTHENTICATED', message: 'token lacks exp' });
    }
  });

  it('a token living longer than AUTH_MAX_TOKEN_TTL_S (default 365 days) is refused, one within it accepted', async () => {
    t = await startTestApp();
    const tooLong = [
      { iat: now(), exp: now() + YEAR + 60 }, // exp - iat over the cap
      { exp: now() + YEAR + 60 }, // no iat: exp - now over the cap
      { iat: now() + 10 * YEAR, exp: now() + 10 * YEAR + 60 }, // an iat in the future does not make it short
      { iat: now() - YEAR, exp: now() + 3600 }, // issued long ago: its lifetime is still over the cap
    ];
    for (const claims of tooLong) {
      for (const answer of await everywhere(signed({ role: 'owner', ...claims }), signed({ role: 'gateway', ...claims }))) {
        expect({ claims, status: answer.status }).toEqual({ claims, status: 401 });
        expect(answer.body.message).toBe('token lives longer than the 31536000 s this service accepts (AUTH_MAX_TOKEN_TTL_S)');
      }
    }
    const year = { iat: now(), exp: now() + YEAR };
    for (const answer of await everywhere(signed({ role: 'owner', ...year }), signed({ role: 'gateway', ...year }))) {
      expect(answer.status).toBe(200);
    }
  });

  it('AUTH_MAX_TOKEN_TTL_S sets the cap, and the service will not sign past it', async () => {
    t = await startTestApp({ env: { AUTH_MAX_TOKEN_TTL_S: '3600' } });
    expect((await t.call('GET', KEYS, { token: signed({ role: 'owner', iat: now(), exp: now() + 7200 }) })).status).toBe(401);
    expect((await t.call('GET', KEYS, { token: signed({ role: 'owner', iat: now(), exp: now() + 3600 }) })).status).toBe(200);
    expect(() => t.token('team-1', '100', 'owner')).toThrow('a token\'s lifetime must be 1 to 3600 seconds (AUTH_MAX_TOKEN_TTL_S); got 43200');
  });
});
