import { createHash } from 'node:crypto';

/** Denial codes a usage record may count for a key (a denial that names no key, NOT_FOUND, has no record). */
export const USAGE_DENIAL_CODES = [
  'EXPIRED',
  'VPC_DENIED',
  'MODEL_NOT_ALLOWED',
  'DEPLOYMENT_NOT_ALLOWED',
  'BATCH_NOT_ALLOWED',
  'RATE_LIMITED',
  'USAGE_EXCEEDED',
] as const;
export type UsageDenialCode = (typeof USAGE_DENIAL_CODES)[number];

/** One key's traffic through one gateway in one minute for one model (`model` '' when the calls named none). */
export interface UsageRecord {
  readonly keyUuid: string;
  /** The minute's start, ISO 8601 in UTC with seconds 00 (`2026-11-22T10:07:00.000Z`). */
  readonly minute: string;
  readonly model: string;
  readonly requests: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly denials: Readonly<Partial<Record<UsageDenialCode, number>>>;
}

export type IngestOutcome = 'counted' | 'repeated' | 'conflict';

/** The records' fingerprint (SHA-256, hex), stored with a batch's mark to tell a retry from a reused sequence. */
export function batchDigest(records: readonly UsageRecord[]): string {
  return createHash('sha256').update(JSON.stringify(records.map((r) => [r.keyUuid, r.minute, r.model, r.requests, r.inputTokens, r.outputTokens, r.denials]))).digest('hex');
}

export interface UsageBatch {
  readonly gatewayId: string;
  readonly sequence: number;
  readonly records: readonly UsageRecord[];
}

export type UsageGranularity = 'minute' | 'hour' | 'day';
/** How many leading characters of an ISO minute name its bucket (`2026-11-22T10:07`, `...T10`, `2026-11-22`). */
export const BUCKET_CHARS: Readonly<Record<UsageGranularity, number>> = { minute: 16, hour: 13, day: 10 };

/** One bucket of a key's usage. */
export interface UsageBucket {
  readonly start: string;
  readonly requests: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly denials: Readonly<Record<string, number>>;
}

/**
 * The most a stored counter or a total holds (2^53 - 1, the largest integer a JSON number carries
 * exactly): counters saturate there instead of overflowing the database's 64-bit integers, which a
 * gateway reporting the largest counts (10^12 a record) over and over could otherwise make them do.
 */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/** A sum as read back from the store (a float from SQLite's TOTAL, a numeric string from PostgreSQL), at most MAX_COUNTER. */
export const saturated = (value: number | string | null | undefined): number => Math.min(Number(value ?? 0), MAX_COUNTER);

export interface KeyUsageTotals {
  readonly requests: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/**
 * How long (ms) a batch's (gateway_id, sequence) mark is kept: 48 h. A gateway retries a batch whose
 * answer it did not get until the service takes it; one still unanswered after this long (a service
 * unreachable for two days) is past what the marks can tell apart, and its records are refused as too old.
 */
export const BATCH_MARK_RETENTION_MS = 48 * 3_600_000;

/** The UsageStore of the process: PostgreSQL with EVENT_STORE=postgres, else a table in read-models.db. */
export const USAGE_STORE = Symbol('USAGE_STORE');

/**
 * The usage store: per key, per minute, per model counts of requests, input and output tokens and
 * denials by code, as the gateways report them (POST /v1/usage). It is not the event log: counters
 * are not decisions. Unlike the views it cannot be rebuilt from the events.
 *
 * A batch is counted once: (gateway id, sequence) is recorded in the same transaction as its counts,
 * and a batch already recorded (a retry after a lost answer, maybe sent to another instance) changes nothing.
 * Minutes are ISO strings (`2026-11-22T10:07:00.000Z`): they sort as the instants do.
 */
export interface UsageStore {
  /**
   * Adds a batch's counts: 'counted'; 'repeated' (nothing changed) when this gateway's batch was counted
   * before with the same records (a retry); 'conflict' (nothing changed) when it was counted with other
   * records: the gateway reused a sequence, a bug the caller reports.
   */
  ingest(batch: UsageBatch, receivedAt: string): Promise<IngestOutcome>;
  /**
   * The key's usage from `from` (inclusive) to `to` (exclusive), ISO instants, in buckets of
   * `granularity` (UTC), oldest first; buckets without traffic are left out.
   */
  series(keyUuid: string, from: string, to: string, granularity: UsageGranularity): Promise<UsageBucket[]>;
  /** The last minute with a request of the key, ISO 8601 (minute precision); null when never used. */
  lastUsedAt(keyUuid: string): Promise<string | null>;
  /** What the key used from `since` (an ISO minute) on. */
  totalsSince(keyUuid: string, since: string): Promise<KeyUsageTotals>;
  /**
   * Retention: rolls every row finer than `granularity` whose minute is before `before` (a bucket
   * boundary, ISO) into one row per key, model and bucket, at the bucket's start, and removes the finer
   * rows. Totals over whole buckets stay the same. Returns how many rows were removed net.
   */
  rollUp(granularity: 'hour' | 'day', before: string): Promise<number>;
  /**
   * Forgets the marks of batches received before `receivedBefore` (ISO): a retry of one of them would
   * be counted again, so the controller refuses records older than the marks are kept
   * (BATCH_MARK_RETENTION_MS). Returns how many marks were removed.
   */
  forgetBatches(receivedBefore: string): Promise<number>;
  /** Which of these keys have usage from `from` (inclusive) to `to` (exclusive), sorted. */
  keysUsedBetween(keyUuids: readonly string[], from: string, to: string): Promise<string[]>;
  close(): Promise<void>;
}

/** One stored row, as both adapters read it back. */
export interface UsageMinuteRow {
  readonly minute: string;
  readonly requests: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly denials: Readonly<Record<string, number>>;
}

/** Sums minute rows (oldest first) into buckets of `granularity`. */
export function toBuckets(rows: Iterable<UsageMinuteRow>, granularity: UsageGranularity): UsageBucket[] {
  const chars = BUCKET_CHARS[granularity];
  const buckets = new Map<string, { requests: number; inputTokens: number; outputTokens: number; denials: Record<string, number> }>();
  for (const row of rows) {
    const id = row.minute.slice(0, chars);
    let bucket = buckets.get(id);
    if (!bucket) buckets.set(id, (bucket = { requests: 0, inputTokens: 0, outputTokens: 0, denials: {} }));
    bucket.requests += row.requests;
    bucket.inputTokens += row.inputTokens;
    bucket.outputTokens += row.outputTokens;
    for (const [code, count] of Object.entries(row.denials)) bucket.denials[code] = (bucket.denials[code] ?? 0) + count;
  }
  return [...buckets].map(([id, bucket]) => ({ start: bucketStart(id, granularity), ...bucket }));
}

/** Minutes a row of each granularity covers (`span` column): 1 for a minute as reported. */
export const SPAN_MINUTES: Readonly<Record<UsageGranularity, number>> = { minute: 1, hour: 60, day: 1440 };

/** The start of the `granularity` bucket an ISO minute falls in. */
export function bucketStart(minute: string, granularity: UsageGranularity): string {
  const id = minute.slice(0, BUCKET_CHARS[granularity]);
  return new Date(`${id}${'0000-01-01T00:00'.slice(id.length)}:00.000Z`).toISOString();
}

/** Sums rows into one row per key, model and bucket (for rollUp). */
export function rolledUp<R extends UsageMinuteRow & { readonly keyUuid: string; readonly model: string }>(
  rows: Iterable<R>,
  granularity: UsageGranularity,
): Array<{ keyUuid: string; minute: string; model: string; requests: number; inputTokens: number; outputTokens: number; denials: Record<string, number> }> {
  const groups = new Map<string, { keyUuid: string; minute: string; model: string; requests: number; inputTokens: number; outputTokens: number; denials: Record<string, number> }>();
  for (const row of rows) {
    const minute = bucketStart(row.minute, granularity);
    const id = JSON.stringify([row.keyUuid, minute, row.model]);
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { keyUuid: row.keyUuid, minute, model: row.model, requests: 0, inputTokens: 0, outputTokens: 0, denials: {} }));
    group.requests += row.requests;
    group.inputTokens += row.inputTokens;
    group.outputTokens += row.outputTokens;
    for (const [code, count] of Object.entries(row.denials)) group.denials[code] = (group.denials[code] ?? 0) + count;
  }
  return [...groups.values()];
}
