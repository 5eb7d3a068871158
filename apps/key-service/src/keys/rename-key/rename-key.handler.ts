import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { CLOCK, Clock } from '../../common/clock';
import { eventMetadata } from '../../common/request-context';
import { ModelAccessKey } from '../domain/model-access-key.state';
import { KeyCommandExecutor } from '../shared/key-command.executor';
import { RenameKeyCommand } from './rename-key.command';

@CommandHandler(RenameKeyCommand)
export class RenameKeyHandler implements ICommandHandler<RenameKeyCommand> {
  constructor(
    private readonly executor: KeyCommandExecutor,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  execute({ actor, keyUuid, name, scopeChange, context }: RenameKeyCommand): Promise<ModelAccessKey> {
    return this.executor.execute(
      { type: 'RenameModelAccessKey', keyUuid, actor, name, scopeChange, now: this.clock.now().toISOString() },
      eventMetadata(actor, context),
    );
  }
}
