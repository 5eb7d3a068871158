import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn } from 'class-validator';
import { IntegerField, MAX_PAGE } from '../common/bounds';
import { Links, Meta } from '../keys/shared/api-key-info.response';
import { INSTANT_SCHEMA, IsInstant, Optional } from '../keys/shared/key-request.validators';

export const GRANULARITIES = ['minute', 'hour', 'day'] as const;

/**
 * The longest range (days) a read takes at each granularity: it bounds an answer's buckets per key
 * (10,080 minutes; 9,600 hours; 36,600 days), since a range is walked whole. Longer: 422 USAGE_RANGE_TOO_LONG naming `from`.
 */
export const MAX_RANGE_DAYS: Readonly<Record<(typeof GRANULARITIES)[number], number>> = { minute: 7, hour: 400, day: 36_600 };
/** Keys per page of the team usage read: each carries its series. */
export const TEAM_USAGE_DEFAULT_PER_PAGE = 20;
export const TEAM_USAGE_MAX_PER_PAGE = 50;

/** GET /v1/usage/keys/{uuid} and GET /v1/usage: a time range, and the buckets' size. */
export class UsageQueryRequest {
  @ApiPropertyOptional({ ...INSTANT_SCHEMA, description: 'From this instant (inclusive); default: 24 h before `to`' })
  @Optional()
  @IsInstant()
  from?: string;

  @ApiPropertyOptional({ ...INSTANT_SCHEMA, description: 'To this instant (exclusive); default: now' })
  @Optional()
  @IsInstant()
  to?: string;

  @ApiPropertyOptional({
    enum: GRANULARITIES,
    default: 'hour',
    description: 'Bucket size, UTC; buckets without traffic are left out. The range may be at most 7 days by minute, 400 by hour, 36,600 by day',
  })
  @Optional()
  @IsIn(GRANULARITIES)
  granularity?: (typeof GRANULARITIES)[number];
}

/** GET /v1/usage: the range, and a page of the keys with usage in it (by key uuid). */
export class TeamUsageQueryRequest extends UsageQueryRequest {
  @IntegerField({ minimum: 1, maximum: MAX_PAGE, default: 1 })
  page?: number;

  @IntegerField({ minimum: 1, maximum: TEAM_USAGE_MAX_PER_PAGE, default: TEAM_USAGE_DEFAULT_PER_PAGE })
  per_page?: number;
}

export class UsageBucketResponse {
  @ApiProperty({ format: 'date-time', description: "The bucket's start" }) start!: string;
  @ApiProperty({ type: 'integer' }) requests!: number;
  @ApiProperty({ type: 'integer' }) input_tokens!: number;
  @ApiProperty({ type: 'integer' }) output_tokens!: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, description: 'Denials by verify code' }) denials!: Record<string, number>;
}

export class KeyUsageResponse {
  @ApiProperty({ format: 'uuid' }) key_uuid!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When the key was deleted; null for a live key. A deleted key’s usage stays readable' })
  deleted_at!: string | null;
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
  @ApiProperty({ enum: GRANULARITIES }) granularity!: string;
  @ApiProperty({ type: [UsageBucketResponse], description: 'Buckets with traffic, oldest first' }) series!: UsageBucketResponse[];
  @ApiProperty({ type: UsageBucketResponse, description: 'The whole range (start: from)' }) totals!: UsageBucketResponse;
}

export class TeamUsageResponse {
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
  @ApiProperty({ enum: GRANULARITIES }) granularity!: string;
  @ApiProperty({ type: [KeyUsageResponse], description: 'The page of the keys the caller may see that have usage in the range, by key uuid' }) keys!: KeyUsageResponse[];
  @ApiProperty({ type: Links }) links!: Links;
  @ApiProperty({ type: Meta, description: 'total: keys with usage in the range' }) meta!: Meta;
}

/** A bucket of a provider key's plaintext reads (GET /v1/usage/provider-keys/{uuid}). */
export class ProviderKeyReadsBucketResponse {
  @ApiProperty({ format: 'date-time', description: "The bucket's start" }) start!: string;
  @ApiProperty({ type: 'integer', description: 'Plaintext reads of the key, for an agent or not' }) reads!: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, description: 'Reads by the agent uuid they named' }) agents!: Record<string, number>;
}

/** GET /v1/usage/provider-keys/{uuid}: a partner provider key's usage, which is its plaintext reads. */
export class ProviderKeyUsageResponse {
  @ApiProperty({ format: 'uuid' }) key_uuid!: string;
  @ApiProperty({ enum: ['anthropic', 'openai'] }) provider!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'When the key was deleted; null for a live key' }) deleted_at!: string | null;
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
  @ApiProperty({ enum: GRANULARITIES }) granularity!: string;
  @ApiProperty({ type: [ProviderKeyReadsBucketResponse], description: 'Buckets with reads, oldest first' }) series!: ProviderKeyReadsBucketResponse[];
  @ApiProperty({ type: ProviderKeyReadsBucketResponse, description: 'The whole range (start: from)' }) totals!: ProviderKeyReadsBucketResponse;
}
