import { expiryLabel } from './expiry';

describe("a Gcore key's expiration as the console shows it", () => {
  const now = Date.parse('2026-12-01T04:30:00.000Z');
  it('is Never without an expiry, Expired from the instant on, else the instant in UTC', () => {
    expect(expiryLabel(null, now)).toBe('Never');
    expect(expiryLabel('2026-12-01T04:30:00.000Z', now)).toBe('Expired');
    expect(expiryLabel('2026-11-30T00:00:00.000Z', now)).toBe('Expired');
    expect(expiryLabel('2027-01-31T00:00:00.000Z', now)).toBe('2027-01-31 00:00 UTC');
  });
});
