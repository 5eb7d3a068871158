import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn } from 'class-validator';
import { INSTANT_SCHEMA, IsInstant, Optional } from '../keys/shared/key-request.validators';

export const GRANULARITIES = ['minute', 'hour', 'day'] as const;

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

  @ApiPropertyOptional({ enum: GRANULARITIES, default: 'hour', description: 'Bucket size, UTC; buckets without traffic are left out' })
  @Optional()
  @IsIn(GRANULARITIES)
  granularity?: (typeof GRANULARITIES)[number];
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
  @ApiProperty({ type: [KeyUsageResponse], description: 'Each key the caller may see that has usage in the range' }) keys!: KeyUsageResponse[];
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
