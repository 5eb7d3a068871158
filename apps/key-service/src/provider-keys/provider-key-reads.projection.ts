import { Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { EventBody } from '@lib/event-store';
import { BodyProjection } from '../read-side/projection';
import { PROVIDER_KEY_STREAM_PREFIX, decodeProviderKeyEvent } from './domain/provider-key.events';

export interface ProviderKeyReadRow {
  key_uuid: string;
  /** The minute's start, ISO 8601 UTC (`2026-11-22T10:07:00.000Z`). */
  minute: string;
  /** The agent the reads were for; '' for reads that named none. */
  agent_uuid: string;
  reads: number;
}

/**
 * A partner provider key's usage: its plaintext reads (GET /internal/provider-keys/{uuid}/secret)
 * per minute and per agent named by the read, counted from the `ProviderKeySecretRead` events. Unlike
 * the gateways' usage store, this is a projection: the reads are events, so it is rebuilt from the log.
 */
@Injectable()
export class ProviderKeyReadsProjection implements BodyProjection {
  readonly name = 'provider_key_reads';
  readonly version = 1;
  readonly tables = ['provider_key_reads'];
  readonly reads = 'bodies';
  private count!: Database.Statement<[string, string, string]>;

  setup(db: Database.Database, prefix = ''): void {
    const table = `${prefix}provider_key_reads`;
    db.exec(`
      CREATE TABLE IF NOT EXISTS ${table} (
        key_uuid TEXT NOT NULL,
        minute TEXT NOT NULL,
        agent_uuid TEXT NOT NULL,
        reads INTEGER NOT NULL,
        PRIMARY KEY (key_uuid, minute, agent_uuid)
      ) WITHOUT ROWID;
    `);
    this.count = db.prepare(
      `INSERT INTO ${table} (key_uuid, minute, agent_uuid, reads) VALUES (?, ?, ?, 1)
       ON CONFLICT (key_uuid, minute, agent_uuid) DO UPDATE SET reads = reads + 1`,
    );
  }

  reset(db: Database.Database): void {
    db.exec('DROP TABLE IF EXISTS provider_key_reads');
  }

  apply(stored: EventBody): void {
    if (stored.type !== 'ProviderKeySecretRead' || !stored.streamId.startsWith(PROVIDER_KEY_STREAM_PREFIX)) return;
    const event = decodeProviderKeyEvent(stored);
    if (event.type !== 'ProviderKeySecretRead') return;
    const minute = new Date(Math.floor(Date.parse(event.data.readAt) / 60_000) * 60_000).toISOString();
    this.count.run(event.data.keyUuid, minute, event.data.agentUuid ?? '');
  }
}
