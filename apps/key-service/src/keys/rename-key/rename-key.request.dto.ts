import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, IsUUID, Length, ValidateIf } from 'class-validator';
import { IsModelScope, Trim } from '../shared/key-request.validators';

export class RenameKeyRequest {
  @ApiPropertyOptional({ format: 'uuid', description: "DigitalOcean's clients repeat the path's uuid here; it must match" })
  @IsOptional()
  @IsUUID()
  api_key_uuid?: string;

  @ApiProperty({ minLength: 1, maxLength: 255 })
  @Trim()
  @IsString()
  @Length(1, 255)
  name!: string;

  // Accepted only to be refused with 422 SCOPE_IMMUTABLE when they differ: the scope is fixed at creation.
  @ApiPropertyOptional({ description: 'Immutable: a different value is refused with 422' })
  @IsOptional()
  @IsModelScope()
  models?: 'all' | string[];

  @ApiPropertyOptional({ format: 'uuid', nullable: true, description: 'Immutable: a different value is refused with 422' })
  @IsOptional()
  @ValidateIf((_, value) => value !== null)
  @IsUUID()
  vpc_uuid?: string | null;

  @ApiPropertyOptional({ description: 'Immutable: a different value is refused with 422' })
  @IsOptional()
  @IsBoolean()
  batch_inference_enabled?: boolean;
}
