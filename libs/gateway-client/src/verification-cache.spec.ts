import { VerifyAnswer } from './types';
import { VerificationCache } from './verification-cache';

const valid: VerifyAnswer = { valid: true, code: 'VALID', keyUuid: 'k', teamId: 't', expiresAt: null, source: 'service' };
const target = { model: 'm' };

describe('VerificationCache', () => {
  const make = () => new VerificationCache({ validTtlMs: 1000, invalidTtlMs: 100, maxEntries: 3 });

  it('answers from the cache until the TTL, marked as cached', () => {
    const cache = make();
    cache.put('h', target, valid, cache.generation, 0);
    expect(cache.get('h', target, 1000)).toMatchObject({ code: 'VALID', source: 'cache' });
    expect(cache.get('h', target, 1001)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps invalid answers for the shorter TTL', () => {
    const cache = make();
    cache.put('h', target, { valid: false, code: 'NOT_FOUND', source: 'service' }, cache.generation, 0);
    expect(cache.get('h', target, 100)).toMatchObject({ code: 'NOT_FOUND' });
    expect(cache.get('h', target, 101)).toBeUndefined();
  });

  it('turns a cached VALID into EXPIRED at expires_at, with no call', () => {
    const cache = make();
    cache.put('h', target, { ...valid, expiresAt: new Date(500).toISOString() }, cache.generation, 0);
    expect(cache.get('h', target, 499)).toMatchObject({ code: 'VALID' });
    expect(cache.get('h', target, 500)).toMatchObject({ valid: false, code: 'EXPIRED', source: 'cache' });
  });

  it('evicts every answer of a revoked hash, whatever the target', () => {
    const cache = make();
    cache.put('h', target, valid, cache.generation, 0);
    cache.put('h', { deploymentName: 'd' }, valid, cache.generation, 0);
    cache.put('other', target, valid, cache.generation, 0);
    expect(cache.evict(['h'])).toBe(2);
    expect(cache.get('h', target, 1)).toBeUndefined();
    expect(cache.get('other', target, 1)).toBeDefined();
  });

  it('does not store an answer whose hash was revoked while it was in flight', () => {
    const cache = make();
    const before = cache.generation;
    cache.evict(['h']);
    cache.put('h', target, valid, before, 0);
    expect(cache.get('h', target, 1)).toBeUndefined();
    cache.put('h', target, valid, cache.generation, 0);
    expect(cache.get('h', target, 1)).toBeDefined();
  });

  it('holds at most maxEntries, dropping the oldest hash', () => {
    const cache = make();
    for (const hash of ['a', 'b', 'c', 'd']) cache.put(hash, target, valid, cache.generation, 0);
    expect(cache.size).toBe(3);
    expect(cache.get('a', target, 1)).toBeUndefined();
    expect(cache.get('d', target, 1)).toBeDefined();
  });

  it('tells targets apart field by field, and replaces an answer for the same target', () => {
    const cache = make();
    cache.put('h', { model: 'm', batch: true }, valid, cache.generation, 0);
    expect(cache.get('h', { model: 'm' }, 1)).toBeUndefined();
    expect(cache.get('h', { model: 'm', batch: true }, 1)).toBeDefined();
    cache.put('h', { model: 'm', batch: true }, { valid: false, code: 'NOT_FOUND', source: 'service' }, cache.generation, 0);
    expect(cache.size).toBe(1);
    expect(cache.get('h', { model: 'm', batch: true }, 1)).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('VerificationCache and a spent quota', () => {
  const spent = (resetsAt: string | null): VerifyAnswer => ({ valid: false, code: 'USAGE_EXCEEDED', keyUuid: 'k', teamId: 't', resetsAt, source: 'service' });

  it("drops a cached USAGE_EXCEEDED at its resets_at, so the next call asks the service, before the feed's quota_reset or the TTL", () => {
    const cache = new VerificationCache({ validTtlMs: 10_000, invalidTtlMs: 30_000, maxEntries: 10 });
    cache.put('h', target, spent(new Date(5_000).toISOString()), cache.generation, 1_000);
    expect(cache.get('h', target, 4_999)).toMatchObject({ valid: false, code: 'USAGE_EXCEEDED' });
    expect(cache.get('h', target, 5_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps for its TTL a denial stored after its resets_at (the gateway ahead of the service), and one that never resets', () => {
    const cache = new VerificationCache({ validTtlMs: 10_000, invalidTtlMs: 30_000, maxEntries: 10 });
    cache.put('late', target, spent(new Date(5_000).toISOString()), cache.generation, 5_100);
    expect(cache.get('late', target, 6_000)).toMatchObject({ code: 'USAGE_EXCEEDED' });
    expect(cache.get('late', target, 35_101)).toBeUndefined();
    cache.put('never', target, spent(null), cache.generation, 0);
    expect(cache.get('never', target, 29_000)).toMatchObject({ code: 'USAGE_EXCEEDED' });
  });
});
