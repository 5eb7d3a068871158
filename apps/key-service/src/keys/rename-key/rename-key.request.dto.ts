import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsUUID } from 'class-validator';
import { MODEL_SCOPE_SCHEMA } from '../create-key/create-key.request.dto';
import { IsModelScope, NameField, Nullable, Optional } from '../shared/key-request.validators';

export class RenameKeyRequest {
  @ApiPropertyOptional({ format: 'uuid', description: "DigitalOcean's clients repeat the path's uuid here; it must match" })
  @Optional()
  @IsUUID()
  api_key_uuid?: string;

  @NameField('key', { description: 'Trimmed and stored in Unicode NFC' })
  name!: string;

  // Accepted only to be refused with 422 SCOPE_IMMUTABLE when they differ: the scope is fixed at creation.
  @ApiPropertyOptional({ ...MODEL_SCOPE_SCHEMA, description: 'Immutable: a different value is refused with 422' })
  @Optional()
  @IsModelScope()
  models?: 'all' | string[];

  @ApiPropertyOptional({ format: 'uuid', nullable: true, description: 'Immutable: a different value is refused with 422' })
  @Optional()
  @Nullable()
  @IsUUID()
  vpc_uuid?: string | null;

  @ApiPropertyOptional({ description: 'Immutable: a different value is refused with 422' })
  @Optional()
  @IsBoolean()
  batch_inference_enabled?: boolean;
}
