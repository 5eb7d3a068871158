import { Command } from '@nestjs/cqrs';
import { Principal } from '../../auth/principal';
import { RequestContext } from '../../common/request-context';
import { KeyLimits } from '../domain/key-limits';
import { ModelAccessKey } from '../domain/model-access-key.state';

/** PUT /v2/gen-ai/models/api_keys/{uuid}/limits and gRPC SetKeyLimits: the key's whole new limits. */
export class ChangeLimitsCommand extends Command<ModelAccessKey> {
  constructor(
    readonly actor: Principal,
    readonly keyUuid: string,
    readonly limits: KeyLimits,
    readonly context: RequestContext,
  ) {
    super();
  }
}
