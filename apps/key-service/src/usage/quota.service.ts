import { Inject, Injectable, Logger } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { CLOCK, Clock } from '../common/clock';
import { eventMetadata } from '../common/request-context';
import { KeyLimits, periodStart } from '../keys/domain/key-limits';
import { KeyCommandExecutor } from '../keys/shared/key-command.executor';
import { READ_MODEL_DB } from '../read-side/read-model.database';
import { USAGE_STORE, UsageStore } from './usage-store.port';

export const QUOTA_ACTOR = { userId: 'system:quota', role: 'system', teamId: '' } as const;

/**
 * Quotas from the usage store: after a usage report is counted, each key it names whose quota its
 * period's usage has reached gets RecordQuotaExhausted (the decider writes ModelAccessKeyQuotaExhausted
 * once per period); `resetDue` gives ResetQuota to every spent quota whose period has ended.
 *
 * How far a quota can be overshot: gateways report every GATEWAY_USAGE_REPORT_MS (at most 1 s), and a
 * gateway denies once the quota_exhausted record reaches it (one feed round trip), so the overshoot is
 * at most the key's traffic during (report interval + feed delay), summed over the gateways.
 */
@Injectable()
export class QuotaService {
  private readonly logger = new Logger(QuotaService.name);
  private readonly selectKey: Database.Statement<[string], { team_id: string; limits: string | null; quota_exhausted: string | null }>;
  private readonly selectSpent: Database.Statement<[], { key_uuid: string; team_id: string; quota_exhausted: string }>;

  constructor(
    @Inject(READ_MODEL_DB) db: Database.Database,
    @Inject(USAGE_STORE) private readonly store: UsageStore,
    private readonly executor: KeyCommandExecutor,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.selectKey = db.prepare('SELECT team_id, limits, quota_exhausted FROM key_views WHERE key_uuid = ? AND deleted_at IS NULL');
    this.selectSpent = db.prepare('SELECT key_uuid, team_id, quota_exhausted FROM key_views WHERE quota_exhausted IS NOT NULL AND deleted_at IS NULL');
  }

  /** Checks these keys against their quotas; returns how many were found spent now. */
  async check(keyUuids: Iterable<string>, requestId: string): Promise<number> {
    let spent = 0;
    const nowMs = this.clock.now().getTime();
    for (const keyUuid of new Set(keyUuids)) {
      const row = this.selectKey.get(keyUuid);
      const quota = row?.limits ? (JSON.parse(row.limits) as KeyLimits).quota : null;
      if (!row || !quota) continue;
      const since = new Date(periodStart(quota.period, nowMs)).toISOString();
      if (row.quota_exhausted !== null && (JSON.parse(row.quota_exhausted) as { periodStart: string }).periodStart === since) continue;
      const totals = await this.store.totalsSince(keyUuid, since);
      const tokens = totals.inputTokens + totals.outputTokens;
      if ((quota.requests === null || totals.requests < quota.requests) && (quota.tokens === null || tokens < quota.tokens)) continue;
      try {
        await this.executor.execute(
          { type: 'RecordQuotaExhausted', keyUuid, periodStart: since, requests: totals.requests, tokens, now: new Date(nowMs).toISOString() },
          eventMetadata({ ...QUOTA_ACTOR, teamId: row.team_id }, { requestId, sourceIp: null, userAgent: null }),
        );
        spent++;
      } catch (error) {
        // The next report of the key checks again.
        this.logger.error(`could not record the spent quota of key ${keyUuid}: ${(error as Error).message}`);
      }
    }
    return spent;
  }

  /** ResetQuota for every spent quota whose period has ended; returns how many were due. */
  async resetDue(): Promise<number> {
    const now = this.clock.now();
    let due = 0;
    for (const row of this.selectSpent.all()) {
      const resetsAt = (JSON.parse(row.quota_exhausted) as { resetsAt: string | null }).resetsAt;
      if (resetsAt === null || Date.parse(resetsAt) > now.getTime()) continue;
      due++;
      try {
        await this.executor.execute(
          { type: 'ResetQuota', keyUuid: row.key_uuid, now: now.toISOString() },
          eventMetadata({ ...QUOTA_ACTOR, teamId: row.team_id }, { requestId: `quota-reset-${row.key_uuid}`, sourceIp: null, userAgent: null }),
        );
      } catch (error) {
        this.logger.error(`could not reset the quota of key ${row.key_uuid}: ${(error as Error).message}`);
      }
    }
    return due;
  }
}
