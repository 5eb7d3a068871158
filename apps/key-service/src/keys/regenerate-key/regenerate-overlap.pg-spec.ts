import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ExpiryScheduler } from '../../expiry/expiry.scheduler';
import { keyStreamId } from '../domain/model-access-key.events';
import { KEYS, TestApp, startTestApp } from '../../../../../test/support/test-app';
import { freshDatabase } from '../../../../../test/support/postgres';

const sha256 = (secret: string) => createHash('sha256').update(secret).digest('hex');
const T0 = Date.parse('2026-11-22T10:00:00.000Z');

describe('regenerate with an overlap, with the events in PostgreSQL', () => {
  let now = new Date(T0);
  const clock = { now: () => now };
  const apps: TestApp[] = [];
  afterAll(async () => {
    for (const t of apps) await t.close().catch(() => undefined);
  });

  it('both secrets verify until the end; two instances on one log write the revocation once, and both deny the old secret', async () => {
    const env = { EVENT_STORE: 'postgres', DATABASE_URL: await freshDatabase(), KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), EXPIRY_SCAN_MS: '3600000' };
    const start = async () => {
      const t = await startTestApp({ clock, env }, fs.mkdtempSync(path.join(os.tmpdir(), 'overlap-pg-')));
      apps.push(t);
      return t;
    };
    const [a, b] = [await start(), await start()];
    const owner = a.token('team-1', 'u1', 'owner');
    const gateway = a.token('platform', 'gw', 'gateway');
    const verify = async (t: TestApp, key: string) => (await t.call('POST', '/v1/keys/verify', { token: gateway, body: { key } })).body;

    const key = (await a.call('POST', KEYS, { token: owner, body: { name: 'k' } })).body.api_key_info;
    const fresh = (await a.call('PUT', `${KEYS}/${key.uuid}/regenerate`, { token: owner, body: { grace_period_seconds: 5 } })).body.api_key_info.secret_key;
    const head = await a.store.headPosition();
    for (const t of [a, b]) {
      await waitFor(async () => (await verify(t, fresh)).code === 'VALID');
      expect(await verify(t, key.secret_key)).toMatchObject({ code: 'VALID', secret_ends_at: new Date(T0 + 5000).toISOString() });
    }

    now = new Date(T0 + 5000);
    await Promise.all([a.app.get(ExpiryScheduler).runOnce(), b.app.get(ExpiryScheduler).runOnce()]);
    const types = (await a.store.readStream(keyStreamId(key.uuid))).map((e) => e.type);
    expect(types.filter((type) => type === 'ModelAccessKeyPreviousSecretRevoked')).toHaveLength(1);
    for (const t of [a, b]) {
      await waitFor(async () => {
        const feed = (await t.call('GET', `/v1/revocations?after=${head}`, { token: gateway })).body.revocations as Array<{ reason: string; secret_hashes: string[] }>;
        return feed.some((r) => r.reason === 'previous_secret_revoked' && r.secret_hashes[0] === sha256(key.secret_key));
      });
      expect((await verify(t, key.secret_key)).code).toBe('NOT_FOUND');
      expect((await verify(t, fresh)).code).toBe('VALID');
    }
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
