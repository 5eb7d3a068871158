import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freshDatabase } from '../../../../test/support/postgres';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';
import { keyStreamId } from '../keys/domain/model-access-key.events';
import { ProjectionRunner } from '../read-side/projection-runner';
import { PostgresUsageStore } from './postgres.usage-store';
import { describeUsageRetention } from './usage-retention.contract';

describe('the usage store in PostgreSQL: two instances on one log count the same usage', () => {
  let now = new Date('2026-11-22T10:07:30.000Z');
  const clock = { now: () => now };
  let a: TestApp;
  let b: TestApp;
  let owner: string;
  let gateway: string;

  beforeEach(async () => {
    now = new Date('2026-11-22T10:07:30.000Z');
    // One master key for both: the data keys are in the shared database, wrapped with it.
    const env = { EVENT_STORE: 'postgres', DATABASE_URL: await freshDatabase(), KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'), EXPIRY_SCAN_MS: '3600000' };
    const start = () => startTestApp({ clock, env }, fs.mkdtempSync(path.join(os.tmpdir(), 'usage-pg-')));
    // Started together: both create the usage tables (under the advisory lock).
    [a, b] = await Promise.all([start(), start()]);
    owner = a.token('team-1', '100', 'owner');
    gateway = a.token('platform', 'gw-1', 'gateway');
  });
  afterEach(async () => {
    await Promise.all([a.close(), b.close()]);
  });

  /** Creates a key on A and waits until B's views have it too (B judges quotas from its own views). */
  const create = async (limits?: object) => {
    const res = await a.call('POST', KEYS, { token: owner, body: { name: 'k', ...(limits ? { limits } : {}) } });
    expect(res.status).toBe(200);
    await b.app.get(ProjectionRunner).waitFor(await b.store.headPosition());
    return res.body.api_key_info as { uuid: string; secret_key: string };
  };
  const batch = (gatewayId: string, sequence: number, keyUuid: string, requests: number, minute = '2026-11-22T10:07:00Z', model = 'llama3') => ({
    gateway_id: gatewayId,
    sequence,
    records: [{ key_uuid: keyUuid, minute, model, requests, input_tokens: requests * 10, output_tokens: requests * 2, denials: { RATE_LIMITED: 1 } }],
  });
  const report = (t: TestApp, body: unknown) => t.call('POST', '/v1/usage', { token: gateway, body });
  const info = async (t: TestApp, uuid: string) => (await t.call('GET', `${KEYS}/${uuid}`, { token: owner })).body.api_key_info;

  it('reports sent to A and to B add up, and both answer the same usage, last_used_at and series', async () => {
    const key = await create();
    expect((await report(a, batch('gw-a:1', 1, key.uuid, 3, '2026-11-22T10:05:00Z'))).body).toEqual({ counted: true, records: 1, unknown_keys: [] });
    expect((await report(b, batch('gw-b:1', 1, key.uuid, 4, '2026-11-22T10:06:00Z'))).body).toEqual({ counted: true, records: 1, unknown_keys: [] });
    expect((await report(b, batch('gw-b:1', 2, key.uuid, 5, '2026-11-22T10:06:00Z'))).body.counted).toBe(true);
    for (const t of [a, b]) {
      const shown = await info(t, key.uuid);
      expect(shown.last_used_at).toBe('2026-11-22T10:06:00.000Z');
      expect(shown.usage).toMatchObject({ requests: 12, input_tokens: 120, output_tokens: 24, tokens: 144 });
      const read = (await t.call('GET', `/v1/usage/keys/${key.uuid}?from=2026-11-22T10:00:00Z&to=2026-11-22T11:00:00Z&granularity=minute`, { token: owner })).body;
      expect(read.series).toEqual([
        { start: '2026-11-22T10:05:00.000Z', requests: 3, input_tokens: 30, output_tokens: 6, denials: { RATE_LIMITED: 1 } },
        { start: '2026-11-22T10:06:00.000Z', requests: 9, input_tokens: 90, output_tokens: 18, denials: { RATE_LIMITED: 2 } },
      ]);
      const team = (await t.call('GET', '/v1/usage?from=2026-11-22T00:00:00Z&to=2026-11-23T00:00:00Z&granularity=day', { token: owner })).body;
      expect(team.keys.map((k: { key_uuid: string; totals: { requests: number } }) => [k.key_uuid, k.totals.requests])).toEqual([[key.uuid, 12]]);
    }
  });

  it('a retried batch sent to the other instance is counted once, and so is one sent to both at the same time', async () => {
    const key = await create();
    expect((await report(a, batch('gw-a:1', 7, key.uuid, 10))).body.counted).toBe(true);
    expect((await report(b, batch('gw-a:1', 7, key.uuid, 10))).body.counted).toBe(false);
    // The same pair with other records, on the other instance: 409, nothing counted.
    expect((await report(b, batch('gw-a:1', 7, key.uuid, 11))).body).toMatchObject({ code: 'USAGE_BATCH_CONFLICT' });
    const both = await Promise.all([report(a, batch('gw-a:1', 8, key.uuid, 5)), report(b, batch('gw-a:1', 8, key.uuid, 5))]);
    expect(both.map((res) => res.status)).toEqual([200, 200]);
    expect(both.map((res) => res.body.counted).sort()).toEqual([false, true]);
    expect((await info(b, key.uuid)).usage).toMatchObject({ requests: 15 });
    expect((await info(a, key.uuid)).usage).toMatchObject({ requests: 15 });
  });

  it('a quota reached by reports to both instances at once is exhausted once; every report is answered 200; both deny', async () => {
    const key = await create({ quota: { requests: 10, period: 'day' } });
    expect((await report(a, batch('gw-a:1', 1, key.uuid, 4))).status).toBe(200);
    // Both reports cross the quota together; each instance's check sees the sum and tries to record it.
    const crossing = await Promise.all([report(a, batch('gw-a:1', 2, key.uuid, 3)), report(b, batch('gw-b:1', 1, key.uuid, 3))]);
    expect(crossing.map((res) => res.status)).toEqual([200, 200]);
    // More reports racing on both after the quota is spent write nothing more for this period.
    const after = await Promise.all([
      report(a, batch('gw-a:1', 3, key.uuid, 1)),
      report(b, batch('gw-b:1', 2, key.uuid, 1)),
      report(a, batch('gw-c:1', 1, key.uuid, 1)),
      report(b, batch('gw-d:1', 1, key.uuid, 1)),
    ]);
    expect(after.map((res) => res.status)).toEqual([200, 200, 200, 200]);
    const stream = await a.store.readStream(keyStreamId(key.uuid));
    expect(stream.map((e) => e.type)).toEqual(['ModelAccessKeyCreated', 'ModelAccessKeyQuotaExhausted']);
    expect(stream[1].data).toMatchObject({ periodStart: '2026-11-22T00:00:00.000Z', resetsAt: '2026-11-23T00:00:00.000Z' });
    expect((stream[1].data as { requests: number }).requests).toBeGreaterThanOrEqual(10);
    await b.app.get(ProjectionRunner).waitFor(await b.store.headPosition());
    for (const t of [a, b]) {
      const answer = (await t.call('POST', '/v1/keys/verify', { token: gateway, body: { key: key.secret_key } })).body;
      expect(answer).toMatchObject({ valid: false, code: 'USAGE_EXCEEDED', resets_at: '2026-11-23T00:00:00.000Z' });
    }
    expect((await info(a, key.uuid)).usage.requests).toBe(14);
  });

  it('a report of many keys and minutes sent to both at once counts every row (no deadlock between the two batches)', async () => {
    const keys = [await create(), await create(), await create()];
    const records = (order: number[]) =>
      order.flatMap((i) => ['2026-11-22T10:05:00Z', '2026-11-22T10:06:00Z'].map((minute) => ({ key_uuid: keys[i].uuid, minute, model: 'm', requests: 1 })));
    const sends = Array.from({ length: 10 }, (_, n) =>
      report(n % 2 ? a : b, { gateway_id: `gw-${n}:1`, sequence: 1, records: [...records(n % 2 ? [0, 1, 2] : [2, 1, 0]), ...records([1])] }),
    );
    expect((await Promise.all(sends)).map((res) => res.status)).toEqual(Array(10).fill(200));
    expect(await Promise.all(keys.map(async (k) => (await info(a, k.uuid)).usage.requests))).toEqual([20, 40, 20]);
  });
});

describe('the PostgreSQL usage store cannot connect', () => {
  it('names DATABASE_URL with its password redacted', async () => {
    const failure = PostgresUsageStore.connect('postgres://keys:s3cret-pass@127.0.0.1:1/keys');
    await expect(failure).rejects.toThrow(/DATABASE_URL=postgres:\/\/keys:\*+@127\.0\.0\.1:1\/keys/);
    await expect(failure).rejects.not.toThrow(/s3cret-pass/);
  });
});

describeUsageRetention('PostgreSQL', async () => ({ EVENT_STORE: 'postgres', DATABASE_URL: await freshDatabase(), KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') }));
