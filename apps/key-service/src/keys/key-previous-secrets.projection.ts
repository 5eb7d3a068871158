import { Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { EventBody } from '@lib/event-store';
import { decodeKeyEvent } from './domain/model-access-key.codec';
import { KEY_STREAM_PREFIX } from './domain/model-access-key.events';
import { BodyProjection } from '../read-side/projection';

export interface PreviousSecretRow {
  key_uuid: string;
  team_id: string;
  secret_hash: string;
  ends_at: string;
}

/**
 * One row per key whose regenerate's overlap runs: the replaced secret's hash and when it ends.
 * The verification lookup answers for that hash until then; the expiry scheduler revokes it at
 * `ends_at`. A row leaves with ModelAccessKeyPreviousSecretRevoked or the key's deletion. Kept apart
 * from key_views so that the team views' rows stay as they are.
 */
@Injectable()
export class KeyPreviousSecretsProjection implements BodyProjection {
  readonly name = 'key_previous_secrets';
  readonly version = 1;
  readonly tables = ['key_previous_secrets'];
  readonly reads = 'bodies';
  private upsert!: Database.Statement<[string, string, string, string]>;
  private drop!: Database.Statement<[string]>;

  setup(db: Database.Database, prefix = ''): void {
    const table = `${prefix}key_previous_secrets`;
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${table} (
        key_uuid TEXT PRIMARY KEY,
        team_id TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        ends_at TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS ${table}_by_end ON ${table} (ends_at);
    `);
    this.upsert = db.prepare(
      `INSERT INTO ${table} VALUES (?, ?, ?, ?) ON CONFLICT(key_uuid) DO UPDATE SET secret_hash = excluded.secret_hash, ends_at = excluded.ends_at`,
    );
    this.drop = db.prepare(`DELETE FROM ${table} WHERE key_uuid = ?`);
  }

  reset(db: Database.Database): void {
    db.exec('DROP TABLE IF EXISTS key_previous_secrets');
  }

  apply(stored: EventBody): void {
    if (!stored.streamId.startsWith(KEY_STREAM_PREFIX)) return;
    const event = decodeKeyEvent(stored);
    switch (event.type) {
      case 'ModelAccessKeySecretRegenerated':
        if (event.data.previousSecretEndsAt !== undefined) {
          this.upsert.run(event.data.keyUuid, event.data.teamId, event.data.revokedSecretHash, event.data.previousSecretEndsAt);
        } else {
          this.drop.run(event.data.keyUuid);
        }
        break;
      case 'ModelAccessKeyPreviousSecretRevoked':
      case 'ModelAccessKeyDeleted':
        this.drop.run(event.data.keyUuid);
        break;
      default:
        break;
    }
  }
}
