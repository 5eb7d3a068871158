import { ApiProperty } from '@nestjs/swagger';
import { IntegerField, MAX_POSITION } from '../common/bounds';
import { REVOCATION_REASONS } from './revocation';

export const MAX_REVOCATIONS_PAGE = 1000;

export class RevocationsAfterRequest {
  @IntegerField({ minimum: 0, maximum: MAX_POSITION, default: 0, description: 'Only revocations with a greater position' })
  after?: number;
}

export class RevocationsPageRequest extends RevocationsAfterRequest {
  @IntegerField({ minimum: 1, maximum: MAX_REVOCATIONS_PAGE, default: 100 })
  limit?: number;
}

export class RevocationResponse {
  @ApiProperty({ description: "The event's global position: monotonic, the resume point" }) position!: number;
  @ApiProperty({ format: 'uuid' }) key_uuid!: string;
  @ApiProperty() team_id!: string;
  @ApiProperty({ type: [String], description: 'SHA-256 (hex) of the secrets that stop authenticating' }) secret_hashes!: string[];
  @ApiProperty({ enum: REVOCATION_REASONS }) reason!: string;
  @ApiProperty({ nullable: true, type: String, description: 'For deployment_detached: the only deployment the secret loses' })
  deployment_name!: string | null;
  @ApiProperty() occurred_at!: string;
}

export class RevocationsPageResponse {
  @ApiProperty({ type: [RevocationResponse] }) revocations!: RevocationResponse[];
  @ApiProperty({ description: 'Ask again with after = this for the next page' }) next_after!: number;
  @ApiProperty({ description: "The feed's own position: every revocation up to it exists" }) head_position!: number;
}
