import { Inject, Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { Principal } from '../auth/principal';
import { CLOCK, Clock } from '../common/clock';
import { DomainError } from '../common/domain-error';
import { parseInstant } from '../keys/domain/key-input.rules';
import { canSee } from '../keys/domain/key-access.policy';
import { KeyViewsQuery } from '../keys/key-views.query';
import { READ_MODEL_DB } from '../read-side/read-model.database';
import { KeyUsageResponse, TeamUsageResponse, UsageQueryRequest } from './usage-query.request.dto';
import { USAGE_STORE, UsageBucket, UsageGranularity, UsageStore } from './usage-store.port';

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
    private readonly keys: KeyViewsQuery,
    @Inject(READ_MODEL_DB) private readonly db: Database.Database,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Throws DomainError KEY_NOT_FOUND for a key the caller may not see (another team's, a deleted one). */
  async keyUsage(actor: Principal, uuid: string, query: UsageQueryRequest): Promise<KeyUsageResponse> {
    const range = this.range(query);
    this.keys.get(actor, uuid); // KEY_NOT_FOUND for a key the caller may not see
    return this.usageOf(uuid, range);
  }

  async teamUsage(actor: Principal, query: UsageQueryRequest): Promise<TeamUsageResponse> {
    const range = this.range(query);
    // The team's keys come from the views (this instance's read-model database); their usage from the
    // usage store, which may be elsewhere (PostgreSQL), so the two are not joined in SQL.
    const teamKeys = this.db
      .prepare<[string], { key_uuid: string; team_id: string; created_by: string; legacy: number }>(
        'SELECT key_uuid, team_id, created_by, legacy FROM key_views WHERE team_id = ?',
      )
      .all(actor.teamId);
    const visible = teamKeys
      .filter((row) => canSee(actor, { teamId: row.team_id, createdBy: row.created_by, legacy: row.legacy === 1 }))
      .map((row) => row.key_uuid);
    const used = await this.store.keysUsedBetween(visible, range.from, range.to);
    const keys = await Promise.all(used.map((keyUuid) => this.usageOf(keyUuid, range)));
    return { from: range.from, to: range.to, granularity: range.granularity, keys };
  }

  private async usageOf(keyUuid: string, range: { from: string; to: string; granularity: UsageGranularity }): Promise<KeyUsageResponse> {
    const series = await this.store.series(keyUuid, range.from, range.to, range.granularity);
    const totals = series.reduce<UsageBucket>(
      (sum, bucket) => {
        const denials = { ...sum.denials };
        for (const [code, count] of Object.entries(bucket.denials)) denials[code] = (denials[code] ?? 0) + count;
        return { start: sum.start, requests: sum.requests + bucket.requests, inputTokens: sum.inputTokens + bucket.inputTokens, outputTokens: sum.outputTokens + bucket.outputTokens, denials };
      },
      { start: range.from, requests: 0, inputTokens: 0, outputTokens: 0, denials: {} },
    );
    const wire = (b: UsageBucket) => ({ start: b.start, requests: b.requests, input_tokens: b.inputTokens, output_tokens: b.outputTokens, denials: { ...b.denials } });
    return { key_uuid: keyUuid, from: range.from, to: range.to, granularity: range.granularity, series: series.map(wire), totals: wire(totals) };
  }

  /**
   * The range. A range that is empty (`from` at or after `to`) has no usage. Any length is taken: the
   * series holds only buckets with traffic, so its size is bounded by what was stored, not by the range.
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
    return { from: iso(fromMs), to: iso(toMs), granularity };
  }
}
