import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsISO8601, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';

export class KeyStateRequest {
  @ApiProperty({ example: '2026-11-22T10:00:00Z', description: 'The instant to answer for (ISO-8601)' })
  @IsISO8601({ strict: true })
  as_of!: string;
}

export class TeamEventsRequest {
  @ApiPropertyOptional({ minimum: 0, default: 0, description: 'Only events with a greater position' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  after?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;

  @ApiPropertyOptional({ description: 'An event type, e.g. ModelAccessKeySecretRegenerated' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  type?: string;

  @ApiPropertyOptional({ description: 'The acting user id' })
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
