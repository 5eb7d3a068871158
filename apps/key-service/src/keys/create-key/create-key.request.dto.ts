import { ApiPropertyOptional, ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsObject, IsUUID, ValidateNested } from 'class-validator';
import { KeyLimitsRequest } from '../change-limits/key-limits.request.dto';
import { KEY_NAME_PATTERN, MODEL_ID_MAX_LENGTH } from '../domain/key-input.rules';
import { DescriptionField, ExpiresAtField, IsModelScope, NameField, Nullable, Optional } from '../shared/key-request.validators';

/** What IsModelScope accepts: "all", or 1-500 model ids, each with the characters of a key name (isModelId). */
export const MODEL_SCOPE_SCHEMA = {
  oneOf: [
    { type: 'string', enum: ['all'] },
    {
      type: 'array',
      minItems: 1,
      maxItems: 500,
      items: { type: 'string', minLength: 1, maxLength: MODEL_ID_MAX_LENGTH, pattern: KEY_NAME_PATTERN },
    },
  ],
};

export class CreateKeyRequest {
  @NameField('key', { example: 'test-key', description: 'Trimmed and stored in Unicode NFC' })
  name!: string;

  @ApiPropertyOptional({ ...MODEL_SCOPE_SCHEMA, description: 'All foundation models (the default) or a list of model ids. Fixed after creation.' })
  @Optional()
  @IsModelScope()
  models?: 'all' | string[];

  @ApiPropertyOptional({ format: 'uuid', nullable: true, description: 'Only requests from this VPC authenticate. Fixed after creation.' })
  @Optional()
  @Nullable()
  @IsUUID()
  vpc_uuid?: string | null;

  @ApiPropertyOptional({ description: 'Offered only with all models. Fixed after creation.' })
  @Optional()
  @IsBoolean()
  batch_inference_enabled?: boolean;

  @DescriptionField()
  description?: string | null;

  @ExpiresAtField('A date (00:00 UTC of that day) or a timestamp; must be in the future.')
  expires_at?: string | null;

  @ApiPropertyOptional({ type: KeyLimitsRequest, description: 'Rate limits and quota; absent: none. May change later (PUT .../limits).' })
  @Optional()
  @IsObject()
  @ValidateNested()
  @Type(() => KeyLimitsRequest)
  limits?: KeyLimitsRequest;
}
