import { Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { StoredEvent } from '@lib/event-store';
import { EventProjection } from '../read-side/projection';

/** One event in the team's trail: where it is in the log, and what it can be filtered by. */
export interface AuditIndexRow {
  position: number;
  team_id: string;
  type: string;
  actor_user_id: string | null;
  recorded_at: string;
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

/**
 * The team's audit trail as an index into the log: each event's position under its team, with its
 * type, actor and time to filter on. The bodies are read from the log itself, so the trail cannot
 * disagree with what `keyctl audit verify` checks, and a rebuild writes a few small columns per event.
 * The rows are kept in (team, position) order, the order every audit query reads them in.
 */
@Injectable()
export class AuditEventsProjection implements EventProjection {
  readonly name = 'audit_events';
  /** 2: an index into the log (1 copied every event); 3: clustered by (team, position). */
  readonly version = 3;
  readonly tables = ['audit_events'];
  readonly reads = 'events';
  private insert!: Database.Statement<[number, string, string, string | null, string]>;

  setup(db: Database.Database, prefix = ''): void {
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${prefix}audit_events (
        position INTEGER NOT NULL,
        team_id TEXT NOT NULL,
        type TEXT NOT NULL,
        actor_user_id TEXT,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (team_id, position)
      ) WITHOUT ROWID;
    `);
    this.insert = db.prepare(`INSERT OR IGNORE INTO ${prefix}audit_events VALUES (?, ?, ?, ?, ?)`);
  }

  reset(db: Database.Database): void {
    db.exec('DROP TABLE IF EXISTS audit_events');
  }

  apply(event: StoredEvent): void {
    const data = event.data as { teamId?: unknown } | null;
    const actor = (event.metadata as { actor?: { userId?: unknown; teamId?: unknown } }).actor;
    const teamId = typeof data?.teamId === 'string' ? data.teamId : typeof actor?.teamId === 'string' ? actor.teamId : null;
    if (teamId === null) return;
    this.insert.run(event.position, teamId, event.type, typeof actor?.userId === 'string' ? actor.userId : null, event.recordedAt);
  }

  /** What apply does, in SQLite's JSON functions: the same team and actor, taken only when they are strings. */
  insertFromEventsSql(prefix: string, source: string): string {
    const text = (json: string, path: string) => `CASE WHEN json_type(${json}, '${path}') = 'text' THEN ${json} ->> '${path}' END`;
    return `
      INSERT OR IGNORE INTO ${prefix}audit_events (position, team_id, type, actor_user_id, recorded_at)
      SELECT position, team_id, type, actor_user_id, recorded_at FROM (
        SELECT position, type, recorded_at,
          coalesce(${text('data', '$.teamId')}, ${text('metadata', '$.actor.teamId')}) AS team_id,
          ${text('metadata', '$.actor.userId')} AS actor_user_id
        FROM ${source}
      ) WHERE team_id IS NOT NULL`;
  }
}
