import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsInt, IsObject, IsString, IsUUID, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { Optional } from '../keys/shared/key-request.validators';

const MAX_COUNT = 1_000_000_000_000;
/** Records in one usage report at most (the gateway client splits what it has into batches of this size). */
export const MAX_RECORDS_PER_BATCH = 100;
/** An instant at the start of a minute, in UTC: `2026-11-22T10:07:00Z` (fractions of zero allowed). */
export const MINUTE_PATTERN = '^\\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\\d|3[01])T([01]\\d|2[0-3]):[0-5]\\d:00(\\.0{1,3})?Z$';
export const GATEWAY_ID_PATTERN = '^[A-Za-z0-9._:-]{1,128}$';

const Count = (description: string) => (target: object, property: string) => {
  ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: MAX_COUNT, description })(target, property);
  Optional()(target, property);
  IsInt()(target, property);
  Min(0)(target, property);
  Max(MAX_COUNT)(target, property);
};

/** Denials of the key in the minute, by verify code; a code left out is 0. */
export class UsageDenialsRequest {
  @Count('EXPIRED answers') EXPIRED?: number;
  @Count('VPC_DENIED answers') VPC_DENIED?: number;
  @Count('MODEL_NOT_ALLOWED answers') MODEL_NOT_ALLOWED?: number;
  @Count('DEPLOYMENT_NOT_ALLOWED answers') DEPLOYMENT_NOT_ALLOWED?: number;
  @Count('BATCH_NOT_ALLOWED answers') BATCH_NOT_ALLOWED?: number;
  @Count('RATE_LIMITED answers (counted at the gateway)') RATE_LIMITED?: number;
  @Count('USAGE_EXCEEDED answers') USAGE_EXCEEDED?: number;
}

export class UsageRecordRequest {
  @ApiProperty({ format: 'uuid' })
  @IsUUID()
  key_uuid!: string;

  @ApiProperty({ pattern: MINUTE_PATTERN, example: '2026-11-22T10:07:00Z', description: 'The start of the minute, UTC' })
  @IsString()
  @Matches(new RegExp(MINUTE_PATTERN), { message: 'minute must be the start of a minute in UTC, e.g. 2026-11-22T10:07:00Z' })
  minute!: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: 200, description: 'The model the calls named; absent: none' })
  @Optional()
  @IsString()
  @MaxLength(200)
  @Matches(/^[^\u0000-\u001f]+$/, { message: 'model must be 1-200 characters without control characters' })
  model?: string;

  @Count('Requests let through') requests?: number;
  @Count("Input (prompt) tokens, from the upstream's usage") input_tokens?: number;
  @Count("Output (completion) tokens, from the upstream's usage") output_tokens?: number;

  @ApiPropertyOptional({ type: UsageDenialsRequest })
  @Optional()
  @IsObject()
  @ValidateNested()
  @Type(() => UsageDenialsRequest)
  denials?: UsageDenialsRequest;
}

/**
 * A gateway's usage report. `gateway_id` names the reporting process and `sequence` numbers its
 * batches: a batch sent again with the same pair (a retry) is counted once.
 */
export class UsageReportRequest {
  @ApiProperty({ pattern: GATEWAY_ID_PATTERN, description: 'The reporting gateway process; one sequence per id' })
  @IsString()
  @Matches(new RegExp(GATEWAY_ID_PATTERN), { message: 'gateway_id must be 1-128 of A-Z a-z 0-9 . _ : -' })
  gateway_id!: string;

  @ApiProperty({ type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  sequence!: number;

  // 100: a batch of 101 records, each at its largest (about 1.7 KB as JSON), still fits the 256 KiB body limit, so that
  // a batch over it is refused for its size (400), never cut off by the body limit (413).
  @ApiProperty({ type: [UsageRecordRequest], maxItems: MAX_RECORDS_PER_BATCH })
  @IsArray()
  @ArrayMaxSize(MAX_RECORDS_PER_BATCH)
  @ValidateNested({ each: true })
  @Type(() => UsageRecordRequest)
  records!: UsageRecordRequest[];
}

export class UsageReportResponse {
  @ApiProperty({ description: 'false: this gateway_id and sequence were counted before; nothing was added' }) counted!: boolean;
  @ApiProperty({ type: 'integer', description: 'Records counted: those of keys the service knows' }) records!: number;
  @ApiProperty({ type: [String], description: 'Keys of the batch the service never had (sorted); their records were not counted' })
  unknown_keys!: string[];
}
