import { Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { StoredEvent } from '@lib/event-store';
import { Projection } from '../keys/projections/projection';
import { PROVIDER_KEY_STREAM_PREFIX, Provider, decodeProviderKeyEvent } from './domain/provider-key.events';
import { ProviderKey, evolveProviderKey, initialProviderKeyState } from './domain/provider-key.state';

export interface ProviderKeyViewRow {
  key_uuid: string;
  team_id: string;
  provider: Provider;
  name: string;
  created_by: string;
  models: string | null;
  data_key_id: string;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  created_position: number;
}

/** What the list and get answers show of a provider key (never the ciphertext); deleted keys stay, marked. */
export interface ProviderKeyView {
  readonly keyUuid: string;
  readonly teamId: string;
  readonly provider: Provider;
  readonly name: string;
  readonly createdBy: string;
  readonly models: readonly string[] | null;
  readonly dataKeyId: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly deletedAt: string | null;
}

@Injectable()
export class ProviderKeyViewsProjection implements Projection {
  readonly name = 'provider_key_views';
  readonly version = 1;
  readonly tables = ['provider_key_views'];
  private select!: Database.Statement<[string], ProviderKeyViewRow>;
  private upsert!: Database.Statement<unknown[]>;

  setup(db: Database.Database): void {
    db.exec(`
      CREATE TABLE IF NOT EXISTS provider_key_views (
        key_uuid TEXT PRIMARY KEY,
        team_id TEXT NOT NULL,
        provider TEXT NOT NULL,
        name TEXT NOT NULL,
        created_by TEXT NOT NULL,
        models TEXT,
        data_key_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        deleted_at TEXT,
        created_position INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS provider_key_views_by_team ON provider_key_views (team_id, provider, deleted_at, created_position);
    `);
    this.select = db.prepare('SELECT * FROM provider_key_views WHERE key_uuid = ?');
    this.upsert = db.prepare(
      `INSERT INTO provider_key_views VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(key_uuid) DO UPDATE SET name = excluded.name, models = excluded.models, data_key_id = excluded.data_key_id,
         updated_at = excluded.updated_at, deleted_at = excluded.deleted_at`,
    );
  }

  reset(db: Database.Database): void {
    db.exec('DROP TABLE IF EXISTS provider_key_views');
  }

  apply(stored: StoredEvent): void {
    if (!stored.streamId.startsWith(PROVIDER_KEY_STREAM_PREFIX)) return;
    const event = decodeProviderKeyEvent(stored);
    if (event.type === 'ProviderKeySecretRead') return;
    const row = this.select.get(event.data.keyUuid);
    const before = row ? stateOf(row) : initialProviderKeyState;
    const after = evolveProviderKey(before, event);
    if (after.status === 'absent') return;
    const k = after.key;
    this.upsert.run(
      k.keyUuid,
      k.teamId,
      k.provider,
      k.name,
      k.createdBy,
      k.models === null ? null : JSON.stringify(k.models),
      k.sealedSecret.dataKeyId,
      k.createdAt,
      k.updatedAt,
      k.deletedAt,
      row?.created_position ?? stored.position,
    );
  }
}

export function viewOfRow(row: ProviderKeyViewRow): ProviderKeyView {
  return {
    keyUuid: row.key_uuid,
    teamId: row.team_id,
    provider: row.provider,
    name: row.name,
    createdBy: row.created_by,
    models: row.models === null ? null : (JSON.parse(row.models) as string[]),
    dataKeyId: row.data_key_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deletedAt: row.deleted_at,
  };
}

/** The row is all evolve needs to go on: the sealed secret it lacks is replaced whole by any event that changes it. */
function stateOf(row: ProviderKeyViewRow) {
  const key: ProviderKey = {
    ...viewOfRow(row),
    sealedSecret: { alg: 'A256GCM', dataKeyId: row.data_key_id, nonce: '', ciphertext: '' },
  };
  return key.deletedAt === null ? ({ status: 'active', key } as const) : ({ status: 'deleted', key } as const);
}
