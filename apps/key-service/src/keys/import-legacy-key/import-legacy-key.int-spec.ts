import { CommandBus } from '@nestjs/cqrs';
import { createHash, randomBytes } from 'node:crypto';
import { KEYS, TestApp, startTestApp } from '../../../../../test/support/test-app';
import { DomainError } from '../../common/domain-error';
import { ImportLegacyKeyCommand, ImportLegacyKeyInput } from './import-legacy-key.command';

const sha256 = (secret: string) => createHash('sha256').update(secret).digest('hex');

describe('keyctl import-legacy (the command behind it)', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp();
  });
  afterEach(async () => t.close());

  const importKey = (input: Partial<ImportLegacyKeyInput>) =>
    t.app.get(CommandBus).execute(
      new ImportLegacyKeyCommand({
        teamId: 'team-1',
        createdBy: '900',
        name: 'legacy',
        secretHash: sha256(randomBytes(16).toString('hex')),
        secretPrefix: null,
        createdAt: null,
        keyUuid: null,
        ...input,
      }),
    );
  const refusal = async (input: Partial<ImportLegacyKeyInput>) => {
    const error = await importKey(input).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  };
  const imported = async () => (await t.store.readAll(0)).filter((e) => e.type === 'LegacyModelAccessKeyImported');

  it('refuses a secret hash that a live key of any team holds, and takes it once that key is deleted', async () => {
    const hash = sha256('mak_legacy-secret');
    const first = await importKey({ teamId: 'team-1', secretHash: hash });
    for (const again of [{ teamId: 'team-2' }, { teamId: 'team-1', name: 'other' }, { teamId: 'team-2', secretHash: hash.toUpperCase() }]) {
      const error = await refusal({ secretHash: hash, ...again });
      expect(error.code).toBe('KEY_ALREADY_EXISTS');
      expect(error.message).toContain('secret hash is already in use');
    }
    expect(await imported()).toHaveLength(1);

    // A key created through the API holds its hash as well.
    const owner = t.token('team-1', 'u1', 'owner');
    const created = await t.call('POST', KEYS, { token: owner, body: { name: 'made-here' } });
    expect((await refusal({ teamId: 'team-2', secretHash: sha256(created.body.api_key_info.secret_key) })).code).toBe('KEY_ALREADY_EXISTS');

    const deleted = await t.call('DELETE', `${KEYS}/${first.keyUuid}`, { token: owner, headers: { 'x-confirm-name': 'legacy' } });
    expect(deleted.status).toBe(200);
    const second = await importKey({ teamId: 'team-2', secretHash: hash });
    expect(second).toMatchObject({ teamId: 'team-2', secretHash: hash });
  });

  it('requires --uuid to be a UUID, and stores it lower-case', async () => {
    for (const uuid of ['not-a-uuid', '', '6f1f5c3e-1111-4111-8111-11111111111', '6f1f5c3e-1111-4111-8111-111111111111/../x']) {
      const error = await refusal({ keyUuid: uuid });
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.message).toContain('uuid must be a UUID');
    }
    expect(await imported()).toEqual([]);
    const key = await importKey({ keyUuid: '6F1F5C3E-AAAA-4BBB-8CCC-DDDDDDDDDDDD' });
    expect(key.keyUuid).toBe('6f1f5c3e-aaaa-4bbb-8ccc-dddddddddddd');
    expect((await imported())[0].streamId).toBe('model_access_key-6f1f5c3e-aaaa-4bbb-8ccc-dddddddddddd');
  });

  it('refuses a --created-at later than now; an earlier one is kept', async () => {
    const error = await refusal({ createdAt: new Date(Date.now() + 3_600_000).toISOString() });
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.message).toContain('created_at must not be later than now');
    expect(await imported()).toEqual([]);
    expect((await importKey({ createdAt: '2021-03-01T00:00:00.000Z' })).createdAt).toBe('2021-03-01T00:00:00.000Z');
  });

  it('takes a --secret-prefix of 1-16 printable ASCII characters without spaces', async () => {
    for (const prefix of ['', 'has space', 'x'.repeat(17), 'mak_\u00e9', 'mak_\n', 'mak_\u0000', '\u202Emak_']) {
      const error = await refusal({ secretPrefix: prefix });
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.message).toContain('secret prefix');
    }
    expect(await imported()).toEqual([]);
    for (const prefix of ['mak_abcd1234', 'sk-legacy_ab/+=', 'x'.repeat(16)]) expect((await importKey({ secretPrefix: prefix })).secretPrefix).toBe(prefix);
  });
});
