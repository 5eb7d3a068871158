import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';
import { MAX_OFFSET, MAX_PAGE, MAX_POSITION } from '../common/bounds';

/**
 * Every number a client sends has bounds, checked before anything reaches SQL: a value out of them,
 * or one that is not a decimal integer at all, answers 400 naming the field, on every route that
 * takes it. Before, `page=1e20` (or any page or offset past 2^63) reached SQLite as a REAL and
 * answered 500 "datatype mismatch".
 */
describe('numbers out of range, on every HTTP route that takes one', () => {
  let t: TestApp;
  let owner: string;
  let gateway: string;

  beforeAll(async () => {
    t = await startTestApp();
    owner = t.token('team-1', '100', 'owner');
    gateway = t.token('platform', 'gw-1', 'gateway');
    expect((await t.call('POST', KEYS, { token: owner, body: { name: 'one-key' } })).status).toBe(200);
    expect((await t.call('POST', '/cloud/v3/inference/team-1/api_keys', { token: owner, body: { name: 'one-gcore-key' } })).status).toBe(201);
  });
  afterAll(() => t.close());

  const NOT_INTEGERS = ['1e20', '1e3', '0x10', '1.5', '', 'abc', '+1', '1 '];
  const PAST_2_63 = ['9223372036854775807', '9223372036854775808', '99999999999999999999'];

  const expect400 = async (url: string, field: string, token = owner, headers: Record<string, string> = {}) => {
    const { status, body } = await t.call('GET', url, { token, headers });
    expect({ url, status }).toEqual({ url, status: 400 });
    expect(body).toMatchObject({ id: 'bad_request', code: 'VALIDATION_FAILED', details: { field } });
    expect(body.message).toContain(field);
  };

  it('GET /v2/gen-ai/models/api_keys?page=1e20 answers 400 naming page (it answered 500)', async () => {
    await expect400(`${KEYS}?page=1e20`, 'page');
  });

  const routes: Array<{ name: string; url: string; token: () => string; fields: Array<{ field: string; min: number; max: number; others?: string }> }> = [
    {
      name: 'model access keys (DigitalOcean)',
      url: KEYS,
      token: () => owner,
      fields: [
        { field: 'page', min: 1, max: MAX_PAGE },
        { field: 'per_page', min: 1, max: 200 },
      ],
    },
    {
      name: 'provider keys',
      url: '/v2/gen-ai/anthropic/keys',
      token: () => owner,
      fields: [
        { field: 'page', min: 1, max: MAX_PAGE },
        { field: 'per_page', min: 1, max: 200 },
      ],
    },
    {
      name: 'inference API keys (Gcore)',
      url: '/cloud/v3/inference/team-1/api_keys',
      token: () => owner,
      fields: [
        { field: 'limit', min: 1, max: 1000 },
        { field: 'offset', min: 0, max: MAX_OFFSET },
      ],
    },
    {
      name: 'the audit trail',
      url: '/v1/audit/events',
      token: () => owner,
      fields: [
        { field: 'after', min: 0, max: MAX_POSITION },
        { field: 'limit', min: 1, max: 1000 },
      ],
    },
    {
      name: 'the revocation feed',
      url: '/v1/revocations',
      token: () => gateway,
      fields: [
        { field: 'after', min: 0, max: MAX_POSITION },
        { field: 'limit', min: 1, max: 1000 },
      ],
    },
    { name: 'the revocation stream', url: '/v1/revocations/stream', token: () => gateway, fields: [{ field: 'after', min: 0, max: MAX_POSITION }] },
  ];

  describe.each(routes)('$name ($url)', ({ url, token, fields }) => {
    it.each(fields)('$field: past 2^63, past its maximum, below its minimum or not a decimal integer answers 400 naming it', async ({ field, min, max }) => {
      for (const value of [...PAST_2_63, ...NOT_INTEGERS, String(max + 1), String(min - 1), String(Number.MAX_SAFE_INTEGER + 2)]) {
        await expect400(`${url}?${field}=${encodeURIComponent(value)}`, field, token());
      }
      // Given twice, a query parameter is a list, not a number.
      await expect400(`${url}?${field}=${min}&${field}=${min}`, field, token());
    });

    if (!url.endsWith('/stream')) {
      it.each(fields)('$field: its minimum and its maximum are served (an empty page past the end)', async ({ field, min, max }) => {
        for (const value of [min, max]) {
          const { status } = await t.call('GET', `${url}?${field}=${value}`, { token: token() });
          expect({ field, value, status }).toEqual({ field, value, status: 200 });
        }
      });
    }
  });

  it('the last page a DigitalOcean client can ask for is served, empty, with its links', async () => {
    const { status, body } = await t.call('GET', `${KEYS}?page=${MAX_PAGE}&per_page=200`, { token: owner });
    expect(status).toBe(200);
    expect(body.api_key_infos).toEqual([]);
    expect(body.meta).toMatchObject({ page: MAX_PAGE, pages: 1 });
    expect(body.links.pages.first).toContain('page=1&per_page=200');
  });

  describe('expiry timestamps: within what a Date holds and an ISO-8601 year of four digits', () => {
    const FAR = ['+275760-09-13T00:00:00Z', '+275761-01-01', '10000-01-01', '-000001-01-01T00:00:00Z', '99999-12-31T00:00:00Z'];
    const create = (body: object) => t.call('POST', KEYS, { token: owner, body });
    const gcore = (method: 'POST' | 'PATCH', url: string, body: object) => t.call(method, `/cloud/v3/inference/team-1/api_keys${url}`, { token: owner, body });

    it.each(FAR)('expires_at %s answers 400 naming expires_at on every route that sets it', async (expiresAt) => {
      const answers = [
        await create({ name: 'far', expires_at: expiresAt }),
        await gcore('POST', '', { name: 'far', expires_at: expiresAt }),
        await gcore('PATCH', '/one-gcore-key', { expires_at: expiresAt }),
      ];
      for (const { status, body } of answers) {
        expect(status).toBe(400);
        expect(body).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'expires_at' } });
      }
    });

    it('the last instant of year 9999 is a valid expiry', async () => {
      const { status, body } = await create({ name: 'last-instant', expires_at: '9999-12-31T23:59:59.999Z' });
      expect(status).toBe(200);
      expect(body.api_key_info.expires_at).toBe('9999-12-31T23:59:59.999Z');
    });
  });

  it('the revocation stream refuses a Last-Event-ID that is not a position, or past the largest one', async () => {
    for (const value of ['', 'abc', '-1', '1.5', '1e3', String(MAX_POSITION + 1), '9223372036854775808', '99999999999999999']) {
      await expect400('/v1/revocations/stream', 'Last-Event-ID', gateway, { 'last-event-id': value });
    }
  });
});
