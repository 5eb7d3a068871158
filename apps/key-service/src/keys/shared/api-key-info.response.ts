import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ModelAccessKey } from '../domain/model-access-key.state';
import { QUOTA_PERIODS, QuotaPeriod, limitsToWire } from '../domain/key-limits';
import { KeyPeriodUsage, KeyUsageView } from '../../usage/key-usage.view';

export class KeyQuotaInfo {
  @ApiProperty({ type: 'integer', nullable: true, description: 'Requests per period; null: not limited' }) requests!: number | null;
  @ApiProperty({ type: 'integer', nullable: true, description: 'Input plus output tokens per period; null: not limited' }) tokens!: number | null;
  @ApiProperty({ enum: QUOTA_PERIODS, description: 'day: resets at 00:00 UTC; month: at 00:00 UTC on the 1st; none: never' }) period!: QuotaPeriod;
}

/** A key's limits (issue 19): null fields are not limited. */
export class KeyLimitsInfo {
  @ApiProperty({ type: 'integer', nullable: true, description: 'Requests per sliding minute, counted at the gateways' }) requests_per_minute!: number | null;
  @ApiProperty({ type: 'integer', nullable: true, description: 'Input plus output tokens per sliding minute, from the usage the upstream reports' })
  tokens_per_minute!: number | null;
  @ApiProperty({ type: KeyQuotaInfo, nullable: true }) quota!: KeyQuotaInfo | null;
}

/** DigitalOcean's api_key_info, with this service's fields alongside. */
export class ApiKeyInfo {
  @ApiProperty({ format: 'uuid' }) uuid!: string;
  @ApiProperty() name!: string;
  @ApiPropertyOptional({ description: 'Only on create and regenerate: shown once, never stored.' }) secret_key?: string;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ description: 'The creating user id, as a string' }) created_by!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) deleted_at!: string | null;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
  @ApiProperty({ oneOf: [{ type: 'string', enum: ['all'] }, { type: 'array', items: { type: 'string' } }] }) models!: 'all' | string[];
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) vpc_uuid!: string | null;
  @ApiProperty() batch_inference_enabled!: boolean;
  @ApiProperty({ description: 'Created before scoping existed: all models, no VPC, scope not editable' }) legacy!: boolean;
  @ApiProperty({ nullable: true, type: String }) description!: string | null;
  @ApiProperty({ type: [String] }) deployment_names!: string[];
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) expires_at!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'The first characters of the secret, for recognising it' })
  secret_prefix!: string | null;
  @ApiProperty({ type: KeyLimitsInfo, description: 'Rate limits and quota; each null when not limited' }) limits!: KeyLimitsInfo;
  @ApiPropertyOptional({
    format: 'date-time',
    nullable: true,
    type: String,
    description: 'On reads (one key, the lists): the last minute the key made a request, as the gateways reported (minute precision); null: never',
  })
  last_used_at?: string | null;
  @ApiPropertyOptional({ type: KeyPeriodUsage, description: "On reads (one key, the lists): the current period's usage as the gateways reported it" })
  usage?: KeyPeriodUsage;
}

export class ApiKeyInfoEnvelope {
  @ApiProperty({ type: ApiKeyInfo }) api_key_info!: ApiKeyInfo;
}

class PageLinks {
  @ApiPropertyOptional() first?: string;
  @ApiPropertyOptional() last?: string;
  @ApiPropertyOptional() next?: string;
  @ApiPropertyOptional() previous?: string;
}
export class Links {
  @ApiProperty({ type: PageLinks }) pages!: PageLinks;
}
export class Meta {
  @ApiProperty() page!: number;
  @ApiProperty() pages!: number;
  @ApiProperty() total!: number;
}
export class ApiKeyInfoPage {
  @ApiProperty({ type: [ApiKeyInfo] }) api_key_infos!: ApiKeyInfo[];
  @ApiProperty({ type: Links }) links!: Links;
  @ApiProperty({ type: Meta }) meta!: Meta;
}

export class ErrorResponse {
  @ApiProperty({ example: 'not_found' }) id!: string;
  @ApiProperty() message!: string;
  @ApiProperty() request_id!: string;
  @ApiProperty({ example: 'KEY_NOT_FOUND' }) code!: string;
  @ApiPropertyOptional({ type: Object, example: { field: 'name' }, description: 'e.g. the field a 400 is about' })
  details?: Record<string, unknown>;
}

/** `usage`: on reads, what the usage store knows of the key (last_used_at and the period's usage). */
export function toApiKeyInfo(key: ModelAccessKey, secret?: string, usage?: KeyUsageView): ApiKeyInfo {
  return {
    uuid: key.keyUuid,
    name: key.name,
    ...(secret !== undefined ? { secret_key: secret } : {}),
    created_at: key.createdAt,
    created_by: key.createdBy,
    deleted_at: key.deletedAt,
    updated_at: key.updatedAt,
    models: key.models === 'all' ? 'all' : [...key.models],
    vpc_uuid: key.vpcUuid,
    batch_inference_enabled: key.batchInferenceEnabled,
    legacy: key.legacy,
    description: key.description,
    deployment_names: [...key.deploymentNames],
    expires_at: key.expiresAt,
    secret_prefix: key.secretPrefix,
    limits: limitsToWire(key.limits),
    ...(usage ? { last_used_at: usage.last_used_at, usage: usage.usage } : {}),
  };
}
