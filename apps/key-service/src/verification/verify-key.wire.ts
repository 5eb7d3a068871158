import { isUUID } from 'class-validator';
import { DomainError } from '../common/domain-error';
import { DEPLOYMENT_NAME, DEPLOYMENT_NAME_RULE } from '../keys/shared/key-request.validators';
import { Verdict } from './verification.lookup';
import { VerifyTarget } from './verification.rules';
import { VerifyKeyResponse } from './verify-key.request.dto';

const FIELDS = new Set(['key', 'model', 'vpc_uuid', 'deployment_name', 'batch']);

export interface VerifyKeyInput {
  readonly key: string;
  readonly target: VerifyTarget;
}

function invalid(field: string, rule: string): never {
  throw new DomainError('VALIDATION_FAILED', `${field} ${rule}`, { field });
}

/**
 * The verify request, checked by hand on the hot path (the rules of VerifyKeyRequest, which documents
 * them, at a tenth of class-validator's cost): the first bad field is named, unknown fields refused.
 */
export function parseVerifyKeyRequest(body: unknown): VerifyKeyInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) invalid('body', 'must be a JSON object');
  const input = body as Record<string, unknown>;
  for (const name of Object.keys(input)) if (!FIELDS.has(name)) invalid(name, `should not exist (property ${name})`);
  const { key, model, vpc_uuid: vpcUuid, deployment_name: deploymentName, batch } = input;
  if (typeof key !== 'string' || key.length < 1 || key.length > 512) invalid('key', 'must be a string of 1-512 characters');
  if (model !== undefined && (typeof model !== 'string' || model.length < 1 || model.length > 200)) {
    invalid('model', 'must be a string of 1-200 characters');
  }
  if (vpcUuid !== undefined && (typeof vpcUuid !== 'string' || !isUUID(vpcUuid))) invalid('vpc_uuid', 'must be a UUID');
  if (deploymentName !== undefined && (typeof deploymentName !== 'string' || !DEPLOYMENT_NAME.test(deploymentName))) {
    invalid('deployment_name', DEPLOYMENT_NAME_RULE.replace(/^deployment_name /, ''));
  }
  if (batch !== undefined && typeof batch !== 'boolean') invalid('batch', 'must be a boolean value');
  return {
    key,
    target: {
      model: model as string | undefined,
      vpcUuid: vpcUuid as string | undefined,
      deploymentName: deploymentName as string | undefined,
      batch: batch as boolean | undefined,
    },
  };
}

export function toVerifyResponse({ code, grant }: Verdict): VerifyKeyResponse {
  if (!grant) return { valid: false, code };
  const answer: VerifyKeyResponse = {
    valid: code === 'VALID',
    code,
    key_uuid: grant.keyUuid,
    team_id: grant.teamId,
    expires_at: grant.expiresAt,
    limits: grant.limits,
    ...(code === 'USAGE_EXCEEDED' ? { resets_at: grant.quotaResetsAt } : {}),
  };
  if (grant.secretEndsAt !== undefined) answer.secret_ends_at = grant.secretEndsAt;
  return answer;
}
