import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { randomUUID } from 'node:crypto';
import { CLOCK, Clock } from '../../common/clock';
import { eventMetadata } from '../../common/request-context';
import { ModelAccessKey } from '../domain/model-access-key.state';
import { KeyCommandExecutor } from '../shared/key-command.executor';
import { ImportLegacyKeyCommand } from './import-legacy-key.command';

@CommandHandler(ImportLegacyKeyCommand)
export class ImportLegacyKeyHandler implements ICommandHandler<ImportLegacyKeyCommand> {
  constructor(
    private readonly executor: KeyCommandExecutor,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  execute({ input }: ImportLegacyKeyCommand): Promise<ModelAccessKey> {
    const operator = { teamId: input.teamId, userId: 'keyctl', role: 'operator' };
    return this.executor.execute(
      {
        type: 'ImportLegacyModelAccessKey',
        keyUuid: input.keyUuid ?? randomUUID(),
        teamId: input.teamId,
        createdBy: input.createdBy,
        name: input.name,
        secretHash: input.secretHash.toLowerCase(),
        secretPrefix: input.secretPrefix,
        createdAt: input.createdAt,
        now: this.clock.now().toISOString(),
      },
      eventMetadata(operator, { requestId: randomUUID(), sourceIp: null, userAgent: 'keyctl' }),
    );
  }
}
