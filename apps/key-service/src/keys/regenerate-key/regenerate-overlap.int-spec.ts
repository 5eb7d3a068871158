import { createHash } from 'node:crypto';
import { ExpiryScheduler } from '../../expiry/expiry.scheduler';
import { keyStreamId } from '../domain/model-access-key.events';
import { KEYS, TestApp, startTestApp } from '../../../../../test/support/test-app';

const sha256 = (secret: string) => createHash('sha256').update(secret).digest('hex');
const T0 = '2026-11-22T10:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000);

describe('regenerate with an overlap, on the SQLite store', () => {
  let t: TestApp;
  let now = new Date(T0);
  const clock = { now: () => now };
  let owner: string;
  let gateway: string;

  beforeEach(async () => {
    now = new Date(T0);
    t = await startTestApp({ clock, env: { EXPIRY_SCAN_MS: '3600000' } });
    owner = t.token('team-1', 'u1', 'owner');
    gateway = t.token('platform', 'gw-1', 'gateway');
  });
  afterEach(() => t.close());

  const create = async () => {
    const res = await t.call('POST', KEYS, { token: owner, body: { name: 'k' } });
    expect(res.status).toBe(200);
    return res.body.api_key_info as { uuid: string; secret_key: string };
  };
  const regenerate = (uuid: string, body?: unknown) => t.call('PUT', `${KEYS}/${uuid}/regenerate`, { token: owner, body });
  const verify = async (key: string) => (await t.call('POST', '/v1/keys/verify', { token: gateway, body: { key } })).body;
  const feed = async () => (await t.call('GET', '/v1/revocations?after=0', { token: gateway })).body.revocations as Array<Record<string, unknown>>;
  const types = async (uuid: string) => (await t.store.readStream(keyStreamId(uuid))).map((e) => e.type);

  it('without a body the old secret stops at once, as DigitalOcean documents', async () => {
    const key = await create();
    const res = await regenerate(key.uuid);
    expect(res.status).toBe(200);
    expect((await verify(key.secret_key)).code).toBe('NOT_FOUND');
    expect((await verify(res.body.api_key_info.secret_key)).code).toBe('VALID');
    expect((await feed()).map((r) => r.reason)).toEqual(['regenerated']);
  });

  it('during the overlap both secrets verify and the old one says when it ends; the scheduler then revokes it on the feed', async () => {
    const key = await create();
    const res = await regenerate(key.uuid, { grace_period_seconds: 30 });
    expect(res.status).toBe(200);
    const fresh = res.body.api_key_info.secret_key as string;
    const endsAt = at(30).toISOString();

    expect(await verify(key.secret_key)).toEqual({ valid: true, code: 'VALID', key_uuid: key.uuid, team_id: 'team-1', expires_at: null, limits: null, secret_ends_at: endsAt });
    expect(await verify(fresh)).toEqual({ valid: true, code: 'VALID', key_uuid: key.uuid, team_id: 'team-1', expires_at: null, limits: null });
    expect(await feed()).toEqual([]);

    const scheduler = t.app.get(ExpiryScheduler);
    now = at(29);
    await scheduler.runOnce();
    expect((await verify(key.secret_key)).code).toBe('VALID');

    // From the end on, the old secret is refused even before the scheduler records it.
    now = at(30);
    expect((await verify(key.secret_key)).code).toBe('NOT_FOUND');
    await Promise.all([scheduler.runOnce(), scheduler.runOnce()]);
    await scheduler.runOnce();
    expect(await types(key.uuid)).toEqual(['ModelAccessKeyCreated', 'ModelAccessKeySecretRegenerated', 'ModelAccessKeyPreviousSecretRevoked']);
    expect(await feed()).toEqual([
      expect.objectContaining({ reason: 'previous_secret_revoked', key_uuid: key.uuid, secret_hashes: [sha256(key.secret_key)] }),
    ]);
    expect((await verify(key.secret_key)).code).toBe('NOT_FOUND');
    expect((await verify(fresh)).code).toBe('VALID');
  });

  it('regenerating again during an overlap ends the earlier one at once, with a feed record', async () => {
    const key = await create();
    const second = (await regenerate(key.uuid, { grace_period_seconds: 600 })).body.api_key_info.secret_key as string;
    now = at(10);
    const third = (await regenerate(key.uuid, { grace_period_seconds: 600 })).body.api_key_info.secret_key as string;
    expect((await verify(key.secret_key)).code).toBe('NOT_FOUND');
    expect(await verify(second)).toMatchObject({ code: 'VALID', secret_ends_at: at(610).toISOString() });
    expect((await verify(third)).code).toBe('VALID');
    expect(await feed()).toEqual([expect.objectContaining({ reason: 'previous_secret_revoked', secret_hashes: [sha256(key.secret_key)] })]);
  });

  it('a detach during the overlap names both secrets on the feed, and a delete revokes both', async () => {
    const key = await create();
    expect((await t.call('POST', `${KEYS}/${key.uuid}/deployments`, { token: owner, body: { deployment_name: 'dep-a' } })).status).toBeLessThan(300);
    const fresh = (await regenerate(key.uuid, { grace_period_seconds: 600 })).body.api_key_info.secret_key as string;
    expect((await t.call('DELETE', `${KEYS}/${key.uuid}/deployments/dep-a`, { token: owner })).status).toBeLessThan(300);
    const [detached] = await feed();
    expect(detached).toMatchObject({ reason: 'deployment_detached' });
    expect([...(detached.secret_hashes as string[])].sort()).toEqual([sha256(key.secret_key), sha256(fresh)].sort());

    expect((await t.call('DELETE', `${KEYS}/${key.uuid}`, { token: owner })).status).toBe(200);
    expect((await verify(key.secret_key)).code).toBe('NOT_FOUND');
    expect((await verify(fresh)).code).toBe('NOT_FOUND');
    expect((await feed()).slice(1).map((r) => r.reason)).toEqual(['previous_secret_revoked', 'deleted']);
  });

  it.each([[-1], [604_801], [1.5], ['30'], [null]])('answers 400 naming grace_period_seconds for %p', async (grace) => {
    const key = await create();
    const res = await regenerate(key.uuid, { grace_period_seconds: grace });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ id: 'bad_request', details: { field: 'grace_period_seconds' } });
    expect((await verify(key.secret_key)).code).toBe('VALID');
  });

  it("the audit's point-in-time state shows both generations while the overlap runs", async () => {
    // The audit places events by their recorded_at (the store's wall clock): this test runs on real time.
    const pause = () => new Promise((resolve) => setTimeout(resolve, 20));
    now = new Date();
    const key = await create();
    await pause();
    const beforeRegenerate = new Date();
    await pause();
    now = new Date();
    await regenerate(key.uuid, { grace_period_seconds: 30 });
    const endsAt = new Date(now.getTime() + 30_000);
    await pause();
    const auditor = t.token('team-1', 'a1', 'auditor');
    const state = async (asOf: Date) => (await t.call('GET', `/v1/audit/keys/${key.uuid}/state?as_of=${asOf.toISOString()}`, { token: auditor })).body;
    expect(await state(new Date())).toMatchObject({
      secret_generation: 2,
      previous_secret: { secret_generation: 1, secret_prefix: key.secret_key.slice(0, 12), ends_at: endsAt.toISOString() },
    });
    expect(await state(beforeRegenerate)).toMatchObject({ secret_generation: 1, previous_secret: null });
    expect(await state(new Date(endsAt.getTime() + 1000))).toMatchObject({ secret_generation: 2, previous_secret: null });
  });

  it('the lookup keeps the old secret across a restart while the overlap runs', async () => {
    const key = await create();
    await regenerate(key.uuid, { grace_period_seconds: 30 });
    t = await t.restart();
    gateway = t.token('platform', 'gw-1', 'gateway');
    expect(await verify(key.secret_key)).toMatchObject({ code: 'VALID', secret_ends_at: at(30).toISOString() });
  });
});
