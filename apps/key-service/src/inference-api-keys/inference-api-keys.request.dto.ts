import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayUnique, IsArray, IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { DEPLOYMENT_NAME, DescriptionField, ExpiresAtField, Trim } from '../keys/shared/key-request.validators';

/** The name is the key's address in the path, so it may not hold a slash or control characters. */
export const INFERENCE_KEY_NAME = /^[^/\\\u0000-\u001f\u007f]+$/;

export class CreateInferenceApiKeyRequest {
  @ApiProperty({ minLength: 1, maxLength: 255, example: 'prod-inference', description: 'Unique in the project; names the key in the path' })
  @Trim()
  @IsString()
  @Length(1, 255)
  @Matches(INFERENCE_KEY_NAME, { message: 'name may not contain a slash, a backslash or control characters' })
  name!: string;

  @DescriptionField()
  description?: string | null;

  @ExpiresAtField('A date (00:00 UTC of that day) or a timestamp; null: never')
  expires_at?: string | null;
}

export class UpdateInferenceApiKeyRequest {
  @DescriptionField()
  description?: string | null;

  @ExpiresAtField('The new expiry; null: never')
  expires_at?: string | null;

  @ApiPropertyOptional({ type: [String], description: 'The whole new set: the key is attached to these deployments and detached from any other' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @ArrayUnique()
  @Matches(DEPLOYMENT_NAME, { each: true, message: 'each of deployment_names must be 1-128 letters, digits, dots, underscores or hyphens' })
  deployment_names?: string[];
}

export class ListInferenceApiKeysRequest {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;

  @ApiPropertyOptional({ minimum: 0, default: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  offset?: number;
}

export class InferenceApiKeyResponse {
  @ApiProperty() name!: string;
  @ApiProperty({ nullable: true, type: String }) description!: string | null;
  @ApiProperty() created_at!: string;
  @ApiProperty({ nullable: true, type: String }) expires_at!: string | null;
  @ApiProperty({ type: [String] }) deployment_names!: string[];
  @ApiPropertyOptional({ description: 'In the create answer only: the secret, shown once' }) secret?: string;
}

export class InferenceApiKeyListResponse {
  @ApiProperty({ type: [InferenceApiKeyResponse] }) results!: InferenceApiKeyResponse[];
  @ApiProperty() count!: number;
}
