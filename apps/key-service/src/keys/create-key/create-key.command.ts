import { Command } from '@nestjs/cqrs';
import { Principal } from '../../auth/principal';
import { RequestContext } from '../../common/request-context';
import { KeyResult } from '../shared/key-command.executor';
import { CreateKeyRequest } from './create-key.request.dto';

export class CreateKeyCommand extends Command<Required<KeyResult>> {
  constructor(
    readonly actor: Principal,
    readonly request: CreateKeyRequest,
    readonly idempotencyKey: string | null,
    readonly context: RequestContext,
  ) {
    super();
  }
}
