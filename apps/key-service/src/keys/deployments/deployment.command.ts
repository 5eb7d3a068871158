import { Command } from '@nestjs/cqrs';
import { Principal } from '../../auth/principal';
import { RequestContext } from '../../common/request-context';
import { ModelAccessKey } from '../domain/model-access-key.state';

/** Attach and detach share one shape; `attach` says which. */
export class ChangeDeploymentCommand extends Command<ModelAccessKey> {
  constructor(
    readonly attach: boolean,
    readonly actor: Principal,
    readonly keyUuid: string,
    readonly deploymentName: string,
    readonly context: RequestContext,
  ) {
    super();
  }
}
