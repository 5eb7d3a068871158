import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { ListKeysRequest } from '../keys/list-keys/list-keys.request.dto';
import { Links, Meta } from '../keys/shared/api-key-info.response';
import { IsString, IsUUID, Length, Matches } from 'class-validator';
import { NameField, Optional } from '../keys/shared/key-request.validators';
import { PROVIDER_KEY_NAME, PROVIDER_KEY_NAME_RULE } from './domain/provider-key.rules';

/** A provider key as pasted: printable, no spaces (the providers' keys are single tokens). */
const API_KEY = /^[\x21-\x7e]+$/;
const API_KEY_RULE = 'api_key must be 8-512 printable characters without spaces';

export class CreateProviderKeyRequest {
  @ApiProperty({ writeOnly: true, description: 'The provider’s key; verified with the provider, stored encrypted, never returned' })
  @IsString()
  @Length(8, 512, { message: API_KEY_RULE })
  @Matches(API_KEY, { message: API_KEY_RULE })
  api_key!: string;

  @ApiProperty({ pattern: PROVIDER_KEY_NAME.source, minLength: 1, maxLength: 100, example: 'prod-anthropic' })
  @IsString()
  @Matches(PROVIDER_KEY_NAME, { message: PROVIDER_KEY_NAME_RULE })
  name!: string;
}

export class UpdateProviderKeyRequest {
  @ApiPropertyOptional({ format: 'uuid', description: 'If given, the uuid in the path' })
  @Optional()
  @IsUUID()
  api_key_uuid?: string;

  @ApiPropertyOptional({ writeOnly: true, description: 'A new key; verified with the provider before it replaces the old one' })
  @Optional()
  @IsString()
  @Length(8, 512, { message: API_KEY_RULE })
  @Matches(API_KEY, { message: API_KEY_RULE })
  api_key?: string;

  @ApiPropertyOptional({ pattern: PROVIDER_KEY_NAME.source, minLength: 1, maxLength: 100 })
  @Optional()
  @IsString()
  @Matches(PROVIDER_KEY_NAME, { message: PROVIDER_KEY_NAME_RULE })
  name?: string;
}

export class ProviderKeyInfo {
  @ApiProperty({ format: 'uuid' }) uuid!: string;
  @ApiProperty() name!: string;
  @ApiProperty() created_at!: string;
  @ApiProperty() created_by!: string;
  @ApiProperty() updated_at!: string;
  @ApiProperty({ nullable: true, type: String }) deleted_at!: string | null;
  @ApiPropertyOptional({ type: [String], description: 'OpenAI keys: the models the provider listed for the key' }) models?: string[];
}

export class ProviderKeyInfoEnvelope {
  @ApiProperty({ type: ProviderKeyInfo }) api_key_info!: ProviderKeyInfo;
}

export class ProviderSecretResponse {
  @ApiProperty({ format: 'uuid' }) uuid!: string;
  @ApiProperty({ enum: ['anthropic', 'openai'] }) provider!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ description: 'The plaintext key' }) api_key!: string;
}

export class ProviderKeyInfoPage {
  @ApiProperty({ type: [ProviderKeyInfo] }) api_key_infos!: ProviderKeyInfo[];
  @ApiProperty({ type: Links }) links!: Links;
  @ApiProperty({ type: Meta }) meta!: Meta;
}

/** The list's paging; provider keys have no views. */
export class ListProviderKeysRequest extends OmitType(ListKeysRequest, ['view'] as const) {}

/** An agent linked to a provider key: what the service knows of it (DigitalOcean's agents carry more). */
export class ProviderKeyAgentInfo {
  @ApiProperty({ format: 'uuid', description: "The agent's uuid on the agent platform" }) uuid!: string;
  @ApiProperty({ nullable: true, type: String, description: 'The name the agent platform gave when it linked the agent; null if none' }) name!: string | null;
  @ApiProperty({ format: 'date-time', description: 'When the agent was linked to the key' }) linked_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String, description: 'The last plaintext read made for the agent; null before the first' })
  last_used_at!: string | null;
}

/** GET .../keys/{uuid}/agents: DigitalOcean's `{agents, links, meta}`. */
export class ProviderKeyAgentPage {
  @ApiProperty({ type: [ProviderKeyAgentInfo] }) agents!: ProviderKeyAgentInfo[];
  @ApiProperty({ type: Links }) links!: Links;
  @ApiProperty({ type: Meta }) meta!: Meta;
}

export class ProviderKeyAgentEnvelope {
  @ApiProperty({ type: ProviderKeyAgentInfo }) agent!: ProviderKeyAgentInfo;
}

/** PUT .../keys/{uuid}/agents/{agent_uuid} (our extension, role `service`). */
export class LinkAgentRequest {
  /** The rule of a model access key's name: 1-255 characters, not only white space, no controls or bidirectional marks; stored trimmed. */
  @NameField('key', { optional: true, nullable: true, description: "The agent's name (stored trimmed, NFC); absent: a name given before is kept; null: the name is removed" })
  name?: string | null;
}

/** DELETE of a provider key: DigitalOcean's answer, and the agents that lost access with it. */
export class ProviderKeyDeletedEnvelope extends ProviderKeyInfoEnvelope {
  @ApiProperty({ type: [ProviderKeyAgentInfo], description: 'The agents that were linked to the key, and lost access with its deletion' })
  agents!: ProviderKeyAgentInfo[];
}

/** GET /internal/provider-keys/{uuid}/secret: the linked agent the read is for, if any. */
export class ReadProviderSecretRequest {
  @ApiPropertyOptional({ format: 'uuid', description: 'The linked agent the plaintext is for; the read counts as its use' })
  @Optional()
  @IsUUID()
  agent_uuid?: string;
}
