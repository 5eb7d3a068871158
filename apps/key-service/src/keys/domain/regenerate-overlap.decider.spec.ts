import { Principal } from '../../auth/principal';
import { DomainError } from '../../common/domain-error';
import { decodeKeyEvent } from './model-access-key.codec';
import { ModelAccessKeyCommand } from './model-access-key.commands';
import { decide } from './model-access-key.decider';
import { ModelAccessKeyEvent } from './model-access-key.events';
import { fold } from './model-access-key.state';

const NOW = '2026-11-22T10:00:00.000Z';
const KEY = '11efb7d6-cdb5-6388-bf8f-4e013e2ddde4';
const member: Principal = { teamId: 'team-1', userId: '2', role: 'member' };
const first = { hash: 'a'.repeat(64), prefix: 'mak_aaaaaaaa' };
const second = { hash: 'b'.repeat(64), prefix: 'mak_bbbbbbbb' };
const third = { hash: 'c'.repeat(64), prefix: 'mak_cccccccc' };
const at = (seconds: number) => new Date(Date.parse(NOW) + seconds * 1000).toISOString();

const created: ModelAccessKeyEvent = {
  type: 'ModelAccessKeyCreated',
  data: {
    keyUuid: KEY,
    teamId: 'team-1',
    createdBy: '2',
    name: 'test-key',
    models: 'all',
    vpcUuid: null,
    batchInferenceEnabled: false,
    description: null,
    expiresAt: null,
    secretHash: first.hash,
    secretPrefix: first.prefix,
    createdAt: NOW,
  },
};

const regenerate = (gracePeriodSeconds: number | undefined, secret = second, now = NOW): ModelAccessKeyCommand => ({
  type: 'RegenerateModelAccessKey',
  keyUuid: KEY,
  actor: member,
  confirmName: null,
  secret,
  now,
  ...(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds }),
});

const regeneratedWithOverlap = (endsAt: string): ModelAccessKeyEvent => ({
  type: 'ModelAccessKeySecretRegenerated',
  data: {
    keyUuid: KEY,
    teamId: 'team-1',
    revokedSecretHash: first.hash,
    secretHash: second.hash,
    secretPrefix: second.prefix,
    regeneratedAt: NOW,
    previousSecretEndsAt: endsAt,
  },
});

const failure = (run: () => unknown): DomainError => {
  try {
    run();
  } catch (error) {
    return error as DomainError;
  }
  throw new Error('expected a domain error');
};

describe('regenerate with an overlap', () => {
  it('without a grace period the event is the one DigitalOcean behaviour always wrote: no overlap end', () => {
    const events = decide(regenerate(undefined), fold([created]));
    expect(events).toEqual([
      {
        type: 'ModelAccessKeySecretRegenerated',
        data: { keyUuid: KEY, teamId: 'team-1', revokedSecretHash: first.hash, secretHash: second.hash, secretPrefix: second.prefix, regeneratedAt: NOW },
      },
    ]);
    expect(decide(regenerate(0), fold([created]))).toEqual(events);
    const key = fold([created, ...events]);
    expect(key.status === 'active' && key.key.previousSecret).toBeNull();
  });

  it('a grace period records when the replaced secret ends, and the state keeps it as the previous secret', () => {
    const events = decide(regenerate(3), fold([created]));
    expect(events).toEqual([regeneratedWithOverlap(at(3))]);
    const state = fold([created, ...events]);
    expect(state.status === 'active' && state.key.previousSecret).toEqual({ hash: first.hash, prefix: first.prefix, endsAt: at(3) });
    expect(state.status === 'active' && state.key.secretHash).toBe(second.hash);
  });

  it.each([-1, 1.5, 604_801])('refuses grace_period_seconds %p, naming the field', (grace) => {
    const error = failure(() => decide(regenerate(grace), fold([created])));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toEqual({ field: 'grace_period_seconds' });
  });

  it('accepts the 7-day maximum', () => {
    expect(decide(regenerate(604_800), fold([created]))).toEqual([regeneratedWithOverlap(at(604_800))]);
  });

  it('regenerating again during an overlap revokes the earlier previous secret at once, before the new secret', () => {
    const events = decide(regenerate(60, third, at(1)), fold([created, regeneratedWithOverlap(at(3))]));
    expect(events).toEqual([
      {
        type: 'ModelAccessKeyPreviousSecretRevoked',
        data: { keyUuid: KEY, teamId: 'team-1', revokedSecretHash: first.hash, endsAt: at(3), revokedAt: at(1), reason: 'regenerated' },
      },
      {
        type: 'ModelAccessKeySecretRegenerated',
        data: {
          keyUuid: KEY,
          teamId: 'team-1',
          revokedSecretHash: second.hash,
          secretHash: third.hash,
          secretPrefix: third.prefix,
          regeneratedAt: at(1),
          previousSecretEndsAt: at(61),
        },
      },
    ]);
    const state = fold([created, regeneratedWithOverlap(at(3)), ...events]);
    expect(state.status === 'active' && state.key.previousSecret).toEqual({ hash: second.hash, prefix: second.prefix, endsAt: at(61) });
  });

  it('regenerating again without a grace period during an overlap revokes both older secrets', () => {
    const events = decide(regenerate(0, third, at(1)), fold([created, regeneratedWithOverlap(at(3))]));
    expect(events.map((e) => e.type)).toEqual(['ModelAccessKeyPreviousSecretRevoked', 'ModelAccessKeySecretRegenerated']);
    expect(events[1].data).toMatchObject({ revokedSecretHash: second.hash });
    expect('previousSecretEndsAt' in events[1].data).toBe(false);
  });

  it('the scheduler revokes the previous secret at its end, once', () => {
    const history = [created, regeneratedWithOverlap(at(3))];
    const revoke = (now: string): ModelAccessKeyCommand => ({ type: 'RevokePreviousSecret', keyUuid: KEY, now });
    expect(decide(revoke(at(2)), fold(history))).toEqual([]);
    const events = decide(revoke(at(3)), fold(history));
    expect(events).toEqual([
      {
        type: 'ModelAccessKeyPreviousSecretRevoked',
        data: { keyUuid: KEY, teamId: 'team-1', revokedSecretHash: first.hash, endsAt: at(3), revokedAt: at(3), reason: 'overlap_ended' },
      },
    ]);
    expect(decide(revoke(at(4)), fold([...history, ...events]))).toEqual([]);
  });

  it('the scheduler gives no event for a key without an overlap, or an unknown key', () => {
    expect(decide({ type: 'RevokePreviousSecret', keyUuid: KEY, now: at(10) }, fold([created]))).toEqual([]);
    expect(decide({ type: 'RevokePreviousSecret', keyUuid: KEY, now: at(10) }, fold([]))).toEqual([]);
  });

  it('deleting a key during an overlap revokes the previous secret as well', () => {
    const events = decide({ type: 'DeleteModelAccessKey', keyUuid: KEY, actor: member, confirmName: null, now: at(1) }, fold([created, regeneratedWithOverlap(at(3))]));
    expect(events).toEqual([
      {
        type: 'ModelAccessKeyPreviousSecretRevoked',
        data: { keyUuid: KEY, teamId: 'team-1', revokedSecretHash: first.hash, endsAt: at(3), revokedAt: at(1), reason: 'deleted' },
      },
      { type: 'ModelAccessKeyDeleted', data: { keyUuid: KEY, teamId: 'team-1', revokedSecretHash: second.hash, deletedAt: at(1) } },
    ]);
  });

  it('a regenerate stored before overlaps existed still replays, with no previous secret', () => {
    const old = decodeKeyEvent({
      type: 'ModelAccessKeySecretRegenerated',
      data: JSON.parse(
        `{"keyUuid":"${KEY}","teamId":"team-1","revokedSecretHash":"${first.hash}","secretHash":"${second.hash}","secretPrefix":"mak_bbbbbbbb","regeneratedAt":"${NOW}"}`,
      ),
    });
    const state = fold([created, old]);
    expect(state.status === 'active' && state.key).toMatchObject({ secretHash: second.hash, previousSecret: null });
  });
});
