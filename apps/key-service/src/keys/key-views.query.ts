import { Inject, Injectable } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { Principal } from '../auth/principal';
import { DomainError } from '../common/domain-error';
import { canSee } from './domain/key-access.policy';
import { ModelAccessKey } from './domain/model-access-key.state';
import { KeyViewRow, keyOfRow } from './key-views.projection';
import { READ_MODEL_DB } from '../read-side/read-model.database';

export const KEY_VIEWS = ['mine', 'legacy', 'team'] as const;
export type KeyView = (typeof KEY_VIEWS)[number];

export interface KeyPage {
  readonly keys: ModelAccessKey[];
  readonly total: number;
}

/** Reads of the team views. What a caller may see is the same policy the decider applies. */
@Injectable()
export class KeyViewsQuery {
  constructor(@Inject(READ_MODEL_DB) private readonly db: Database.Database) {}

  get(actor: Principal, keyUuid: string): ModelAccessKey {
    const row = this.db.prepare('SELECT * FROM key_views WHERE key_uuid = ? AND deleted_at IS NULL').get(keyUuid) as
      | KeyViewRow
      | undefined;
    const key = row && keyOfRow(row);
    if (!key || !canSee(actor, key)) throw new DomainError('KEY_NOT_FOUND', `key ${keyUuid} not found`);
    return key;
  }

  list(actor: Principal, view: KeyView | undefined, page: number, perPage: number): KeyPage {
    if (actor.role === 'gateway') throw new DomainError('FORBIDDEN', 'gateways do not list keys');
    const seesTeam = actor.role === 'owner' || actor.role === 'auditor';
    if (view === 'team' && !seesTeam) throw new DomainError('FORBIDDEN', "only owners and auditors see the Team's keys");
    const mine = 'created_by = @user AND legacy = 0';
    const legacy = 'legacy = 1';
    const team = 'created_by <> @user AND legacy = 0';
    const filter =
      view === 'mine' ? mine : view === 'legacy' ? legacy : view === 'team' ? team : seesTeam ? '1 = 1' : `(${mine}) OR ${legacy}`;
    const where = `team_id = @team AND deleted_at IS NULL AND (${filter})`;
    const params = { team: actor.teamId, user: actor.userId };
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM key_views WHERE ${where}`).get(params) as { n: number }).n;
    const rows = this.db
      .prepare(`SELECT * FROM key_views WHERE ${where} ORDER BY created_position DESC LIMIT @limit OFFSET @offset`)
      .all({ ...params, limit: perPage, offset: (page - 1) * perPage }) as KeyViewRow[];
    return { keys: rows.map(keyOfRow), total };
  }
}
