import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { CLOCK, Clock } from '../../common/clock';
import { eventMetadata } from '../../common/request-context';
import { normalizeExpiry } from '../domain/key-input.rules';
import { limitsOfRequest } from '../change-limits/key-limits.request.dto';
import { IdempotencyService } from '../shared/idempotency.service';
import { KeyCommandExecutor, KeyResult } from '../shared/key-command.executor';
import { SECRET_GENERATOR, SecretGenerator, uuidFromHash } from '../shared/secret-generator';
import { CreateKeyCommand } from './create-key.command';

@CommandHandler(CreateKeyCommand)
export class CreateKeyHandler implements ICommandHandler<CreateKeyCommand> {
  constructor(
    private readonly executor: KeyCommandExecutor,
    private readonly idempotency: IdempotencyService,
    @Inject(SECRET_GENERATOR) private readonly secrets: SecretGenerator,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  execute({ actor, request, idempotencyKey, context }: CreateKeyCommand): Promise<Required<KeyResult>> {
    const scope = { teamId: actor.teamId, userId: actor.userId, operation: 'create-key' };
    return this.idempotency.run(scope, idempotencyKey, request, async (seed) => {
      // A retried create names the same key, so a retry after a crash cannot make a second one.
      const keyUuid = seed ? uuidFromHash(seed) : this.secrets.newKeyUuid();
      const secret = this.secrets.newSecret();
      const key = await this.executor.execute(
        {
          type: 'CreateModelAccessKey',
          keyUuid,
          actor,
          name: request.name,
          models: request.models ?? 'all',
          vpcUuid: request.vpc_uuid ?? null,
          batchInferenceEnabled: request.batch_inference_enabled ?? false,
          description: request.description ?? null,
          expiresAt: request.expires_at ? normalizeExpiry(request.expires_at) : null,
          secret: secret.digest,
          now: this.clock.now().toISOString(),
          ...(request.limits !== undefined ? { limits: limitsOfRequest(request.limits) } : {}),
        },
        eventMetadata(actor, context),
      );
      return { key, secret: secret.plaintext };
    });
  }
}
