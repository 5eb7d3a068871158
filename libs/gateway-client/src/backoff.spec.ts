import { DecorrelatedJitterBackoff } from './backoff';

/** A seeded generator (mulberry32), so that a failure can be replayed; the figures hold for any seed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('DecorrelatedJitterBackoff', () => {
  const gateways = 2000;
  const random = seeded(17);
  /** Each gateway's delays over its first `attempts` failures, all starting at the same instant. */
  const delaysOf = (attempts: number, floor = 0) =>
    Array.from({ length: gateways }, () => {
      const backoff = new DecorrelatedJitterBackoff({ baseMs: 100, capMs: 2000, random });
      return Array.from({ length: attempts }, () => backoff.next(floor));
    });

  it('spreads the first reconnect of many gateways evenly over [base, 3 × base], not one instant', () => {
    const first = delaysOf(1).map((d) => d[0]);
    expect(Math.min(...first)).toBeGreaterThanOrEqual(100);
    expect(Math.max(...first)).toBeLessThanOrEqual(300);
    // Ten 20 ms buckets: uniform means about 200 each; lock-step would put all 2000 in one.
    const buckets = new Array<number>(10).fill(0);
    for (const delay of first) buckets[Math.min(9, Math.floor((delay - 100) / 20))]++;
    for (const count of buckets) {
      expect(count).toBeGreaterThan(140);
      expect(count).toBeLessThan(260);
    }
  });

  it('keeps later attempts apart too: the gateways that failed together are not together at the fifth try', () => {
    const fifthAt = delaysOf(5).map((d) => d.reduce((sum, delay) => sum + delay, 0));
    const distinct = new Set(fifthAt.map((at) => Math.round(at / 50))).size;
    // Over several seconds in 50 ms slots: hundreds of distinct slots, and no slot with a crowd.
    expect(distinct).toBeGreaterThan(60);
    const perSlot = new Map<number, number>();
    for (const at of fifthAt) perSlot.set(Math.round(at / 50), (perSlot.get(Math.round(at / 50)) ?? 0) + 1);
    expect(Math.max(...perSlot.values())).toBeLessThan(gateways / 10);
  });

  it('grows about threefold per failure on average and never passes the cap', () => {
    const runs = delaysOf(8);
    const mean = (i: number) => runs.reduce((sum, d) => sum + d[i], 0) / runs.length;
    expect(mean(1)).toBeGreaterThan(mean(0) * 1.5);
    expect(mean(2)).toBeGreaterThan(mean(1) * 1.3);
    expect(Math.max(...runs.flat())).toBeLessThanOrEqual(2000);
    expect(mean(7)).toBeGreaterThan(1000);
  });

  it("takes the service's retry as the floor, even above the cap", () => {
    expect(Math.min(...delaysOf(4, 700).flat())).toBeGreaterThanOrEqual(700);
    expect(Math.min(...delaysOf(2, 5000).flat())).toBe(5000);
  });

  it('starts again from the base after reset', () => {
    const backoff = new DecorrelatedJitterBackoff({ baseMs: 100, capMs: 2000, random: () => 0.999 });
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([300, 899, 2000, 2000]);
    backoff.reset();
    expect(backoff.next()).toBe(300);
  });

  it('refuses a base of 0 or a cap below the base', () => {
    expect(() => new DecorrelatedJitterBackoff({ baseMs: 0, capMs: 10 })).toThrow(RangeError);
    expect(() => new DecorrelatedJitterBackoff({ baseMs: 100, capMs: 10 })).toThrow('0 < baseMs <= capMs');
  });
});
