import { ApiPropertyOptional, ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsObject, Max, Min, ValidateBy, ValidateNested } from 'class-validator';
import { KeyLimits, MAX_LIMIT, QUOTA_PERIODS, QuotaPeriod, limitsFromWire } from '../domain/key-limits';
import { Nullable, Optional } from '../shared/key-request.validators';

/** A quota in a request: `period` and at least one of `requests` and `tokens` not null (400 naming the quota by its path otherwise: `limits.quota` at create, `quota` in PUT .../limits). */
export class KeyQuotaRequest {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_LIMIT, nullable: true, description: 'Requests per period; null: not limited' })
  @Optional()
  @Nullable()
  @IsInt()
  @Min(1)
  @Max(MAX_LIMIT)
  requests?: number | null;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_LIMIT, nullable: true, description: 'Input plus output tokens per period; null: not limited' })
  @Optional()
  @Nullable()
  @IsInt()
  @Min(1)
  @Max(MAX_LIMIT)
  tokens?: number | null;

  @ApiProperty({ enum: QUOTA_PERIODS, description: 'day: resets at 00:00 UTC; month: at 00:00 UTC on the 1st; none: never' })
  @IsIn(QUOTA_PERIODS)
  period!: QuotaPeriod;
}

/**
 * A key's limits in a request (create, and PUT .../limits, which replaces them whole): a field left
 * out or null is not limited.
 */
export class KeyLimitsRequest {
  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_LIMIT, nullable: true, description: 'Requests per sliding minute; null: none' })
  @Optional()
  @Nullable()
  @IsInt()
  @Min(1)
  @Max(MAX_LIMIT)
  requests_per_minute?: number | null;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_LIMIT, nullable: true, description: 'Input plus output tokens per sliding minute; null: none' })
  @Optional()
  @Nullable()
  @IsInt()
  @Min(1)
  @Max(MAX_LIMIT)
  tokens_per_minute?: number | null;

  @ApiPropertyOptional({ type: KeyQuotaRequest, nullable: true, description: 'null: no quota' })
  @Optional()
  @Nullable()
  @IsObject()
  @ValidateBy({
    name: 'quotaHasCount',
    validator: {
      validate: (value: unknown) => !value || typeof value !== 'object' || (value as KeyQuotaRequest).requests != null || (value as KeyQuotaRequest).tokens != null,
      defaultMessage: () => 'quota must give requests, tokens or both',
    },
  })
  @ValidateNested()
  @Type(() => KeyQuotaRequest)
  quota?: KeyQuotaRequest | null;
}

export function limitsOfRequest(request: KeyLimitsRequest | undefined): KeyLimits {
  return limitsFromWire(request);
}
