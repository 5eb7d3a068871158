import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import { INSTANT_SCHEMA, IsInstant } from '../keys/shared/key-request.validators';
import { IntegerField, MAX_POSITION } from '../common/bounds';

export class KeyStateRequest {
  @ApiProperty({ ...INSTANT_SCHEMA, example: '2026-11-22T10:00:00Z', description: 'The instant to answer for: a date-time with an offset, or a date (00:00 UTC)' })
  @IsInstant()
  as_of!: string;
}

export class TeamEventsRequest {
  @IntegerField({ minimum: 0, maximum: MAX_POSITION, default: 0, description: 'Only events with a greater position' })
  after?: number;

  @IntegerField({ minimum: 1, maximum: 1000, default: 100 })
  limit?: number;

  @ApiPropertyOptional({ minLength: 1, maxLength: 200, description: 'An event type, e.g. ModelAccessKeySecretRegenerated' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  type?: string;

  @ApiPropertyOptional({ minLength: 1, maxLength: 200, description: 'The acting user id' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  actor?: string;
}

export class AuditEventResponse {
  @ApiProperty() position!: number;
  @ApiProperty() stream_id!: string;
  @ApiProperty() revision!: number;
  @ApiProperty() type!: string;
  @ApiProperty({ type: Object }) data!: unknown;
  @ApiProperty({ type: Object, description: 'actor {userId, role, teamId}, requestId, correlationId, causationId, sourceIp, userAgent' })
  metadata!: unknown;
  @ApiProperty() recorded_at!: string;
  @ApiProperty({ nullable: true, type: String }) prev_hash!: string | null;
  @ApiProperty() hash!: string;
}

export class AuditEventsResponse {
  @ApiProperty({ type: [AuditEventResponse] }) events!: AuditEventResponse[];
  @ApiProperty({ description: 'Ask again with after = this for the next page' }) next_after!: number;
}

export class KeyStateResponse {
  @ApiProperty({ format: 'date-time' }) as_of!: string;
  @ApiProperty({ description: 'The key had been created by then' }) existed!: boolean;
  @ApiProperty() deleted!: boolean;
  @ApiProperty() expired!: boolean;
  @ApiProperty({ type: 'integer', nullable: true, description: '1 for the secret issued at creation, +1 per regenerate' }) secret_generation!: number | null;
  @ApiProperty({ type: 'integer', nullable: true }) revision!: number | null;
  @ApiProperty({ type: Object, nullable: true, description: 'The key as it was (no secret)' }) key!: Record<string, unknown> | null;
}

export class KeyEventsResponse {
  @ApiProperty({ type: [AuditEventResponse] }) events!: AuditEventResponse[];
}

class ChainBreakResponse {
  @ApiProperty() revision!: number;
  @ApiProperty() position!: number;
  @ApiProperty({ enum: ['revision', 'prevHash', 'hash'] }) field!: string;
  @ApiProperty() expected!: string;
  @ApiProperty() found!: string;
  @ApiProperty() message!: string;
}

export class KeyChainResponse {
  @ApiProperty({ description: 'Every event hash recomputed and every link to the previous event checked, from the first event' }) intact!: boolean;
  @ApiProperty() events!: number;
  @ApiProperty({ nullable: true, type: String, description: 'The last event’s hash when the chain is intact' }) head_hash!: string | null;
  @ApiProperty({ type: ChainBreakResponse, nullable: true, description: 'The first broken link' }) broken!: ChainBreakResponse | null;
}
