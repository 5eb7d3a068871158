import { Inject, Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { ChainVerifier, EVENT_STORE, EventStore } from '@lib/event-store';
import { Principal } from '../auth/principal';
import { DomainError } from '../common/domain-error';
import { decodeKeyEvent } from '../keys/domain/model-access-key.codec';
import { ModelAccessKeyEvent, keyStreamId } from '../keys/domain/model-access-key.events';
import { ModelAccessKeyState, fold } from '../keys/domain/model-access-key.state';
import { READ_MODEL_DB } from '../read-side/read-model.database';
import { AuditEvent, toAuditEvent } from './audit-events.projection';
import { describeBreak } from './verify-chain';

export interface TeamEventsFilter {
  readonly after: number;
  readonly limit: number;
  readonly type?: string;
  readonly actor?: string;
  /** Inclusive bounds on recorded_at (ISO-8601), for exports. */
  readonly from?: string;
  readonly to?: string;
}

export interface KeyStateAt {
  readonly as_of: string;
  /** The key had been created by then. */
  readonly existed: boolean;
  readonly deleted: boolean;
  readonly expired: boolean;
  /** 1 for the secret issued at creation, +1 per regenerate: the generation valid at as_of. */
  readonly secret_generation: number | null;
  readonly revision: number | null;
  readonly key: Record<string, unknown> | null;
}

/** A key's hash chain, checked from its first event: each event's hash recomputed, each link to the one before. */
export interface KeyChainReport {
  readonly intact: boolean;
  readonly events: number;
  /** The last event's hash when the chain is intact: what the next event will link to. */
  readonly head_hash: string | null;
  readonly broken: { readonly revision: number; readonly position: number; readonly field: string; readonly expected: string; readonly found: string; readonly message: string } | null;
}

/** The audit reads: a key's history from the log itself, and the team's trail from its index. */
@Injectable()
export class AuditQuery {
  /** One prepared statement per combination of filters (at most 16). */
  private readonly statements = new Map<string, Database.Statement<[Record<string, unknown>], number>>();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(READ_MODEL_DB) private readonly db: Database.Database,
  ) {}

  /** Every event of the key, deleted keys included; a key of another team does not exist for the caller. */
  async keyHistory(actor: Principal, keyUuid: string): Promise<AuditEvent[]> {
    const events = await this.store.readStream(keyStreamId(keyUuid));
    const teamId = (events[0]?.data as { teamId?: string } | undefined)?.teamId;
    if (events.length === 0 || teamId !== actor.teamId) throw new DomainError('KEY_NOT_FOUND', `key ${keyUuid} not found`);
    return events.map(toAuditEvent);
  }

  /** The key's chain as stored now (keyctl audit verify checks every stream of the store the same way). */
  async keyChain(actor: Principal, keyUuid: string): Promise<KeyChainReport> {
    const events = await this.store.readStream(keyStreamId(keyUuid));
    const teamId = (events[0]?.data as { teamId?: string } | undefined)?.teamId;
    if (events.length === 0 || teamId !== actor.teamId) throw new DomainError('KEY_NOT_FOUND', `key ${keyUuid} not found`);
    const verifier = new ChainVerifier();
    for (const event of events) {
      const broken = verifier.check(event);
      if (broken) {
        const { revision, position, field, expected, found } = broken;
        return { intact: false, events: events.length, head_hash: null, broken: { revision, position, field, expected, found, message: describeBreak(broken) } };
      }
    }
    return { intact: true, events: events.length, head_hash: events[events.length - 1].hash, broken: null };
  }

  /** The key as it was at `asOf`: its events recorded up to then, folded. */
  async keyStateAt(actor: Principal, keyUuid: string, asOf: Date): Promise<KeyStateAt> {
    const history = await this.keyHistory(actor, keyUuid);
    const until = history.filter((e) => Date.parse(e.recorded_at) <= asOf.getTime());
    const events: ModelAccessKeyEvent[] = until.map((e) => decodeKeyEvent(e));
    const state: ModelAccessKeyState = fold(events);
    const generations = events.filter((e) => e.type === 'ModelAccessKeySecretRegenerated').length;
    if (state.status === 'absent') {
      return { as_of: asOf.toISOString(), existed: false, deleted: false, expired: false, secret_generation: null, revision: null, key: null };
    }
    const key = state.key;
    const expired = key.expiredAt !== null || (key.expiresAt !== null && Date.parse(key.expiresAt) <= asOf.getTime());
    return {
      as_of: asOf.toISOString(),
      existed: true,
      deleted: state.status === 'deleted',
      expired,
      secret_generation: state.status === 'deleted' ? null : 1 + generations,
      revision: until[until.length - 1].revision,
      key: {
        uuid: key.keyUuid,
        name: key.name,
        models: key.models,
        vpc_uuid: key.vpcUuid,
        batch_inference_enabled: key.batchInferenceEnabled,
        legacy: key.legacy,
        deployment_names: key.deploymentNames,
        expires_at: key.expiresAt,
        secret_prefix: key.secretPrefix,
        created_by: key.createdBy,
        created_at: key.createdAt,
        deleted_at: key.deletedAt,
      },
    };
  }

  /** The team's events from its index, with their bodies read from the log. */
  async teamEvents(teamId: string, filter: TeamEventsFilter): Promise<AuditEvent[]> {
    const clauses = ['team_id = @teamId', 'position > @after'];
    if (filter.type !== undefined) clauses.push('type = @type');
    if (filter.actor !== undefined) clauses.push('actor_user_id = @actor');
    if (filter.from !== undefined) clauses.push('recorded_at >= @from');
    if (filter.to !== undefined) clauses.push('recorded_at <= @to');
    const sql = `SELECT position FROM audit_events WHERE ${clauses.join(' AND ')} ORDER BY position LIMIT @limit`;
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare<[Record<string, unknown>], number>(sql).pluck()));
    const positions = statement.all({ teamId, after: filter.after, limit: filter.limit, type: filter.type, actor: filter.actor, from: filter.from, to: filter.to });
    const events = await this.store.readPositions(positions);
    if (events.length !== positions.length) throw new Error('the audit index names positions the event store does not hold');
    return events.map(toAuditEvent);
  }
}
