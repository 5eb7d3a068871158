import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { CLOCK, Clock } from '../../common/clock';
import { eventMetadata } from '../../common/request-context';
import { ModelAccessKey } from '../domain/model-access-key.state';
import { KeyCommandExecutor } from '../shared/key-command.executor';
import { DeleteKeyCommand } from './delete-key.command';

@CommandHandler(DeleteKeyCommand)
export class DeleteKeyHandler implements ICommandHandler<DeleteKeyCommand> {
  constructor(
    private readonly executor: KeyCommandExecutor,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  execute({ actor, keyUuid, confirmName, context }: DeleteKeyCommand): Promise<ModelAccessKey> {
    return this.executor.execute(
      { type: 'DeleteModelAccessKey', keyUuid, actor, confirmName, now: this.clock.now().toISOString() },
      eventMetadata(actor, context),
    );
  }
}
