// Instants must not depend on the host's zone: these run in one eight hours behind UTC.
process.env.TZ = 'America/Los_Angeles';

import * as jwt from 'jsonwebtoken';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';
import { DEVELOPMENT_JWT_SECRET } from '../config/app.config';

const GCORE = '/cloud/v3/inference/team-1/api_keys';
const ANTHROPIC = '/v2/gen-ai/anthropic/keys';
const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

describe('bad input gets a clear 4xx naming the field, on every surface', () => {
  let t: TestApp;
  let owner: string;
  let gateway: string;
  let auditor: string;
  const now = { value: new Date('2026-11-30T12:00:00.000Z') };
  beforeAll(async () => {
    t = await startTestApp({ clock: { now: () => now.value }, env: { EXPIRY_SCAN_MS: '3600000', ANTHROPIC_API_BASE_URL: 'http://127.0.0.1:9' } });
    owner = t.token('team-1', 'u1', 'owner');
    gateway = t.token('platform', 'g1', 'gateway');
    auditor = t.token('team-1', 'a1', 'auditor');
  });
  afterAll(() => t.close());

  const send = (method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload: string, token = owner) =>
    t.call(method, url, { token, body: payload });
  const createKey = async (body: object) => {
    const created = await t.call('POST', KEYS, { token: owner, body });
    expect(created.status).toBe(200);
    return created.body.api_key_info as { uuid: string; name: string; expires_at: string | null };
  };
  const expectBadRequest = (answer: { status: number; body: any }, field: string | RegExp) => {
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ id: 'bad_request', code: 'VALIDATION_FAILED' });
    if (typeof field === 'string') expect(answer.body.details?.field).toBe(field);
    else expect(answer.body.message).toMatch(field);
  };

  describe('pathological JSON', () => {
    let uuid: string;
    beforeAll(async () => {
      uuid = (await createKey({ name: 'json-target' })).uuid;
    });

    // Every row has all five columns: jest takes a test function with more parameters than the row
    // has columns for one that waits for a `done` callback.
    const routes: Array<[string, 'POST' | 'PUT' | 'PATCH', () => string, (inner: string) => string, 'owner' | 'gateway']> = [
      ['DigitalOcean create', 'POST', () => KEYS, (inner) => `{"name":"k","models":${inner}}`, 'owner'],
      ['DigitalOcean rename', 'PUT', () => `${KEYS}/${uuid}`, (inner) => `{"name":"k","models":${inner}}`, 'owner'],
      ['Gcore create', 'POST', () => GCORE, (inner) => `{"name":"k","description":${inner}}`, 'owner'],
      ['Gcore update', 'PATCH', () => `${GCORE}/k`, (inner) => `{"deployment_names":${inner}}`, 'owner'],
      ['provider-key create', 'POST', () => ANTHROPIC, (inner) => `{"name":"k","api_key":${inner}}`, 'owner'],
      ['verify', 'POST', () => '/v1/keys/verify', (inner) => `{"key":${inner}}`, 'gateway'],
    ];

    it.each(routes)('refuses a body nested 1,313 levels deep before validation (%s)', async (_, method, url, body, who) => {
      expectBadRequest(await send(method, url(), body(nested(1313)), who === 'gateway' ? gateway : owner), /nests deeper than 32 levels/);
    });

    it('accepts 32 levels and refuses 33', async () => {
      // 32 levels in all: the body object is the first.
      expectBadRequest(await send('POST', KEYS, `{"name":"k","models":${nested(31)}}`), 'models');
      expectBadRequest(await send('POST', KEYS, `{"name":"k","models":${nested(32)}}`), /nests deeper than 32 levels/);
    });

    it.each(routes)('refuses a string that is not well-formed Unicode (%s)', async (_, method, url, body, who) => {
      expectBadRequest(await send(method, url(), body('"a\\ud800b"'), who === 'gateway' ? gateway : owner), /not well-formed Unicode/);
    });

    it('refuses a lone surrogate in a name, on every route that sets one, and stores nothing', async () => {
      expectBadRequest(await send('POST', GCORE, '{"name":"a\\ud800b"}'), 'name');
      expectBadRequest(await send('POST', KEYS, '{"name":"a\\udc00b"}'), 'name');
      expectBadRequest(await send('PUT', `${KEYS}/${uuid}`, '{"name":"a\\ud800"}'), 'name');
      expectBadRequest(await send('POST', GCORE, '{"name":"ok","description":"\\ud800"}'), 'description');
      const listed = await t.call('GET', `${KEYS}?per_page=200`, { token: owner });
      expect(listed.body.api_key_infos.every((k: { name: string }) => k.name.isWellFormed())).toBe(true);
    });

    it.each([
      ['PUT', (): string => `${KEYS}/${uuid}`, '{"name":"x","models":null}', 'models'],
      ['PUT', (): string => `${KEYS}/${uuid}`, '{"name":"x","batch_inference_enabled":null}', 'batch_inference_enabled'],
      ['PUT', (): string => `${KEYS}/${uuid}`, '{"name":null}', 'name'],
      ['PUT', (): string => `${KEYS}/${uuid}`, '{"name":"x","api_key_uuid":null}', 'api_key_uuid'],
      ['POST', (): string => KEYS, '{"name":"x","models":null}', 'models'],
      ['POST', (): string => KEYS, '{"name":null}', 'name'],
      ['POST', (): string => KEYS, '{"name":"x","batch_inference_enabled":null}', 'batch_inference_enabled'],
      ['PUT', (): string => `${KEYS}/${uuid}/regenerate`, '{"confirm_name":null}', 'confirm_name'],
      ['DELETE', (): string => `${KEYS}/${uuid}`, '{"confirm_name":null}', 'confirm_name'],
      ['POST', (): string => `${KEYS}/${uuid}/deployments`, '{"deployment_name":null}', 'deployment_name'],
      ['POST', (): string => GCORE, '{"name":null}', 'name'],
      ['PATCH', (): string => `${GCORE}/k`, '{"deployment_names":null}', 'deployment_names'],
      ['POST', (): string => ANTHROPIC, '{"name":"k","api_key":null}', 'api_key'],
    ] as const)('refuses null where a field is not nullable: %s %s %s', async (method, url, body, field) => {
      if (method === 'PATCH') await t.call('POST', GCORE, { token: owner, body: { name: 'k' } });
      expectBadRequest(await send(method, url(), body), field);
    });

    it('refuses null in the verify route', async () => {
      expectBadRequest(await send('POST', '/v1/keys/verify', '{"key":"mak_x","model":null}', gateway), 'model');
    });

    it('still takes null where it means "none" or "never"', async () => {
      const key = await createKey({ name: 'nulls', vpc_uuid: null, description: null, expires_at: null });
      expect(key.expires_at).toBeNull();
    });

    it.each(['__proto__', 'constructor', 'prototype'])('refuses %s like any unknown field', async (name) => {
      expectBadRequest(await send('POST', KEYS, `{"name":"k","${name}":{"admin":true}}`), name);
      expectBadRequest(await send('POST', GCORE, `{"name":"k2","${name}":1}`), name);
      expectBadRequest(await send('POST', '/v1/keys/verify', `{"key":"mak_x","${name}":{}}`, gateway), name);
      expectBadRequest(await send('PUT', `${KEYS}/${uuid}`, `{"name":"k","${name}":null}`), name);
    });

    it.each(['null', '[]', '"name"', '7', 'true'])('refuses a body that is not an object: %s', async (body) => {
      const answer = await send('POST', KEYS, body);
      expect(answer.status).toBe(400);
      expect(answer.body.id).toBe('bad_request');
    });
  });

  describe('names', () => {
    it.each([
      ['NUL', 'a\u0000b'],
      ['a control character', 'bell\u0007'],
      ['DEL', 'a\u007fb'],
      ['a right-to-left override', 'invoice\u202Etxt.exe'],
      ['a bidirectional isolate', 'a\u2067b'],
      ['only whitespace', '   '],
      ['256 characters', 'n'.repeat(256)],
    ])('refuses %s on DigitalOcean create and rename, and Gcore create', async (_, name) => {
      expectBadRequest(await t.call('POST', KEYS, { token: owner, body: { name } }), 'name');
      const { uuid } = await createKey({ name: 'rename-me' });
      expectBadRequest(await t.call('PUT', `${KEYS}/${uuid}`, { token: owner, body: { name } }), 'name');
      expectBadRequest(await t.call('POST', GCORE, { token: owner, body: { name } }), 'name');
    });

    it.each(['..', '.', 'a/b', 'a\\b'])('refuses the Gcore name %j, which no standard client could address', async (name) => {
      expectBadRequest(await t.call('POST', GCORE, { token: owner, body: { name } }), 'name');
    });

    it('refuses a DigitalOcean rename that would make a Gcore key unaddressable', async () => {
      await t.call('POST', GCORE, { token: owner, body: { name: 'addressed' } });
      const listed = await t.call('GET', `${KEYS}?per_page=200`, { token: owner });
      const { uuid } = listed.body.api_key_infos.find((k: { name: string }) => k.name === 'addressed');
      const answer = await t.call('PUT', `${KEYS}/${uuid}`, { token: owner, body: { name: 'a/b' } });
      expect(answer.status).toBe(422);
      expect(answer.body).toMatchObject({ code: 'NAME_NOT_ADDRESSABLE', details: { field: 'name' } });
      expect((await t.call('GET', `${GCORE}/addressed`, { token: owner })).status).toBe(200);
    });

    it.each([
      ['255 ASCII characters', 'g'.repeat(255)],
      ['255 four-byte characters', '\u{1F511}'.repeat(255)],
      ['dots that are not a dot-segment', '...'],
      ['reserved URL characters', 'a?b#c%d&e'],
    ])('a Gcore name of %s is addressable in every path that takes it', async (_, name) => {
      const path = `${GCORE}/${encodeURIComponent(name)}`;
      expect((await t.call('POST', GCORE, { token: owner, body: { name } })).status).toBe(201);
      expect((await t.call('GET', path, { token: owner })).body).toMatchObject({ name });
      expect((await t.call('PATCH', path, { token: owner, body: { description: 'found' } })).body).toMatchObject({ description: 'found' });
      expect((await t.call('DELETE', path, { token: owner })).status).toBe(204);
      expect((await t.call('GET', path, { token: owner })).status).toBe(404);
    });

    it('a deployment name of 128 characters is addressable in the detach path', async () => {
      const { uuid } = await createKey({ name: 'long-deployment' });
      const deployment = `d${'e'.repeat(127)}`;
      expect((await t.call('POST', `${KEYS}/${uuid}/deployments`, { token: owner, body: { deployment_name: deployment } })).status).toBe(200);
      const detached = await t.call('DELETE', `${KEYS}/${uuid}/deployments/${deployment}`, { token: owner });
      expect(detached.status).toBe(200);
      expect(detached.body.api_key_info.deployment_names).toEqual([]);
    });

    it('normalizes names to NFC before uniqueness, lookups and confirmation', async () => {
      const decomposed = 'cafe\u0301';
      const composed = 'caf\u00e9';
      const created = await t.call('POST', GCORE, { token: owner, body: { name: decomposed } });
      expect(created.body.name).toBe(composed);
      const again = await t.call('POST', GCORE, { token: owner, body: { name: composed } });
      expect(again.status).toBe(409);
      expect((await t.call('GET', `${GCORE}/${encodeURIComponent(decomposed)}`, { token: owner })).status).toBe(200);

      const key = await createKey({ name: ` Re\u0301sume\u0301 ` });
      expect(key.name).toBe('R\u00e9sum\u00e9');
      const confirmed = await t.call('PUT', `${KEYS}/${key.uuid}/regenerate`, { token: owner, body: { confirm_name: 'Re\u0301sume\u0301' } });
      expect(confirmed.status).toBe(200);
    });
  });

  describe('instants need a zone', () => {
    it.each([
      ['DigitalOcean create', 'POST', (): string => KEYS, { name: 'tz' }],
      ['Gcore create', 'POST', (): string => GCORE, { name: 'tz' }],
    ] as const)('refuses a date-time without an offset (%s)', async (_, method, url, body) => {
      expectBadRequest(await t.call(method, url(), { token: owner, body: { ...body, expires_at: '2027-01-31T10:00:00' } }), 'expires_at');
    });

    it('refuses one in a Gcore update too', async () => {
      await t.call('POST', GCORE, { token: owner, body: { name: 'tz-update' } });
      expectBadRequest(await t.call('PATCH', `${GCORE}/tz-update`, { token: owner, body: { expires_at: '2027-01-31T10:00:00' } }), 'expires_at');
    });

    it.each(['2027-02-30', '2027-13-01', '2027-01-31T25:00:00Z', '2027-01-31 10:00:00Z', 'tomorrow', '1e20'])('refuses %j', async (expires_at) => {
      expectBadRequest(await t.call('POST', KEYS, { token: owner, body: { name: 'tz', expires_at } }), 'expires_at');
    });

    it('reads a plain date as 00:00 UTC and an offset as given, whatever the host zone', async () => {
      expect((await createKey({ name: 'date', expires_at: '2027-01-31' })).expires_at).toBe('2027-01-31T00:00:00.000Z');
      expect((await createKey({ name: 'offset', expires_at: '2027-01-31T10:00:00+01:00' })).expires_at).toBe('2027-01-31T09:00:00.000Z');
      expect((await createKey({ name: 'zulu', expires_at: '2027-01-31T10:00:00.5Z' })).expires_at).toBe('2027-01-31T10:00:00.500Z');
    });

    it('refuses as_of without an offset in the audit API, and reads a date as 00:00 UTC', async () => {
      const { uuid } = await createKey({ name: 'audited' });
      const state = (asOf: string) => t.call('GET', `/v1/audit/keys/${uuid}/state?as_of=${encodeURIComponent(asOf)}`, { token: auditor });
      expectBadRequest(await state('2026-11-30T12:00:00'), 'as_of');
      const before = await state('2026-11-30');
      expect(before.status).toBe(200);
      expect(before.body.existed).toBe(false);
      expect((await state('2099-01-01T00:00:00-08:00')).body.existed).toBe(true);
    });
  });

  describe('commands that would succeed into a dead state', () => {
    it('refuses to regenerate or attach an expired key (409 KEY_EXPIRED), and lets it be renamed, detached and deleted', async () => {
      const { uuid } = await createKey({ name: 'short-lived', expires_at: '2026-11-30T13:00:00Z' });
      const attach = (deployment_name: string) => t.call('POST', `${KEYS}/${uuid}/deployments`, { token: owner, body: { deployment_name } });
      expect((await attach('before')).status).toBe(200);
      now.value = new Date('2026-11-30T13:00:00.000Z');
      try {
        const regenerated = await t.call('PUT', `${KEYS}/${uuid}/regenerate`, { token: owner });
        expect(regenerated.status).toBe(409);
        expect(regenerated.body).toMatchObject({ id: 'conflict', code: 'KEY_EXPIRED' });
        expect(regenerated.body.api_key_info).toBeUndefined();
        expect((await attach('after')).body).toMatchObject({ code: 'KEY_EXPIRED' });
        expect((await t.call('PUT', `${KEYS}/${uuid}`, { token: owner, body: { name: 'retired' } })).status).toBe(200);
        expect((await t.call('DELETE', `${KEYS}/${uuid}/deployments/before`, { token: owner })).status).toBe(200);
        expect((await t.call('DELETE', `${KEYS}/${uuid}`, { token: owner })).status).toBe(200);
      } finally {
        now.value = new Date('2026-11-30T12:00:00.000Z');
      }
    });
  });

  describe('what a review found', () => {
    const raw = (method: 'POST' | 'PUT' | 'DELETE' | 'GET' | 'HEAD', url: string, payload?: Buffer | string, headers: Record<string, string> = {}) =>
      t.app.inject({ method, url, payload, headers: { authorization: `Bearer ${owner}`, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}), ...headers } });

    it('refuses body bytes that are not UTF-8 instead of storing U+FFFD', async () => {
      for (const bytes of [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
        const payload = Buffer.concat([Buffer.from('{"name":"bad-'), Buffer.from(bytes), Buffer.from('"}')]);
        for (const url of [KEYS, GCORE]) {
          const answer = await raw('POST', url, payload);
          expect(answer.statusCode).toBe(400);
          expect(answer.json()).toMatchObject({ code: 'VALIDATION_FAILED', message: 'the request body is not valid UTF-8' });
        }
      }
    });

    it.each(['null', 'true', '""', '[]', '7'])('refuses the body %s on regenerate and delete, changing nothing', async (payload) => {
      const { uuid } = await createKey({ name: `body-${payload.length}` });
      for (const [method, url] of [['PUT', `${KEYS}/${uuid}/regenerate`], ['DELETE', `${KEYS}/${uuid}`]] as const) {
        const answer = await raw(method, url, payload);
        expect(answer.statusCode).toBe(400);
        expect(answer.json()).toMatchObject({ message: 'the request body must be a JSON object', details: { field: 'body' } });
      }
      expect((await t.call('GET', `${KEYS}/${uuid}`, { token: owner })).body.api_key_info.deleted_at).toBeNull();
    });

    it('answers router errors in the service shape, without echoing the path', async () => {
      const long = await raw('GET', `${GCORE}/${'a'.repeat(3061)}`);
      expect(long.statusCode).toBe(414);
      expect(long.json()).toMatchObject({ id: 'uri_too_long', code: 'URI_TOO_LONG', request_id: expect.any(String) });
      expect(long.body).not.toContain('aaaa');
      expect(long.headers['x-request-id']).toEqual(expect.any(String));
      const badEncoding = await raw('GET', `${GCORE}/%FF`);
      expect(badEncoding.statusCode).toBe(400);
      expect(badEncoding.json()).toMatchObject({ id: 'bad_request', message: 'the path is not valid percent-encoded UTF-8' });
    });

    it('answers HEAD on the revocation stream at once, without a body', async () => {
      const answer = await t.app.inject({ method: 'HEAD', url: '/v1/revocations/stream?after=0', headers: { authorization: `Bearer ${gateway}` } });
      expect(answer.statusCode).toBe(200);
      expect(answer.headers['content-type']).toContain('text/event-stream');
      expect(answer.body).toBe('');
    });

    it.each([
      ['a lone surrogate', { team_id: 'team-\ud800', sub: '1' }],
      ['an empty team', { team_id: '', sub: '1' }],
      ['an empty user', { team_id: 'team-1', sub: '' }],
      ['NUL in the team', { team_id: 'team\u0000', sub: '1' }],
      ['a slash in the team', { team_id: 'a/b', sub: '1' }],
      ['an override in the user', { team_id: 'team-1', sub: 'u\u202e' }],
    ])('refuses a signed token whose claims hold %s (401)', async (_, claims) => {
      const token = jwt.sign({ ...claims, role: 'owner' }, DEVELOPMENT_JWT_SECRET, { algorithm: 'HS256', expiresIn: 600 });
      const answer = await t.call('GET', KEYS, { token });
      expect(answer.status).toBe(401);
      expect(answer.body.message).toMatch(/^invalid token: (team_id|sub) must be/);
    });

    it.each([
      ['a zero width space', 'pr\u200bod'],
      ['a soft hyphen', 'pr\u00adod'],
      ['a word joiner', 'pr\u2060od'],
      ['a replacement character', 'bad-\ufffd'],
    ])('refuses %s in names, so that look-alikes cannot be told apart', async (_, name) => {
      expectBadRequest(await t.call('POST', GCORE, { token: owner, body: { name } }), 'name');
      expectBadRequest(await t.call('POST', KEYS, { token: owner, body: { name } }), 'name');
    });

    it('refuses control characters and bidirectional marks in model ids', async () => {
      for (const models of [['a\u0000b'], ['llama\u202e'], [' ']]) {
        expectBadRequest(await t.call('POST', KEYS, { token: owner, body: { name: 'models', models } }), 'models');
      }
    });

    it.each(['__proto__', 'constructor', 'prototype'])('refuses the query parameter %s like an unknown one', async (name) => {
      expectBadRequest(await t.call('GET', `${KEYS}?${name}=1`, { token: owner }), name);
    });

    it('finds a key by its uuid in upper case, as gRPC does', async () => {
      const { uuid } = await createKey({ name: 'upper' });
      expect((await t.call('GET', `${KEYS}/${uuid.toUpperCase()}`, { token: owner })).body.api_key_info.uuid).toBe(uuid);
    });

    it('reads X-Confirm-Name sent as UTF-8', async () => {
      const { uuid } = await createKey({ name: 'caf\u00e9-confirm' });
      const header = Buffer.from('caf\u00e9-confirm', 'utf8').toString('latin1');
      const answer = await t.app.inject({ method: 'PUT', url: `${KEYS}/${uuid}/regenerate`, headers: { authorization: `Bearer ${owner}`, 'x-confirm-name': header } });
      expect(answer.statusCode).toBe(200);
    });
  });
});
