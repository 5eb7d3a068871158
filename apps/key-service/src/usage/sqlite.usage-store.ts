import type Database from 'better-sqlite3';
import { KeyUsageTotals, UsageBatch, UsageBucket, UsageGranularity, UsageStore, toBuckets } from './usage.store';

/**
 * Usage in the read-model database (read-models.db), each instance's own: the embedded default. It sits
 * beside the views but, unlike them, cannot be rebuilt from the events: losing the file loses the usage.
 * The database handle belongs to the read side (StorageModule closes it).
 */
export class SqliteUsageStore implements UsageStore {
  private readonly markBatch: Database.Statement<[string, number, string]>;
  private readonly selectMinute: Database.Statement<[string, string, string], { denials: string }>;
  private readonly addMinute: Database.Statement<[string, string, string, number, number, number, string]>;
  private readonly selectLastUsed: Database.Statement<[string], { minute: string | null }>;
  private readonly selectTotals: Database.Statement<[string, string], { requests: number | null; input: number | null; output: number | null }>;
  private readonly selectSeries: Database.Statement<
    [string, string, string],
    { minute: string; requests: number; input_tokens: number; output_tokens: number; denials: string }
  >;
  private readonly selectUsedKeys: Database.Statement<[string, string, string], { key_uuid: string }>;
  private readonly ingestAll: (batch: UsageBatch, receivedAt: string) => boolean;

  constructor(private readonly db: Database.Database) {
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
    this.selectSeries = db.prepare(
      'SELECT minute, requests, input_tokens, output_tokens, denials FROM usage_minutes WHERE key_uuid = ? AND minute >= ? AND minute < ? ORDER BY minute',
    );
    this.selectUsedKeys = db.prepare(
      `SELECT DISTINCT u.key_uuid FROM usage_minutes u JOIN json_each(?) k ON k.value = u.key_uuid
       WHERE u.minute >= ? AND u.minute < ? ORDER BY u.key_uuid`,
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

  async ingest(batch: UsageBatch, receivedAt: string): Promise<boolean> {
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
    return { requests: row?.requests ?? 0, inputTokens: row?.input ?? 0, outputTokens: row?.output ?? 0 };
  }

  async keysUsedBetween(keyUuids: readonly string[], from: string, to: string): Promise<string[]> {
    if (keyUuids.length === 0) return [];
    return this.selectUsedKeys.all(JSON.stringify(keyUuids), from, to).map((row) => row.key_uuid);
  }

  async close(): Promise<void> {
    // The read-model database is closed with the read side.
  }
}
