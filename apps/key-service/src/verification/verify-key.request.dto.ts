import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsString, IsUUID, Length, Matches, MaxLength } from 'class-validator';
import { DEPLOYMENT_NAME, DEPLOYMENT_NAME_RULE, Optional } from '../keys/shared/key-request.validators';
import { VERIFY_CODES, VerifyCode } from './verification.rules';
import { KeyLimitsInfo } from '../keys/shared/api-key-info.response';

export class VerifyKeyRequest {
  @ApiProperty({ description: 'The secret the caller presented', example: 'mak_...' })
  @IsString()
  @Length(1, 512)
  key!: string;

  @ApiPropertyOptional({ description: 'The model the call asks for' })
  @Optional()
  @IsString()
  @Length(1, 200)
  model?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'The VPC the call came from' })
  @Optional()
  @IsUUID()
  vpc_uuid?: string;

  @ApiPropertyOptional({ description: 'The dedicated deployment the call is for; absent for serverless inference' })
  @Optional()
  @Matches(DEPLOYMENT_NAME, { message: DEPLOYMENT_NAME_RULE })
  @MaxLength(128)
  deployment_name?: string;

  @ApiPropertyOptional({ description: 'A batch inference call' })
  @Optional()
  @IsBoolean()
  batch?: boolean;
}

export class VerifyKeyResponse {
  @ApiProperty() valid!: boolean;
  @ApiProperty({ enum: VERIFY_CODES }) code!: VerifyCode;
  @ApiPropertyOptional({ format: 'uuid' }) key_uuid?: string;
  @ApiPropertyOptional() team_id?: string;
  @ApiPropertyOptional({ nullable: true, type: String }) expires_at?: string | null;
  @ApiPropertyOptional({
    format: 'date-time',
    description: 'Only for the secret a regenerate with an overlap replaced: the instant it stops authenticating',
  })
  secret_ends_at?: string;
  @ApiPropertyOptional({
    type: KeyLimitsInfo,
    nullable: true,
    description: 'The key\'s rate limits and quota, for the gateway to enforce (it counts the requests); null: none. With every answer that names a key.',
  })
  limits?: KeyLimitsInfo | null;
  @ApiPropertyOptional({ format: 'date-time', nullable: true, type: String, description: 'USAGE_EXCEEDED: when the quota period resets; null: never (period none)' })
  resets_at?: string | null;
}
