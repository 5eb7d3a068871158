import type { Pool, PoolClient } from 'pg';
import { EventStoreUnavailableError, redactUrl } from '@lib/event-store';
import { IngestOutcome, KeyUsageTotals, MAX_COUNTER, SPAN_MINUTES, UsageBatch, UsageBucket, UsageGranularity, UsageRecord, UsageStore, batchDigest, rolledUp, saturated, toBuckets } from './usage-store.port';

// Byte order (COLLATE "C"), as SQLite compares: ISO minutes and uuids then sort as the instants and the hex do.
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS usage_batches (
    gateway_id  TEXT   NOT NULL,
    sequence    BIGINT NOT NULL,
    received_at TEXT   NOT NULL,
    PRIMARY KEY (gateway_id, sequence)
  );
  CREATE INDEX IF NOT EXISTS usage_batches_by_received_at ON usage_batches (received_at);
  ALTER TABLE usage_batches ADD COLUMN IF NOT EXISTS digest TEXT;
  CREATE TABLE IF NOT EXISTS usage_minutes (
    key_uuid      TEXT COLLATE "C" NOT NULL,
    minute        TEXT COLLATE "C" NOT NULL,
    model         TEXT   NOT NULL,
    requests      BIGINT NOT NULL,
    input_tokens  BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    denials       JSONB  NOT NULL,
    PRIMARY KEY (key_uuid, minute, model)
  );
  ALTER TABLE usage_minutes ADD COLUMN IF NOT EXISTS span INTEGER NOT NULL DEFAULT 1;
`;
/** Any constant will do: instances starting together create the tables one after the other. */
const SCHEMA_LOCK = 727_274_006;

/**
 * Adds one batch's rows: counters are added in the row (an upsert takes the row's lock and adds to the
 * last committed value, so two instances adding to the same minute at once both count), and the
 * denials' JSON objects are summed code by code.
 */
const ADD_MINUTES = `
  INSERT INTO usage_minutes AS u (key_uuid, minute, model, requests, input_tokens, output_tokens, denials, span)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::jsonb[], $8::int[])
  ON CONFLICT (key_uuid, minute, model) DO UPDATE SET
    span = GREATEST(u.span, excluded.span),
    requests = LEAST(u.requests + excluded.requests, ${MAX_COUNTER}),
    input_tokens = LEAST(u.input_tokens + excluded.input_tokens, ${MAX_COUNTER}),
    output_tokens = LEAST(u.output_tokens + excluded.output_tokens, ${MAX_COUNTER}),
    denials = (
      SELECT COALESCE(jsonb_object_agg(code, total), '{}'::jsonb) FROM (
        SELECT code, SUM(n::bigint) AS total FROM (
          SELECT key AS code, value AS n FROM jsonb_each_text(u.denials)
          UNION ALL
          SELECT key, value FROM jsonb_each_text(excluded.denials)
        ) d GROUP BY code
      ) s
    )`;

/**
 * Usage in PostgreSQL beside the events (EVENT_STORE=postgres), so that every instance of a fleet
 * counts the same reports: a key's quota is judged from what all the gateways reported, whichever
 * instance each report reached. Tables `usage_batches` and `usage_minutes`; not the log.
 */
export class PostgresUsageStore implements UsageStore {
  private constructor(private readonly pool: Pool) {}

  /**
   * Connects (a pool of 4) and creates the tables if needed.
   * Throws EventStoreUnavailableError naming DATABASE_URL (its password redacted) when the server cannot be reached or refuses.
   */
  static async connect(url: string): Promise<PostgresUsageStore> {
    const { Pool } = await import('pg');
    const pool = new Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 });
    pool.on('error', () => undefined);
    try {
      const client = await pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock($1)', [SCHEMA_LOCK]);
        try {
          await client.query(SCHEMA);
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [SCHEMA_LOCK]);
        }
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new EventStoreUnavailableError(
        `EVENT_STORE=postgres: cannot keep usage in PostgreSQL at DATABASE_URL=${redactUrl(url)}: ${(error as Error).message}`,
      );
    }
    return new PostgresUsageStore(pool);
  }

  async ingest(batch: UsageBatch, receivedAt: string): Promise<IngestOutcome> {
    const rows = mergeRecords(batch.records);
    const digest = batchDigest(batch.records);
    return this.inTransaction(async (client): Promise<IngestOutcome> => {
      // A retry racing its first attempt on another instance waits here on the key's index entry,
      // then finds it taken once the first commits.
      const marked = await client.query(
        'INSERT INTO usage_batches (gateway_id, sequence, received_at, digest) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
        [batch.gatewayId, batch.sequence, receivedAt, digest],
      );
      if (marked.rowCount !== 1) {
        // Marks made before the digest have none: a repeat of one of those is taken for a retry.
        const { rows: found } = await client.query<{ digest: string | null }>('SELECT digest FROM usage_batches WHERE gateway_id = $1 AND sequence = $2', [batch.gatewayId, batch.sequence]);
        const stored = found[0]?.digest ?? null;
        return stored === null || stored === digest ? 'repeated' : 'conflict';
      }
      if (rows.length > 0) {
        await client.query(ADD_MINUTES, [
          rows.map((r) => r.keyUuid),
          rows.map((r) => r.minute),
          rows.map((r) => r.model),
          rows.map((r) => r.requests),
          rows.map((r) => r.inputTokens),
          rows.map((r) => r.outputTokens),
          rows.map((r) => JSON.stringify(r.denials)),
          rows.map(() => 1),
        ]);
      }
      return 'counted';
    });
  }

  async series(keyUuid: string, from: string, to: string, granularity: UsageGranularity): Promise<UsageBucket[]> {
    const { rows } = await this.pool.query<{ minute: string; requests: string; input_tokens: string; output_tokens: string; denials: Record<string, number> }>(
      `SELECT minute, requests, input_tokens, output_tokens, denials FROM usage_minutes
        WHERE key_uuid = $1 AND minute >= $2 AND minute < $3 ORDER BY minute`,
      [keyUuid, from, to],
    );
    return toBuckets(
      rows.map((row) => ({
        minute: row.minute,
        requests: Number(row.requests),
        inputTokens: Number(row.input_tokens),
        outputTokens: Number(row.output_tokens),
        denials: Object.fromEntries(Object.entries(row.denials).map(([code, n]) => [code, Number(n)])),
      })),
      granularity,
    );
  }

  async lastUsedAt(keyUuid: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ minute: string | null }>(
      'SELECT MAX(minute) AS minute FROM usage_minutes WHERE key_uuid = $1 AND requests > 0',
      [keyUuid],
    );
    return rows[0]?.minute ?? null;
  }

  async totalsSince(keyUuid: string, since: string): Promise<KeyUsageTotals> {
    const { rows } = await this.pool.query<{ requests: string | null; input: string | null; output: string | null }>(
      `SELECT SUM(requests) AS requests, SUM(input_tokens) AS input, SUM(output_tokens) AS output
         FROM usage_minutes WHERE key_uuid = $1 AND minute >= $2`,
      [keyUuid, since],
    );
    return { requests: saturated(rows[0]?.requests), inputTokens: saturated(rows[0]?.input), outputTokens: saturated(rows[0]?.output) };
  }

  async forgetBatches(receivedBefore: string): Promise<number> {
    const { rowCount } = await this.pool.query('DELETE FROM usage_batches WHERE received_at < $1', [receivedBefore]);
    return rowCount ?? 0;
  }

  async rollUp(granularity: 'hour' | 'day', before: string): Promise<number> {
    const span = SPAN_MINUTES[granularity];
    return this.inTransaction(async (client) => {
      // Writes wait while the rows are rolled up (reads do not), and so does another instance's rollup:
      // a row added between the read and the delete below would otherwise be lost.
      await client.query('LOCK TABLE usage_minutes IN EXCLUSIVE MODE');
      const { rows } = await client.query<{ key_uuid: string; minute: string; model: string; requests: string; input_tokens: string; output_tokens: string; denials: Record<string, number> }>(
        'SELECT key_uuid, minute, model, requests, input_tokens, output_tokens, denials FROM usage_minutes WHERE minute < $1 AND span < $2',
        [before, span],
      );
      if (rows.length === 0) return 0;
      const groups = mergeRecords(
        rolledUp(
          rows.map((r) => ({
            keyUuid: r.key_uuid,
            minute: r.minute,
            model: r.model,
            requests: Number(r.requests),
            inputTokens: Number(r.input_tokens),
            outputTokens: Number(r.output_tokens),
            denials: Object.fromEntries(Object.entries(r.denials).map(([code, n]) => [code, Number(n)])),
          })),
          granularity,
        ),
      );
      await client.query('DELETE FROM usage_minutes WHERE minute < $1 AND span < $2', [before, span]);
      // A bucket rolled up before may be there already (a late report came in since): added to it.
      await client.query(ADD_MINUTES, [
        groups.map((r) => r.keyUuid),
        groups.map((r) => r.minute),
        groups.map((r) => r.model),
        groups.map((r) => r.requests),
        groups.map((r) => r.inputTokens),
        groups.map((r) => r.outputTokens),
        groups.map((r) => JSON.stringify(r.denials)),
        groups.map(() => span),
      ]);
      return rows.length - groups.length;
    });
  }

  async keysUsedBetween(keyUuids: readonly string[], from: string, to: string): Promise<string[]> {
    if (keyUuids.length === 0) return [];
    const { rows } = await this.pool.query<{ key_uuid: string }>(
      `SELECT DISTINCT key_uuid FROM usage_minutes WHERE key_uuid = ANY($1::text[]) AND minute >= $2 AND minute < $3 ORDER BY key_uuid`,
      [keyUuids, from, to],
    );
    return rows.map((row) => row.key_uuid);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}

/**
 * One row per (key, minute, model), in that order: one statement may not update a row twice, and
 * taking the rows' locks in one order keeps two instances' batches from deadlocking on each other.
 */
function mergeRecords(records: readonly UsageRecord[]): UsageRecord[] {
  const merged = new Map<string, { -readonly [K in keyof UsageRecord]: UsageRecord[K] } & { denials: Record<string, number> }>();
  for (const record of records) {
    const id = JSON.stringify([record.keyUuid, record.minute, record.model]);
    const row = merged.get(id);
    if (!row) {
      merged.set(id, { ...record, denials: { ...record.denials } as Record<string, number> });
      continue;
    }
    row.requests += record.requests;
    row.inputTokens += record.inputTokens;
    row.outputTokens += record.outputTokens;
    for (const [code, count] of Object.entries(record.denials)) if (count) row.denials[code] = (row.denials[code] ?? 0) + count;
  }
  const order = (r: UsageRecord) => [r.keyUuid, r.minute, r.model];
  return [...merged.values()].sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
  });
}
