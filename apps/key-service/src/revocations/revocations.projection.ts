import { Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { EventBody } from '@lib/event-store';
import { decodeKeyEvent } from '../keys/domain/model-access-key.codec';
import { KEY_STREAM_PREFIX } from '../keys/domain/model-access-key.events';
import { BodyProjection, RebuildRows } from '../read-side/projection';
import { Revocation, revocationOf } from './revocation';

interface RevocationRow {
  position: number;
  key_uuid: string;
  team_id: string;
  secret_hashes: string;
  reason: Revocation['reason'];
  deployment_name: string | null;
  occurred_at: string;
}

/**
 * The revocation feed: one ordered row per event that removed access, keyed by the event's global
 * position. It keeps each live key's current secret hash of its own (a detach event names none),
 * so that it never depends on the order in which the runner feeds the other views.
 */
type RevocationValues = [number, string, string, string, Revocation['reason'], string | null, string];

@Injectable()
export class RevocationsProjection implements BodyProjection {
  readonly name = 'revocations';
  /** 2: revocation_previous_hashes (regenerate with an overlap). */
  readonly version = 2;
  readonly tables = ['revocations', 'revocation_key_hashes', 'revocation_previous_hashes'];
  readonly reads = 'bodies';
  private insert!: Database.Statement<RevocationValues>;
  private setHash!: Database.Statement<[string, string]>;
  private getHash!: Database.Statement<[string], { secret_hash: string }>;
  private dropHash!: Database.Statement<[string]>;
  private setPrevious!: Database.Statement<[string, string]>;
  private getPrevious!: Database.Statement<[string], { secret_hash: string }>;
  private dropPrevious!: Database.Statement<[string]>;
  private selectAfter!: Database.Statement<[number, number], RevocationRow>;
  private selectHead!: Database.Statement<[], { position: number | null }>;
  /** During a rebuild: each live key's current hash (written once at the end), and where the feed's rows go. */
  private rebuilding: { hashes: Map<string, string>; previous: Map<string, string>; rows: RebuildRows } | null = null;

  setup(db: Database.Database, prefix = ''): void {
    const revocations = `${prefix}revocations`;
    const hashes = `${prefix}revocation_key_hashes`;
    const previous = `${prefix}revocation_previous_hashes`;
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${revocations} (
        position INTEGER PRIMARY KEY,
        key_uuid TEXT NOT NULL,
        team_id TEXT NOT NULL,
        secret_hashes TEXT NOT NULL,
        reason TEXT NOT NULL,
        deployment_name TEXT,
        occurred_at TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS ${hashes} (key_uuid TEXT PRIMARY KEY, secret_hash TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS ${previous} (key_uuid TEXT PRIMARY KEY, secret_hash TEXT NOT NULL);
    `);
    this.setPrevious = db.prepare(`INSERT INTO ${previous} VALUES (?, ?) ON CONFLICT(key_uuid) DO UPDATE SET secret_hash = excluded.secret_hash`);
    this.getPrevious = db.prepare(`SELECT secret_hash FROM ${previous} WHERE key_uuid = ?`);
    this.dropPrevious = db.prepare(`DELETE FROM ${previous} WHERE key_uuid = ?`);
    this.insert = db.prepare(`INSERT OR IGNORE INTO ${revocations} VALUES (?, ?, ?, ?, ?, ?, ?)`);
    this.setHash = db.prepare(`INSERT INTO ${hashes} VALUES (?, ?) ON CONFLICT(key_uuid) DO UPDATE SET secret_hash = excluded.secret_hash`);
    this.getHash = db.prepare(`SELECT secret_hash FROM ${hashes} WHERE key_uuid = ?`);
    this.dropHash = db.prepare(`DELETE FROM ${hashes} WHERE key_uuid = ?`);
    this.selectAfter = db.prepare(`SELECT * FROM ${revocations} WHERE position > ? ORDER BY position LIMIT ?`);
    this.selectHead = db.prepare(`SELECT MAX(position) AS position FROM ${revocations}`);
  }

  reset(db: Database.Database): void {
    db.exec('DROP TABLE IF EXISTS revocations; DROP TABLE IF EXISTS revocation_key_hashes; DROP TABLE IF EXISTS revocation_previous_hashes;');
  }

  beginRebuild(rows: RebuildRows): void {
    this.rebuilding = { hashes: new Map(), previous: new Map(), rows };
  }

  endRebuild(db: Database.Database): void {
    const rebuilt = this.rebuilding;
    this.rebuilding = null;
    if (!rebuilt) return;
    db.transaction(() => {
      for (const [keyUuid, hash] of rebuilt.hashes) this.setHash.run(keyUuid, hash);
      for (const [keyUuid, hash] of rebuilt.previous) this.setPrevious.run(keyUuid, hash);
    }).immediate();
  }

  apply(stored: EventBody): void {
    if (!stored.streamId.startsWith(KEY_STREAM_PREFIX)) return;
    const event = decodeKeyEvent(stored);
    const memory = this.rebuilding;
    const revocation = revocationOf(
      event,
      stored.position,
      (keyUuid) => (memory ? memory.hashes.get(keyUuid) : this.getHash.get(keyUuid)?.secret_hash),
      (keyUuid) => (memory ? memory.previous.get(keyUuid) : this.getPrevious.get(keyUuid)?.secret_hash),
    );
    if (revocation) {
      const { position, key_uuid, team_id, secret_hashes, reason, deployment_name, occurred_at } = revocation;
      const values: RevocationValues = [position, key_uuid, team_id, JSON.stringify(secret_hashes), reason, deployment_name, occurred_at];
      if (memory) memory.rows.add('revocations', values);
      else this.insert.run(...values);
    }
    switch (event.type) {
      case 'ModelAccessKeyCreated':
      case 'LegacyModelAccessKeyImported':
      case 'ModelAccessKeySecretRegenerated':
        if (memory) memory.hashes.set(event.data.keyUuid, event.data.secretHash);
        else this.setHash.run(event.data.keyUuid, event.data.secretHash);
        break;
      case 'ModelAccessKeyDeleted':
        if (memory) memory.hashes.delete(event.data.keyUuid);
        else this.dropHash.run(event.data.keyUuid);
        break;
      default:
        break;
    }
    // The secret a regenerate with an overlap replaced, while the overlap runs.
    const keyUuid = event.data.keyUuid;
    if (event.type === 'ModelAccessKeySecretRegenerated' && event.data.previousSecretEndsAt !== undefined) {
      if (memory) memory.previous.set(keyUuid, event.data.revokedSecretHash);
      else this.setPrevious.run(keyUuid, event.data.revokedSecretHash);
    } else if (event.type === 'ModelAccessKeyPreviousSecretRevoked' || event.type === 'ModelAccessKeyDeleted') {
      if (memory) memory.previous.delete(keyUuid);
      else this.dropPrevious.run(keyUuid);
    }
  }

  /** Revocations with a position greater than `after`, oldest first. */
  after(after: number, limit: number): Revocation[] {
    return this.selectAfter.all(after, limit).map((row) => ({ ...row, secret_hashes: JSON.parse(row.secret_hashes) as string[] }));
  }

  lastPosition(): number {
    return this.selectHead.get()?.position ?? 0;
  }
}
