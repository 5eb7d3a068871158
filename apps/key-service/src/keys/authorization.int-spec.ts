import { CommandBus } from '@nestjs/cqrs';
import * as jwt from 'jsonwebtoken';
import { randomBytes } from 'node:crypto';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';
import { ImportLegacyKeyCommand } from './import-legacy-key/import-legacy-key.command';

type Route = { name: string; call: (t: TestApp, uuid: string, name: string, token: string | null) => Promise<{ status: number }> };

const ROUTES: Route[] = [
  { name: 'get', call: (t, uuid, _, token) => t.call('GET', `${KEYS}/${uuid}`, { token }) },
  { name: 'rename', call: (t, uuid, _, token) => t.call('PUT', `${KEYS}/${uuid}`, { token, body: { name: 'renamed' } }) },
  { name: 'regenerate', call: (t, uuid, name, token) => t.call('PUT', `${KEYS}/${uuid}/regenerate`, { token, body: { confirm_name: name } }) },
  { name: 'delete', call: (t, uuid, name, token) => t.call('DELETE', `${KEYS}/${uuid}`, { token, headers: { 'x-confirm-name': name } }) },
  { name: 'attach', call: (t, uuid, _, token) => t.call('POST', `${KEYS}/${uuid}/deployments`, { token, body: { deployment_name: 'dep-new' } }) },
  { name: 'detach', call: (t, uuid, _, token) => t.call('DELETE', `${KEYS}/${uuid}/deployments/dep-x`, { token }) },
];

type KeyKind = 'own' | "teammate's" | 'legacy';
type Who = 'owner' | 'member' | 'auditor' | 'other team' | 'gateway';

// Reads: 200 where the caller may see the key. Writes: 200 where they may manage it, 403 where they
// only see it, 404 where they do not see it (its existence is not revealed).
const read = (who: Who, kind: KeyKind): number =>
  who === 'gateway' ? 403 : who === 'other team' ? 404 : who === 'member' && kind === "teammate's" ? 404 : 200;
const write = (who: Who, kind: KeyKind): number => {
  if (who === 'gateway') return 403;
  if (who === 'other team') return 404;
  if (who === 'auditor') return 403;
  if (who === 'member') return kind === 'own' ? 200 : kind === 'legacy' ? 403 : 404;
  return 200;
};

describe('authorization matrix (every route, every role, every kind of key)', () => {
  let t: TestApp;
  let tokens: Record<Who | 'teammate', string>;
  const users: Record<Who | 'teammate', [string, string, 'owner' | 'member' | 'auditor' | 'gateway']> = {
    owner: ['team-1', '100', 'owner'],
    member: ['team-1', '200', 'member'],
    teammate: ['team-1', '300', 'member'],
    auditor: ['team-1', '400', 'auditor'],
    'other team': ['team-2', '100', 'owner'],
    gateway: ['team-1', '500', 'gateway'],
  };

  beforeAll(async () => {
    t = await startTestApp();
    tokens = Object.fromEntries(Object.entries(users).map(([who, [team, user, role]]) => [who, t.token(team, user, role)])) as typeof tokens;
  });
  afterAll(() => t.close());

  /** A fresh key of each kind, seen from `who`: their own, a teammate's, the team's legacy key; attached to dep-x for detach. */
  async function keysFor(who: Who, attach = false): Promise<Record<KeyKind, { uuid: string; name: string }>> {
    const creator = who === 'member' ? tokens.member : who === 'owner' ? tokens.owner : tokens.member;
    const mk = async (token: string, name: string) => {
      const { body } = await t.call('POST', KEYS, { token, body: { name } });
      if (attach) await t.call('POST', `${KEYS}/${body.api_key_info.uuid}/deployments`, { token, body: { deployment_name: 'dep-x' } });
      return { uuid: body.api_key_info.uuid as string, name };
    };
    const legacy = await t.app.get(CommandBus).execute(
      new ImportLegacyKeyCommand({ teamId: 'team-1', createdBy: '900', name: 'legacy', secretHash: randomBytes(32).toString('hex'), secretPrefix: null, createdAt: null, keyUuid: null }),
    );
    if (attach) await t.call('POST', `${KEYS}/${legacy.keyUuid}/deployments`, { token: tokens.owner, body: { deployment_name: 'dep-x' } });
    return {
      own: await mk(creator, 'own'),
      "teammate's": await mk(tokens.teammate, 'teammates'),
      legacy: { uuid: legacy.keyUuid, name: 'legacy' },
    };
  }

  const WHO: Who[] = ['owner', 'member', 'auditor', 'other team', 'gateway'];
  for (const who of WHO) {
    for (const route of ROUTES) {
      it(`${who}: ${route.name} on own, teammate's and legacy keys`, async () => {
        const keys = await keysFor(who, route.name === 'detach');
        const kinds: KeyKind[] = ['own', "teammate's", 'legacy'];
        const got: number[] = [];
        const expected: number[] = [];
        for (const kind of kinds) {
          // An auditor or a gateway has no keys of its own: "own" is then a member's key.
          const answer = await route.call(t, keys[kind].uuid, keys[kind].name, tokens[who]);
          got.push(answer.status);
          const effectiveKind: KeyKind = (who === 'auditor' || who === 'gateway' || who === 'other team') && kind === 'own' ? "teammate's" : kind;
          expected.push(route.name === 'get' ? read(who, effectiveKind) : write(who, effectiveKind));
        }
        expect(got).toEqual(expected);
      });
    }
  }

  describe('the shared cases on every route', () => {
    const badTokens: Array<[string, () => string | null]> = [
      ['no token', () => null],
      ['a garbage token', () => 'not-a-jwt'],
      ['a token signed with another secret', () => jwt.sign({ team_id: 'team-1', role: 'owner' }, 'x'.repeat(40), { subject: '100' })],
      ['an expired token', () => jwt.sign({ team_id: 'team-1', role: 'owner', exp: 1 }, 'development-only-secret-do-not-use-in-production', { subject: '100' })],
      ['a token without a role', () => jwt.sign({ team_id: 'team-1' }, 'development-only-secret-do-not-use-in-production', { subject: '100' })],
    ];
    for (const [label, token] of badTokens) {
      it(`${label}: 401 on every route, list and create included`, async () => {
        const keys = await keysFor('owner');
        const statuses = await Promise.all([
          ...ROUTES.map((route) => route.call(t, keys.own.uuid, keys.own.name, token()).then((r) => r.status)),
          t.call('GET', KEYS, { token: token() }).then((r) => r.status),
          t.call('POST', KEYS, { token: token(), body: { name: 'x' } }).then((r) => r.status),
        ]);
        expect(statuses).toEqual(Array(ROUTES.length + 2).fill(401));
      });
    }

    it("another team's token sees none of the team's keys in any list", async () => {
      await keysFor('owner');
      const list = await t.call('GET', KEYS, { token: tokens['other team'] });
      expect(list.status).toBe(200);
      expect(list.body.meta.total).toBe(0);
    });
  });

  describe('team views', () => {
    let fresh: TestApp;
    beforeEach(async () => {
      fresh = await startTestApp();
    });
    afterEach(() => fresh.close());

    it("owners see My keys, Legacy keys and Team's keys; members see only My keys and Legacy keys", async () => {
      const owner = fresh.token('team-1', '100', 'owner');
      const member = fresh.token('team-1', '200', 'member');
      const auditor = fresh.token('team-1', '400', 'auditor');
      await fresh.call('POST', KEYS, { token: owner, body: { name: 'owner-key' } });
      await fresh.call('POST', KEYS, { token: member, body: { name: 'member-key' } });
      await fresh.app.get(CommandBus).execute(
        new ImportLegacyKeyCommand({ teamId: 'team-1', createdBy: '900', name: 'legacy-key', secretHash: 'd'.repeat(64), secretPrefix: null, createdAt: null, keyUuid: null }),
      );
      const names = async (token: string, view?: string) => {
        const answer = await fresh.call('GET', `${KEYS}${view ? `?view=${view}` : ''}`, { token });
        return answer.status === 200 ? answer.body.api_key_infos.map((k: { name: string }) => k.name).sort() : answer.status;
      };
      expect(await names(owner, 'mine')).toEqual(['owner-key']);
      expect(await names(owner, 'legacy')).toEqual(['legacy-key']);
      expect(await names(owner, 'team')).toEqual(['member-key']);
      expect(await names(owner)).toEqual(['legacy-key', 'member-key', 'owner-key']);
      expect(await names(member, 'mine')).toEqual(['member-key']);
      expect(await names(member, 'legacy')).toEqual(['legacy-key']);
      expect(await names(member, 'team')).toBe(403);
      expect(await names(member)).toEqual(['legacy-key', 'member-key']);
      expect(await names(auditor)).toEqual(['legacy-key', 'member-key', 'owner-key']);
      expect(await names(fresh.token('team-1', '500', 'gateway'))).toBe(403);
    });

    it('an auditor reads but cannot create', async () => {
      const answer = await fresh.call('POST', KEYS, { token: fresh.token('team-1', '400', 'auditor'), body: { name: 'x' } });
      expect(answer.status).toBe(403);
      expect(answer.body.id).toBe('forbidden');
    });

    it("a key an owner creates from the team view is still under the owner's My keys", async () => {
      const owner = fresh.token('team-1', '100', 'owner');
      await fresh.call('POST', `${KEYS}?view=team`, { token: owner, body: { name: 'from-team-view' } });
      const mine = await fresh.call('GET', `${KEYS}?view=mine`, { token: owner });
      expect(mine.body.api_key_infos.map((k: { name: string }) => k.name)).toEqual(['from-team-view']);
      const team = await fresh.call('GET', `${KEYS}?view=team`, { token: owner });
      expect(team.body.meta.total).toBe(0);
    });
  });
});
