import { Inject, Injectable, Logger } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { StoredEvent } from '@lib/event-store';
import { KEY_STREAM_PREFIX } from '../keys/domain/model-access-key.events';
import { KeyViewRow, keyOfRow } from '../keys/key-views.projection';
import { ProjectionRunner } from '../read-side/projection-runner';
import { READ_MODEL_DB } from '../read-side/read-model.database';
import { KeyGrant, VerifyCode, VerifyTarget, grantOf, judge } from './verification.rules';
import { CLOCK, Clock } from '../common/clock';

export interface Verdict {
  readonly code: VerifyCode;
  readonly grant?: KeyGrant;
}

/**
 * secret hash -> what the key allows, in memory. Loaded from the key views at start-up, then kept
 * current after every committed projection batch: each key an event touches is read again from its
 * (already committed) view row. Deleted keys leave the map, and a regenerate swaps the hash, so an
 * old secret is unknown the moment the command's answer is sent. The hot path never reads a store.
 */
@Injectable()
export class VerificationLookup {
  private readonly logger = new Logger(VerificationLookup.name);
  private readonly byHash = new Map<string, KeyGrant>();
  private readonly hashOfKey = new Map<string, string>();
  private readonly selectKey: Database.Statement<[string], KeyViewRow>;

  constructor(
    @Inject(READ_MODEL_DB) db: Database.Database,
    runner: ProjectionRunner,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.selectKey = db.prepare('SELECT * FROM key_views WHERE key_uuid = ?');
    const rows = db.prepare<[], KeyViewRow>('SELECT * FROM key_views WHERE deleted_at IS NULL').iterate();
    for (const row of rows) this.put(row);
    this.logger.log(`verification lookup loaded with ${this.byHash.size} live keys`);
    runner.onCommitted('views', (events) => this.refresh(events));
  }

  verify(secret: string, target: VerifyTarget): Verdict {
    const grant = this.byHash.get(createHash('sha256').update(secret).digest('hex'));
    return { code: judge(grant, target, this.clock.now().getTime()), grant };
  }

  get size(): number {
    return this.byHash.size;
  }

  private refresh(events: readonly StoredEvent[]): void {
    const touched = new Set<string>();
    for (const event of events) {
      if (event.streamId.startsWith(KEY_STREAM_PREFIX)) touched.add(event.streamId.slice(KEY_STREAM_PREFIX.length));
    }
    for (const keyUuid of touched) {
      const previous = this.hashOfKey.get(keyUuid);
      if (previous !== undefined) {
        this.byHash.delete(previous);
        this.hashOfKey.delete(keyUuid);
      }
      const row = this.selectKey.get(keyUuid);
      if (row && row.deleted_at === null) this.put(row);
    }
  }

  private put(row: KeyViewRow): void {
    const key = keyOfRow(row);
    this.byHash.set(key.secretHash, grantOf(key));
    this.hashOfKey.set(key.keyUuid, key.secretHash);
  }
}
