import { Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { EventBody } from '@lib/event-store';
import { decodeKeyEvent } from './domain/model-access-key.codec';
import { KEY_STREAM_PREFIX } from './domain/model-access-key.events';
import { ModelAccessKey, ModelAccessKeyState, evolve, initialState } from './domain/model-access-key.state';
import { KeyLimits, NO_LIMITS, hasLimits } from './domain/key-limits';
import { BodyProjection, RebuildFold } from '../read-side/projection';

export interface KeyViewRow {
  key_uuid: string;
  team_id: string;
  created_by: string;
  name: string;
  models: string;
  vpc_uuid: string | null;
  batch_inference_enabled: number;
  legacy: number;
  unique_name: number;
  description: string | null;
  expires_at: string | null;
  secret_hash: string;
  secret_prefix: string | null;
  deployment_names: string;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  expired_at: string | null;
  created_position: number;
  /** The key's limits as JSON (KeyLimits); null when it has none. */
  limits: string | null;
  /** JSON {periodStart, resetsAt} while the quota is spent; null otherwise. */
  quota_exhausted: string | null;
}

/**
 * One row per key for the team views (My keys, Legacy keys, Team's keys). Rows are folded with the
 * aggregate's own `evolve`, so the views cannot disagree with what commands decide on. Deleted keys
 * keep their row, marked, for the audit views; the team views leave them out.
 */
@Injectable()
export class KeyViewsProjection implements BodyProjection {
  readonly name = 'key_views';
  /** 2: expired_at (the expiry scheduler's event); 3: unique_name (the Gcore-style API); 4: limits, 5: quota_exhausted (issue 19). */
  readonly version = 5;
  readonly tables = ['key_views'];
  readonly reads = 'bodies';
  private select!: Database.Statement<[string], KeyViewRow>;
  private upsert!: Database.Statement<unknown[]>;
  private rebuilding: RebuildFold<ModelAccessKey, ModelAccessKeyState> | null = null;

  setup(db: Database.Database, prefix = ''): void {
    const table = `${prefix}key_views`;
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${table} (
        key_uuid TEXT PRIMARY KEY,
        team_id TEXT NOT NULL,
        created_by TEXT NOT NULL,
        name TEXT NOT NULL,
        models TEXT NOT NULL,
        vpc_uuid TEXT,
        batch_inference_enabled INTEGER NOT NULL,
        legacy INTEGER NOT NULL,
        unique_name INTEGER NOT NULL,
        description TEXT,
        expires_at TEXT,
        secret_hash TEXT NOT NULL,
        secret_prefix TEXT,
        deployment_names TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        deleted_at TEXT,
        expired_at TEXT,
        created_position INTEGER NOT NULL,
        limits TEXT,
        quota_exhausted TEXT
      );
      CREATE INDEX IF NOT EXISTS ${table}_by_quota_exhausted ON ${table} (key_uuid) WHERE quota_exhausted IS NOT NULL AND deleted_at IS NULL;
      CREATE INDEX IF NOT EXISTS ${table}_by_team ON ${table} (team_id, deleted_at, created_position);
      CREATE INDEX IF NOT EXISTS ${table}_by_unique_name ON ${table} (team_id, name) WHERE unique_name = 1 AND deleted_at IS NULL;
      CREATE INDEX IF NOT EXISTS ${table}_by_expiry ON ${table} (expires_at)
        WHERE expires_at IS NOT NULL AND deleted_at IS NULL AND expired_at IS NULL;
    `);
    this.select = db.prepare(`SELECT * FROM ${table} WHERE key_uuid = ?`);
    // Positional, in the table's column order (rowOf): binding by name costs far more per row.
    this.upsert = db.prepare(
      `INSERT INTO ${table} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(key_uuid) DO UPDATE SET name = excluded.name, description = excluded.description,
         expires_at = excluded.expires_at, secret_hash = excluded.secret_hash, secret_prefix = excluded.secret_prefix,
         deployment_names = excluded.deployment_names, updated_at = excluded.updated_at, deleted_at = excluded.deleted_at,
         expired_at = excluded.expired_at, limits = excluded.limits, quota_exhausted = excluded.quota_exhausted`,
    );
  }

  reset(db: Database.Database): void {
    db.exec('DROP TABLE IF EXISTS key_views');
  }

  beginRebuild(): void {
    this.rebuilding = new RebuildFold();
  }

  endRebuild(db: Database.Database): void {
    const rebuilt = this.rebuilding;
    this.rebuilding = null;
    if (!rebuilt) return;
    rebuilt.write(db, this.upsert, rowOf);
  }

  apply(stored: EventBody): void {
    if (!stored.streamId.startsWith(KEY_STREAM_PREFIX)) return;
    const event = decodeKeyEvent(stored);
    const keyUuid = event.data.keyUuid;
    if (this.rebuilding) {
      this.rebuilding.fold(keyUuid, stored.position, (state) => evolve(state ?? initialState, event));
      return;
    }
    const row = this.select.get(keyUuid);
    const after = evolve(row ? stateOf(row) : initialState, event);
    if (after.status === 'absent') return;
    this.upsert.run(rowOf(after.key, row?.created_position ?? stored.position));
  }
}

function stateOf(row: KeyViewRow): ModelAccessKeyState {
  const key = keyOfRow(row);
  return key.deletedAt === null ? { status: 'active', key } : { status: 'deleted', key };
}

export function keyOfRow(row: KeyViewRow): ModelAccessKey {
  return {
    keyUuid: row.key_uuid,
    teamId: row.team_id,
    createdBy: row.created_by,
    name: row.name,
    models: JSON.parse(row.models),
    vpcUuid: row.vpc_uuid,
    batchInferenceEnabled: row.batch_inference_enabled === 1,
    legacy: row.legacy === 1,
    uniqueName: row.unique_name === 1,
    description: row.description,
    expiresAt: row.expires_at,
    secretHash: row.secret_hash,
    secretPrefix: row.secret_prefix,
    deploymentNames: JSON.parse(row.deployment_names),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deletedAt: row.deleted_at,
    expiredAt: row.expired_at,
    // Not in this row: the verification lookup and the scheduler read key_previous_secrets.
    previousSecret: null,
    limits: row.limits === null ? NO_LIMITS : (JSON.parse(row.limits) as KeyLimits),
    quotaExhausted: row.quota_exhausted === null ? null : (JSON.parse(row.quota_exhausted) as ModelAccessKey['quotaExhausted']),
  };
}

/** The row's values in the table's column order (see KeyViewRow). */
function rowOf(key: ModelAccessKey, createdPosition: number): unknown[] {
  return [
    key.keyUuid,
    key.teamId,
    key.createdBy,
    key.name,
    JSON.stringify(key.models),
    key.vpcUuid,
    key.batchInferenceEnabled ? 1 : 0,
    key.legacy ? 1 : 0,
    key.uniqueName ? 1 : 0,
    key.description,
    key.expiresAt,
    key.secretHash,
    key.secretPrefix,
    JSON.stringify(key.deploymentNames),
    key.createdAt,
    key.updatedAt,
    key.deletedAt,
    key.expiredAt,
    createdPosition,
    hasLimits(key.limits) ? JSON.stringify(key.limits) : null,
    key.quotaExhausted ? JSON.stringify(key.quotaExhausted) : null,
  ];
}
