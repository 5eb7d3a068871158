import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { CLOCK, Clock } from '../../common/clock';
import { eventMetadata } from '../../common/request-context';
import { ModelAccessKey } from '../domain/model-access-key.state';
import { KeyCommandExecutor } from '../shared/key-command.executor';
import { ChangeLimitsCommand } from './change-limits.command';

@CommandHandler(ChangeLimitsCommand)
export class ChangeLimitsHandler implements ICommandHandler<ChangeLimitsCommand> {
  constructor(
    private readonly executor: KeyCommandExecutor,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  execute({ actor, keyUuid, limits, context }: ChangeLimitsCommand): Promise<ModelAccessKey> {
    const now = this.clock.now().toISOString();
    return this.executor.execute({ type: 'ChangeModelAccessKeyLimits', keyUuid, actor, limits, now }, eventMetadata(actor, context));
  }
}
