import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { CLOCK, Clock } from '../../common/clock';
import { eventMetadata } from '../../common/request-context';
import { ModelAccessKey } from '../domain/model-access-key.state';
import { KeyCommandExecutor } from '../shared/key-command.executor';
import { ChangeDeploymentCommand } from './deployment.command';

@CommandHandler(ChangeDeploymentCommand)
export class ChangeDeploymentHandler implements ICommandHandler<ChangeDeploymentCommand> {
  constructor(
    private readonly executor: KeyCommandExecutor,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  execute({ attach, actor, keyUuid, deploymentName, context }: ChangeDeploymentCommand): Promise<ModelAccessKey> {
    const now = this.clock.now().toISOString();
    return this.executor.execute(
      { type: attach ? 'AttachDeployment' : 'DetachDeployment', keyUuid, actor, deploymentName, now },
      eventMetadata(actor, context),
    );
  }
}
