import { VerifyAnswer } from './types';
import { VerificationCache } from './verification-cache';

const target = { model: 'm' };

describe('VerificationCache and a regenerate overlap', () => {
  it("turns a cached VALID of a replaced secret into NOT_FOUND at secret_ends_at, with no call and before the feed's record", () => {
    const cache = new VerificationCache({ validTtlMs: 10_000, invalidTtlMs: 100, maxEntries: 3 });
    const old: VerifyAnswer = { valid: true, code: 'VALID', keyUuid: 'k', teamId: 't', expiresAt: null, secretEndsAt: new Date(3000).toISOString(), source: 'service' };
    cache.put('old', target, old, cache.generation, 0);
    expect(cache.get('old', target, 2999)).toMatchObject({ valid: true, code: 'VALID', secretEndsAt: new Date(3000).toISOString() });
    expect(cache.get('old', target, 3000)).toEqual({ valid: false, code: 'NOT_FOUND', source: 'cache' });
  });
});
