import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { CLOCK, Clock } from '../../common/clock';
import { eventMetadata } from '../../common/request-context';
import { IdempotencyService } from '../shared/idempotency.service';
import { KeyCommandExecutor, KeyResult } from '../shared/key-command.executor';
import { SECRET_GENERATOR, SecretGenerator } from '../shared/secret-generator';
import { RegenerateKeyCommand } from './regenerate-key.command';

@CommandHandler(RegenerateKeyCommand)
export class RegenerateKeyHandler implements ICommandHandler<RegenerateKeyCommand> {
  constructor(
    private readonly executor: KeyCommandExecutor,
    private readonly idempotency: IdempotencyService,
    @Inject(SECRET_GENERATOR) private readonly secrets: SecretGenerator,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  execute({ actor, keyUuid, confirmName, idempotencyKey, context, gracePeriodSeconds }: RegenerateKeyCommand): Promise<Required<KeyResult>> {
    const scope = { teamId: actor.teamId, userId: actor.userId, operation: 'regenerate-key' };
    // The grace period is part of the request only when given, so that records stored before it existed still match.
    const request = gracePeriodSeconds > 0 ? { keyUuid, confirmName, gracePeriodSeconds } : { keyUuid, confirmName };
    return this.idempotency.run(scope, idempotencyKey, request, async () => {
      const secret = this.secrets.newSecret();
      const key = await this.executor.execute(
        {
          type: 'RegenerateModelAccessKey',
          keyUuid,
          actor,
          confirmName,
          secret: secret.digest,
          now: this.clock.now().toISOString(),
          ...(gracePeriodSeconds > 0 ? { gracePeriodSeconds } : {}),
        },
        eventMetadata(actor, context),
      );
      return { key, secret: secret.plaintext };
    });
  }
}
