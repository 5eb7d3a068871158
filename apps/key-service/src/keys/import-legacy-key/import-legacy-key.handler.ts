import { Inject } from '@nestjs/common';
import { CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { EVENT_STORE, EventStore } from '@lib/event-store';
import { CLOCK, Clock } from '../../common/clock';
import { DomainError } from '../../common/domain-error';
import { eventMetadata } from '../../common/request-context';
import { ModelAccessKey } from '../domain/model-access-key.state';
import { ProjectionRunner } from '../../read-side/projection-runner';
import { READ_MODEL_DB } from '../../read-side/read-model.database';
import { KeyCommandExecutor } from '../shared/key-command.executor';
import { assertUuid } from '../shared/key-request.validators';
import { ImportLegacyKeyCommand } from './import-legacy-key.command';

@CommandHandler(ImportLegacyKeyCommand)
export class ImportLegacyKeyHandler implements ICommandHandler<ImportLegacyKeyCommand> {
  private readonly liveKeyWithHash: Database.Statement<[string], { key_uuid: string }>;

  constructor(
    private readonly executor: KeyCommandExecutor,
    private readonly projections: ProjectionRunner,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(READ_MODEL_DB) db: Database.Database,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.liveKeyWithHash = db.prepare('SELECT key_uuid FROM key_views WHERE secret_hash = ? AND deleted_at IS NULL LIMIT 1');
  }

  async execute({ input }: ImportLegacyKeyCommand): Promise<ModelAccessKey> {
    const operator = { teamId: input.teamId, userId: 'keyctl', role: 'operator' };
    const keyUuid = input.keyUuid === null ? randomUUID() : assertUuid(input.keyUuid, 'uuid');
    const secretHash = input.secretHash.toLowerCase();
    // A secret hash names one key: verification maps it to a single grant, so a second key with it
    // would take the first's verifications, and deleting either would revoke the other. Checked on
    // views caught up with the whole log (keyctl is a process of its own). Two imports of one hash
    // racing each other are not caught; imports are an operator's, one at a time.
    await this.projections.waitFor(await this.store.headPosition());
    const holder = this.liveKeyWithHash.get(secretHash);
    if (holder !== undefined) {
      throw new DomainError('KEY_ALREADY_EXISTS', `the secret hash is already in use by key ${holder.key_uuid}; nothing was imported`, { field: 'secret_hash' });
    }
    return this.executor.execute(
      {
        type: 'ImportLegacyModelAccessKey',
        keyUuid,
        teamId: input.teamId,
        createdBy: input.createdBy,
        name: input.name,
        secretHash,
        secretPrefix: input.secretPrefix,
        createdAt: input.createdAt,
        now: this.clock.now().toISOString(),
      },
      eventMetadata(operator, { requestId: randomUUID(), sourceIp: null, userAgent: 'keyctl' }),
    );
  }
}
