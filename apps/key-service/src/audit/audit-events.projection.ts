import { Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { StoredEvent } from '@lib/event-store';
import { Projection } from '../keys/projections/projection';

export interface AuditEventRow {
  position: number;
  team_id: string;
  stream_id: string;
  revision: number;
  type: string;
  actor_user_id: string | null;
  data: string;
  metadata: string;
  recorded_at: string;
  prev_hash: string | null;
  hash: string;
}

/** What an auditor receives for one stored event: the event as stored, with its place and hash. */
export interface AuditEvent {
  readonly position: number;
  readonly stream_id: string;
  readonly revision: number;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly recorded_at: string;
  readonly prev_hash: string | null;
  readonly hash: string;
}

export const toAuditEvent = (e: StoredEvent): AuditEvent => ({
  position: e.position,
  stream_id: e.streamId,
  revision: e.revision,
  type: e.type,
  data: e.data,
  metadata: e.metadata,
  recorded_at: e.recordedAt,
  prev_hash: e.prevHash,
  hash: e.hash,
});

export const auditEventOfRow = (row: AuditEventRow): AuditEvent => ({
  position: row.position,
  stream_id: row.stream_id,
  revision: row.revision,
  type: row.type,
  data: JSON.parse(row.data),
  metadata: JSON.parse(row.metadata),
  recorded_at: row.recorded_at,
  prev_hash: row.prev_hash,
  hash: row.hash,
});

/**
 * Every event, indexed by team (and by type and actor), in global order: the team's audit trail.
 * A copy of the log for reading; `keyctl audit verify` checks the log itself.
 */
@Injectable()
export class AuditEventsProjection implements Projection {
  readonly name = 'audit_events';
  readonly version = 1;
  readonly tables = ['audit_events'];
  private insert!: Database.Statement<[AuditEventRow]>;

  setup(db: Database.Database): void {
    db.exec(`
      CREATE TABLE IF NOT EXISTS audit_events (
        position INTEGER PRIMARY KEY,
        team_id TEXT NOT NULL,
        stream_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        type TEXT NOT NULL,
        actor_user_id TEXT,
        data TEXT NOT NULL,
        metadata TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        prev_hash TEXT,
        hash TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS audit_events_by_team ON audit_events (team_id, position);
    `);
    this.insert = db.prepare(
      `INSERT OR IGNORE INTO audit_events VALUES (@position, @team_id, @stream_id, @revision, @type, @actor_user_id, @data,
         @metadata, @recorded_at, @prev_hash, @hash)`,
    );
  }

  reset(db: Database.Database): void {
    db.exec('DROP TABLE IF EXISTS audit_events');
  }

  apply(event: StoredEvent): void {
    const data = event.data as { teamId?: unknown } | null;
    const actor = (event.metadata as { actor?: { userId?: unknown; teamId?: unknown } }).actor;
    const teamId = typeof data?.teamId === 'string' ? data.teamId : typeof actor?.teamId === 'string' ? actor.teamId : null;
    if (teamId === null) return;
    this.insert.run({
      position: event.position,
      team_id: teamId,
      stream_id: event.streamId,
      revision: event.revision,
      type: event.type,
      actor_user_id: typeof actor?.userId === 'string' ? actor.userId : null,
      data: JSON.stringify(event.data),
      metadata: JSON.stringify(event.metadata),
      recorded_at: event.recordedAt,
      prev_hash: event.prevHash,
      hash: event.hash,
    });
  }
}
