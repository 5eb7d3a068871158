import { ApiProperty } from '@nestjs/swagger';
import { QUOTA_PERIODS, QuotaPeriod, periodStart } from '../keys/domain/key-limits';
import { ModelAccessKey } from '../keys/domain/model-access-key.state';
import { UsageStore } from './usage-store.port';

/** A key's usage in its current period, as api_key_info shows it on reads (GET one key, the lists). */
export class KeyPeriodUsage {
  @ApiProperty({ enum: QUOTA_PERIODS, description: "The quota's period; month when the key has no quota" }) period!: QuotaPeriod;
  @ApiProperty({ format: 'date-time', description: 'Where the period began (00:00 UTC; the 1st for month; the epoch for none)' }) since!: string;
  @ApiProperty({ type: 'integer' }) requests!: number;
  @ApiProperty({ type: 'integer' }) input_tokens!: number;
  @ApiProperty({ type: 'integer' }) output_tokens!: number;
  @ApiProperty({ type: 'integer', description: 'input_tokens + output_tokens, what a token quota counts' }) tokens!: number;
}

export interface KeyUsageView {
  /** The last minute the key made a request (minute precision), as the gateways reported; null: never. */
  readonly last_used_at: string | null;
  readonly usage: KeyPeriodUsage;
}

/** What the usage store knows of a key now: reported usage lags the traffic by the report interval (1 s by default). */
export async function keyUsageView(store: UsageStore, key: ModelAccessKey, nowMs: number): Promise<KeyUsageView> {
  const period = key.limits.quota?.period ?? 'month';
  const since = new Date(periodStart(period, nowMs)).toISOString();
  const [totals, lastUsedAt] = await Promise.all([store.totalsSince(key.keyUuid, since), store.lastUsedAt(key.keyUuid)]);
  return {
    last_used_at: lastUsedAt,
    usage: {
      period,
      since,
      requests: totals.requests,
      input_tokens: totals.inputTokens,
      output_tokens: totals.outputTokens,
      tokens: totals.inputTokens + totals.outputTokens,
    },
  };
}
