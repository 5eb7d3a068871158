import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayUnique, IsArray, IsObject, IsOptional, IsString, Length, Matches, ValidateNested } from 'class-validator';
import { KeyLimitsInfo } from '../keys/shared/api-key-info.response';
import { KeyLimitsRequest } from '../keys/change-limits/key-limits.request.dto';
import { DEPLOYMENT_NAME, DescriptionField, ExpiresAtField, NameField, Optional } from '../keys/shared/key-request.validators';
import { IntegerField, MAX_OFFSET } from '../common/bounds';

export class CreateInferenceApiKeyRequest {
  @NameField('addressable', { example: 'prod-inference', description: 'Unique in the project (in Unicode NFC); names the key in the path' })
  name!: string;

  @DescriptionField()
  description?: string | null;

  @ExpiresAtField('A date (00:00 UTC of that day) or a timestamp; null: never')
  expires_at?: string | null;

  @ApiPropertyOptional({ type: KeyLimitsRequest, description: 'Our extension: rate limits and quota; absent: none' })
  @Optional()
  @IsObject()
  @ValidateNested()
  @Type(() => KeyLimitsRequest)
  limits?: KeyLimitsRequest;
}

export class UpdateInferenceApiKeyRequest {
  @DescriptionField()
  description?: string | null;

  @ExpiresAtField('The new expiry; null: never')
  expires_at?: string | null;

  @ApiPropertyOptional({ type: [String], description: 'The whole new set: the key is attached to these deployments and detached from any other' })
  @Optional()
  @IsArray()
  @ArrayMaxSize(100)
  @ArrayUnique()
  @Matches(DEPLOYMENT_NAME, { each: true, message: 'each of deployment_names must be 1-128 letters, digits, dots, underscores or hyphens' })
  deployment_names?: string[];

  @ApiPropertyOptional({ type: KeyLimitsRequest, description: 'Our extension: the whole new set of rate limits and quota, as PUT .../limits takes it ({} lifts them all)' })
  @Optional()
  @IsObject()
  @ValidateNested()
  @Type(() => KeyLimitsRequest)
  limits?: KeyLimitsRequest;
}

export class ListInferenceApiKeysRequest {
  @IntegerField({ minimum: 1, maximum: 1000, default: 100 })
  limit?: number;

  @IntegerField({ minimum: 0, maximum: MAX_OFFSET, default: 0 })
  offset?: number;
}

export class InferenceApiKeyResponse {
  @ApiProperty() name!: string;
  @ApiProperty({ nullable: true, type: String }) description!: string | null;
  @ApiProperty() created_at!: string;
  @ApiProperty({ nullable: true, type: String }) expires_at!: string | null;
  @ApiProperty({ type: [String] }) deployment_names!: string[];
  @ApiProperty({ type: KeyLimitsInfo, description: 'Our extension: rate limits and quota; each null when not limited' }) limits!: KeyLimitsInfo;
  @ApiPropertyOptional({ description: 'In the create answer only: the secret, shown once' }) secret?: string;
}

export class InferenceApiKeyListResponse {
  @ApiProperty({ type: [InferenceApiKeyResponse] }) results!: InferenceApiKeyResponse[];
  @ApiProperty() count!: number;
}
