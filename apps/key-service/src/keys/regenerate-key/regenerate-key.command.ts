import { Command } from '@nestjs/cqrs';
import { Principal } from '../../auth/principal';
import { RequestContext } from '../../common/request-context';
import { KeyResult } from '../shared/key-command.executor';

export class RegenerateKeyCommand extends Command<Required<KeyResult>> {
  constructor(
    readonly actor: Principal,
    readonly keyUuid: string,
    readonly confirmName: string | null,
    readonly idempotencyKey: string | null,
    readonly context: RequestContext,
    /** 0: the old secret stops at once; up to 604800: it keeps authenticating that many seconds. */
    readonly gracePeriodSeconds: number = 0,
  ) {
    super();
  }
}
