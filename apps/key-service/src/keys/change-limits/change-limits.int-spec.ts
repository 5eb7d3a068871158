import { CommandBus } from '@nestjs/cqrs';
import { createHash } from 'node:crypto';
import { KEYS, TestApp, startTestApp } from '../../../../../test/support/test-app';
import { ImportLegacyKeyCommand } from '../import-legacy-key/import-legacy-key.command';
import { keyStreamId } from '../domain/model-access-key.events';

const sha256 = (secret: string) => createHash('sha256').update(secret).digest('hex');
const NONE = { requests_per_minute: null, tokens_per_minute: null, quota: null };
const LIMITS = { requests_per_minute: 60, tokens_per_minute: 10_000, quota: { requests: 1000, tokens: null, period: 'day' } };

describe('key limits over HTTP (PUT .../limits, create, api_key_info, verify, the feed)', () => {
  let t: TestApp;
  let owner: string;
  let member: string;
  beforeEach(async () => {
    t = await startTestApp();
    owner = t.token('team-1', '100', 'owner');
    member = t.token('team-1', '200', 'member');
  });
  afterEach(() => t.close());

  const create = async (body: Record<string, unknown> = {}, token = owner) => {
    const res = await t.call('POST', KEYS, { token, body: { name: 'k', ...body } });
    expect(res.status).toBe(200);
    return res.body.api_key_info as { uuid: string; secret_key: string; limits: unknown };
  };
  const put = (uuid: string, body: unknown, token: string | null = owner, headers: Record<string, string> = {}) =>
    t.call('PUT', `${KEYS}/${uuid}/limits`, { token, body, headers });

  it('a key created without limits shows them all null', async () => {
    const key = await create();
    expect(key.limits).toEqual(NONE);
    expect((await t.call('GET', `${KEYS}/${key.uuid}`, { token: owner })).body.api_key_info.limits).toEqual(NONE);
  });

  it('limits given at create are recorded and shown; a quota field left out is null', async () => {
    const key = await create({ limits: { requests_per_minute: 5, quota: { tokens: 100, period: 'month' } } });
    const expected = { requests_per_minute: 5, tokens_per_minute: null, quota: { requests: null, tokens: 100, period: 'month' } };
    expect(key.limits).toEqual(expected);
    expect((await t.call('GET', `${KEYS}/${key.uuid}`, { token: owner })).body.api_key_info.limits).toEqual(expected);
  });

  it('PUT replaces the limits whole and appends ModelAccessKeyLimitsChanged with the request metadata', async () => {
    const key = await create({ limits: { tokens_per_minute: 7 } });
    const res = await put(key.uuid, LIMITS, owner, { 'x-request-id': 'req-limits-1' });
    expect(res.status).toBe(200);
    expect(res.body.api_key_info.limits).toEqual(LIMITS);
    const lifted = await put(key.uuid, { requests_per_minute: 3 });
    expect(lifted.body.api_key_info.limits).toEqual({ ...NONE, requests_per_minute: 3 });
    const events = await t.store.readStream(keyStreamId(key.uuid));
    expect(events.map((e) => e.type)).toEqual(['ModelAccessKeyCreated', 'ModelAccessKeyLimitsChanged', 'ModelAccessKeyLimitsChanged']);
    expect(events[1].data).toMatchObject({
      limits: { requestsPerMinute: 60, tokensPerMinute: 10_000, quota: { requests: 1000, tokens: null, period: 'day' } },
      previousLimits: { requestsPerMinute: null, tokensPerMinute: 7, quota: null },
    });
    expect(events[1].metadata).toMatchObject({ actor: { userId: '100', role: 'owner', teamId: 'team-1' }, requestId: 'req-limits-1' });
  });

  it('the same limits again append nothing; {} lifts every limit', async () => {
    const key = await create({ limits: LIMITS });
    expect((await put(key.uuid, LIMITS)).status).toBe(200);
    expect((await t.store.readStream(keyStreamId(key.uuid))).length).toBe(1);
    expect((await put(key.uuid, {})).body.api_key_info.limits).toEqual(NONE);
  });

  it.each([
    [{ requests_per_minute: 0 }, 'requests_per_minute'],
    [{ requests_per_minute: 1.5 }, 'requests_per_minute'],
    [{ tokens_per_minute: '10' }, 'tokens_per_minute'],
    [{ tokens_per_minute: 1_000_000_000_001 }, 'tokens_per_minute'],
    [{ quota: { requests: 10, period: 'week' } }, 'quota.period'],
    [{ quota: { requests: 10 } }, 'quota.period'],
    [{ quota: { requests: -1, period: 'day' } }, 'quota.requests'],
    [{ quota: { period: 'day' } }, 'quota'],
    [{ quota: { requests: null, tokens: null, period: 'day' } }, 'quota'],
    [{ quota: 'lots' }, 'quota'],
    [{ quota: { requests: 1, period: 'day', cost: 2 } }, 'quota.cost'],
    [{ burst: 2 }, 'burst'],
  ])('answers 400 naming the field for %j', async (body, field) => {
    const key = await create();
    const res = await put(key.uuid, body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ details: { field } });
    expect(res.body.message.startsWith(field)).toBe(true);
  });

  it('answers 400 for a PUT without a body ({} lifts the limits; nothing is not taken for it)', async () => {
    const key = await create({ limits: LIMITS });
    const res = await t.call('PUT', `${KEYS}/${key.uuid}/limits`, { token: owner });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual({ field: 'body' });
  });

  it('create answers 400 naming limits.<field> for a bad limit', async () => {
    const res = await t.call('POST', KEYS, { token: owner, body: { name: 'k', limits: { requests_per_minute: -5 } } });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual({ field: 'limits.requests_per_minute' });
    const quota = await t.call('POST', KEYS, { token: owner, body: { name: 'k', limits: { quota: { period: 'month' } } } });
    expect(quota.body).toMatchObject({ message: 'limits.quota must give requests, tokens or both', details: { field: 'limits.quota' } });
  });

  it('shared cases: no token 401, a bad token 401, another team 404, a malformed uuid 400', async () => {
    const key = await create();
    expect((await put(key.uuid, LIMITS, null)).status).toBe(401);
    expect((await put(key.uuid, LIMITS, 'not-a-token')).status).toBe(401);
    expect((await put(key.uuid, LIMITS, t.token('team-2', '100', 'owner'))).status).toBe(404);
    expect((await put('not-a-uuid', LIMITS)).status).toBe(400);
  });

  it("a member sets their own key's limits, not another member's (404); an auditor may not (403)", async () => {
    const mine = await create({}, member);
    expect((await put(mine.uuid, LIMITS, member)).status).toBe(200);
    const owners = await create();
    expect((await put(owners.uuid, LIMITS, member)).status).toBe(404);
    expect((await put(owners.uuid, LIMITS, t.token('team-1', '300', 'auditor'))).status).toBe(403);
  });

  it('a legacy key may have limits', async () => {
    const secret = 'legacy-secret-0001';
    const key = await t.app.get(CommandBus).execute(
      new ImportLegacyKeyCommand({ teamId: 'team-1', createdBy: '900', name: 'old', secretHash: sha256(secret), secretPrefix: null, createdAt: null, keyUuid: null }),
    );
    const res = await put(key.keyUuid, LIMITS);
    expect(res.status).toBe(200);
    expect(res.body.api_key_info).toMatchObject({ legacy: true, limits: LIMITS });
  });

  it('verification answers carry the limits, and a change puts a limits_changed record on the feed', async () => {
    const gateway = t.token('platform', 'gw-1', 'gateway');
    const key = await create({ limits: { requests_per_minute: 2 } });
    const verify = async () => (await t.call('POST', '/v1/keys/verify', { token: gateway, body: { key: key.secret_key } })).body;
    expect((await verify()).limits).toEqual({ ...NONE, requests_per_minute: 2 });
    await put(key.uuid, LIMITS);
    expect((await verify()).limits).toEqual(LIMITS);
    const feed = (await t.call('GET', '/v1/revocations?after=0', { token: gateway })).body;
    expect(feed.revocations).toEqual([expect.objectContaining({ key_uuid: key.uuid, reason: 'limits_changed', secret_hashes: [sha256(key.secret_key)] })]);
    await put(key.uuid, {});
    expect((await verify()).limits).toBeNull();
  });
});
