import { Inject, Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { Principal } from '../auth/principal';
import { CLOCK, Clock } from '../common/clock';
import { DomainError } from '../common/domain-error';
import { parseInstant } from '../keys/domain/key-input.rules';
import { canSee } from '../keys/domain/key-access.policy';
import { READ_MODEL_DB } from '../read-side/read-model.database';
import { KeyUsageResponse, MAX_RANGE_DAYS, ProviderKeyUsageResponse, TeamUsageResponse, UsageQueryRequest } from './usage-query.request.dto';
import { BUCKET_CHARS, USAGE_STORE, UsageBucket, UsageGranularity, UsageStore, bucketStart } from './usage-store.port';

interface ProviderKeyReadsBucket {
  start: string;
  reads: number;
  agents: Record<string, number>;
}

/** What a usage read needs of a key's view row (deleted keys included). */
const KEY_COLUMNS = 'key_uuid, team_id, created_by, legacy, deleted_at';
interface KeyRow {
  readonly key_uuid: string;
  readonly team_id: string;
  readonly created_by: string;
  readonly legacy: number;
  readonly deleted_at: string | null;
}

/**
 * Reads of the usage store, for HTTP (GET /v1/usage/keys/{uuid}, GET /v1/usage) and gRPC
 * (GetKeyUsage, GetTeamUsage): one key's series (owners and auditors of its team, a member for the
 * keys they see), and the team's keys with usage in a range. Usage lags the traffic by the gateways'
 * report interval (at most 1 s).
 */
@Injectable()
export class UsageReads {
  constructor(
    @Inject(USAGE_STORE) private readonly store: UsageStore,
    @Inject(READ_MODEL_DB) private readonly db: Database.Database,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Throws DomainError KEY_NOT_FOUND for a key the caller may not see (another team's, or a member's
   * look at a colleague's). A deleted key's usage stays readable, with its `deleted_at`: the traffic
   * before the delete was used, and is billed.
   */
  async keyUsage(actor: Principal, uuid: string, query: UsageQueryRequest): Promise<KeyUsageResponse> {
    const range = this.range(query);
    const row = this.db.prepare<[string], KeyRow>(`SELECT ${KEY_COLUMNS} FROM key_views WHERE key_uuid = ?`).get(uuid);
    if (!row || !this.visible(actor, row)) throw new DomainError('KEY_NOT_FOUND', `key ${uuid} not found`);
    return this.usageOf(row, range);
  }

  /**
   * A page (`page` from 1, `perPage` keys) of the team's keys that the caller may see and that have
   * usage in the range, by key uuid, each with its series; `total`: how many keys have usage in it.
   */
  async teamUsage(actor: Principal, query: UsageQueryRequest, page: number, perPage: number): Promise<Omit<TeamUsageResponse, 'links' | 'meta'> & { total: number }> {
    const range = this.range(query);
    // The team's keys come from the views (this instance's read-model database); their usage from the
    // usage store, which may be elsewhere (PostgreSQL), so the two are not joined in SQL.
    const teamKeys = this.db.prepare<[string], KeyRow>(`SELECT ${KEY_COLUMNS} FROM key_views WHERE team_id = ?`).all(actor.teamId);
    const visible = new Map(teamKeys.filter((row) => this.visible(actor, row)).map((row) => [row.key_uuid, row]));
    const used = await this.store.keysUsedBetween([...visible.keys()], range.from, range.to);
    const onPage = used.slice((page - 1) * perPage, page * perPage);
    const keys = await Promise.all(onPage.map((keyUuid) => this.usageOf(visible.get(keyUuid)!, range)));
    return { from: range.from, to: range.to, granularity: range.granularity, keys, total: used.length };
  }

  /**
   * A partner provider key's usage: its plaintext reads in buckets, each with the reads by the agent
   * they named (reads that named none count in `reads` only), and the agents now linked with their
   * totals. Who may read it is who may see the key (DigitalOcean's GET); a deleted key's stays readable.
   * Throws DomainError KEY_NOT_FOUND otherwise.
   */
  async providerKeyUsage(actor: Principal, uuid: string, query: UsageQueryRequest): Promise<ProviderKeyUsageResponse> {
    const range = this.range(query);
    const key = this.db
      .prepare<[string], { key_uuid: string; team_id: string; provider: string; created_by: string; deleted_at: string | null }>(
        'SELECT key_uuid, team_id, provider, created_by, deleted_at FROM provider_key_views WHERE key_uuid = ?',
      )
      .get(uuid);
    if (!key || !canSee(actor, { teamId: key.team_id, createdBy: key.created_by, legacy: false })) {
      throw new DomainError('KEY_NOT_FOUND', `provider key ${uuid} not found`);
    }
    const rows = this.db
      .prepare<[string, string, string], { minute: string; agent_uuid: string; reads: number }>(
        'SELECT minute, agent_uuid, reads FROM provider_key_reads WHERE key_uuid = ? AND minute >= ? AND minute < ? ORDER BY minute',
      )
      .all(uuid, range.from, range.to);
    const chars = BUCKET_CHARS[range.granularity];
    const buckets = new Map<string, ProviderKeyReadsBucket>();
    const totals: ProviderKeyReadsBucket = { start: range.from, reads: 0, agents: {} };
    for (const row of rows) {
      const id = row.minute.slice(0, chars);
      let bucket = buckets.get(id);
      if (!bucket) buckets.set(id, (bucket = { start: bucketStart(row.minute, range.granularity), reads: 0, agents: {} }));
      for (const sum of [bucket, totals]) {
        sum.reads += row.reads;
        if (row.agent_uuid !== '') sum.agents[row.agent_uuid] = (sum.agents[row.agent_uuid] ?? 0) + row.reads;
      }
    }
    return { key_uuid: key.key_uuid, provider: key.provider, deleted_at: key.deleted_at, from: range.from, to: range.to, granularity: range.granularity, series: [...buckets.values()], totals };
  }

  private visible(actor: Principal, row: KeyRow): boolean {
    return canSee(actor, { teamId: row.team_id, createdBy: row.created_by, legacy: row.legacy === 1 });
  }

  private async usageOf(key: KeyRow, range: { from: string; to: string; granularity: UsageGranularity }): Promise<KeyUsageResponse> {
    const series = await this.store.series(key.key_uuid, range.from, range.to, range.granularity);
    const totals = series.reduce<UsageBucket>(
      (sum, bucket) => {
        const denials = { ...sum.denials };
        for (const [code, count] of Object.entries(bucket.denials)) denials[code] = (denials[code] ?? 0) + count;
        return { start: sum.start, requests: sum.requests + bucket.requests, inputTokens: sum.inputTokens + bucket.inputTokens, outputTokens: sum.outputTokens + bucket.outputTokens, denials };
      },
      { start: range.from, requests: 0, inputTokens: 0, outputTokens: 0, denials: {} },
    );
    const wire = (b: UsageBucket) => ({ start: b.start, requests: b.requests, input_tokens: b.inputTokens, output_tokens: b.outputTokens, denials: { ...b.denials } });
    return { key_uuid: key.key_uuid, deleted_at: key.deleted_at, from: range.from, to: range.to, granularity: range.granularity, series: series.map(wire), totals: wire(totals) };
  }

  /**
   * The range. A range that is empty (`from` at or after `to`) has no usage. Its length is bounded by
   * the granularity (MAX_RANGE_DAYS), so that an answer's buckets per key are bounded.
   */
  private range(query: UsageQueryRequest): { from: string; to: string; granularity: UsageGranularity } {
    const granularity = query.granularity ?? 'hour';
    const toMs = query.to !== undefined ? parseInstant(query.to)! : this.clock.now().getTime();
    const fromMs = query.from !== undefined ? parseInstant(query.from)! : toMs - 86_400_000;
    const iso = (ms: number) => {
      const date = new Date(ms);
      if (Number.isNaN(date.getTime())) throw new DomainError('VALIDATION_FAILED', 'from and to must be instants between the years 0000 and 9999', { field: 'from' });
      return date.toISOString();
    };
    const from = iso(fromMs);
    const to = iso(toMs);
    const maxDays = MAX_RANGE_DAYS[granularity];
    if (toMs - fromMs > maxDays * 86_400_000) {
      // A rule across from, to and granularity, which the document cannot state: 422, as such rules are.
      throw new DomainError('USAGE_RANGE_TOO_LONG', `from must be at most ${maxDays} days before to with granularity ${granularity}; use a coarser granularity`, { field: 'from' });
    }
    return { from, to, granularity };
  }
}
