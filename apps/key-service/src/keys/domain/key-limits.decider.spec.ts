import { Principal } from '../../auth/principal';
import { DomainError, ErrorCode } from '../../common/domain-error';
import { KeyLimits, NO_LIMITS, periodEnd, periodStart } from './key-limits';
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
const secret = { hash: 'a'.repeat(64), prefix: 'mak_aaaaaaaa' };

const LIMITS: KeyLimits = { requestsPerMinute: 60, tokensPerMinute: 10_000, quota: { requests: 1000, tokens: null, period: 'day' } };

const create = (limits?: KeyLimits): ModelAccessKeyCommand => ({
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
  ...(limits ? { limits } : {}),
});
const created = (extra: { limits?: KeyLimits; expiresAt?: string } = {}): ModelAccessKeyEvent => ({
  type: 'ModelAccessKeyCreated',
  data: {
    keyUuid: KEY,
    teamId: 'team-1',
    createdBy: member.userId,
    name: 'test-key',
    models: 'all',
    vpcUuid: null,
    batchInferenceEnabled: false,
    description: null,
    expiresAt: extra.expiresAt ?? null,
    secretHash: secret.hash,
    secretPrefix: secret.prefix,
    createdAt: NOW,
    ...(extra.limits ? { limits: extra.limits } : {}),
  },
});
const legacyImported: ModelAccessKeyEvent = {
  type: 'LegacyModelAccessKeyImported',
  data: { keyUuid: KEY, teamId: 'team-1', createdBy: '9', name: 'old', secretHash: secret.hash, secretPrefix: null, createdAt: NOW, importedAt: NOW },
};
const change = (actor: Principal, limits: KeyLimits, now = LATER): ModelAccessKeyCommand => ({ type: 'ChangeModelAccessKeyLimits', keyUuid: KEY, actor, limits, now });
const limitsChanged = (limits: KeyLimits, previousLimits: KeyLimits = NO_LIMITS): ModelAccessKeyEvent => ({
  type: 'ModelAccessKeyLimitsChanged',
  data: { keyUuid: KEY, teamId: 'team-1', limits, previousLimits, changedAt: LATER },
});

function failure(run: () => unknown): DomainError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error('expected a DomainError');
}
const failsWith = (run: () => unknown, code: ErrorCode, field?: string) => {
  const error = failure(run);
  expect(error.code).toBe(code);
  if (field !== undefined) expect(error.details).toMatchObject({ field });
};

describe('model access key limits (decider)', () => {
  describe('at create', () => {
    it('records the limits in the created event', () => {
      expect(decide(create(LIMITS), fold([]))).toEqual([created({ limits: LIMITS })]);
    });

    it('a key created without limits has none, and its event carries no limits field', () => {
      const [event] = decide(create(), fold([]));
      expect(event.data).not.toHaveProperty('limits');
      const state = fold([event]);
      expect(state.status === 'active' && state.key.limits).toEqual(NO_LIMITS);
    });

    it('refuses a limit below 1, naming the field', () => {
      failsWith(() => decide(create({ ...LIMITS, requestsPerMinute: 0 }), fold([])), 'VALIDATION_FAILED', 'limits.requests_per_minute');
      failsWith(() => decide(create({ ...LIMITS, tokensPerMinute: 1.5 }), fold([])), 'VALIDATION_FAILED', 'limits.tokens_per_minute');
    });

    it('refuses a quota without requests or tokens', () => {
      failsWith(() => decide(create({ ...NO_LIMITS, quota: { requests: null, tokens: null, period: 'month' } }), fold([])), 'VALIDATION_FAILED', 'limits.quota');
    });

    it('refuses an unknown quota period', () => {
      const quota = { requests: 1, tokens: null, period: 'week' } as unknown as KeyLimits['quota'];
      failsWith(() => decide(create({ ...NO_LIMITS, quota }), fold([])), 'VALIDATION_FAILED', 'limits.quota.period');
    });
  });

  describe("Gcore's PATCH (UpdateModelAccessKey) with limits alongside its own fields", () => {
    const update = (extra: object): ModelAccessKeyCommand => ({ type: 'UpdateModelAccessKey', keyUuid: KEY, actor: member, now: LATER, ...extra });

    it('records the other changes and the new limits together, limits last', () => {
      const events = decide(update({ description: 'metered', limits: LIMITS }), fold([created()]));
      expect(events.map((e) => e.type)).toEqual(['ModelAccessKeyDescriptionChanged', 'ModelAccessKeyLimitsChanged']);
      expect(events[1]).toEqual(limitsChanged(LIMITS));
    });

    it('records nothing for the same limits, and lifts them with NO_LIMITS', () => {
      expect(decide(update({ limits: LIMITS }), fold([created({ limits: LIMITS })]))).toEqual([]);
      expect(decide(update({ limits: NO_LIMITS }), fold([created({ limits: LIMITS })]))).toEqual([limitsChanged(NO_LIMITS, LIMITS)]);
    });

    it('validates them as a change does, naming the field', () => {
      failsWith(() => decide(update({ limits: { ...LIMITS, requestsPerMinute: 0 } }), fold([created()])), 'VALIDATION_FAILED', 'limits.requests_per_minute');
    });

    it('refuses new limits on an expired key (KEY_EXPIRED), as a change does', () => {
      failsWith(() => decide(update({ limits: LIMITS }), fold([created({ expiresAt: '2026-11-22T10:30:00.000Z' })])), 'KEY_EXPIRED');
    });
  });

  describe('change', () => {
    it('records the new limits with the previous ones, and the state follows', () => {
      const events = decide(change(member, LIMITS), fold([created()]));
      expect(events).toEqual([limitsChanged(LIMITS)]);
      const state = fold([created(), ...events]);
      expect(state.status === 'active' && state.key.limits).toEqual(LIMITS);
      expect(state.status === 'active' && state.key.updatedAt).toBe(LATER);
    });

    it('replaces the limits whole: what is left out is lifted', () => {
      const only = { ...NO_LIMITS, requestsPerMinute: 5 };
      expect(decide(change(member, only), fold([created({ limits: LIMITS })]))).toEqual([limitsChanged(only, LIMITS)]);
      expect(decide(change(member, NO_LIMITS), fold([created({ limits: LIMITS })]))).toEqual([limitsChanged(NO_LIMITS, LIMITS)]);
    });

    it('records nothing when the limits are the same', () => {
      expect(decide(change(member, { ...LIMITS, quota: { ...LIMITS.quota! } }), fold([created({ limits: LIMITS })]))).toEqual([]);
      expect(decide(change(member, NO_LIMITS), fold([created()]))).toEqual([]);
    });

    it('a legacy key may have limits too (set by an owner)', () => {
      expect(decide(change(owner, LIMITS), fold([legacyImported]))).toEqual([limitsChanged(LIMITS)]);
    });

    it('a member cannot change the limits of a legacy key made by someone else', () => {
      failsWith(() => decide(change(member, LIMITS), fold([legacyImported])), 'FORBIDDEN');
    });

    it('a member cannot change the limits of another member\'s key: it does not exist for them', () => {
      failsWith(() => decide(change(otherMember, LIMITS), fold([created()])), 'KEY_NOT_FOUND');
    });

    it('an auditor sees the key but may not change its limits', () => {
      failsWith(() => decide(change(auditor, LIMITS), fold([created()])), 'FORBIDDEN');
    });

    it('refuses new limits on an expired key', () => {
      failsWith(() => decide(change(member, LIMITS), fold([created({ expiresAt: '2026-11-22T10:30:00.000Z' })])), 'KEY_EXPIRED');
    });

    it('refuses a bad limit, naming the field', () => {
      failsWith(() => decide(change(member, { ...NO_LIMITS, quota: { requests: 0, tokens: null, period: 'day' } }), fold([created()])), 'VALIDATION_FAILED', 'limits.quota.requests');
    });

    it('a deleted key is not found', () => {
      const deleted: ModelAccessKeyEvent = { type: 'ModelAccessKeyDeleted', data: { keyUuid: KEY, teamId: 'team-1', revokedSecretHash: secret.hash, deletedAt: NOW } };
      failsWith(() => decide(change(member, LIMITS), fold([created(), deleted])), 'KEY_NOT_FOUND');
    });
  });

  describe('quota periods', () => {
    it('a day runs from 00:00 UTC to the next 00:00 UTC', () => {
      const at = Date.parse('2026-11-22T23:59:59.999Z');
      expect(new Date(periodStart('day', at)).toISOString()).toBe('2026-11-22T00:00:00.000Z');
      expect(new Date(periodEnd('day', at)!).toISOString()).toBe('2026-11-23T00:00:00.000Z');
    });

    it('a month runs from the 1st to the next 1st, across a year', () => {
      const at = Date.parse('2026-12-31T12:00:00.000Z');
      expect(new Date(periodStart('month', at)).toISOString()).toBe('2026-12-01T00:00:00.000Z');
      expect(new Date(periodEnd('month', at)!).toISOString()).toBe('2027-01-01T00:00:00.000Z');
    });

    it('period none never resets', () => {
      expect(periodEnd('none', Date.parse(NOW))).toBeNull();
    });
  });
});
