import { DomainError } from '../../common/domain-error';
import { KeyLimits, NO_LIMITS } from './key-limits';
import { ModelAccessKeyCommand } from './model-access-key.commands';
import { decide } from './model-access-key.decider';
import { ModelAccessKeyEvent } from './model-access-key.events';
import { fold } from './model-access-key.state';

const KEY = '11efb7d6-cdb5-6388-bf8f-4e013e2ddde4';
const NOW = '2026-11-22T10:00:00.000Z';
const DAY_START = '2026-11-22T00:00:00.000Z';
const NEXT_DAY = '2026-11-23T00:00:00.000Z';
const DAILY: KeyLimits = { ...NO_LIMITS, quota: { requests: 100, tokens: 5000, period: 'day' } };

const created = (limits?: KeyLimits): ModelAccessKeyEvent => ({
  type: 'ModelAccessKeyCreated',
  data: {
    keyUuid: KEY,
    teamId: 'team-1',
    createdBy: '2',
    name: 'k',
    models: 'all',
    vpcUuid: null,
    batchInferenceEnabled: false,
    description: null,
    expiresAt: null,
    secretHash: 'a'.repeat(64),
    secretPrefix: 'mak_aaaaaaaa',
    createdAt: NOW,
    ...(limits ? { limits } : {}),
  },
});
const exhaust = (requests: number, tokens: number, now = NOW, periodStart = DAY_START): ModelAccessKeyCommand => ({
  type: 'RecordQuotaExhausted',
  keyUuid: KEY,
  periodStart,
  requests,
  tokens,
  now,
});
const exhausted: ModelAccessKeyEvent = {
  type: 'ModelAccessKeyQuotaExhausted',
  data: { keyUuid: KEY, teamId: 'team-1', periodStart: DAY_START, resetsAt: NEXT_DAY, requests: 100, tokens: 10, exhaustedAt: NOW },
};
const reset = (now: string): ModelAccessKeyCommand => ({ type: 'ResetQuota', keyUuid: KEY, now });

describe('model access key quotas (decider)', () => {
  it('usage reaching the requests quota records the exhaustion once, with the reset at the next 00:00 UTC', () => {
    expect(decide(exhaust(100, 10), fold([created(DAILY)]))).toEqual([exhausted]);
    const state = fold([created(DAILY), exhausted]);
    expect(state.status === 'active' && state.key.quotaExhausted).toEqual({ periodStart: DAY_START, resetsAt: NEXT_DAY });
    expect(decide(exhaust(150, 10), state)).toEqual([]);
  });

  it('usage reaching the tokens quota records it too; usage under both records nothing', () => {
    expect(decide(exhaust(1, 5000), fold([created(DAILY)]))).toHaveLength(1);
    expect(decide(exhaust(99, 4999), fold([created(DAILY)]))).toEqual([]);
  });

  it('a month quota resets on the 1st; a quota of period none never does', () => {
    const monthly = decide(exhaust(100, 0, NOW, '2026-11-01T00:00:00.000Z'), fold([created({ ...NO_LIMITS, quota: { requests: 100, tokens: null, period: 'month' } })]));
    expect(monthly[0].data).toMatchObject({ resetsAt: '2026-12-01T00:00:00.000Z' });
    const forever = decide(exhaust(100, 0, NOW, '1970-01-01T00:00:00.000Z'), fold([created({ ...NO_LIMITS, quota: { requests: 100, tokens: null, period: 'none' } })]));
    expect(forever[0].data).toMatchObject({ resetsAt: null });
  });

  it('records nothing for a key without a quota, a deleted key, or usage of another period', () => {
    expect(decide(exhaust(1_000_000, 0), fold([created()]))).toEqual([]);
    const deleted: ModelAccessKeyEvent = { type: 'ModelAccessKeyDeleted', data: { keyUuid: KEY, teamId: 'team-1', revokedSecretHash: 'a'.repeat(64), deletedAt: NOW } };
    expect(decide(exhaust(100, 0), fold([created(DAILY), deleted]))).toEqual([]);
    expect(decide(exhaust(100, 0, NOW, '2026-11-21T00:00:00.000Z'), fold([created(DAILY)]))).toEqual([]);
  });

  it('the reset comes only when the period has ended, and once', () => {
    expect(decide(reset('2026-11-22T23:59:59.999Z'), fold([created(DAILY), exhausted]))).toEqual([]);
    const events = decide(reset(NEXT_DAY), fold([created(DAILY), exhausted]));
    expect(events).toEqual([{ type: 'ModelAccessKeyQuotaReset', data: { keyUuid: KEY, teamId: 'team-1', periodStart: NEXT_DAY, resetAt: NEXT_DAY } }]);
    expect(decide(reset(NEXT_DAY), fold([created(DAILY), exhausted, ...events]))).toEqual([]);
  });

  it('new limits lift a spent quota (the next report judges the new one)', () => {
    const change: ModelAccessKeyCommand = { type: 'ChangeModelAccessKeyLimits', keyUuid: KEY, actor: { teamId: 'team-1', userId: '2', role: 'member' }, limits: NO_LIMITS, now: NOW };
    const events = decide(change, fold([created(DAILY), exhausted]));
    const state = fold([created(DAILY), exhausted, ...events]);
    expect(state.status === 'active' && state.key.quotaExhausted).toBeNull();
    expect(() => decide(change, fold([created(DAILY), exhausted, ...events]))).not.toThrow(DomainError);
  });
});
