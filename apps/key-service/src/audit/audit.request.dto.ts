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

  @ApiPropertyOptional({ minLength: 1, maxLength: 256, description: 'The acting user id (a token sub: 1-256 characters)' })
  @IsOptional()
  @IsString()
  @Length(1, 256)
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

export class PreviousSecretState {
  @ApiProperty({ type: 'integer', description: 'The replaced generation (the current one minus 1)' }) secret_generation!: number;
  @ApiProperty({ nullable: true, type: String, description: 'Its display prefix' }) secret_prefix!: string | null;
  @ApiProperty({ format: 'date-time', description: 'When it stops authenticating' }) ends_at!: string;
}

export class KeyStateResponse {
  @ApiProperty({ format: 'date-time' }) as_of!: string;
  @ApiProperty({ description: 'The key had been created by then' }) existed!: boolean;
  @ApiProperty() deleted!: boolean;
  @ApiProperty() expired!: boolean;
  @ApiProperty({ type: 'integer', nullable: true, description: '1 for the secret issued at creation, +1 per regenerate' }) secret_generation!: number | null;
  @ApiProperty({
    type: PreviousSecretState,
    nullable: true,
    description: "While a regenerate's overlap ran at as_of: the replaced generation, still authenticating until ends_at",
  })
  previous_secret!: PreviousSecretState | null;
  @ApiProperty({ type: 'integer', nullable: true }) revision!: number | null;
  @ApiProperty({ type: Object, nullable: true, description: 'The key as it was (no secret)' }) key!: Record<string, unknown> | null;
}

export class KeyEventsResponse {
  @ApiProperty({ type: [AuditEventResponse] }) events!: AuditEventResponse[];
}

export class ChainBreakResponse {
  @ApiProperty({ type: 'integer' }) revision!: number;
  @ApiProperty({ type: 'integer' }) position!: number;
  @ApiProperty({ enum: ['prevHash', 'hash', 'revision'], description: 'What does not match' }) field!: 'prevHash' | 'hash' | 'revision';
  @ApiProperty({ description: 'What the chain says it should be' }) expected!: string;
  @ApiProperty({ description: 'What the event holds' }) found!: string;
  @ApiProperty({ description: 'One sentence, as keyctl audit verify prints it' }) message!: string;
}

export class KeyChainResponse {
  @ApiProperty() stream_id!: string;
  @ApiProperty({ type: 'integer', description: 'Events in the stream' }) events!: number;
  @ApiProperty({ type: 'integer' }) head_revision!: number;
  @ApiProperty({ description: "The last event's hash (SHA-256, hex)" }) head_hash!: string;
  @ApiProperty({ description: 'Every hash recomputed and every link checked' }) intact!: boolean;
  @ApiProperty({ type: ChainBreakResponse, nullable: true, description: 'The first broken link' }) broken!: ChainBreakResponse | null;
  @ApiProperty({ enum: ['SHA-256'] }) hash_algorithm!: 'SHA-256';
  @ApiProperty({ enum: ['RFC 8785'], description: 'Each event is hashed as the RFC 8785 (JCS) canonical JSON of {prevHash, type, data, metadata, revision}' })
  canonicalization!: 'RFC 8785';
}
