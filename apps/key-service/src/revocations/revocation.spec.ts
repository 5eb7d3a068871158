import { ModelAccessKeyEvent } from '../keys/domain/model-access-key.events';
import { revocationOf } from './revocation';

const base = { keyUuid: 'k1', teamId: 't1' };
const hashes = new Map([['k1', 'current']]);
const current = (keyUuid: string) => hashes.get(keyUuid);

describe('revocationOf', () => {
  it('a regenerate revokes the old hash', () => {
    const event: ModelAccessKeyEvent = {
      type: 'ModelAccessKeySecretRegenerated',
      data: { ...base, revokedSecretHash: 'old', secretHash: 'new', secretPrefix: 'mak_', regeneratedAt: 'T' },
    };
    expect(revocationOf(event, 7, current)).toEqual({
      position: 7,
      key_uuid: 'k1',
      team_id: 't1',
      secret_hashes: ['old'],
      reason: 'regenerated',
      deployment_name: null,
      occurred_at: 'T',
    });
  });

  it('a delete and an expiry revoke the hash they name', () => {
    expect(revocationOf({ type: 'ModelAccessKeyDeleted', data: { ...base, revokedSecretHash: 'h', deletedAt: 'T' } }, 1, current)).toMatchObject({
      reason: 'deleted',
      secret_hashes: ['h'],
    });
    expect(
      revocationOf({ type: 'ModelAccessKeyExpired', data: { ...base, revokedSecretHash: 'h', expiresAt: 'E', expiredAt: 'T' } }, 2, current),
    ).toMatchObject({ reason: 'expired', secret_hashes: ['h'], occurred_at: 'T' });
  });

  it('a detach revokes the current hash for that deployment only', () => {
    expect(
      revocationOf({ type: 'ModelAccessKeyDeploymentDetached', data: { ...base, deploymentName: 'dep-a', detachedAt: 'T' } }, 3, current),
    ).toMatchObject({ reason: 'deployment_detached', secret_hashes: ['current'], deployment_name: 'dep-a' });
  });

  it('events that add or rename give no revocation', () => {
    expect(revocationOf({ type: 'ModelAccessKeyRenamed', data: { ...base, name: 'n', renamedAt: 'T' } }, 4, current)).toBeNull();
    expect(
      revocationOf({ type: 'ModelAccessKeyDeploymentAttached', data: { ...base, deploymentName: 'd', attachedAt: 'T' } }, 5, current),
    ).toBeNull();
  });
});
