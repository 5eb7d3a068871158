import { ApiPropertyOptional, ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsISO8601, IsOptional, IsString, IsUUID, Length, MaxLength, ValidateIf } from 'class-validator';
import { IsModelScope, Trim } from '../shared/key-request.validators';

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

  @ApiPropertyOptional({ maxLength: 1024, nullable: true })
  @IsOptional()
  @ValidateIf((_, value) => value !== null)
  @IsString()
  @MaxLength(1024)
  description?: string | null;

  @ApiPropertyOptional({ example: '2027-01-31', nullable: true, description: 'A date (00:00 UTC of that day) or a timestamp; must be in the future.' })
  @IsOptional()
  @ValidateIf((_, value) => value !== null)
  @IsISO8601({ strict: true })
  expires_at?: string | null;
}
