import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';

describe('usage reads: GET /v1/usage/keys/{uuid} and GET /v1/usage', () => {
  let t: TestApp;
  const clock = { now: () => new Date('2026-11-22T12:00:00.000Z') };
  let owner: string;
  let member: string;
  let gateway: string;
  beforeEach(async () => {
    t = await startTestApp({ clock });
    owner = t.token('team-1', '100', 'owner');
    member = t.token('team-1', '200', 'member');
    gateway = t.token('platform', 'gw-1', 'gateway');
  });
  afterEach(() => t.close());

  const create = async (token: string) => (await t.call('POST', KEYS, { token, body: { name: 'k' } })).body.api_key_info as { uuid: string };
  const record = (key_uuid: string, minute: string, requests: number, input_tokens = 0, output_tokens = 0, denials = {}) => ({
    key_uuid,
    minute,
    requests,
    input_tokens,
    output_tokens,
    denials,
  });

  it("one key's series by minute, hour and day, with totals and denials by code", async () => {
    const key = await create(owner);
    await t.call('POST', '/v1/usage', {
      token: gateway,
      body: {
        gateway_id: 'g',
        sequence: 1,
        records: [
          record(key.uuid, '2026-11-22T10:05:00Z', 2, 20, 10),
          record(key.uuid, '2026-11-22T10:06:00Z', 1, 5, 5, { RATE_LIMITED: 3 }),
          record(key.uuid, '2026-11-22T11:00:00Z', 4, 40, 0),
          record(key.uuid, '2026-11-21T09:00:00Z', 9),
        ],
      },
    });
    const get = async (q: string) => (await t.call('GET', `/v1/usage/keys/${key.uuid}?${q}`, { token: owner })).body;
    const hourly = await get('granularity=hour');
    expect(hourly).toMatchObject({ key_uuid: key.uuid, from: '2026-11-21T12:00:00.000Z', to: '2026-11-22T12:00:00.000Z', granularity: 'hour' });
    expect(hourly.series).toEqual([
      { start: '2026-11-22T10:00:00.000Z', requests: 3, input_tokens: 25, output_tokens: 15, denials: { RATE_LIMITED: 3 } },
      { start: '2026-11-22T11:00:00.000Z', requests: 4, input_tokens: 40, output_tokens: 0, denials: {} },
    ]);
    expect(hourly.totals).toEqual({ start: '2026-11-21T12:00:00.000Z', requests: 7, input_tokens: 65, output_tokens: 15, denials: { RATE_LIMITED: 3 } });
    const minutes = await get('granularity=minute&from=2026-11-22T10:00:00Z&to=2026-11-22T10:10:00Z');
    expect(minutes.series.map((b: { start: string }) => b.start)).toEqual(['2026-11-22T10:05:00.000Z', '2026-11-22T10:06:00.000Z']);
    const days = await get('granularity=day&from=2026-11-01&to=2026-11-23');
    expect(days.series.map((b: { start: string; requests: number }) => [b.start, b.requests])).toEqual([
      ['2026-11-21T00:00:00.000Z', 9],
      ['2026-11-22T00:00:00.000Z', 7],
    ]);
  });

  it('refuses a bad granularity or instant with 400 naming the field; an empty range has no usage; a long one is taken', async () => {
    const key = await create(owner);
    const get = (q: string) => t.call('GET', `/v1/usage/keys/${key.uuid}?${q}`, { token: owner });
    expect((await get('granularity=week')).body.details).toEqual({ field: 'granularity' });
    expect((await get('from=yesterday')).body.details).toEqual({ field: 'from' });
    expect((await get('from=2026-11-22T12:00:00Z&to=2026-11-22T11:00:00Z')).body).toMatchObject({ series: [], totals: { requests: 0 } });
    // The range is bounded by the granularity: 7 days by minute, 400 by hour, 36,600 by day.
    const tooLong = await get('granularity=minute&from=2026-11-15T11:59:00Z&to=2026-11-22T12:00:00Z');
    expect(tooLong.status).toBe(422);
    expect(tooLong.body).toMatchObject({ code: 'USAGE_RANGE_TOO_LONG', details: { field: 'from' }, message: expect.stringContaining('at most 7 days') });
    expect((await get('granularity=minute&from=2026-11-15T12:00:00Z&to=2026-11-22T12:00:00Z')).status).toBe(200);
    expect((await get('granularity=hour&from=2025-10-17T12:00:00Z&to=2026-11-22T12:00:00Z')).status).toBe(422);
    expect((await get('granularity=day&from=2000-01-01')).status).toBe(200);
  });

  it('the team read is paged by key uuid: page, per_page (at most 50), links and meta; every page of the same range', async () => {
    const keys = [];
    for (let i = 0; i < 5; i++) keys.push(await create(owner));
    await t.call('POST', '/v1/usage', { token: gateway, body: { gateway_id: 'g', sequence: 1, records: keys.map((k, i) => record(k.uuid, '2026-11-22T11:00:00Z', i + 1)) } });
    const sorted = keys.map((k) => k.uuid).sort();
    const page = async (q: string) => (await t.call('GET', `/v1/usage?${q}`, { token: owner })).body;
    const first = await page('per_page=2');
    expect(first.keys.map((k: { key_uuid: string }) => k.key_uuid)).toEqual(sorted.slice(0, 2));
    expect(first.meta).toEqual({ total: 5, page: 1, pages: 3 });
    const next = new URL(first.links.pages.next, 'http://x');
    expect(Object.fromEntries(next.searchParams)).toEqual({ page: '2', per_page: '2', from: first.from, to: first.to, granularity: 'hour' });
    const third = await page(next.search.slice(1).replace('page=2', 'page=3'));
    expect(third.keys.map((k: { key_uuid: string }) => k.key_uuid)).toEqual(sorted.slice(4));
    expect((await t.call('GET', '/v1/usage?per_page=51', { token: owner })).body.details).toEqual({ field: 'per_page' });
    expect((await t.call('GET', '/v1/usage?page=0', { token: owner })).body.details).toEqual({ field: 'page' });
  });

  it("who sees what: a member their own keys only (another member's is 404), an auditor all, another team none, a gateway none", async () => {
    const mine = await create(member);
    const owners = await create(owner);
    await t.call('POST', '/v1/usage', {
      token: gateway,
      body: { gateway_id: 'g', sequence: 1, records: [record(mine.uuid, '2026-11-22T11:00:00Z', 1), record(owners.uuid, '2026-11-22T11:00:00Z', 2)] },
    });
    expect((await t.call('GET', `/v1/usage/keys/${mine.uuid}`, { token: member })).status).toBe(200);
    expect((await t.call('GET', `/v1/usage/keys/${owners.uuid}`, { token: member })).status).toBe(404);
    expect((await t.call('GET', `/v1/usage/keys/${owners.uuid}`, { token: t.token('team-1', '300', 'auditor') })).status).toBe(200);
    expect((await t.call('GET', `/v1/usage/keys/${owners.uuid}`, { token: t.token('team-2', '100', 'owner') })).status).toBe(404);
    expect((await t.call('GET', `/v1/usage/keys/${owners.uuid}`, { token: gateway })).status).toBe(403);
    expect((await t.call('GET', `/v1/usage/keys/${owners.uuid}`)).status).toBe(401);
    const team = (await t.call('GET', '/v1/usage', { token: owner })).body;
    expect(team.keys.map((k: { key_uuid: string; totals: { requests: number } }) => [k.key_uuid, k.totals.requests]).sort()).toEqual(
      [
        [mine.uuid, 1],
        [owners.uuid, 2],
      ].sort(),
    );
    expect((await t.call('GET', '/v1/usage', { token: member })).body.keys.map((k: { key_uuid: string }) => k.key_uuid)).toEqual([mine.uuid]);
    expect((await t.call('GET', '/v1/usage', { token: t.token('team-2', '1', 'owner') })).body.keys).toEqual([]);
  });
});
