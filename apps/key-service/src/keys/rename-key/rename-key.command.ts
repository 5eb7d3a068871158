import { Command } from '@nestjs/cqrs';
import { Principal } from '../../auth/principal';
import { RequestContext } from '../../common/request-context';
import { ScopeChangeRequest } from '../domain/model-access-key.commands';
import { ModelAccessKey } from '../domain/model-access-key.state';

export class RenameKeyCommand extends Command<ModelAccessKey> {
  constructor(
    readonly actor: Principal,
    readonly keyUuid: string,
    readonly name: string,
    readonly scopeChange: ScopeChangeRequest,
    readonly context: RequestContext,
  ) {
    super();
  }
}
