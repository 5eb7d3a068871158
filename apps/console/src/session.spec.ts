import { sessionOf } from './session';

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
});
