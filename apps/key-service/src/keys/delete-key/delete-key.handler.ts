import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { CLOCK, Clock } from '../../common/clock';
import { eventMetadata } from '../../common/request-context';
import { ModelAccessKey } from '../domain/model-access-key.state';
import { KeyCommandExecutor } from '../shared/key-command.executor';
import { KeyNames } from '../shared/key-names';
import { DeleteKeyCommand } from './delete-key.command';

@CommandHandler(DeleteKeyCommand)
export class DeleteKeyHandler implements ICommandHandler<DeleteKeyCommand> {
  constructor(
    private readonly executor: KeyCommandExecutor,
    private readonly names: KeyNames,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute({ actor, keyUuid, confirmName, context }: DeleteKeyCommand): Promise<ModelAccessKey> {
    const now = this.clock.now().toISOString();
    const metadata = eventMetadata(actor, context);
    const key = await this.executor.execute({ type: 'DeleteModelAccessKey', keyUuid, actor, confirmName, now }, metadata);
    // Had this process stopped here, the registry would still free the name: its holder is deleted.
    if (key.uniqueName) await this.names.release(key.teamId, key.name, keyUuid, now, metadata);
    return key;
  }
}
