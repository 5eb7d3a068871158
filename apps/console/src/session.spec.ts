import { bearerOf, claimAt, roleOf, sessionOf } from './session';

const token = (payload: unknown) => ['{"alg":"HS256"}', JSON.stringify(payload)].map((p) => Buffer.from(p).toString('base64url')).join('.') + '.sig';

describe("the console's session", () => {
  it("reads the team, user and role of the service's token", () => {
    expect(sessionOf(`  ${token({ team_id: 'team-1', sub: 'ünïcode-user', role: 'auditor' })}\n`)).toEqual({
      token: token({ team_id: 'team-1', sub: 'ünïcode-user', role: 'auditor' }),
      teamId: 'team-1',
      userId: 'ünïcode-user',
      role: 'auditor',
    });
  });

  it('refuses what is not such a token: no three parts, no JSON, a claim missing, an unknown role', () => {
    expect(sessionOf('mak_secret')).toBeNull();
    expect(sessionOf('a.b.c')).toBeNull();
    expect(sessionOf(token({ sub: 'u', role: 'owner' }))).toBeNull();
    expect(sessionOf(token({ team_id: 't', sub: 'u', role: 'admin' }))).toBeNull();
  });

  describe("a provider's token, read with the service's claim settings", () => {
    const claims = { team: 'org.id', user: 'preferred_username', role: 'groups', role_map: { 'key-admins': 'owner', devs: 'member', readers: 'auditor' } };
    const provider = (payload: unknown) => ['{"alg":"ES256"}', JSON.stringify(payload)].map((p) => Buffer.from(p).toString('base64url')).join('.') + '.sig';

    it('names the team by a dotted path, the user by its claim, and the role through the map', () => {
      const token = provider({ sub: 'f81d4fae', preferred_username: 'alice', org: { id: 'team-9' }, groups: ['offline_access', 'devs'] });
      expect(sessionOf(token, claims)).toEqual({ token, teamId: 'team-9', userId: 'alice', role: 'member' });
    });

    it('picks the first role in the service\'s order when several groups map, and takes a role name as itself', () => {
      expect(roleOf(['readers', 'key-admins', 'devs'], claims.role_map)).toBe('owner');
      expect(roleOf('auditor', {})).toBe('auditor');
      expect(roleOf(['offline_access'], claims.role_map)).toBeNull();
      expect(roleOf(undefined, claims.role_map)).toBeNull();
    });

    it('looks up a namespaced claim by its exact name before a dotted path, own properties only', () => {
      expect(claimAt({ 'https://example.com/roles': ['x'] }, 'https://example.com/roles')).toEqual(['x']);
      expect(claimAt({ realm_access: { roles: ['a'] } }, 'realm_access.roles')).toEqual(['a']);
      expect(claimAt({}, 'constructor')).toBeUndefined();
      expect(claimAt({ a: ['b'] }, 'a.length')).toBeUndefined();
    });

    it("refuses a provider's token without the claims, or without the settings to read it (it is no token of the service's own)", () => {
      expect(sessionOf(provider({ sub: 's', org: { id: 't' }, groups: ['devs'] }), null)).toBeNull();
      expect(sessionOf(provider({ preferred_username: 'alice', org: { id: 't' }, groups: ['nobody'] }), claims)).toBeNull();
      expect(sessionOf(provider({ preferred_username: 'alice', groups: ['devs'] }), claims)).toBeNull();
    });

    it("still reads the service's own token first when provider settings are given", () => {
      const own = token({ team_id: 'team-1', sub: 'u', role: 'owner' });
      expect(sessionOf(own, claims)).toMatchObject({ teamId: 'team-1', userId: 'u', role: 'owner' });
    });
  });

  it("keeps the provider's access token when it is a JWT, else the ID token", () => {
    const jwt = token({ sub: 'a' });
    const id = token({ sub: 'i' });
    expect(bearerOf({ access_token: jwt, id_token: id })).toBe(jwt);
    expect(bearerOf({ access_token: 'opaque-2YotnFZFEjr1zCsicMWpAA', id_token: id })).toBe(id);
    expect(bearerOf({ access_token: 'opaque' })).toBeNull();
  });
});
