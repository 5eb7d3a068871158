import { ApiPropertyOptional, ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, IsUUID, Length, ValidateIf } from 'class-validator';
import { DescriptionField, ExpiresAtField, IsModelScope, Trim } from '../shared/key-request.validators';

export class CreateKeyRequest {
  @ApiProperty({ minLength: 1, maxLength: 255, example: 'test-key' })
  @Trim()
  @IsString()
  @Length(1, 255)
  name!: string;

  @ApiPropertyOptional({
    oneOf: [{ type: 'string', enum: ['all'] }, { type: 'array', items: { type: 'string' }, minItems: 1 }],
    description: 'All foundation models (the default) or a list of model ids. Fixed after creation.',
  })
  @IsOptional()
  @IsModelScope()
  models?: 'all' | string[];

  @ApiPropertyOptional({ format: 'uuid', nullable: true, description: 'Only requests from this VPC authenticate. Fixed after creation.' })
  @IsOptional()
  @ValidateIf((_, value) => value !== null)
  @IsUUID()
  vpc_uuid?: string | null;

  @ApiPropertyOptional({ description: 'Offered only with all models. Fixed after creation.' })
  @IsOptional()
  @IsBoolean()
  batch_inference_enabled?: boolean;

  @DescriptionField()
  description?: string | null;

  @ExpiresAtField('A date (00:00 UTC of that day) or a timestamp; must be in the future.')
  expires_at?: string | null;
}
