import { ApiPropertyOptional, ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsUUID } from 'class-validator';
import { DescriptionField, ExpiresAtField, IsModelScope, NameField, Nullable, Optional } from '../shared/key-request.validators';

/** What IsModelScope accepts: "all", or 1-500 model ids of 1-200 characters, each not only whitespace (as String.prototype.trim sees it). */
export const MODEL_SCOPE_SCHEMA = {
  oneOf: [
    { type: 'string', enum: ['all'] },
    {
      type: 'array',
      minItems: 1,
      maxItems: 500,
      items: { type: 'string', minLength: 1, maxLength: 200, pattern: '[^\\t\\n\\u000b\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]' },
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
}
