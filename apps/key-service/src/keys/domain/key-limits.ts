import { DomainError } from '../../common/domain-error';

/**
 * A key's limits, as its events store them (issue 19):
 * - a rate limit: `requestsPerMinute` and/or `tokensPerMinute` (input plus output tokens), counted by
 *   the gateways over a sliding minute;
 * - a quota: at most `requests` and/or `tokens` per period; `day` resets at 00:00 UTC, `month` at
 *   00:00 UTC on the 1st, `none` never resets.
 * null: no such limit. A key created before limits existed has none.
 */
export type QuotaPeriod = 'day' | 'month' | 'none';
export const QUOTA_PERIODS: readonly QuotaPeriod[] = ['day', 'month', 'none'];

export interface KeyQuota {
  readonly requests: number | null;
  readonly tokens: number | null;
  readonly period: QuotaPeriod;
}

export interface KeyLimits {
  readonly requestsPerMinute: number | null;
  readonly tokensPerMinute: number | null;
  readonly quota: KeyQuota | null;
}

export const NO_LIMITS: KeyLimits = { requestsPerMinute: null, tokensPerMinute: null, quota: null };

/** The largest count any limit takes: well inside a double's exact integers and SQLite's INTEGER. */
export const MAX_LIMIT = 1_000_000_000_000;

export function hasLimits(limits: KeyLimits): boolean {
  return limits.requestsPerMinute !== null || limits.tokensPerMinute !== null || limits.quota !== null;
}

export function sameLimits(a: KeyLimits, b: KeyLimits): boolean {
  return (
    a.requestsPerMinute === b.requestsPerMinute &&
    a.tokensPerMinute === b.tokensPerMinute &&
    (a.quota === b.quota ||
      (a.quota !== null && b.quota !== null && a.quota.requests === b.quota.requests && a.quota.tokens === b.quota.tokens && a.quota.period === b.quota.period))
  );
}

function count(value: number | null, field: string): number | null {
  if (value === null) return null;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_LIMIT) {
    throw new DomainError('VALIDATION_FAILED', `${field} must be an integer from 1 to ${MAX_LIMIT}, or null for no limit`, { field });
  }
  return value;
}

/**
 * The limits as stored, checked whatever the transport checked before: every count an integer from 1
 * to MAX_LIMIT; a quota names a period and at least one of requests and tokens. VALIDATION_FAILED
 * naming the field (`limits.quota.period`, ...) otherwise.
 */
export function normalizeLimits(limits: KeyLimits): KeyLimits {
  const quota = limits.quota;
  if (quota !== null) {
    if (!QUOTA_PERIODS.includes(quota.period)) {
      throw new DomainError('VALIDATION_FAILED', `limits.quota.period must be one of ${QUOTA_PERIODS.join(', ')}`, { field: 'limits.quota.period' });
    }
    if (quota.requests === null && quota.tokens === null) {
      throw new DomainError('VALIDATION_FAILED', 'limits.quota must give requests, tokens or both', { field: 'limits.quota' });
    }
  }
  return {
    requestsPerMinute: count(limits.requestsPerMinute, 'limits.requests_per_minute'),
    tokensPerMinute: count(limits.tokensPerMinute, 'limits.tokens_per_minute'),
    quota:
      quota === null
        ? null
        : { requests: count(quota.requests, 'limits.quota.requests'), tokens: count(quota.tokens, 'limits.quota.tokens'), period: quota.period },
  };
}

/**
 * When the quota period that holds `nowMs` ends (the next 00:00 UTC, or 00:00 UTC on the next 1st),
 * in ms since the epoch; null for `none`.
 */
export function periodEnd(period: QuotaPeriod, nowMs: number): number | null {
  const now = new Date(nowMs);
  switch (period) {
    case 'day':
      return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    case 'month':
      return Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    case 'none':
      return null;
    default: {
      const unknown: never = period;
      throw new Error(`Unknown quota period ${unknown as string}`);
    }
  }
}

/** When the period that holds `nowMs` began; the epoch for `none`. */
export function periodStart(period: QuotaPeriod, nowMs: number): number {
  const now = new Date(nowMs);
  switch (period) {
    case 'day':
      return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    case 'month':
      return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
    case 'none':
      return 0;
    default: {
      const unknown: never = period;
      throw new Error(`Unknown quota period ${unknown as string}`);
    }
  }
}

/** The wire shape (snake_case, as api_key_info and the verify answer carry it). */
export interface KeyLimitsWire {
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
  quota: { requests: number | null; tokens: number | null; period: QuotaPeriod } | null;
}

export function limitsToWire(limits: KeyLimits): KeyLimitsWire {
  return {
    requests_per_minute: limits.requestsPerMinute,
    tokens_per_minute: limits.tokensPerMinute,
    quota: limits.quota === null ? null : { requests: limits.quota.requests, tokens: limits.quota.tokens, period: limits.quota.period },
  };
}

/** From a request body (already shape-checked); absent fields are no limit. */
export interface KeyLimitsInput {
  readonly requests_per_minute?: number | null;
  readonly tokens_per_minute?: number | null;
  readonly quota?: { readonly requests?: number | null; readonly tokens?: number | null; readonly period: QuotaPeriod } | null;
}

export function limitsFromWire(wire: KeyLimitsInput | null | undefined): KeyLimits {
  if (!wire) return NO_LIMITS;
  const quota = wire.quota ?? null;
  return {
    requestsPerMinute: wire.requests_per_minute ?? null,
    tokensPerMinute: wire.tokens_per_minute ?? null,
    quota: quota === null ? null : { requests: quota.requests ?? null, tokens: quota.tokens ?? null, period: quota.period },
  };
}
