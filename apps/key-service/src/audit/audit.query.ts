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
  /**
   * While a regenerate's overlap ran at as_of: the replaced generation, which still authenticated
   * until `ends_at` (ISO-8601). null otherwise.
   */
  readonly previous_secret: { readonly secret_generation: number; readonly secret_prefix: string | null; readonly ends_at: string } | null;
  readonly revision: number | null;
  readonly key: Record<string, unknown> | null;
}

/** One stream's hash chain, checked from its first event (GET /v1/audit/keys/{uuid}/chain). */
export interface KeyChainState {
  readonly stream_id: string;
  /** Events in the stream (count). */
  readonly events: number;
  readonly head_revision: number;
  /** The last event's hash: SHA-256 hex. */
  readonly head_hash: string;
  readonly intact: boolean;
  /** The first broken link, null when intact. */
  readonly broken: {
    readonly revision: number;
    readonly position: number;
    readonly field: 'prevHash' | 'hash' | 'revision';
    readonly expected: string;
    readonly found: string;
    /** One sentence, as keyctl audit verify prints it. */
    readonly message: string;
  } | null;
  readonly hash_algorithm: 'SHA-256';
  /** How each event is written before hashing: RFC 8785, the JSON Canonicalization Scheme. */
  readonly canonicalization: 'RFC 8785';
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

  /**
   * Recomputes every hash of the key's stream (RFC 8785 canonical JSON, SHA-256) and checks each
   * event's prevHash and revision. Throws DomainError KEY_NOT_FOUND for a key of another team.
   */
  async keyChain(actor: Principal, keyUuid: string): Promise<KeyChainState> {
    const events = await this.store.readStream(keyStreamId(keyUuid));
    const teamId = (events[0]?.data as { teamId?: string } | undefined)?.teamId;
    if (events.length === 0 || teamId !== actor.teamId) throw new DomainError('KEY_NOT_FOUND', `key ${keyUuid} not found`);
    const verifier = new ChainVerifier();
    let broken: KeyChainState['broken'] = null;
    for (const event of events) {
      const found = verifier.check(event);
      if (found !== null) {
        broken = { revision: found.revision, position: found.position, field: found.field, expected: found.expected, found: found.found, message: describeBreak(found) };
        break;
      }
    }
    const head = events[events.length - 1];
    return {
      stream_id: head.streamId,
      events: events.length,
      head_revision: head.revision,
      head_hash: head.hash,
      intact: broken === null,
      broken,
      hash_algorithm: 'SHA-256',
      canonicalization: 'RFC 8785',
    };
  }

  /** The key as it was at `asOf`: its events recorded up to then, folded. */
  async keyStateAt(actor: Principal, keyUuid: string, asOf: Date): Promise<KeyStateAt> {
    const history = await this.keyHistory(actor, keyUuid);
    const until = history.filter((e) => Date.parse(e.recorded_at) <= asOf.getTime());
    const events: ModelAccessKeyEvent[] = until.map((e) => decodeKeyEvent(e));
    const state: ModelAccessKeyState = fold(events);
    const generations = events.filter((e) => e.type === 'ModelAccessKeySecretRegenerated').length;
    if (state.status === 'absent') {
      return {
        as_of: asOf.toISOString(),
        existed: false,
        deleted: false,
        expired: false,
        secret_generation: null,
        previous_secret: null,
        revision: null,
        key: null,
      };
    }
    const key = state.key;
    const expired = key.expiredAt !== null || (key.expiresAt !== null && Date.parse(key.expiresAt) <= asOf.getTime());
    return {
      as_of: asOf.toISOString(),
      existed: true,
      deleted: state.status === 'deleted',
      expired,
      secret_generation: state.status === 'deleted' ? null : 1 + generations,
      // The revocation is recorded when the scheduler runs; the secret stopped at ends_at already.
      previous_secret:
        state.status === 'deleted' || key.previousSecret === null || Date.parse(key.previousSecret.endsAt) <= asOf.getTime()
          ? null
          : { secret_generation: generations, secret_prefix: key.previousSecret.prefix, ends_at: key.previousSecret.endsAt },
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
