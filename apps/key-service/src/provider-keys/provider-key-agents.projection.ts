import { Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { EventBody } from '@lib/event-store';
import { BodyProjection } from '../read-side/projection';
import { PROVIDER_KEY_STREAM_PREFIX, decodeProviderKeyEvent } from './domain/provider-key.events';

export interface ProviderKeyAgentRow {
  key_uuid: string;
  agent_uuid: string;
  team_id: string;
  name: string | null;
  linked_by: string;
  linked_at: string;
  last_used_at: string | null;
  link_position: number;
}

/**
 * The agents linked to each provider key (GET .../keys/{uuid}/agents): one row per link, gone when
 * the agent is unlinked, its last use moved by each plaintext read made for it. The same rules as
 * the key's own evolve (provider-key.state.ts), kept apart from provider_key_views, whose rows do not
 * change when agents come and go.
 */
@Injectable()
export class ProviderKeyAgentsProjection implements BodyProjection {
  readonly name = 'provider_key_agents';
  readonly version = 1;
  readonly tables = ['provider_key_agents'];
  readonly reads = 'bodies';
  private insert!: Database.Statement<[string, string, string, string | null, string, string, number]>;
  private rename!: Database.Statement<[string | null, string, string]>;
  private used!: Database.Statement<[string, string, string]>;
  private drop!: Database.Statement<[string, string]>;

  setup(db: Database.Database, prefix = ''): void {
    const table = `${prefix}provider_key_agents`;
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${table} (
        key_uuid TEXT NOT NULL,
        agent_uuid TEXT NOT NULL,
        team_id TEXT NOT NULL,
        name TEXT,
        linked_by TEXT NOT NULL,
        linked_at TEXT NOT NULL,
        last_used_at TEXT,
        link_position INTEGER NOT NULL,
        PRIMARY KEY (key_uuid, agent_uuid)
      );
      CREATE INDEX IF NOT EXISTS ${table}_by_key ON ${table} (key_uuid, link_position);
    `);
    this.insert = db.prepare(`INSERT OR IGNORE INTO ${table} VALUES (?, ?, ?, ?, ?, ?, NULL, ?)`);
    this.rename = db.prepare(`UPDATE ${table} SET name = ? WHERE key_uuid = ? AND agent_uuid = ?`);
    this.used = db.prepare(`UPDATE ${table} SET last_used_at = ? WHERE key_uuid = ? AND agent_uuid = ?`);
    this.drop = db.prepare(`DELETE FROM ${table} WHERE key_uuid = ? AND agent_uuid = ?`);
  }

  reset(db: Database.Database): void {
    db.exec('DROP TABLE IF EXISTS provider_key_agents');
  }

  apply(stored: EventBody): void {
    if (!stored.streamId.startsWith(PROVIDER_KEY_STREAM_PREFIX)) return;
    const event = decodeProviderKeyEvent(stored);
    switch (event.type) {
      case 'ProviderKeyAgentLinked': {
        const d = event.data;
        // A link of a linked agent only renames it (see evolveProviderKey).
        if (this.insert.run(d.keyUuid, d.agentUuid, d.teamId, d.agentName, d.linkedBy, d.linkedAt, stored.position).changes === 0) {
          this.rename.run(d.agentName, d.keyUuid, d.agentUuid);
        }
        break;
      }
      case 'ProviderKeyAgentUnlinked':
        this.drop.run(event.data.keyUuid, event.data.agentUuid);
        break;
      case 'ProviderKeySecretRead':
        if (event.data.agentUuid !== undefined) this.used.run(event.data.readAt, event.data.keyUuid, event.data.agentUuid);
        break;
      default:
        break;
    }
  }
}
