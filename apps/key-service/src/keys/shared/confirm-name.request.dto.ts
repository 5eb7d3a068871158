import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, MaxLength } from 'class-validator';
import { Optional } from './key-request.validators';

/** Regenerate and delete: the typed name the control panel asks for. A mismatch changes nothing (412). */
export class ConfirmNameRequest {
  @ApiPropertyOptional({ description: 'If given, must equal the key name (or send X-Confirm-Name)' })
  @Optional()
  @IsString()
  @MaxLength(1024)
  confirm_name?: string;
}
