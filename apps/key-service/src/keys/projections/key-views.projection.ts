import { Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { StoredEvent } from '@lib/event-store';
import { decodeKeyEvent } from '../domain/model-access-key.codec';
import { KEY_STREAM_PREFIX } from '../domain/model-access-key.events';
import { ModelAccessKey, ModelAccessKeyState, evolve, initialState } from '../domain/model-access-key.state';
import { Projection } from './projection';

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
}

/**
 * One row per key for the team views (My keys, Legacy keys, Team's keys). Rows are folded with the
 * aggregate's own `evolve`, so the views cannot disagree with what commands decide on. Deleted keys
 * keep their row, marked, for the audit views; the team views leave them out.
 */
@Injectable()
export class KeyViewsProjection implements Projection {
  readonly name = 'key_views';
  /** 2: expired_at (the expiry scheduler's event); 3: unique_name (the Gcore-style API). */
  readonly version = 3;
  readonly tables = ['key_views'];
  private select!: Database.Statement<[string], KeyViewRow>;
  private upsert!: Database.Statement<[KeyViewRow]>;
  /** During a rebuild: every key's state, written once at the end. */
  private rebuilding: Map<string, { state: ModelAccessKeyState; createdPosition: number }> | null = null;

  setup(db: Database.Database): void {
    db.exec(`
      CREATE TABLE IF NOT EXISTS key_views (
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
        created_position INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS key_views_by_team ON key_views (team_id, deleted_at, created_position);
      CREATE INDEX IF NOT EXISTS key_views_by_unique_name ON key_views (team_id, name) WHERE unique_name = 1 AND deleted_at IS NULL;
      CREATE INDEX IF NOT EXISTS key_views_by_expiry ON key_views (expires_at)
        WHERE expires_at IS NOT NULL AND deleted_at IS NULL AND expired_at IS NULL;
    `);
    this.select = db.prepare('SELECT * FROM key_views WHERE key_uuid = ?');
    this.upsert = db.prepare(
      `INSERT INTO key_views VALUES (@key_uuid, @team_id, @created_by, @name, @models, @vpc_uuid, @batch_inference_enabled,
         @legacy, @unique_name, @description, @expires_at, @secret_hash, @secret_prefix, @deployment_names, @created_at, @updated_at,
         @deleted_at, @expired_at, @created_position)
       ON CONFLICT(key_uuid) DO UPDATE SET name = excluded.name, description = excluded.description,
         expires_at = excluded.expires_at, secret_hash = excluded.secret_hash, secret_prefix = excluded.secret_prefix,
         deployment_names = excluded.deployment_names, updated_at = excluded.updated_at, deleted_at = excluded.deleted_at,
         expired_at = excluded.expired_at`,
    );
  }

  reset(db: Database.Database): void {
    db.exec('DROP TABLE IF EXISTS key_views');
  }

  beginRebuild(): void {
    this.rebuilding = new Map();
  }

  endRebuild(db: Database.Database): void {
    const keys = this.rebuilding;
    this.rebuilding = null;
    if (!keys) return;
    db.transaction(() => {
      for (const { state, createdPosition } of keys.values()) if (state.status !== 'absent') this.upsert.run(rowOf(state.key, createdPosition));
    })();
  }

  apply(stored: StoredEvent): void {
    if (!stored.streamId.startsWith(KEY_STREAM_PREFIX)) return;
    const event = decodeKeyEvent(stored);
    if (this.rebuilding) {
      const known = this.rebuilding.get(event.data.keyUuid);
      this.rebuilding.set(event.data.keyUuid, {
        state: evolve(known?.state ?? initialState, event),
        createdPosition: known?.createdPosition ?? stored.position,
      });
      return;
    }
    const row = this.select.get(event.data.keyUuid);
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
  };
}

function rowOf(key: ModelAccessKey, createdPosition: number): KeyViewRow {
  return {
    key_uuid: key.keyUuid,
    team_id: key.teamId,
    created_by: key.createdBy,
    name: key.name,
    models: JSON.stringify(key.models),
    vpc_uuid: key.vpcUuid,
    batch_inference_enabled: key.batchInferenceEnabled ? 1 : 0,
    legacy: key.legacy ? 1 : 0,
    unique_name: key.uniqueName ? 1 : 0,
    description: key.description,
    expires_at: key.expiresAt,
    secret_hash: key.secretHash,
    secret_prefix: key.secretPrefix,
    deployment_names: JSON.stringify(key.deploymentNames),
    created_at: key.createdAt,
    updated_at: key.updatedAt,
    deleted_at: key.deletedAt,
    expired_at: key.expiredAt,
    created_position: createdPosition,
  };
}
