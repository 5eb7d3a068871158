import type Database from 'better-sqlite3';
import { IngestOutcome, KeyUsageTotals, MAX_COUNTER, SPAN_MINUTES, UsageBatch, UsageBucket, UsageGranularity, UsageStore, batchDigest, rolledUp, saturated, toBuckets } from './usage-store.port';

/** The upsert's counters, added and saturated at MAX_COUNTER. */
const ADD_COUNTERS = ['requests', 'input_tokens', 'output_tokens'].map((c) => `${c} = MIN(${c} + excluded.${c}, ${MAX_COUNTER})`).join(', ');

/**
 * Usage in the read-model database (read-models.db), each instance's own: the embedded default. It sits
 * beside the views but, unlike them, cannot be rebuilt from the events: losing the file loses the usage.
 * The database handle belongs to the read side (StorageModule closes it).
 */
export class SqliteUsageStore implements UsageStore {
  private readonly markBatch: Database.Statement<[string, number, string, string]>;
  private readonly selectBatch: Database.Statement<[string, number], { digest: string | null }>;
  private readonly selectMinute: Database.Statement<[string, string, string], { denials: string }>;
  private readonly addMinute: Database.Statement<[string, string, string, number, number, number, string]>;
  private readonly selectLastUsed: Database.Statement<[string], { minute: string | null }>;
  private readonly selectTotals: Database.Statement<[string, string], { requests: number | null; input: number | null; output: number | null }>;
  private readonly selectSeries: Database.Statement<
    [string, string, string],
    { minute: string; requests: number; input_tokens: number; output_tokens: number; denials: string }
  >;
  private readonly selectUsedKeys: Database.Statement<[string, string, string], { key_uuid: string }>;
  private readonly ingestAll: (batch: UsageBatch, receivedAt: string) => IngestOutcome;
  private readonly rollUpAll: (granularity: 'hour' | 'day', before: string) => number;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS usage_batches (
        gateway_id TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (gateway_id, sequence)
      );
      CREATE INDEX IF NOT EXISTS usage_batches_by_received_at ON usage_batches (received_at);
      CREATE TABLE IF NOT EXISTS usage_minutes (
        key_uuid TEXT NOT NULL,
        minute TEXT NOT NULL,
        model TEXT NOT NULL,
        requests INTEGER NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        denials TEXT NOT NULL,
        span INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (key_uuid, minute, model)
      );
    `);
    // Files made before retention lack the span (minutes a row covers: 1, or 60 and 1440 once rolled up).
    if (!(db.prepare('PRAGMA table_info(usage_minutes)').all() as Array<{ name: string }>).some((c) => c.name === 'span')) {
      db.exec('ALTER TABLE usage_minutes ADD COLUMN span INTEGER NOT NULL DEFAULT 1');
    }
    // Marks made before the digest have none: a repeat of one of those is taken for a retry.
    if (!(db.prepare('PRAGMA table_info(usage_batches)').all() as Array<{ name: string }>).some((c) => c.name === 'digest')) {
      db.exec('ALTER TABLE usage_batches ADD COLUMN digest TEXT');
    }
    this.markBatch = db.prepare('INSERT OR IGNORE INTO usage_batches (gateway_id, sequence, received_at, digest) VALUES (?, ?, ?, ?)');
    this.selectBatch = db.prepare('SELECT digest FROM usage_batches WHERE gateway_id = ? AND sequence = ?');
    this.selectMinute = db.prepare('SELECT denials FROM usage_minutes WHERE key_uuid = ? AND minute = ? AND model = ?');
    this.addMinute = db.prepare(
      `INSERT INTO usage_minutes (key_uuid, minute, model, requests, input_tokens, output_tokens, denials) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(key_uuid, minute, model) DO UPDATE SET ${ADD_COUNTERS}, denials = excluded.denials`,
    );
    this.selectLastUsed = db.prepare('SELECT MAX(minute) AS minute FROM usage_minutes WHERE key_uuid = ? AND requests > 0');
    this.selectTotals = db.prepare(
      // TOTAL, not SUM: a float that cannot overflow (SUM of integers throws past 2^63).
      'SELECT TOTAL(requests) AS requests, TOTAL(input_tokens) AS input, TOTAL(output_tokens) AS output FROM usage_minutes WHERE key_uuid = ? AND minute >= ?',
    );
    this.selectSeries = db.prepare(
      'SELECT minute, requests, input_tokens, output_tokens, denials FROM usage_minutes WHERE key_uuid = ? AND minute >= ? AND minute < ? ORDER BY minute',
    );
    this.selectUsedKeys = db.prepare(
      `SELECT DISTINCT u.key_uuid FROM usage_minutes u JOIN json_each(?) k ON k.value = u.key_uuid
       WHERE u.minute >= ? AND u.minute < ? ORDER BY u.key_uuid`,
    );
    this.ingestAll = db.transaction((batch: UsageBatch, receivedAt: string): IngestOutcome => {
      const digest = batchDigest(batch.records);
      if (this.markBatch.run(batch.gatewayId, batch.sequence, receivedAt, digest).changes === 0) {
        const marked = this.selectBatch.get(batch.gatewayId, batch.sequence)?.digest ?? null;
        return marked === null || marked === digest ? 'repeated' : 'conflict';
      }
      for (const record of batch.records) {
        const before = this.selectMinute.get(record.keyUuid, record.minute, record.model);
        const denials: Record<string, number> = before ? (JSON.parse(before.denials) as Record<string, number>) : {};
        for (const [code, count] of Object.entries(record.denials)) if (count) denials[code] = (denials[code] ?? 0) + count;
        this.addMinute.run(record.keyUuid, record.minute, record.model, record.requests, record.inputTokens, record.outputTokens, JSON.stringify(denials));
      }
      return 'counted';
    });
    this.rollUpAll = db.transaction((granularity: 'hour' | 'day', before: string) => {
      const span = SPAN_MINUTES[granularity];
      const rows = db
        .prepare<[string, number], { key_uuid: string; minute: string; model: string; requests: number; input_tokens: number; output_tokens: number; denials: string }>(
          'SELECT key_uuid, minute, model, requests, input_tokens, output_tokens, denials FROM usage_minutes WHERE minute < ? AND span < ?',
        )
        .all(before, span);
      if (rows.length === 0) return 0;
      const groups = rolledUp(
        rows.map((r) => ({ keyUuid: r.key_uuid, minute: r.minute, model: r.model, requests: r.requests, inputTokens: r.input_tokens, outputTokens: r.output_tokens, denials: JSON.parse(r.denials) as Record<string, number> })),
        granularity,
      );
      db.prepare('DELETE FROM usage_minutes WHERE minute < ? AND span < ?').run(before, span);
      // A bucket rolled up before may be there already (a late report came in since): added to it.
      const insert = db.prepare<[string, string, string, number, number, number, string, number]>(
        `INSERT INTO usage_minutes (key_uuid, minute, model, requests, input_tokens, output_tokens, denials, span) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(key_uuid, minute, model) DO UPDATE SET ${ADD_COUNTERS}, denials = excluded.denials, span = MAX(span, excluded.span)`,
      );
      for (const g of groups) {
        const before = this.selectMinute.get(g.keyUuid, g.minute, g.model);
        const denials: Record<string, number> = before ? (JSON.parse(before.denials) as Record<string, number>) : {};
        for (const [code, count] of Object.entries(g.denials)) denials[code] = (denials[code] ?? 0) + count;
        insert.run(g.keyUuid, g.minute, g.model, g.requests, g.inputTokens, g.outputTokens, JSON.stringify(denials), span);
      }
      return rows.length - groups.length;
    });
  }

  async rollUp(granularity: 'hour' | 'day', before: string): Promise<number> {
    return this.rollUpAll(granularity, before);
  }

  async ingest(batch: UsageBatch, receivedAt: string): Promise<IngestOutcome> {
    return this.ingestAll(batch, receivedAt);
  }

  async series(keyUuid: string, from: string, to: string, granularity: UsageGranularity): Promise<UsageBucket[]> {
    const rows = this.selectSeries.all(keyUuid, from, to).map((row) => ({
      minute: row.minute,
      requests: row.requests,
      inputTokens: row.input_tokens,
      outputTokens: row.output_tokens,
      denials: JSON.parse(row.denials) as Record<string, number>,
    }));
    return toBuckets(rows, granularity);
  }

  async lastUsedAt(keyUuid: string): Promise<string | null> {
    return this.selectLastUsed.get(keyUuid)?.minute ?? null;
  }

  async totalsSince(keyUuid: string, since: string): Promise<KeyUsageTotals> {
    const row = this.selectTotals.get(keyUuid, since);
    return { requests: saturated(row?.requests), inputTokens: saturated(row?.input), outputTokens: saturated(row?.output) };
  }

  async forgetBatches(receivedBefore: string): Promise<number> {
    return this.db.prepare('DELETE FROM usage_batches WHERE received_at < ?').run(receivedBefore).changes;
  }

  async keysUsedBetween(keyUuids: readonly string[], from: string, to: string): Promise<string[]> {
    if (keyUuids.length === 0) return [];
    return this.selectUsedKeys.all(JSON.stringify(keyUuids), from, to).map((row) => row.key_uuid);
  }

  async close(): Promise<void> {
    // The read-model database is closed with the read side.
  }
}
