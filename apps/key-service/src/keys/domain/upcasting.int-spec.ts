import { createHash, randomUUID } from 'node:crypto';
import { KEYS, TestApp, startTestApp } from '../../../../../test/support/test-app';
import { ProjectionRunner } from '../../read-side/projection-runner';
import { decodeKeyEvent } from './model-access-key.codec';
import { keyStreamId } from './model-access-key.events';

/** Events stored in an older shape, as JSON, are read in the current shape by every reader. */
describe('event upcasting', () => {
  it('decodes the first ModelAccessKeyCreated shape (a single model, no expiry, VPC or batch flag)', () => {
    const event = decodeKeyEvent({
      type: 'ModelAccessKeyCreated',
      data: { keyUuid: 'k', teamId: 't', createdBy: 'u', name: 'n', model: 'llama', secretHash: 'h', secretPrefix: 'p', createdAt: 'T' },
    });
    expect(event).toEqual({
      type: 'ModelAccessKeyCreated',
      data: {
        keyUuid: 'k',
        teamId: 't',
        createdBy: 'u',
        name: 'n',
        models: ['llama'],
        vpcUuid: null,
        batchInferenceEnabled: false,
        description: null,
        expiresAt: null,
        secretHash: 'h',
        secretPrefix: 'p',
        createdAt: 'T',
      },
    });
  });

  describe('through the service', () => {
    let t: TestApp;
    beforeEach(async () => {
      t = await startTestApp();
    });
    afterEach(() => t.close());

    it('serves, changes and verifies a key whose creation is stored in the old shape', async () => {
      const uuid = randomUUID();
      const secret = 'mak_old-shape-secret';
      const { lastPosition } = await t.store.appendToStream(
        keyStreamId(uuid),
        [
          {
            type: 'ModelAccessKeyCreated',
            data: {
              keyUuid: uuid,
              teamId: 'team-1',
              createdBy: 'u1',
              name: 'old',
              model: 'llama',
              secretHash: createHash('sha256').update(secret).digest('hex'),
              secretPrefix: 'mak_old-shap',
              createdAt: '2025-01-01T00:00:00.000Z',
            },
          },
        ],
        'no_stream',
      );
      await t.app.get(ProjectionRunner).waitFor(lastPosition);
      const owner = t.token('team-1', 'u1', 'owner');
      const got = await t.call('GET', `${KEYS}/${uuid}`, { token: owner });
      expect(got.body.api_key_info).toMatchObject({ name: 'old', models: ['llama'], description: null, expires_at: null, vpc_uuid: null });
      const renamed = await t.call('PUT', `${KEYS}/${uuid}`, { token: owner, body: { name: 'renamed' } });
      expect(renamed.status).toBe(200);
      const verified = await t.call('POST', '/v1/keys/verify', { token: t.token('p', 'gw', 'gateway'), body: { key: secret, model: 'llama' } });
      expect(verified.body).toMatchObject({ valid: true, key_uuid: uuid });
      const stored = await t.store.readStream(keyStreamId(uuid));
      expect(stored[0].type).toBe('ModelAccessKeyCreated');
      expect(stored[0].data).toHaveProperty('model', 'llama');
    });
  });
});
