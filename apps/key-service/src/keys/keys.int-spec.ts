import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { KEYS, TestApp, startTestApp } from '../../../../test/support/test-app';
import { hashSecret } from './shared/secret-generator';
import { keyStreamId } from './domain/model-access-key.events';
import { ProjectionRunner } from '../read-side/projection-runner';

describe('model access keys on the SQLite store', () => {
  let t: TestApp;
  let owner: string;
  beforeEach(async () => {
    t = await startTestApp();
    owner = t.token('team-1', '100', 'owner');
  });
  afterEach(() => t.close());

  const create = (body: object = { name: 'test-key' }, headers: Record<string, string> = {}) =>
    t.call('POST', KEYS, { token: owner, body, headers });
  const streamOf = async (uuid: string) => t.store.readStream(keyStreamId(uuid));

  describe('create', () => {
    it('returns the secret once, with a recognisable prefix and 256 bits, and stores only its SHA-256', async () => {
      const { status, body } = await create({ name: '  test-key  ' });
      expect(status).toBe(200);
      const info = body.api_key_info;
      expect(info).toMatchObject({ name: 'test-key', created_by: '100', deleted_at: null, models: 'all', vpc_uuid: null, legacy: false });
      expect(info.secret_key).toMatch(/^mak_[A-Za-z0-9_-]{43}$/);
      expect(info.secret_prefix).toBe(info.secret_key.slice(0, 12));
      const [created] = await streamOf(info.uuid);
      expect(created.data).toMatchObject({ secretHash: hashSecret(info.secret_key), secretPrefix: info.secret_prefix });
      const got = await t.call('GET', `${KEYS}/${info.uuid}`, { token: owner });
      expect(got.body.api_key_info.secret_key).toBeUndefined();
      const files = fs.readdirSync(t.dataDir).map((f) => fs.readFileSync(path.join(t.dataDir, f)).toString('latin1'));
      expect(files.some((content) => content.includes(info.secret_key))).toBe(false);
    });

    it('takes a model list, a VPC, a description and an expiry date meaning 00:00 UTC', async () => {
      const vpc = '5a4981aa-9653-4bd1-bef5-d6bff52042e4';
      const { status, body } = await create({ name: 'scoped', models: ['llama3', 'mistral'], vpc_uuid: vpc, description: 'ci', expires_at: '2099-03-01' });
      expect(status).toBe(200);
      expect(body.api_key_info).toMatchObject({ models: ['llama3', 'mistral'], vpc_uuid: vpc, description: 'ci', expires_at: '2099-03-01T00:00:00.000Z' });
    });

    it.each([
      [{ name: '' }, 'name'],
      [{ name: '   ' }, 'name'],
      [{ name: 'x'.repeat(256) }, 'name'],
      [{ name: 7 }, 'name'],
      [{}, 'name'],
      [{ name: 'k', models: [] }, 'models'],
      [{ name: 'k', models: 'some' }, 'models'],
      [{ name: 'k', vpc_uuid: 'not-a-uuid' }, 'vpc_uuid'],
      [{ name: 'k', batch_inference_enabled: 'yes' }, 'batch_inference_enabled'],
      [{ name: 'k', expires_at: 'tomorrow' }, 'expires_at'],
      [{ name: 'k', secret_key: 'mine' }, 'secret_key'],
    ])('answers 400 naming the field for %j', async (body, field) => {
      const { status, body: error } = await create(body);
      expect(status).toBe(400);
      expect(error).toMatchObject({ id: 'bad_request', details: { field } });
      expect(error.message).toContain(field);
      expect(typeof error.request_id).toBe('string');
    });

    it('answers 400 for malformed JSON and 415 for a body that is not JSON', async () => {
      expect((await t.call('POST', KEYS, { token: owner, body: '{"name":', headers: { 'content-type': 'application/json' } })).status).toBe(400);
      expect((await t.call('POST', KEYS, { token: owner, body: 'name=x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    });

    it('answers 422 for batch inference with a model list, and for an expiry in the past', async () => {
      const batch = await create({ name: 'k', models: ['llama3'], batch_inference_enabled: true });
      expect(batch.status).toBe(422);
      expect(batch.body.id).toBe('unprocessable_entity');
      expect((await create({ name: 'k', expires_at: '2001-01-01' })).status).toBe(422);
      expect((await create({ name: 'k', batch_inference_enabled: true })).status).toBe(200);
    });
  });

  it('rename keeps the secret', async () => {
    const { api_key_info: key } = (await create()).body;
    const renamed = await t.call('PUT', `${KEYS}/${key.uuid}`, { token: owner, body: { api_key_uuid: key.uuid, name: 'test-key2' } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.api_key_info).toMatchObject({ uuid: key.uuid, name: 'test-key2', secret_prefix: key.secret_prefix });
    expect(renamed.body.api_key_info.secret_key).toBeUndefined();
    const events = await streamOf(key.uuid);
    expect(events.map((e) => e.type)).toEqual(['ModelAccessKeyCreated', 'ModelAccessKeyRenamed']);
    expect(JSON.stringify(events[1].data)).not.toContain('secret');
  });

  it('rename with another uuid in the body is refused', async () => {
    const { api_key_info: key } = (await create()).body;
    const other = '11efb7d6-cdb5-6388-bf8f-4e013e2ddde4';
    const answer = await t.call('PUT', `${KEYS}/${key.uuid}`, { token: owner, body: { api_key_uuid: other, name: 'x' } });
    expect(answer.status).toBe(400);
    expect(answer.body.details.field).toBe('api_key_uuid');
  });

  it('regenerate gives a new secret once, keeps the uuid, and records the old hash as revoked', async () => {
    const { api_key_info: key } = (await create()).body;
    const answer = await t.call('PUT', `${KEYS}/${key.uuid}/regenerate`, { token: owner, headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(200);
    const fresh = answer.body.api_key_info;
    expect(fresh.uuid).toBe(key.uuid);
    expect(fresh.secret_key).toMatch(/^mak_/);
    expect(fresh.secret_key).not.toBe(key.secret_key);
    const regenerated = (await streamOf(key.uuid))[1];
    expect(regenerated.data).toMatchObject({ revokedSecretHash: hashSecret(key.secret_key), secretHash: hashSecret(fresh.secret_key) });
  });

  it('regenerate and delete with a mismatched confirm_name answer 412 and change nothing', async () => {
    const { api_key_info: key } = (await create()).body;
    const viaBody = await t.call('PUT', `${KEYS}/${key.uuid}/regenerate`, { token: owner, body: { confirm_name: 'other' } });
    const viaHeader = await t.call('DELETE', `${KEYS}/${key.uuid}`, { token: owner, headers: { 'x-confirm-name': 'other' } });
    expect([viaBody.status, viaHeader.status]).toEqual([412, 412]);
    expect(viaBody.body.id).toBe('precondition_failed');
    expect(await streamOf(key.uuid)).toHaveLength(1);
    const confirmed = await t.call('DELETE', `${KEYS}/${key.uuid}`, { token: owner, headers: { 'x-confirm-name': 'test-key' } });
    expect(confirmed.status).toBe(200);
  });

  it('delete is permanent: every command and read answers 404, the key leaves the lists, its history stays', async () => {
    const { api_key_info: key } = (await create()).body;
    const deleted = await t.call('DELETE', `${KEYS}/${key.uuid}`, { token: owner });
    expect(deleted.status).toBe(200);
    expect(deleted.body.api_key_info.deleted_at).toEqual(expect.any(String));
    const url = `${KEYS}/${key.uuid}`;
    const after = await Promise.all([
      t.call('GET', url, { token: owner }),
      t.call('PUT', url, { token: owner, body: { name: 'x' } }),
      t.call('PUT', `${url}/regenerate`, { token: owner }),
      t.call('DELETE', url, { token: owner }),
      t.call('POST', `${url}/deployments`, { token: owner, body: { deployment_name: 'd' } }),
      t.call('DELETE', `${url}/deployments/d`, { token: owner }),
    ]);
    expect(after.map((r) => r.status)).toEqual([404, 404, 404, 404, 404, 404]);
    expect((await t.call('GET', KEYS, { token: owner })).body.meta.total).toBe(0);
    expect((await streamOf(key.uuid)).map((e) => e.type)).toEqual(['ModelAccessKeyCreated', 'ModelAccessKeyDeleted']);
  });

  it('keys and deployments are many-to-many; an attached key cannot be deleted (409 naming the deployments)', async () => {
    const a = (await create({ name: 'a' })).body.api_key_info;
    const b = (await create({ name: 'b' })).body.api_key_info;
    for (const key of [a, b]) {
      for (const dep of ['dep-1', 'dep-2']) {
        expect((await t.call('POST', `${KEYS}/${key.uuid}/deployments`, { token: owner, body: { deployment_name: dep } })).status).toBe(200);
      }
    }
    const refused = await t.call('DELETE', `${KEYS}/${a.uuid}`, { token: owner });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toContain('dep-1, dep-2');
    const detached = await t.call('DELETE', `${KEYS}/${a.uuid}/deployments/dep-1`, { token: owner });
    expect(detached.body.api_key_info.deployment_names).toEqual(['dep-2']);
    expect((await t.call('GET', `${KEYS}/${b.uuid}`, { token: owner })).body.api_key_info.deployment_names).toEqual(['dep-1', 'dep-2']);
    expect((await t.call('DELETE', `${KEYS}/${a.uuid}/deployments/dep-1`, { token: owner })).status).toBe(404);
    expect((await t.call('POST', `${KEYS}/${a.uuid}/deployments`, { token: owner, body: { deployment_name: 'bad name!' } })).status).toBe(400);
    await t.call('DELETE', `${KEYS}/${a.uuid}/deployments/dep-2`, { token: owner });
    expect((await t.call('DELETE', `${KEYS}/${a.uuid}`, { token: owner })).status).toBe(200);
  });

  it('scope is immutable: models, VPC and the batch flag cannot change (422 saying so)', async () => {
    const { api_key_info: key } = (await create({ name: 'k', models: ['llama3'] })).body;
    for (const change of [{ models: 'all' }, { vpc_uuid: '5a4981aa-9653-4bd1-bef5-d6bff52042e4' }, { batch_inference_enabled: true }]) {
      const answer = await t.call('PUT', `${KEYS}/${key.uuid}`, { token: owner, body: { name: 'k2', ...change } });
      expect(answer.status).toBe(422);
      expect(answer.body.message).toContain('cannot be changed');
    }
    expect(await streamOf(key.uuid)).toHaveLength(1);
  });

  describe('Idempotency-Key', () => {
    it('a retry with the same key and body appends nothing and returns the first answer, secret included', async () => {
      const first = await create({ name: 'idem' }, { 'idempotency-key': 'req-1' });
      const second = await create({ name: 'idem' }, { 'idempotency-key': 'req-1' });
      expect(second.status).toBe(200);
      expect(second.body).toEqual(first.body);
      expect(await t.store.headPosition()).toBe(1);
      const regen1 = await t.call('PUT', `${KEYS}/${first.body.api_key_info.uuid}/regenerate`, { token: owner, headers: { 'idempotency-key': 'rot-1' } });
      const regen2 = await t.call('PUT', `${KEYS}/${first.body.api_key_info.uuid}/regenerate`, { token: owner, headers: { 'idempotency-key': 'rot-1' } });
      expect(regen2.body.api_key_info.secret_key).toBe(regen1.body.api_key_info.secret_key);
      expect(await t.store.headPosition()).toBe(2);
    });

    it('concurrent retries still make one key', async () => {
      const answers = await Promise.all(Array.from({ length: 5 }, () => create({ name: 'same' }, { 'idempotency-key': 'req-c' })));
      expect(new Set(answers.map((a) => a.body.api_key_info.secret_key)).size).toBe(1);
      expect(await t.store.headPosition()).toBe(1);
    });

    it('the same key with another body is refused with 422', async () => {
      await create({ name: 'one' }, { 'idempotency-key': 'req-2' });
      const reused = await create({ name: 'two' }, { 'idempotency-key': 'req-2' });
      expect(reused.status).toBe(422);
      expect(reused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    });

    it('keeps the replayable answer only encrypted, outside the event log', async () => {
      const { api_key_info: key } = (await create({ name: 'enc' }, { 'idempotency-key': 'req-3' })).body;
      const raw = fs.readFileSync(path.join(t.dataDir, 'idempotency.db')).toString('latin1') +
        fs.readFileSync(path.join(t.dataDir, 'idempotency.db-wal')).toString('latin1');
      expect(raw).not.toContain(key.secret_key);
      expect(raw).not.toContain(key.secret_key.slice(4, 20));
      const db = new Database(path.join(t.dataDir, 'idempotency.db'), { readonly: true });
      expect((db.prepare('SELECT COUNT(*) AS n FROM idempotency WHERE response IS NOT NULL').get() as { n: number }).n).toBe(1);
      db.close();
    });

    it('holds an answer for 24 hours only: after that the key may be used afresh', async () => {
      let now = new Date('2026-11-22T10:00:00.000Z');
      const pinned = await startTestApp({ clock: { now: () => now } });
      const token = pinned.token('team-1', '100', 'owner');
      const send = (name: string) => pinned.call('POST', KEYS, { token, body: { name }, headers: { 'idempotency-key': 'day-1' } });
      try {
        const first = await send('one');
        now = new Date('2026-11-23T09:59:00.000Z');
        expect((await send('one')).body).toEqual(first.body);
        expect((await send('two')).status).toBe(422);
        now = new Date('2026-11-23T10:00:01.000Z');
        const fresh = await send('two');
        expect(fresh.status).toBe(200);
        expect(fresh.body.api_key_info.name).toBe('two');
      } finally {
        await pinned.close();
      }
    });

    it('another user with the same Idempotency-Key gets their own key', async () => {
      const mine = await create({ name: 'k' }, { 'idempotency-key': 'shared' });
      const theirs = await t.call('POST', KEYS, { token: t.token('team-1', '200', 'member'), body: { name: 'k' }, headers: { 'idempotency-key': 'shared' } });
      expect(theirs.body.api_key_info.uuid).not.toBe(mine.body.api_key_info.uuid);
    });
  });

  it('100 concurrent renames of one key give 100 events with contiguous revisions; the final name is the last event’s', async () => {
    const { api_key_info: key } = (await create()).body;
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => t.call('PUT', `${KEYS}/${key.uuid}`, { token: owner, body: { name: `name-${i}` } })),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const events = await streamOf(key.uuid);
    expect(events).toHaveLength(101);
    expect(events.map((e) => e.revision)).toEqual(Array.from({ length: 101 }, (_, i) => i));
    const lastName = (events[100].data as { name: string }).name;
    expect((await t.call('GET', `${KEYS}/${key.uuid}`, { token: owner })).body.api_key_info.name).toBe(lastName);
  });

  it('pages as DigitalOcean does, newest first', async () => {
    for (let i = 0; i < 5; i++) await create({ name: `k${i}` });
    const page = await t.call('GET', `${KEYS}?page=2&per_page=2`, { token: owner });
    expect(page.body.meta).toEqual({ page: 2, pages: 3, total: 5 });
    expect(page.body.api_key_infos.map((k: { name: string }) => k.name)).toEqual(['k2', 'k1']);
    expect(page.body.links.pages.next).toContain('page=3&per_page=2');
    expect(page.body.links.pages.previous).toContain('page=1&per_page=2');
    expect((await t.call('GET', `${KEYS}?per_page=500`, { token: owner })).status).toBe(400);
    expect((await t.call('GET', `${KEYS}?view=everything`, { token: owner })).status).toBe(400);
  });

  it('the views catch up after a restart and rebuild from scratch to the same rows', async () => {
    const a = (await create({ name: 'a' })).body.api_key_info;
    await create({ name: 'b' });
    await t.call('PUT', `${KEYS}/${a.uuid}`, { token: owner, body: { name: 'a2' } });
    const before = (await t.call('GET', KEYS, { token: owner })).body;
    // Events appended while the service is down reach the views when it starts again.
    const dir = t.dataDir;
    await t.app.close();
    const { SqliteEventStore } = await import('@lib/event-store');
    const offline = new SqliteEventStore(path.join(dir, 'events.db'));
    const revision = (await offline.readStream(keyStreamId(a.uuid))).length - 1;
    await offline.appendToStream(keyStreamId(a.uuid), [{ type: 'ModelAccessKeyRenamed', data: { keyUuid: a.uuid, teamId: 'team-1', name: 'a3', renamedAt: new Date().toISOString() } }], revision);
    await offline.close();
    t = await startTestApp({}, dir);
    await waitFor(async () => (await t.call('GET', `${KEYS}/${a.uuid}`, { token: owner })).body.api_key_info.name === 'a3');
    expect((await t.call('GET', '/readyz')).status).toBe(200);
    const caughtUp = (await t.call('GET', KEYS, { token: owner })).body;
    await t.app.get(ProjectionRunner).rebuild();
    const rebuilt = (await t.call('GET', KEYS, { token: owner })).body;
    expect(rebuilt).toEqual(caughtUp);
    expect(caughtUp.api_key_infos.find((k: { uuid: string }) => k.uuid === a.uuid).name).toBe('a3');
    expect(before.meta.total).toBe(2);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
