import { Inject, Injectable, Logger } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { StoredEvent } from '@lib/event-store';
import { decodeKeyEvent } from '../keys/domain/model-access-key.codec';
import { KEY_STREAM_PREFIX } from '../keys/domain/model-access-key.events';
import { ProjectionRunner } from '../read-side/projection-runner';
import { READ_MODEL_DB } from '../read-side/read-model.database';
import { KeyGrant, VerifyCode, VerifyTarget, judge, quotaOf } from './verification.rules';
import { CLOCK, Clock } from '../common/clock';
import { KeyLimits, limitsToWire } from '../keys/domain/key-limits';

export interface Verdict {
  readonly code: VerifyCode;
  readonly grant?: KeyGrant;
}

/** The key_views columns a grant is made of, in this order (rows read as arrays: far cheaper than objects). */
const GRANT_COLUMNS = 'secret_hash, key_uuid, team_id, models, vpc_uuid, batch_inference_enabled, deployment_names, expires_at, expired_at, limits, quota_exhausted';
type GrantRow = [string, string, string, string, string | null, number, string, string | null, string | null, string | null, string | null];
/**
 * The grant of a secret a regenerate with an overlap replaced: its end first, then the grant's columns
 * with the replaced hash in place of the key's (so the row stays right whatever GRANT_COLUMNS holds).
 */
const PREVIOUS_GRANT_COLUMNS = ['p.ends_at', 'p.secret_hash', ...GRANT_COLUMNS.split(', ').slice(1).map((column) => `k.${column}`)].join(', ');
const PREVIOUS_FROM = 'key_previous_secrets p JOIN key_views k ON k.key_uuid = p.key_uuid WHERE k.deleted_at IS NULL';
type PreviousGrantRow = [string, ...GrantRow];

/**
 * secret hash -> what the key allows, in memory. Loaded from the key views at start-up (and again when
 * a rebuild replaced them), then kept current after every committed projection batch: each key an
 * event touches is read again from its (already committed) view row, and a secret an event revokes
 * (regenerate, delete, expiry) leaves the map. Deleted keys are not in it, and a regenerate swaps the
 * hash, so an old secret is unknown the moment the command's answer is sent; after a regenerate with
 * an overlap, the old hash keeps a grant of its own (with `secretEndsAt`, from key_previous_secrets)
 * until ModelAccessKeyPreviousSecretRevoked takes it out. The hot path never reads a store.
 *
 * Memory, at a million keys: per key one grant, its uuid and its hash (about 300 bytes with the map's
 * entry). What many keys hold alike (team ids, VPC ids, expiry instants, model and deployment sets) is
 * held once, shared by the grants: a Set per key was most of the 788 MB the service took at a million.
 */
@Injectable()
export class VerificationLookup {
  private readonly logger = new Logger(VerificationLookup.name);
  private byHash = new Map<string, KeyGrant>();
  private shared = new SharedValues();
  private readonly selectKey: Database.Statement<[string], GrantRow>;
  private readonly selectLive: Database.Statement<[], GrantRow>;
  private readonly selectPrevious: Database.Statement<[string], PreviousGrantRow>;
  private readonly selectLivePrevious: Database.Statement<[], PreviousGrantRow>;

  constructor(
    @Inject(READ_MODEL_DB) db: Database.Database,
    runner: ProjectionRunner,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.selectKey = db.prepare<[string], GrantRow>(`SELECT ${GRANT_COLUMNS} FROM key_views WHERE key_uuid = ? AND deleted_at IS NULL`).raw();
    this.selectLive = db.prepare<[], GrantRow>(`SELECT ${GRANT_COLUMNS} FROM key_views WHERE deleted_at IS NULL`).raw();
    this.selectPrevious = db.prepare<[string], PreviousGrantRow>(`SELECT ${PREVIOUS_GRANT_COLUMNS} FROM ${PREVIOUS_FROM} AND p.key_uuid = ?`).raw();
    this.selectLivePrevious = db.prepare<[], PreviousGrantRow>(`SELECT ${PREVIOUS_GRANT_COLUMNS} FROM ${PREVIOUS_FROM}`).raw();
    this.load();
    runner.onCommitted('views', (events) => this.refresh(events));
    runner.onViewsReplaced(() => this.load());
  }

  verify(secret: string, target: VerifyTarget): Verdict {
    const grant = this.byHash.get(createHash('sha256').update(secret).digest('hex'));
    return { code: judge(grant, target, this.clock.now().getTime()), grant };
  }

  get size(): number {
    return this.byHash.size;
  }

  /** Every live key, read afresh: the map and the shared values are replaced at once. */
  private load(): void {
    const started = performance.now();
    const byHash = new Map<string, KeyGrant>();
    const shared = new SharedValues();
    for (const row of this.selectLive.iterate()) byHash.set(row[0], grantOfRow(row, shared));
    for (const row of this.selectLivePrevious.iterate()) byHash.set(row[1], previousGrantOfRow(row, shared));
    this.byHash = byHash;
    this.shared = shared;
    this.logger.log(`verification lookup loaded with ${byHash.size} live keys in ${Math.round(performance.now() - started)} ms`);
  }

  private refresh(events: readonly StoredEvent[]): void {
    const touched = new Set<string>();
    for (const stored of events) {
      if (!stored.streamId.startsWith(KEY_STREAM_PREFIX)) continue;
      const event = decodeKeyEvent(stored);
      touched.add(event.data.keyUuid);
      // The only events that take a hash out of use say which one; a regenerate with an overlap
      // names the replaced hash, which goes on authenticating (with its end) until its own revocation.
      const overlapping = event.type === 'ModelAccessKeySecretRegenerated' && event.data.previousSecretEndsAt !== undefined;
      if ('revokedSecretHash' in event.data && !overlapping) this.byHash.delete(event.data.revokedSecretHash);
    }
    for (const keyUuid of touched) {
      const row = this.selectKey.get(keyUuid);
      if (row) this.byHash.set(row[0], grantOfRow(row, this.shared));
      const previous = this.selectPrevious.get(keyUuid);
      if (previous) this.byHash.set(previous[1], previousGrantOfRow(previous, this.shared));
    }
  }
}

const NO_DEPLOYMENTS: ReadonlySet<string> = new Set();

/** One instance of each value many grants hold alike (the grants never change what they are given). */
class SharedValues {
  private readonly strings = new Map<string, string>();
  private readonly sets = new Map<string, ReadonlySet<string>>();

  string<T extends string | null>(value: T): T {
    if (value === null) return value;
    const known = this.strings.get(value);
    if (known !== undefined) return known as T;
    this.strings.set(value, value);
    return value;
  }

  /** A JSON array of strings as a set; `"all"` (the models column's every-model scope) as null. */
  set(json: string): ReadonlySet<string> | null {
    if (json === '"all"') return null;
    if (json === '[]') return NO_DEPLOYMENTS;
    let known = this.sets.get(json);
    if (known === undefined) this.sets.set(json, (known = new Set<string>(JSON.parse(json) as string[])));
    return known;
  }
}

/** The key's grant, for the secret its overlap keeps until `ends_at`. */
function previousGrantOfRow(row: PreviousGrantRow, shared: SharedValues): KeyGrant {
  const [endsAt, ...grantRow] = row;
  return { ...grantOfRow(grantRow, shared), secretEndsAt: endsAt, secretEndsAtMs: Date.parse(endsAt) };
}

/** What grantOf makes of the key, from its view row (see GRANT_COLUMNS). */
function grantOfRow(row: GrantRow, shared: SharedValues): KeyGrant {
  const [, keyUuid, teamId, models, vpcUuid, batch, deploymentNames, expiresAt, expiredAt, limits, quotaExhausted] = row;
  return {
    keyUuid,
    teamId: shared.string(teamId),
    models: shared.set(models),
    vpcUuid: shared.string(vpcUuid),
    batchInferenceEnabled: batch === 1,
    deploymentNames: shared.set(deploymentNames) ?? NO_DEPLOYMENTS,
    expiresAt: shared.string(expiresAt),
    expiresAtMs: expiresAt === null ? Number.POSITIVE_INFINITY : Date.parse(expiresAt),
    expired: expiredAt !== null,
    limits: limits === null ? null : limitsToWire(JSON.parse(limits) as KeyLimits),
    ...quotaOf(quotaExhausted === null ? null : (JSON.parse(quotaExhausted) as { resetsAt: string | null })),
  };
}
