import { createHash } from 'node:crypto';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';
import { keyStreamId } from '../keys/domain/model-access-key.events';
import { QuotaService } from './quota.service';

const sha256 = (secret: string) => createHash('sha256').update(secret).digest('hex');

describe('quotas: usage reports spend them, verification denies with USAGE_EXCEEDED, the scheduler resets them', () => {
  let t: TestApp;
  let now = new Date('2026-11-22T23:58:30.000Z');
  const clock = { now: () => now };
  let owner: string;
  let gateway: string;
  beforeEach(async () => {
    now = new Date('2026-11-22T23:58:30.000Z');
    t = await startTestApp({ clock, env: { EXPIRY_SCAN_MS: '3600000' } });
    owner = t.token('team-1', '100', 'owner');
    gateway = t.token('platform', 'gw-1', 'gateway');
  });
  afterEach(() => t.close());

  const create = async (quota: object) => {
    const res = await t.call('POST', KEYS, { token: owner, body: { name: 'k', limits: { quota } } });
    expect(res.status).toBe(200);
    return res.body.api_key_info as { uuid: string; secret_key: string };
  };
  let sequence = 0;
  const report = (keyUuid: string, requests: number, tokens = 0) =>
    t.call('POST', '/v1/usage', {
      token: gateway,
      body: { gateway_id: 'gw-a:1', sequence: ++sequence, records: [{ key_uuid: keyUuid, minute: '2026-11-22T23:58:00Z', requests, input_tokens: tokens, output_tokens: 0 }] },
    });
  const verify = async (secret: string) => (await t.call('POST', '/v1/keys/verify', { token: gateway, body: { key: secret } })).body;
  const feedReasons = async () => (await t.call('GET', '/v1/revocations?after=0', { token: gateway })).body.revocations.map((r: { reason: string }) => r.reason);

  it('a report that reaches the quota appends ModelAccessKeyQuotaExhausted once; verify answers USAGE_EXCEEDED with the reset; the feed says quota_exhausted', async () => {
    const key = await create({ requests: 10, period: 'day' });
    expect((await report(key.uuid, 9)).status).toBe(200);
    expect((await verify(key.secret_key)).code).toBe('VALID');
    expect((await report(key.uuid, 1)).status).toBe(200);
    expect(await verify(key.secret_key)).toMatchObject({ valid: false, code: 'USAGE_EXCEEDED', key_uuid: key.uuid, resets_at: '2026-11-23T00:00:00.000Z' });
    await report(key.uuid, 5);
    const types = (await t.store.readStream(keyStreamId(key.uuid))).map((e) => e.type);
    expect(types).toEqual(['ModelAccessKeyCreated', 'ModelAccessKeyQuotaExhausted']);
    const [, spent] = await t.store.readStream(keyStreamId(key.uuid));
    expect(spent.data).toMatchObject({ periodStart: '2026-11-22T00:00:00.000Z', resetsAt: '2026-11-23T00:00:00.000Z', requests: 10, tokens: 0 });
    expect(spent.metadata).toMatchObject({ actor: { userId: 'system:quota', role: 'system', teamId: 'team-1' } });
    const feed = (await t.call('GET', '/v1/revocations?after=0', { token: gateway })).body.revocations;
    expect(feed).toEqual([expect.objectContaining({ reason: 'quota_exhausted', key_uuid: key.uuid, secret_hashes: [sha256(key.secret_key)] })]);
  });

  it('a token quota counts input plus output tokens', async () => {
    const key = await create({ tokens: 1000, period: 'month' });
    await report(key.uuid, 1, 999);
    expect((await verify(key.secret_key)).code).toBe('VALID');
    await report(key.uuid, 1, 1);
    expect(await verify(key.secret_key)).toMatchObject({ code: 'USAGE_EXCEEDED', resets_at: '2026-12-01T00:00:00.000Z' });
  });

  it('at the reset verification admits again; the scheduler appends ModelAccessKeyQuotaReset and the feed says quota_reset', async () => {
    const key = await create({ requests: 1, period: 'day' });
    await report(key.uuid, 1);
    expect((await verify(key.secret_key)).code).toBe('USAGE_EXCEEDED');
    const quotas = t.app.get(QuotaService);
    expect(await quotas.resetDue()).toBe(0);
    now = new Date('2026-11-23T00:00:00.000Z');
    expect((await verify(key.secret_key)).code).toBe('VALID');
    expect(await quotas.resetDue()).toBe(1);
    expect(await quotas.resetDue()).toBe(0);
    expect((await t.store.readStream(keyStreamId(key.uuid))).map((e) => e.type)).toEqual([
      'ModelAccessKeyCreated',
      'ModelAccessKeyQuotaExhausted',
      'ModelAccessKeyQuotaReset',
    ]);
    expect(await feedReasons()).toEqual(['quota_exhausted', 'quota_reset']);
    expect((await t.call('GET', `${KEYS}/${key.uuid}`, { token: owner })).body.api_key_info.usage).toMatchObject({ period: 'day', since: '2026-11-23T00:00:00.000Z', requests: 0 });
  });

  it("during a regenerate's overlap both secrets carry the key's limits, a spent quota denies both, and its feed record names both", async () => {
    const key = await create({ requests: 2, period: 'day' });
    const regenerated = await t.call('PUT', `${KEYS}/${key.uuid}/regenerate`, { token: owner, body: { grace_period_seconds: 600 } });
    expect(regenerated.status).toBe(200);
    const fresh = regenerated.body.api_key_info.secret_key as string;
    const limits = { requests_per_minute: null, tokens_per_minute: null, quota: { requests: 2, tokens: null, period: 'day' } };
    expect(await verify(key.secret_key)).toMatchObject({ code: 'VALID', limits, secret_ends_at: '2026-11-23T00:08:30.000Z' });
    expect(await verify(fresh)).toMatchObject({ code: 'VALID', limits });
    await report(key.uuid, 2);
    expect(await verify(key.secret_key)).toMatchObject({ code: 'USAGE_EXCEEDED', resets_at: '2026-11-23T00:00:00.000Z' });
    expect(await verify(fresh)).toMatchObject({ code: 'USAGE_EXCEEDED', resets_at: '2026-11-23T00:00:00.000Z' });
    const feed = (await t.call('GET', '/v1/revocations?after=0', { token: gateway })).body.revocations;
    expect(feed).toEqual([expect.objectContaining({ reason: 'quota_exhausted', secret_hashes: [sha256(fresh), sha256(key.secret_key)] })]);
  });

  it('lifting the limits admits the key at once', async () => {
    const key = await create({ requests: 1, period: 'none' });
    await report(key.uuid, 1);
    expect(await verify(key.secret_key)).toMatchObject({ code: 'USAGE_EXCEEDED', resets_at: null });
    await t.call('PUT', `${KEYS}/${key.uuid}/limits`, { token: owner, body: {} });
    expect((await verify(key.secret_key)).code).toBe('VALID');
  });
});
