import { limitsOfRequest } from '../keys/change-limits/key-limits.request.dto';
import { limitsToWire } from '../keys/domain/key-limits';
import { Inject, Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { Principal } from '../auth/principal';
import { CLOCK, Clock } from '../common/clock';
import { DomainError } from '../common/domain-error';
import { RequestContext, eventMetadata } from '../common/request-context';
import { canCreate, canSee } from '../keys/domain/key-access.policy';
import { comparableName, normalizeExpiry, normalizeName } from '../keys/domain/key-input.rules';
import { ModelAccessKey } from '../keys/domain/model-access-key.state';
import { KeyViewRow, keyOfRow } from '../keys/key-views.projection';
import { READ_MODEL_DB } from '../read-side/read-model.database';
import { KeyCommandExecutor, KeyResult } from '../keys/shared/key-command.executor';
import { KeyNames } from '../keys/shared/key-names';
import { SECRET_GENERATOR, SecretGenerator } from '../keys/shared/secret-generator';
import { CreateInferenceApiKeyRequest, UpdateInferenceApiKeyRequest } from './inference-api-keys.request.dto';

export interface InferenceKeyPage {
  readonly keys: ModelAccessKey[];
  readonly count: number;
}

/**
 * The Gcore-style surface over the model-access-key aggregate: the same commands and events, with
 * the key addressed by its name in the project (the caller's team). The name is held in the name
 * registry for as long as the key lives, which is what makes it unique on every store.
 */
@Injectable()
export class InferenceApiKeys {
  constructor(
    private readonly executor: KeyCommandExecutor,
    private readonly names: KeyNames,
    @Inject(READ_MODEL_DB) private readonly db: Database.Database,
    @Inject(SECRET_GENERATOR) private readonly secrets: SecretGenerator,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async create(actor: Principal, projectId: string, request: CreateInferenceApiKeyRequest, context: RequestContext): Promise<Required<KeyResult>> {
    this.project(actor, projectId);
    if (!canCreate(actor)) throw new DomainError('FORBIDDEN', `role ${actor.role} cannot create keys`);
    const name = normalizeName(request.name, 'addressable');
    const now = this.clock.now().toISOString();
    const metadata = eventMetadata(actor, context);
    const keyUuid = this.secrets.newKeyUuid();
    const secret = this.secrets.newSecret();
    await this.names.reserve(actor.teamId, name, keyUuid, now, metadata);
    try {
      const key = await this.executor.execute(
        {
          type: 'CreateModelAccessKey',
          keyUuid,
          actor,
          name,
          models: 'all',
          vpcUuid: null,
          batchInferenceEnabled: false,
          description: request.description ?? null,
          expiresAt: request.expires_at ? normalizeExpiry(request.expires_at) : null,
          secret: secret.digest,
          now,
          uniqueName: true,
          ...(request.limits !== undefined ? { limits: limitsOfRequest(request.limits) } : {}),
        },
        metadata,
      );
      return { key, secret: secret.plaintext };
    } catch (error) {
      await this.names.release(actor.teamId, name, keyUuid, now, metadata);
      throw error;
    }
  }

  list(actor: Principal, projectId: string, limit: number, offset: number): InferenceKeyPage {
    this.project(actor, projectId);
    if (actor.role === 'gateway') throw new DomainError('FORBIDDEN', 'gateways do not list keys');
    const own = actor.role === 'member' ? 'AND created_by = @user' : '';
    const where = `team_id = @team AND unique_name = 1 AND deleted_at IS NULL ${own}`;
    const params = { team: actor.teamId, user: actor.userId };
    const count = (this.db.prepare(`SELECT COUNT(*) AS n FROM key_views WHERE ${where}`).get(params) as { n: number }).n;
    const rows = this.db
      .prepare(`SELECT * FROM key_views WHERE ${where} ORDER BY created_position LIMIT @limit OFFSET @offset`)
      .all({ ...params, limit, offset }) as KeyViewRow[];
    return { keys: rows.map(keyOfRow), count };
  }

  get(actor: Principal, projectId: string, name: string): ModelAccessKey {
    this.project(actor, projectId);
    const row = this.db
      .prepare('SELECT * FROM key_views WHERE team_id = ? AND name = ? AND unique_name = 1 AND deleted_at IS NULL')
      .get(actor.teamId, comparableName(name)) as KeyViewRow | undefined;
    const key = row && keyOfRow(row);
    if (!key || !canSee(actor, key)) throw new DomainError('KEY_NOT_FOUND', `api key "${name}" not found`);
    return key;
  }

  async update(actor: Principal, projectId: string, name: string, request: UpdateInferenceApiKeyRequest, context: RequestContext): Promise<ModelAccessKey> {
    const { keyUuid } = this.get(actor, projectId, name);
    if (request.description === undefined && request.expires_at === undefined && request.deployment_names === undefined && request.limits === undefined) {
      throw new DomainError('VALIDATION_FAILED', 'give at least one of description, expires_at, deployment_names, limits', { field: 'body' });
    }
    return this.executor.execute(
      {
        type: 'UpdateModelAccessKey',
        keyUuid,
        actor,
        description: request.description,
        expiresAt: request.expires_at === undefined || request.expires_at === null ? request.expires_at : normalizeExpiry(request.expires_at),
        deploymentNames: request.deployment_names,
        limits: request.limits === undefined ? undefined : limitsOfRequest(request.limits),
        now: this.clock.now().toISOString(),
      },
      eventMetadata(actor, context),
    );
  }

  /** A key still attached to a deployment is refused (409), as Gcore does. */
  async delete(actor: Principal, projectId: string, name: string, context: RequestContext): Promise<void> {
    const key = this.get(actor, projectId, name);
    const now = this.clock.now().toISOString();
    const metadata = eventMetadata(actor, context);
    await this.executor.execute({ type: 'DeleteModelAccessKey', keyUuid: key.keyUuid, actor, confirmName: null, now }, metadata);
    await this.names.release(key.teamId, key.name, key.keyUuid, now, metadata);
  }

  /** The project is the caller's team; another project does not exist for them. */
  private project(actor: Principal, projectId: string): void {
    if (projectId !== actor.teamId) throw new DomainError('PROJECT_NOT_FOUND', `project ${projectId} not found`);
  }
}

export const toInferenceApiKey = (key: ModelAccessKey, secret?: string) => ({
  name: key.name,
  description: key.description,
  created_at: key.createdAt,
  expires_at: key.expiresAt,
  deployment_names: [...key.deploymentNames],
  limits: limitsToWire(key.limits),
  ...(secret === undefined ? {} : { secret }),
});
