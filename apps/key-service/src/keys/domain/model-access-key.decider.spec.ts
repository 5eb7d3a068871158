import { Principal } from '../../auth/principal';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { ModelAccessKeyCommand } from './model-access-key.commands';
import { decide } from './model-access-key.decider';
import { ModelAccessKeyEvent } from './model-access-key.events';
import { fold } from './model-access-key.state';

const NOW = '2026-11-22T10:00:00.000Z';
const LATER = '2026-11-22T11:00:00.000Z';
const KEY = '11efb7d6-cdb5-6388-bf8f-4e013e2ddde4';
const owner: Principal = { teamId: 'team-1', userId: '1', role: 'owner' };
const member: Principal = { teamId: 'team-1', userId: '2', role: 'member' };
const otherMember: Principal = { teamId: 'team-1', userId: '3', role: 'member' };
const auditor: Principal = { teamId: 'team-1', userId: '4', role: 'auditor' };
const stranger: Principal = { teamId: 'team-2', userId: '1', role: 'owner' };
const secret = { hash: 'a'.repeat(64), prefix: 'mak_aaaaaaaa' };
const newSecret = { hash: 'b'.repeat(64), prefix: 'mak_bbbbbbbb' };

function given(...events: ModelAccessKeyEvent[]) {
  return {
    when: (command: ModelAccessKeyCommand) => ({
      then: (expected: ModelAccessKeyEvent[]) => expect(decide(command, fold(events))).toEqual(expected),
      thenFails: (code: ErrorCode) => {
        let thrown: unknown;
        try {
          decide(command, fold(events));
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(DomainError);
        expect((thrown as DomainError).code).toBe(code);
      },
    }),
  };
}

const create = (overrides: Partial<Extract<ModelAccessKeyCommand, { type: 'CreateModelAccessKey' }>> = {}): ModelAccessKeyCommand => ({
  type: 'CreateModelAccessKey',
  keyUuid: KEY,
  actor: member,
  name: 'test-key',
  models: 'all',
  vpcUuid: null,
  batchInferenceEnabled: false,
  description: null,
  expiresAt: null,
  secret,
  now: NOW,
  ...overrides,
});

const created = (by: Principal = member): ModelAccessKeyEvent => ({
  type: 'ModelAccessKeyCreated',
  data: {
    keyUuid: KEY,
    teamId: by.teamId,
    createdBy: by.userId,
    name: 'test-key',
    models: 'all',
    vpcUuid: null,
    batchInferenceEnabled: false,
    description: null,
    expiresAt: null,
    secretHash: secret.hash,
    secretPrefix: secret.prefix,
    createdAt: NOW,
  },
});

const legacyImported: ModelAccessKeyEvent = {
  type: 'LegacyModelAccessKeyImported',
  data: { keyUuid: KEY, teamId: 'team-1', createdBy: '9', name: 'old', secretHash: secret.hash, secretPrefix: null, createdAt: NOW, importedAt: NOW },
};
const attached = (deploymentName: string): ModelAccessKeyEvent => ({
  type: 'ModelAccessKeyDeploymentAttached',
  data: { keyUuid: KEY, teamId: 'team-1', deploymentName, attachedAt: NOW },
});
const deleted: ModelAccessKeyEvent = {
  type: 'ModelAccessKeyDeleted',
  data: { keyUuid: KEY, teamId: 'team-1', revokedSecretHash: secret.hash, deletedAt: NOW },
};
const rename = (actor: Principal, name = 'renamed', scopeChange = {}): ModelAccessKeyCommand => ({
  type: 'RenameModelAccessKey',
  keyUuid: KEY,
  actor,
  name,
  scopeChange,
  now: LATER,
});
const regenerate = (actor: Principal, confirmName: string | null = null): ModelAccessKeyCommand => ({
  type: 'RegenerateModelAccessKey',
  keyUuid: KEY,
  actor,
  confirmName,
  secret: newSecret,
  now: LATER,
});
const remove = (actor: Principal, confirmName: string | null = null): ModelAccessKeyCommand => ({
  type: 'DeleteModelAccessKey',
  keyUuid: KEY,
  actor,
  confirmName,
  now: LATER,
});

describe('model access key decider', () => {
  describe('create', () => {
    it('records the key with its trimmed name, scope and only the hash of its secret', () => {
      given().when(create({ name: '  test-key  ' })).then([created()]);
    });

    it('sorts and de-duplicates a model list', () => {
      const events = decide(create({ models: ['b', 'a', 'b'] }), fold([]));
      expect(events[0].data).toMatchObject({ models: ['a', 'b'] });
    });

    it('refuses batch inference unless the key grants all models', () => {
      given().when(create({ models: ['llama3'], batchInferenceEnabled: true })).thenFails('BATCH_REQUIRES_ALL_MODELS');
    });

    it('allows batch inference with all models', () => {
      const events = decide(create({ batchInferenceEnabled: true }), fold([]));
      expect(events[0].data).toMatchObject({ batchInferenceEnabled: true, models: 'all' });
    });

    it('refuses an expiry that is not in the future', () => {
      given().when(create({ expiresAt: NOW })).thenFails('EXPIRY_NOT_IN_FUTURE');
    });

    it('refuses a name that is empty after trimming', () => {
      given().when(create({ name: '   ' })).thenFails('INVALID_NAME');
    });

    it('refuses an empty model list', () => {
      given().when(create({ models: [] })).thenFails('INVALID_MODELS');
    });

    it('refuses to create a key that already exists', () => {
      given(created()).when(create()).thenFails('KEY_ALREADY_EXISTS');
    });

    it('an auditor cannot create keys', () => {
      given().when(create({ actor: auditor })).thenFails('FORBIDDEN');
    });
  });

  describe('rename', () => {
    it('changes only the name', () => {
      given(created()).when(rename(member)).then([
        { type: 'ModelAccessKeyRenamed', data: { keyUuid: KEY, teamId: 'team-1', name: 'renamed', renamedAt: LATER } },
      ]);
    });

    it('records nothing when the name is unchanged', () => {
      given(created()).when(rename(member, 'test-key')).then([]);
    });

    it('refuses to change the models, the VPC or the batch flag', () => {
      given(created()).when(rename(member, 'x', { models: ['llama3'] })).thenFails('SCOPE_IMMUTABLE');
      given(created()).when(rename(member, 'x', { vpcUuid: '5a4981aa-9653-4bd1-bef5-d6bff52042e4' })).thenFails('SCOPE_IMMUTABLE');
      given(created()).when(rename(member, 'x', { batchInferenceEnabled: true })).thenFails('SCOPE_IMMUTABLE');
    });

    it('accepts the unchanged scope repeated in the request', () => {
      given(created()).when(rename(member, 'x', { models: 'all', vpcUuid: null, batchInferenceEnabled: false })).then([
        { type: 'ModelAccessKeyRenamed', data: { keyUuid: KEY, teamId: 'team-1', name: 'x', renamedAt: LATER } },
      ]);
    });

    it('a legacy key can be renamed but never scoped', () => {
      expect(decide(rename(owner), fold([legacyImported]))).toHaveLength(1);
      given(legacyImported).when(rename(owner, 'x', { models: ['llama3'] })).thenFails('SCOPE_IMMUTABLE');
    });

    it('a member cannot rename a key of another member: it does not exist for them', () => {
      given(created(member)).when(rename(otherMember)).thenFails('KEY_NOT_FOUND');
    });

    it('an owner may rename any key of the team', () => {
      expect(decide(rename(owner), fold([created(member)]))).toHaveLength(1);
    });

    it('an auditor sees the key but may not change it', () => {
      given(created()).when(rename(auditor)).thenFails('FORBIDDEN');
    });

    it('another team does not see the key', () => {
      given(created()).when(rename(stranger)).thenFails('KEY_NOT_FOUND');
    });

    it('a deleted key is not found', () => {
      given(created(), deleted).when(rename(member)).thenFails('KEY_NOT_FOUND');
    });
  });

  describe('regenerate', () => {
    it('replaces the secret hash and names the revoked one', () => {
      given(created()).when(regenerate(member)).then([
        {
          type: 'ModelAccessKeySecretRegenerated',
          data: {
            keyUuid: KEY,
            teamId: 'team-1',
            revokedSecretHash: secret.hash,
            secretHash: newSecret.hash,
            secretPrefix: newSecret.prefix,
            regeneratedAt: LATER,
          },
        },
      ]);
    });

    it('changes nothing when the typed name differs', () => {
      given(created()).when(regenerate(member, 'wrong')).thenFails('CONFIRMATION_MISMATCH');
    });

    it('proceeds when the typed name matches', () => {
      expect(decide(regenerate(member, 'test-key'), fold([created()]))).toHaveLength(1);
    });

    it('a member sees a legacy key of the team but may not regenerate one they did not create', () => {
      given(legacyImported).when(regenerate(member)).thenFails('FORBIDDEN');
    });
  });

  describe('delete', () => {
    it('deletes and names the revoked secret', () => {
      given(created()).when(remove(member)).then([{ ...deleted, data: { ...deleted.data, deletedAt: LATER } } as ModelAccessKeyEvent]);
    });

    it('refuses while the key is attached to deployments, naming them', () => {
      let thrown: DomainError | undefined;
      try {
        decide(remove(member), fold([created(), attached('dep-b'), attached('dep-a')]));
      } catch (error) {
        thrown = error as DomainError;
      }
      expect(thrown?.code).toBe('KEY_ATTACHED_TO_DEPLOYMENTS');
      expect(thrown?.message).toContain('dep-a, dep-b');
    });

    it('checks the typed name', () => {
      given(created()).when(remove(member, 'nope')).thenFails('CONFIRMATION_MISMATCH');
    });

    it('cannot delete twice', () => {
      given(created(), deleted).when(remove(member)).thenFails('KEY_NOT_FOUND');
    });
  });

  describe('deployments', () => {
    const attach = (name: string): ModelAccessKeyCommand => ({ type: 'AttachDeployment', keyUuid: KEY, actor: member, deploymentName: name, now: LATER });
    const detach = (name: string): ModelAccessKeyCommand => ({ type: 'DetachDeployment', keyUuid: KEY, actor: member, deploymentName: name, now: LATER });

    it('attaches a deployment once', () => {
      expect(decide(attach('dep-a'), fold([created()]))).toHaveLength(1);
      given(created(), attached('dep-a')).when(attach('dep-a')).then([]);
    });

    it('detaches an attached deployment', () => {
      given(created(), attached('dep-a')).when(detach('dep-a')).then([
        { type: 'ModelAccessKeyDeploymentDetached', data: { keyUuid: KEY, teamId: 'team-1', deploymentName: 'dep-a', detachedAt: LATER } },
      ]);
    });

    it('refuses to detach a deployment the key is not attached to', () => {
      given(created()).when(detach('dep-a')).thenFails('DEPLOYMENT_NOT_ATTACHED');
    });
  });

  describe('import legacy', () => {
    const importLegacy = (secretHash: string): ModelAccessKeyCommand => ({
      type: 'ImportLegacyModelAccessKey',
      keyUuid: KEY,
      teamId: 'team-1',
      createdBy: '9',
      name: 'old',
      secretHash,
      secretPrefix: null,
      createdAt: NOW,
      now: NOW,
    });

    it('imports a key with all models, no VPC, flagged legacy', () => {
      given().when(importLegacy(secret.hash)).then([legacyImported]);
      const state = fold([legacyImported]);
      expect(state.status === 'active' && state.key).toMatchObject({ legacy: true, models: 'all', vpcUuid: null });
    });

    it('takes only a SHA-256 hex digest, never a secret', () => {
      given().when(importLegacy('mak_plaintext')).thenFails('VALIDATION_FAILED');
    });
  });

  describe('expire', () => {
    const expire = (now: string): ModelAccessKeyCommand => ({ type: 'ExpireModelAccessKey', keyUuid: KEY, now });
    const expiring: ModelAccessKeyEvent = {
      ...created(),
      data: { ...(created().data as Extract<ModelAccessKeyEvent, { type: 'ModelAccessKeyCreated' }>['data']), expiresAt: LATER },
    } as ModelAccessKeyEvent;
    const expired: ModelAccessKeyEvent = {
      type: 'ModelAccessKeyExpired',
      data: { keyUuid: KEY, teamId: 'team-1', revokedSecretHash: secret.hash, expiresAt: LATER, expiredAt: LATER },
    };

    it('records the expiry at expires_at, revoking the current secret', () => {
      given(expiring).when(expire(LATER)).then([expired]);
    });

    it('does nothing before expires_at', () => {
      given(expiring).when(expire(NOW)).then([]);
    });

    it('records it once: a second run, on any instance, gives no event', () => {
      given(expiring, expired).when(expire('2026-11-22T12:00:00.000Z')).then([]);
    });

    it('ignores keys with no expiry, deleted keys and unknown keys', () => {
      given(created()).when(expire(LATER)).then([]);
      given(expiring, deleted).when(expire(LATER)).then([]);
      given().when(expire(LATER)).then([]);
    });

    it('revokes the secret that is current at expiry, after a regenerate', () => {
      const regenerated: ModelAccessKeyEvent = {
        type: 'ModelAccessKeySecretRegenerated',
        data: { keyUuid: KEY, teamId: 'team-1', revokedSecretHash: secret.hash, secretHash: newSecret.hash, secretPrefix: newSecret.prefix, regeneratedAt: NOW },
      };
      given(expiring, regenerated)
        .when(expire(LATER))
        .then([{ ...expired, data: { ...(expired.data as object), revokedSecretHash: newSecret.hash } } as ModelAccessKeyEvent]);
    });
  });

  describe('on an expired key: what could never be used is refused, what tidies up is allowed', () => {
    const DUE = '2026-11-22T10:30:00.000Z';
    const expiring: ModelAccessKeyEvent = {
      type: 'ModelAccessKeyCreated',
      data: { ...(created().data as Extract<ModelAccessKeyEvent, { type: 'ModelAccessKeyCreated' }>['data']), expiresAt: DUE },
    };
    const recorded: ModelAccessKeyEvent = {
      type: 'ModelAccessKeyExpired',
      data: { keyUuid: KEY, teamId: 'team-1', revokedSecretHash: secret.hash, expiresAt: DUE, expiredAt: DUE },
    };
    const update = (fields: object): ModelAccessKeyCommand => ({ type: 'UpdateModelAccessKey', keyUuid: KEY, actor: member, now: LATER, ...fields });
    const deployment = (type: 'AttachDeployment' | 'DetachDeployment', deploymentName: string): ModelAccessKeyCommand => ({
      type,
      keyUuid: KEY,
      actor: member,
      deploymentName,
      now: LATER,
    });

    // Both the expiry recorded by the scheduler and one only reached (verification already says EXPIRED).
    describe.each([
      ['recorded', [expiring, recorded]],
      ['reached but not yet recorded', [expiring]],
    ])('expiry %s', (_, history) => {
      it('refuses a regenerate: the new secret would be refused at once', () => {
        given(...history).when(regenerate(member)).thenFails('KEY_EXPIRED');
      });

      it('refuses an attach: no call could use it', () => {
        given(...history).when(deployment('AttachDeployment', 'prod')).thenFails('KEY_EXPIRED');
        given(...history).when(update({ deploymentNames: ['prod'] })).thenFails('KEY_EXPIRED');
      });

      it('refuses a changed expiry', () => {
        given(...history).when(update({ expiresAt: '2027-01-01T00:00:00.000Z' })).thenFails('KEY_EXPIRED');
        given(...history).when(update({ expiresAt: null })).thenFails('KEY_EXPIRED');
      });

      it('allows a rename and a new description', () => {
        expect(decide(rename(member), fold(history)).map((e) => e.type)).toEqual(['ModelAccessKeyRenamed']);
        expect(decide(update({ description: 'retired' }), fold(history)).map((e) => e.type)).toEqual(['ModelAccessKeyDescriptionChanged']);
      });

      it('allows a detach, and then a delete', () => {
        const withDeployment = [expiring, attached('prod'), ...history.slice(1)];
        expect(decide(deployment('DetachDeployment', 'prod'), fold(withDeployment)).map((e) => e.type)).toEqual(['ModelAccessKeyDeploymentDetached']);
        expect(decide(update({ deploymentNames: [] }), fold(withDeployment)).map((e) => e.type)).toEqual(['ModelAccessKeyDeploymentDetached']);
        given(...withDeployment).when(remove(member)).thenFails('KEY_ATTACHED_TO_DEPLOYMENTS');
        expect(decide(remove(member), fold(history)).map((e) => e.type)).toEqual(['ModelAccessKeyDeleted']);
      });
    });

    it('still allows everything before expires_at', () => {
      const early = { ...regenerate(member), now: NOW } as ModelAccessKeyCommand;
      expect(decide(early, fold([expiring])).map((e) => e.type)).toEqual(['ModelAccessKeySecretRegenerated']);
    });
  });

  describe('on a deleted key every command is KEY_NOT_FOUND', () => {
    const update: ModelAccessKeyCommand = { type: 'UpdateModelAccessKey', keyUuid: KEY, actor: owner, description: 'x', now: LATER };
    const attach: ModelAccessKeyCommand = { type: 'AttachDeployment', keyUuid: KEY, actor: owner, deploymentName: 'prod', now: LATER };
    const detach: ModelAccessKeyCommand = { type: 'DetachDeployment', keyUuid: KEY, actor: owner, deploymentName: 'prod', now: LATER };
    it.each([
      ['rename', rename(owner)],
      ['regenerate', regenerate(owner)],
      ['delete', remove(owner)],
      ['attach', attach],
      ['detach', detach],
      ['update', update],
    ])('%s', (_, command) => {
      given(created(), deleted).when(command).thenFails('KEY_NOT_FOUND');
    });

    it('and a create with its uuid is KEY_ALREADY_EXISTS', () => {
      given(created(), deleted).when(create()).thenFails('KEY_ALREADY_EXISTS');
    });
  });

  describe('names: one rule on every command that sets one', () => {
    const importLegacy = (name: string): ModelAccessKeyCommand => ({
      type: 'ImportLegacyModelAccessKey',
      keyUuid: KEY,
      teamId: 'team-1',
      createdBy: '9',
      name,
      secretHash: secret.hash,
      secretPrefix: null,
      createdAt: null,
      now: NOW,
    });
    const unique = (name: string) => create({ name, uniqueName: true });

    it.each([
      ['NUL', 'a\u0000b'],
      ['a control character', 'a\u0007b'],
      ['a right-to-left override', 'abc\u202Etxt.exe'],
      ['a bidirectional isolate', 'a\u2066b'],
      ['a lone surrogate', 'a\ud800b'],
      ['only whitespace', ' \u3000 '],
      ['256 characters', 'x'.repeat(256)],
    ])('refuses %s on create, import and rename', (_, name) => {
      given().when(create({ name })).thenFails('INVALID_NAME');
      given().when(importLegacy(name)).thenFails('INVALID_NAME');
      given(created()).when(rename(member, name)).thenFails('INVALID_NAME');
    });

    it('counts length in code points: 255 four-byte characters are a name', () => {
      const name = '\u{1F511}'.repeat(255);
      expect(decide(create({ name }), fold([]))[0].data).toMatchObject({ name });
    });

    it('stores names trimmed and in Unicode NFC', () => {
      expect(decide(create({ name: ' Cafe\u0301 ' }), fold([]))[0].data).toMatchObject({ name: 'Caf\u00e9' });
    });

    it('matches a typed confirmation in NFC', () => {
      const cafe: ModelAccessKeyEvent = { ...created(), data: { ...(created().data as object), name: 'caf\u00e9' } } as ModelAccessKeyEvent;
      expect(decide(regenerate(member, 'cafe\u0301'), fold([cafe])).map((e) => e.type)).toEqual(['ModelAccessKeySecretRegenerated']);
    });

    it.each(['a/b', 'a\\b', '.', '..', ' .. '])('refuses %j for a name that is an address (Gcore), on create and rename', (name) => {
      given().when(unique(name)).thenFails('INVALID_NAME');
      const uniqueCreated = { ...created(), data: { ...(created().data as object), uniqueName: true } } as ModelAccessKeyEvent;
      // On rename the rule depends on the key, not on the request: 422, not 400.
      given(uniqueCreated).when(rename(member, name)).thenFails('NAME_NOT_ADDRESSABLE');
      // A key without a registered name is never addressed by it: the plain key rule applies.
      expect(decide(create({ name }), fold([]))).toHaveLength(1);
    });

    it('accepts dots that are not a whole dot-segment in an address', () => {
      expect(decide(unique('...'), fold([]))).toHaveLength(1);
      expect(decide(unique('v1.2'), fold([]))).toHaveLength(1);
    });
  });

  describe('deployments per key', () => {
    const many = Array.from({ length: 100 }, (_, i) => attached(`d-${i}`));
    it('attaches at most 100, on either surface', () => {
      given(created(), ...many)
        .when({ type: 'AttachDeployment', keyUuid: KEY, actor: member, deploymentName: 'one-more', now: LATER })
        .thenFails('DEPLOYMENT_LIMIT_REACHED');
      given(created())
        .when({ type: 'UpdateModelAccessKey', keyUuid: KEY, actor: member, deploymentNames: Array.from({ length: 101 }, (_, i) => `d-${i}`), now: LATER })
        .thenFails('DEPLOYMENT_LIMIT_REACHED');
    });
  });
});
