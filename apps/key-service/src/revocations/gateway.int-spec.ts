import { createHash } from 'node:crypto';
import { ExpiryScheduler } from '../expiry/expiry.scheduler';
import { KEY_STREAM_PREFIX } from '../keys/domain/model-access-key.events';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';

const sha256 = (secret: string) => createHash('sha256').update(secret).digest('hex');
const VPC = '5a4981aa-9653-4bd1-bef5-d6bff52042e4';

describe('gateways on the embedded store: verify, the revocation feed, expiry', () => {
  let t: TestApp;
  let now = new Date('2026-11-22T10:00:00.000Z');
  const clock = { now: () => now };
  let owner: string;
  let gateway: string;

  beforeEach(async () => {
    now = new Date('2026-11-22T10:00:00.000Z');
    t = await startTestApp({ clock, env: { EXPIRY_SCAN_MS: '3600000' } });
    owner = t.token('team-1', 'u1', 'owner');
    gateway = t.token('platform', 'gw-1', 'gateway');
  });
  afterEach(() => t.close());

  const create = async (body: Record<string, unknown> = {}) => {
    const res = await t.call('POST', KEYS, { token: owner, body: { name: 'k', ...body } });
    expect(res.status).toBe(200);
    return res.body.api_key_info as { uuid: string; secret_key: string };
  };
  const verify = async (body: Record<string, unknown>, token = gateway) => t.call('POST', '/v1/keys/verify', { token, body });
  const revocations = async (after = 0) => (await t.call('GET', `/v1/revocations?after=${after}`, { token: gateway })).body;

  it('answers 200 with the code for every rule', async () => {
    const scoped = await create({ models: ['llama3-8b'], vpc_uuid: VPC });
    const batch = await create({ batch_inference_enabled: true });
    await t.call('POST', `${KEYS}/${batch.uuid}/deployments`, { token: owner, body: { deployment_name: 'dep-a' } });

    expect((await verify({ key: scoped.secret_key, model: 'llama3-8b', vpc_uuid: VPC })).body).toEqual({
      valid: true,
      code: 'VALID',
      key_uuid: scoped.uuid,
      team_id: 'team-1',
      expires_at: null,
      limits: null,
    });
    const codes = async (body: Record<string, unknown>) => {
      const res = await verify(body);
      expect(res.status).toBe(200);
      return res.body.code;
    };
    expect(await codes({ key: scoped.secret_key, model: 'gpt-4o', vpc_uuid: VPC })).toBe('MODEL_NOT_ALLOWED');
    expect(await codes({ key: scoped.secret_key, model: 'llama3-8b' })).toBe('VPC_DENIED');
    expect(await codes({ key: 'mak_never-issued' })).toBe('NOT_FOUND');
    expect(await codes({ key: batch.secret_key, batch: true, deployment_name: 'dep-a' })).toBe('VALID');
    expect(await codes({ key: batch.secret_key, deployment_name: 'dep-b' })).toBe('DEPLOYMENT_NOT_ALLOWED');
    expect(await codes({ key: scoped.secret_key, model: 'llama3-8b', vpc_uuid: VPC, batch: true })).toBe('BATCH_NOT_ALLOWED');
    expect((await verify({ key: 'mak_never-issued' })).body).toEqual({ valid: false, code: 'NOT_FOUND' });
  });

  it('refuses malformed input with 400 naming the field, and any role but gateway', async () => {
    const missing = await verify({ model: 'm' });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toMatch(/^key /);
    expect((await verify({ key: 'x', batch: 'yes' })).body.message).toMatch(/^batch /);
    expect((await verify({ key: 'x', vpc_uuid: 'nope' })).body.message).toMatch(/^vpc_uuid /);
    expect((await verify({ key: 'x', extra: 1 })).status).toBe(400);
    expect((await t.call('POST', '/v1/keys/verify', { token: gateway, body: '{"key":' })).status).toBe(400);
    expect((await verify({ key: 'x' }, owner)).status).toBe(403);
    expect((await t.call('POST', '/v1/keys/verify', { body: { key: 'x' } })).status).toBe(401);
    expect((await t.call('GET', '/v1/revocations', { token: owner })).status).toBe(403);
    expect((await t.call('GET', '/v1/revocations?limit=0', { token: gateway })).body.message).toMatch(/^limit /);
    expect((await t.call('GET', '/v1/revocations?after=-1', { token: gateway })).body.message).toMatch(/^after /);
  });

  it('a regenerate, a detach and a delete each stop the secret at once and add a revocation', async () => {
    const key = await create();
    await t.call('POST', `${KEYS}/${key.uuid}/deployments`, { token: owner, body: { deployment_name: 'dep-a' } });
    await t.call('POST', `${KEYS}/${key.uuid}/deployments`, { token: owner, body: { deployment_name: 'dep-b' } });

    const regenerated = await t.call('PUT', `${KEYS}/${key.uuid}/regenerate`, { token: owner });
    const fresh = regenerated.body.api_key_info.secret_key as string;
    expect((await verify({ key: key.secret_key })).body.code).toBe('NOT_FOUND');
    expect((await verify({ key: fresh, deployment_name: 'dep-a' })).body.code).toBe('VALID');

    await t.call('DELETE', `${KEYS}/${key.uuid}/deployments/dep-a`, { token: owner });
    expect((await verify({ key: fresh, deployment_name: 'dep-a' })).body.code).toBe('DEPLOYMENT_NOT_ALLOWED');
    expect((await verify({ key: fresh, deployment_name: 'dep-b' })).body.code).toBe('VALID');

    await t.call('DELETE', `${KEYS}/${key.uuid}/deployments/dep-b`, { token: owner });
    expect((await t.call('DELETE', `${KEYS}/${key.uuid}`, { token: owner })).status).toBe(200);
    expect((await verify({ key: fresh })).body.code).toBe('NOT_FOUND');

    const page = await revocations();
    expect(page.revocations.map((r: { reason: string }) => r.reason)).toEqual([
      'regenerated',
      'deployment_detached',
      'deployment_detached',
      'deleted',
    ]);
    expect(page.revocations[0]).toMatchObject({ key_uuid: key.uuid, team_id: 'team-1', secret_hashes: [sha256(key.secret_key)], deployment_name: null });
    expect(page.revocations[1]).toMatchObject({ secret_hashes: [sha256(fresh)], deployment_name: 'dep-a' });
    expect(page.revocations[3]).toMatchObject({ secret_hashes: [sha256(fresh)] });
    const positions = page.revocations.map((r: { position: number }) => r.position);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(page.head_position).toBe(await t.store.headPosition());
    expect(page.next_after).toBe(page.head_position);

    const paged = (await t.call('GET', `/v1/revocations?after=${positions[0]}&limit=2`, { token: gateway })).body;
    expect(paged.revocations.map((r: { position: number }) => r.position)).toEqual(positions.slice(1, 3));
    expect(paged.next_after).toBe(positions[2]);
  });

  it('expiry: verification checks the time itself; the scheduler appends one KeyExpired and a revocation', async () => {
    const key = await create({ expires_at: '2026-11-22T10:00:05.000Z' });
    expect((await verify({ key: key.secret_key })).body).toMatchObject({ code: 'VALID', expires_at: '2026-11-22T10:00:05.000Z' });
    now = new Date('2026-11-22T10:00:05.000Z');
    expect((await verify({ key: key.secret_key })).body.code).toBe('EXPIRED');

    const scheduler = t.app.get(ExpiryScheduler);
    await Promise.all([scheduler.runOnce(), scheduler.runOnce()]);
    await scheduler.runOnce();
    const types = (await t.store.readStream(`${KEY_STREAM_PREFIX}${key.uuid}`)).map((e) => e.type);
    expect(types.filter((type) => type === 'ModelAccessKeyExpired')).toHaveLength(1);
    const [expired] = (await revocations()).revocations;
    expect(expired).toMatchObject({ reason: 'expired', key_uuid: key.uuid, secret_hashes: [sha256(key.secret_key)] });
    expect((await verify({ key: key.secret_key })).body.code).toBe('EXPIRED');
  });

  it('expiry is written once with two instances on one store, and after a restart', async () => {
    const key = await create({ expires_at: '2026-11-22T10:00:05.000Z' });
    const second = await startTestApp({ clock, env: { EXPIRY_SCAN_MS: '3600000' } }, t.dataDir);
    try {
      now = new Date('2026-11-22T10:00:06.000Z');
      await Promise.all([t.app.get(ExpiryScheduler).runOnce(), second.app.get(ExpiryScheduler).runOnce()]);
    } finally {
      await second.close({ keepData: true });
    }
    t = await t.restart();
    await t.app.get(ExpiryScheduler).runOnce();
    const types = (await t.store.readStream(`${KEY_STREAM_PREFIX}${key.uuid}`)).map((e) => e.type);
    expect(types).toEqual(['ModelAccessKeyCreated', 'ModelAccessKeyExpired']);
  });

  it('the lookup is rebuilt from the views after a restart', async () => {
    const key = await create({ models: ['m'] });
    t = await t.restart();
    gateway = t.token('platform', 'gw-1', 'gateway');
    expect((await verify({ key: key.secret_key, model: 'm' })).body.code).toBe('VALID');
    expect((await verify({ key: key.secret_key, model: 'x' })).body.code).toBe('MODEL_NOT_ALLOWED');
  });
});
