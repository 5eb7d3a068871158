import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';
import { READ_MODEL_DB } from '../read-side/read-model.database';

describe('usage reports (POST /v1/usage) and what api_key_info shows of them', () => {
  let t: TestApp;
  let now = new Date('2026-11-22T10:07:30.000Z');
  const clock = { now: () => now };
  let owner: string;
  let gateway: string;
  beforeEach(async () => {
    now = new Date('2026-11-22T10:07:30.000Z');
    t = await startTestApp({ clock });
    owner = t.token('team-1', '100', 'owner');
    gateway = t.token('platform', 'gw-1', 'gateway');
  });
  afterEach(() => t.close());

  const create = async (limits?: object) => {
    const res = await t.call('POST', KEYS, { token: owner, body: { name: 'k', ...(limits ? { limits } : {}) } });
    expect(res.status).toBe(200);
    return res.body.api_key_info as { uuid: string };
  };
  const report = (body: unknown, token: string | null = gateway) => t.call('POST', '/v1/usage', { token, body });
  const info = async (uuid: string) => (await t.call('GET', `${KEYS}/${uuid}`, { token: owner })).body.api_key_info;

  it('a key never used shows last_used_at null and zero usage for the month', async () => {
    const key = await create();
    expect(await info(key.uuid)).toMatchObject({
      last_used_at: null,
      usage: { period: 'month', since: '2026-11-01T00:00:00.000Z', requests: 0, input_tokens: 0, output_tokens: 0, tokens: 0 },
    });
  });

  it('reports add up per key; last_used_at is the last minute with a request; the period follows the quota', async () => {
    const key = await create({ quota: { tokens: 1000, period: 'day' } });
    const record = (minute: string, requests: number, input: number, output: number, model = 'llama3') => ({
      key_uuid: key.uuid,
      minute,
      model,
      requests,
      input_tokens: input,
      output_tokens: output,
    });
    expect((await report({ gateway_id: 'gw-a:1', sequence: 1, records: [record('2026-11-22T10:05:00Z', 3, 30, 12), record('2026-11-21T23:59:00Z', 5, 50, 20)] })).body).toEqual({
      counted: true,
      records: 2,
      unknown_keys: [],
    });
    expect((await report({ gateway_id: 'gw-b:1', sequence: 1, records: [record('2026-11-22T10:06:00Z', 2, 20, 8, 'mistral'), { key_uuid: key.uuid, minute: '2026-11-22T10:07:00Z', denials: { RATE_LIMITED: 4 } }] })).status).toBe(200);
    const shown = await info(key.uuid);
    expect(shown.last_used_at).toBe('2026-11-22T10:06:00.000Z');
    expect(shown.usage).toEqual({ period: 'day', since: '2026-11-22T00:00:00.000Z', requests: 5, input_tokens: 50, output_tokens: 20, tokens: 70 });
    const listed = (await t.call('GET', KEYS, { token: owner })).body.api_key_infos[0];
    expect(listed).toMatchObject({ uuid: key.uuid, last_used_at: '2026-11-22T10:06:00.000Z', usage: { requests: 5 } });
  });

  it('a retried batch (same gateway_id and sequence) is counted once', async () => {
    const key = await create();
    const batch = { gateway_id: 'gw-a:1', sequence: 7, records: [{ key_uuid: key.uuid, minute: '2026-11-22T10:00:00Z', requests: 10, input_tokens: 100, output_tokens: 40 }] };
    expect((await report(batch)).body).toEqual({ counted: true, records: 1, unknown_keys: [] });
    expect((await report(batch)).body).toEqual({ counted: false, records: 1, unknown_keys: [] });
    expect((await report({ ...batch, sequence: 8 })).body.counted).toBe(true);
    expect((await info(key.uuid)).usage).toMatchObject({ requests: 20, tokens: 280 });
    // The same sequence with other records is not a retry: 409 naming it, and nothing counted.
    const reused = await report({ ...batch, records: [{ ...batch.records[0], requests: 11 }] });
    expect(reused.status).toBe(409);
    expect(reused.body).toMatchObject({ code: 'USAGE_BATCH_CONFLICT', details: { field: 'sequence' } });
    expect((await info(key.uuid)).usage).toMatchObject({ requests: 20 });
  });

  it("records of a key the service never had are not counted and are named; a deleted key's are counted", async () => {
    const key = await create();
    const gone = await create();
    const deleted = await t.call('DELETE', `${KEYS}/${gone.uuid}`, { token: owner, headers: { 'x-confirm-name': 'k' } });
    expect(deleted.status).toBe(200);
    const never = '11efb7d6-cdb5-6388-bf8f-4e013e2ddde4';
    const record = (uuid: string) => ({ key_uuid: uuid, minute: '2026-11-22T10:05:00Z', requests: 2, input_tokens: 20, output_tokens: 4 });
    const answer = await report({ gateway_id: 'gw-a:1', sequence: 1, records: [record(key.uuid), record(never), record(gone.uuid), record(never.toUpperCase())] });
    expect(answer.body).toEqual({ counted: true, records: 2, unknown_keys: [never] });
    expect((await info(key.uuid)).usage).toMatchObject({ requests: 2, tokens: 24 });
    const usage = await t.call('GET', `/v1/usage/keys/${never}?from=2026-11-22T00:00:00Z`, { token: owner });
    expect(usage.status).toBe(404);
    const deletedUsage = await t.call('GET', `/v1/usage/keys/${gone.uuid}?from=2026-11-22T00:00:00Z`, { token: owner });
    expect(deletedUsage.body).toMatchObject({ deleted_at: '2026-11-22T10:07:30.000Z', totals: { requests: 2, input_tokens: 20, output_tokens: 4 } });
    const team = (await t.call('GET', '/v1/usage?from=2026-11-22T00:00:00Z', { token: owner })).body.keys;
    expect(team.map((k: { key_uuid: string; deleted_at: string | null }) => [k.key_uuid, k.deleted_at]).sort()).toEqual(
      [
        [key.uuid, null],
        [gone.uuid, '2026-11-22T10:07:30.000Z'],
      ].sort(),
    );
    // A batch of unknown keys only is still a batch: its retry is counted once, and counts nothing.
    expect((await report({ gateway_id: 'gw-a:1', sequence: 2, records: [record(never)] })).body).toEqual({ counted: true, records: 0, unknown_keys: [never] });
    expect((await report({ gateway_id: 'gw-a:1', sequence: 2, records: [record(never)] })).body).toEqual({ counted: false, records: 0, unknown_keys: [never] });
  });

  it.each([
    [{ sequence: 1, records: [] }, 'gateway_id'],
    [{ gateway_id: 'has space', sequence: 1, records: [] }, 'gateway_id'],
    [{ gateway_id: 'g', sequence: -1, records: [] }, 'sequence'],
    [{ gateway_id: 'g', sequence: 1 }, 'records'],
    [{ gateway_id: 'g', sequence: 1, records: [{ key_uuid: 'nope', minute: '2026-11-22T10:00:00Z' }] }, 'records.0.key_uuid'],
    [{ gateway_id: 'g', sequence: 1, records: [{ key_uuid: '11efb7d6-cdb5-6388-bf8f-4e013e2ddde4', minute: '2026-11-22T10:00:30Z' }] }, 'records.0.minute'],
    [{ gateway_id: 'g', sequence: 1, records: [{ key_uuid: '11efb7d6-cdb5-6388-bf8f-4e013e2ddde4', minute: '2026-11-22T10:00:00Z', requests: 1.5 }] }, 'records.0.requests'],
    [{ gateway_id: 'g', sequence: 1, records: [{ key_uuid: '11efb7d6-cdb5-6388-bf8f-4e013e2ddde4', minute: '2026-11-22T10:00:00Z', denials: { NOT_A_CODE: 1 } }] }, 'records.0.denials.NOT_A_CODE'],
  ])('answers 400 naming the field for %j', async (body, field) => {
    const res = await report(body);
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual({ field });
  });

  it("refuses a record whose minute is more than 120 s ahead of the service's clock (422 naming it), and counts nothing of its batch", async () => {
    const key = await create({ quota: { requests: 10, period: 'day' } });
    const record = (minute: string) => ({ key_uuid: key.uuid, minute, requests: 10, input_tokens: 0, output_tokens: 0 });
    const ahead = await report({ gateway_id: 'gw-a', sequence: 1, records: [record('2026-11-22T10:07:00Z'), record('2030-06-01T00:00:00Z')] });
    expect(ahead.status).toBe(422);
    expect(ahead.body).toMatchObject({ code: 'USAGE_MINUTE_IN_FUTURE', details: { field: 'records.1.minute' } });
    expect(ahead.body.message).toMatch(/^records\.1\.minute 2030-06-01T00:00:00Z is ahead of the service's clock by more than 120 s/);
    // Within the allowance: the next minute from a gateway whose clock runs 30 s ahead.
    expect((await report({ gateway_id: 'gw-a', sequence: 2, records: [{ ...record('2026-11-22T10:08:00Z'), requests: 1 }] })).status).toBe(200);
    expect(await info(key.uuid)).toMatchObject({ last_used_at: '2026-11-22T10:08:00.000Z', usage: { requests: 1 } });
    // The refused batch's sequence was not taken: sent again with a correct clock, it counts.
    expect((await report({ gateway_id: 'gw-a', sequence: 1, records: [{ ...record('2026-11-22T10:07:00Z'), requests: 2 }] })).body).toMatchObject({ counted: true });
    expect((await info(key.uuid)).usage).toMatchObject({ requests: 3 });
  });

  it('refuses a minute that does not exist (2026-02-30) with 422 USAGE_MINUTE_INVALID, and one more than 48 h old with 422 USAGE_MINUTE_TOO_OLD, counting nothing of the batch', async () => {
    const key = await create();
    const record = (minute: string) => ({ key_uuid: key.uuid, minute, requests: 1 });
    const impossible = await report({ gateway_id: 'gw-a', sequence: 1, records: [record('2026-02-30T00:00:00Z')] });
    expect(impossible.status).toBe(422);
    expect(impossible.body).toMatchObject({ code: 'USAGE_MINUTE_INVALID', details: { field: 'records.0.minute' } });
    const old = await report({ gateway_id: 'gw-a', sequence: 2, records: [record('2026-11-22T10:00:00Z'), record('2026-11-20T10:06:00Z')] });
    expect(old.status).toBe(422);
    expect(old.body).toMatchObject({ code: 'USAGE_MINUTE_TOO_OLD', details: { field: 'records.1.minute' } });
    for (const minute of ['1970-01-01T00:00:00Z', '0001-01-01T00:00:00Z']) {
      expect((await report({ gateway_id: 'gw-a', sequence: 3, records: [record(minute)] })).body.code).toBe('USAGE_MINUTE_TOO_OLD');
    }
    // Just inside the 48 h: taken.
    expect((await report({ gateway_id: 'gw-a', sequence: 4, records: [record('2026-11-20T10:08:00Z')] })).body).toMatchObject({ counted: true, records: 1 });
    expect((await info(key.uuid)).usage).toMatchObject({ requests: 1 });
  });

  it("a key missing from this instance's views but in the event log (a fleet's lag) is counted", async () => {
    const key = await create();
    t.app.get<import('better-sqlite3').Database>(READ_MODEL_DB).prepare('DELETE FROM key_views WHERE key_uuid = ?').run(key.uuid);
    const answer = await report({ gateway_id: 'gw-a', sequence: 1, records: [{ key_uuid: key.uuid, minute: '2026-11-22T10:05:00Z', requests: 3 }] });
    expect(answer.body).toEqual({ counted: true, records: 1, unknown_keys: [] });
  });

  it('counters saturate at 2^53 - 1 instead of overflowing: reads stay 200', async () => {
    const key = await create();
    const max = 1_000_000_000_000;
    const records = Array.from({ length: 100 }, (_, i) => ({ key_uuid: key.uuid, minute: `2026-11-22T${String(8 + Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00Z`, requests: max, input_tokens: max, output_tokens: max }));
    for (let sequence = 1; sequence <= 100; sequence++) expect((await report({ gateway_id: 'gw-big', sequence, records })).status).toBe(200);
    const shown = await info(key.uuid);
    expect(shown.usage).toMatchObject({ requests: Number.MAX_SAFE_INTEGER, input_tokens: Number.MAX_SAFE_INTEGER, output_tokens: Number.MAX_SAFE_INTEGER });
    expect((await t.call('GET', `/v1/usage/keys/${key.uuid}?from=2026-11-22T00:00:00Z`, { token: owner })).status).toBe(200);
  });

  it('refuses a batch of more than 100 records with 400 naming records', async () => {
    const records = Array.from({ length: 101 }, () => ({ key_uuid: '11efb7d6-cdb5-6388-bf8f-4e013e2ddde4', minute: '2026-11-22T10:00:00Z', requests: 1 }));
    const res = await report({ gateway_id: 'g', sequence: 1, records });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual({ field: 'records' });
  });

  it('only gateways report: no token 401, a bad token 401, an owner 403', async () => {
    const body = { gateway_id: 'g', sequence: 1, records: [] };
    expect((await report(body, null)).status).toBe(401);
    expect((await report(body, 'bad.token')).status).toBe(401);
    expect((await report(body, owner)).status).toBe(403);
  });
});
