import { Command } from '@nestjs/cqrs';
import { Principal } from '../../auth/principal';
import { RequestContext } from '../../common/request-context';
import { ModelAccessKey } from '../domain/model-access-key.state';

export class DeleteKeyCommand extends Command<ModelAccessKey> {
  constructor(
    readonly actor: Principal,
    readonly keyUuid: string,
    readonly confirmName: string | null,
    readonly context: RequestContext,
  ) {
    super();
  }
}
