import { Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { EventBody } from '@lib/event-store';
import { BodyProjection, RebuildFold } from '../read-side/projection';
import { PROVIDER_KEY_STREAM_PREFIX, Provider, decodeProviderKeyEvent } from './domain/provider-key.events';
import { ProviderKey, ProviderKeyState, evolveProviderKey, initialProviderKeyState } from './domain/provider-key.state';

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
export class ProviderKeyViewsProjection implements BodyProjection {
  readonly name = 'provider_key_views';
  readonly version = 1;
  readonly tables = ['provider_key_views'];
  readonly reads = 'bodies';
  private select!: Database.Statement<[string], ProviderKeyViewRow>;
  private upsert!: Database.Statement<unknown[]>;
  private rebuilding: RebuildFold<ProviderKey, ProviderKeyState> | null = null;

  setup(db: Database.Database, prefix = ''): void {
    const table = `${prefix}provider_key_views`;
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${table} (
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
      CREATE INDEX IF NOT EXISTS ${table}_by_team ON ${table} (team_id, provider, deleted_at, created_position);
    `);
    this.select = db.prepare(`SELECT * FROM ${table} WHERE key_uuid = ?`);
    this.upsert = db.prepare(
      `INSERT INTO ${table} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(key_uuid) DO UPDATE SET name = excluded.name, models = excluded.models, data_key_id = excluded.data_key_id,
         updated_at = excluded.updated_at, deleted_at = excluded.deleted_at`,
    );
  }

  reset(db: Database.Database): void {
    db.exec('DROP TABLE IF EXISTS provider_key_views');
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
    if (!stored.streamId.startsWith(PROVIDER_KEY_STREAM_PREFIX)) return;
    const event = decodeProviderKeyEvent(stored);
    // Reads and agent links change nothing the row shows (provider_key_agents has the agents).
    if (event.type === 'ProviderKeySecretRead' || event.type === 'ProviderKeyAgentLinked' || event.type === 'ProviderKeyAgentUnlinked') return;
    if (this.rebuilding) {
      this.rebuilding.fold(event.data.keyUuid, stored.position, (state) => evolveProviderKey(state ?? initialProviderKeyState, event));
      return;
    }
    const row = this.select.get(event.data.keyUuid);
    const after = evolveProviderKey(row ? stateOf(row) : initialProviderKeyState, event);
    if (after.status === 'absent') return;
    this.upsert.run(...rowOf(after.key, row?.created_position ?? stored.position));
  }
}

/** The row's values in the table's column order (see ProviderKeyViewRow). */
function rowOf(k: ProviderKey, createdPosition: number): unknown[] {
  return [
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
    createdPosition,
  ];
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
    agents: [],
  };
  return key.deletedAt === null ? ({ status: 'active', key } as const) : ({ status: 'deleted', key } as const);
}
