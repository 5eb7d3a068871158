import { DomainError } from '../../common/domain-error';
import { HolderStatus, NameRegistryCommand, decideName, evolveName, initialNameState } from './name-registry.decider';
import { NameRegistryEvent } from './name-registry.events';

const T0 = '2026-11-22T10:00:00.000Z';
const later = (ms: number) => new Date(Date.parse(T0) + ms).toISOString();
const base = { scope: 'model_access_key/team-1', teamId: 'team-1', name: 'prod' };
const reserve = (ownerId: string, now = T0, holderStatus: HolderStatus | null = null): NameRegistryCommand => ({
  type: 'ReserveName',
  ...base,
  ownerId,
  now,
  holderStatus,
});
const reserved = (ownerId: string, at = T0): NameRegistryEvent => ({
  type: 'NameReserved',
  data: { ...base, ownerId, tookOverFrom: null, reservedAt: at },
});
const given = (...events: NameRegistryEvent[]) => events.reduce(evolveName, initialNameState);
const code = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    return (error as DomainError).code;
  }
  return 'no error';
};

describe('the name registry decider', () => {
  it('reserves a free name', () => {
    expect(decideName(reserve('k1'), given())).toEqual([reserved('k1')]);
  });

  it('refuses a name another live key holds', () => {
    expect(code(() => decideName(reserve('k2', later(60_000), 'holds'), given(reserved('k1'))))).toBe('NAME_TAKEN');
  });

  it('is idempotent for the holder itself', () => {
    expect(decideName(reserve('k1'), given(reserved('k1')))).toEqual([]);
  });

  it('gives the name again once its holder released it or was deleted', () => {
    const releasedEvent: NameRegistryEvent = { type: 'NameReleased', data: { ...base, ownerId: 'k1', releasedAt: T0 } };
    expect(decideName(reserve('k2'), given(reserved('k1'), releasedEvent))).toHaveLength(1);
    const [event] = decideName(reserve('k2', later(1), 'gone'), given(reserved('k1')));
    expect(event).toMatchObject({ type: 'NameReserved', data: { ownerId: 'k2', tookOverFrom: 'k1' } });
  });

  it('honours a young reservation whose key is not written yet, and takes over a stale one', () => {
    expect(code(() => decideName(reserve('k2', later(1000), 'never_created'), given(reserved('k1'))))).toBe('NAME_TAKEN');
    expect(code(() => decideName(reserve('k2', later(1000), 'renamed_away'), given(reserved('k1'))))).toBe('NAME_TAKEN');
    expect(decideName(reserve('k2', later(31_000), 'never_created'), given(reserved('k1')))).toHaveLength(1);
    expect(decideName(reserve('k2', later(31_000), 'renamed_away'), given(reserved('k1')))).toHaveLength(1);
  });

  it('releases only for the holder', () => {
    const release = (ownerId: string): NameRegistryCommand => ({ type: 'ReleaseName', ...base, ownerId, now: T0 });
    expect(decideName(release('k2'), given(reserved('k1')))).toEqual([]);
    expect(decideName(release('k1'), given(reserved('k1')))).toEqual([
      { type: 'NameReleased', data: { ...base, ownerId: 'k1', releasedAt: T0 } },
    ]);
  });
});
