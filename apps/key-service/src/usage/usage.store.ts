import { Inject, Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { READ_MODEL_DB } from '../read-side/read-model.database';

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

export interface UsageBatch {
  readonly gatewayId: string;
  readonly sequence: number;
  readonly records: readonly UsageRecord[];
}

export type UsageGranularity = 'minute' | 'hour' | 'day';
/** How many leading characters of an ISO minute name its bucket (`2026-11-22T10:07`, `...T10`, `2026-11-22`). */
const BUCKET_CHARS: Readonly<Record<UsageGranularity, number>> = { minute: 16, hour: 13, day: 10 };

/** One bucket of a key's usage. */
export interface UsageBucket {
  readonly start: string;
  readonly requests: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly denials: Readonly<Record<string, number>>;
}

export interface KeyUsageTotals {
  readonly requests: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/**
 * The usage store: per key, per minute, per model counts of requests, input and output tokens and
 * denials by code, as the gateways report them (POST /v1/usage). It is not the event log: counters
 * are not decisions. It lives in the read-model database (read-models.db) beside the views, but unlike
 * them it cannot be rebuilt from the events: losing the file loses the usage.
 *
 * A batch is counted once: (gateway id, sequence) is recorded in the same transaction as its counts,
 * and a batch already recorded (a retry after a lost answer) changes nothing.
 */
@Injectable()
export class UsageStore {
  private readonly markBatch: Database.Statement<[string, number, string]>;
  private readonly selectMinute: Database.Statement<[string, string, string], { denials: string }>;
  private readonly addMinute: Database.Statement<[string, string, string, number, number, number, string]>;
  private readonly selectLastUsed: Database.Statement<[string], { minute: string | null }>;
  private readonly selectTotals: Database.Statement<[string, string], { requests: number | null; input: number | null; output: number | null }>;
  private readonly ingestAll: (batch: UsageBatch, receivedAt: string) => boolean;

  constructor(@Inject(READ_MODEL_DB) private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS usage_batches (
        gateway_id TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (gateway_id, sequence)
      );
      CREATE TABLE IF NOT EXISTS usage_minutes (
        key_uuid TEXT NOT NULL,
        minute TEXT NOT NULL,
        model TEXT NOT NULL,
        requests INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        denials TEXT NOT NULL,
        PRIMARY KEY (key_uuid, minute, model)
      );
    `);
    this.markBatch = db.prepare('INSERT OR IGNORE INTO usage_batches VALUES (?, ?, ?)');
    this.selectMinute = db.prepare('SELECT denials FROM usage_minutes WHERE key_uuid = ? AND minute = ? AND model = ?');
    this.addMinute = db.prepare(
      `INSERT INTO usage_minutes VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(key_uuid, minute, model) DO UPDATE SET requests = requests + excluded.requests,
         input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
         denials = excluded.denials`,
    );
    this.selectLastUsed = db.prepare('SELECT MAX(minute) AS minute FROM usage_minutes WHERE key_uuid = ? AND requests > 0');
    this.selectTotals = db.prepare(
      'SELECT SUM(requests) AS requests, SUM(input_tokens) AS input, SUM(output_tokens) AS output FROM usage_minutes WHERE key_uuid = ? AND minute >= ?',
    );
    this.ingestAll = db.transaction((batch: UsageBatch, receivedAt: string) => {
      if (this.markBatch.run(batch.gatewayId, batch.sequence, receivedAt).changes === 0) return false;
      for (const record of batch.records) {
        const before = this.selectMinute.get(record.keyUuid, record.minute, record.model);
        const denials: Record<string, number> = before ? (JSON.parse(before.denials) as Record<string, number>) : {};
        for (const [code, count] of Object.entries(record.denials)) if (count) denials[code] = (denials[code] ?? 0) + count;
        this.addMinute.run(record.keyUuid, record.minute, record.model, record.requests, record.inputTokens, record.outputTokens, JSON.stringify(denials));
      }
      return true;
    });
  }

  /**
   * The key's usage from `from` (inclusive) to `to` (exclusive), ISO instants, in buckets of
   * `granularity` (UTC), oldest first; buckets without traffic are left out.
   */
  series(keyUuid: string, from: string, to: string, granularity: UsageGranularity): UsageBucket[] {
    const chars = BUCKET_CHARS[granularity];
    const rows = this.db
      .prepare<[string, string, string], { minute: string; requests: number; input_tokens: number; output_tokens: number; denials: string }>(
        'SELECT minute, requests, input_tokens, output_tokens, denials FROM usage_minutes WHERE key_uuid = ? AND minute >= ? AND minute < ? ORDER BY minute',
      )
      .all(keyUuid, from, to);
    const buckets = new Map<string, { requests: number; inputTokens: number; outputTokens: number; denials: Record<string, number> }>();
    for (const row of rows) {
      const id = row.minute.slice(0, chars);
      let bucket = buckets.get(id);
      if (!bucket) buckets.set(id, (bucket = { requests: 0, inputTokens: 0, outputTokens: 0, denials: {} }));
      bucket.requests += row.requests;
      bucket.inputTokens += row.input_tokens;
      bucket.outputTokens += row.output_tokens;
      for (const [code, count] of Object.entries(JSON.parse(row.denials) as Record<string, number>)) bucket.denials[code] = (bucket.denials[code] ?? 0) + count;
    }
    const startOf = (id: string) => new Date(`${id}${'0000-01-01T00:00'.slice(id.length)}:00.000Z`).toISOString();
    return [...buckets].map(([id, bucket]) => ({ start: startOf(id), ...bucket }));
  }

  /** Adds a batch's counts; false (and nothing changed) when this gateway's batch was counted before. */
  ingest(batch: UsageBatch, receivedAt: string): boolean {
    return this.ingestAll(batch, receivedAt);
  }

  /** The last minute with a request of the key, ISO 8601 (minute precision); null when never used. */
  lastUsedAt(keyUuid: string): string | null {
    return this.selectLastUsed.get(keyUuid)?.minute ?? null;
  }

  /** What the key used from `since` (an ISO minute) on. */
  totalsSince(keyUuid: string, since: string): KeyUsageTotals {
    const row = this.selectTotals.get(keyUuid, since);
    return { requests: row?.requests ?? 0, inputTokens: row?.input ?? 0, outputTokens: row?.output ?? 0 };
  }
}
