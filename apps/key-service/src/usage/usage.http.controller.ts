import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { EVENT_STORE, EventStore } from '@lib/event-store';
import { ApiOkResponse, ApiOperation, ApiResponse } from '@nestjs/swagger';
import { ErrorResponse } from '../keys/shared/api-key-info.response';
import { CLOCK, Clock } from '../common/clock';
import { DomainError } from '../common/domain-error';
import { AuthenticatedRoutes } from '../http/authenticated-routes';
import { UsageReportRequest, UsageReportResponse } from './usage-report.request.dto';
import { BATCH_MARK_RETENTION_MS, USAGE_DENIAL_CODES, USAGE_STORE, UsageRecord, UsageStore } from './usage-store.port';
import { QuotaService } from './quota.service';
import { RequestContext } from '../common/request-context';
import { HttpRequestContext } from '../http/request-context.decorator';
import { keyStreamId } from '../keys/domain/model-access-key.events';
import { READ_MODEL_DB } from '../read-side/read-model.database';

/** How far (ms) a record's minute may start after the service's clock: a gateway's clock may run a little ahead. */
export const MAX_GATEWAY_CLOCK_AHEAD_MS = 120_000;

/**
 * POST /v1/usage: the gateways' usage reports (role gateway). The store is called directly, without a
 * command bus: a report is counters, not a decision; a quota it shows spent is (QuotaService).
 */
@AuthenticatedRoutes('usage', ['gateway'], 'Not a gateway token')
@Controller('v1/usage')
export class UsageHttpController {
  /** Prepared at the first report: the views' tables exist once the store has started, not at construction. */
  private selectKey: Database.Statement<[string], { known: 1 }> | null = null;

  constructor(
    @Inject(USAGE_STORE) private readonly store: UsageStore,
    private readonly quotas: QuotaService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(READ_MODEL_DB) private readonly db: Database.Database,
    @Inject(EVENT_STORE) private readonly events: EventStore,
  ) {}

  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary: 'A gateway reports usage: per key, minute and model, requests, input and output tokens and denials by code. A batch is counted once per gateway_id and sequence',
  })
  @ApiOkResponse({ type: UsageReportResponse })
  @ApiResponse({ status: 409, type: ErrorResponse, description: 'This gateway_id and sequence were counted before with other records (USAGE_BATCH_CONFLICT); nothing is counted' })
  @ApiResponse({
    status: 422,
    type: ErrorResponse,
    description: "A record's minute is more than 120 s ahead of the service's clock (USAGE_MINUTE_IN_FUTURE) or more than 48 h behind it (USAGE_MINUTE_TOO_OLD), or a date that does not exist (USAGE_MINUTE_INVALID); nothing of the batch is counted",
  })
  async report(@Body() body: UsageReportRequest, @HttpRequestContext() context: RequestContext): Promise<UsageReportResponse> {
    const latest = this.clock.now().getTime() + MAX_GATEWAY_CLOCK_AHEAD_MS;
    const earliest = this.clock.now().getTime() - BATCH_MARK_RETENTION_MS;
    const records = body.records.map((record, index): UsageRecord => {
      const minute = Date.parse(record.minute);
      // The pattern allows day 31 of any month: a date that does not exist (2026-02-30) would be read as
      // another. It fits the document, so it is a 422 (as every rule a schema cannot state), not a 400.
      if (Number.isNaN(minute) || new Date(minute).toISOString().slice(0, 16) !== record.minute.slice(0, 16)) {
        throw new DomainError('USAGE_MINUTE_INVALID', `records.${index}.minute ${record.minute} is not a date that exists`, { field: `records.${index}.minute` });
      }
      // A batch older than its mark is kept could be a retry of one counted before: refused, batch and all.
      if (minute < earliest) {
        throw new DomainError(
          'USAGE_MINUTE_TOO_OLD',
          `records.${index}.minute ${record.minute} is more than ${BATCH_MARK_RETENTION_MS / 3_600_000} h before the service's clock: usage that old is not taken`,
          { field: `records.${index}.minute` },
        );
      }
      // A minute ahead of the service's clock would count against every quota period up to it: refused, batch and all.
      if (minute > latest) {
        throw new DomainError(
          'USAGE_MINUTE_IN_FUTURE',
          `records.${index}.minute ${record.minute} is ahead of the service's clock by more than ${MAX_GATEWAY_CLOCK_AHEAD_MS / 1000} s: check the gateway's clock`,
          { field: `records.${index}.minute` },
        );
      }
      const denials: Partial<Record<(typeof USAGE_DENIAL_CODES)[number], number>> = {};
      for (const code of USAGE_DENIAL_CODES) if (record.denials?.[code]) denials[code] = record.denials[code];
      return {
        keyUuid: record.key_uuid.toLowerCase(),
        minute: new Date(minute).toISOString(),
        model: record.model ?? '',
        requests: record.requests ?? 0,
        inputTokens: record.input_tokens ?? 0,
        outputTokens: record.output_tokens ?? 0,
        denials,
      };
    });
    const unknown = await this.unknownKeys(records.map((r) => r.keyUuid));
    const known = unknown.length === 0 ? records : records.filter((r) => !unknown.includes(r.keyUuid));
    const outcome = await this.store.ingest({ gatewayId: body.gateway_id, sequence: body.sequence, records: known }, this.clock.now().toISOString());
    if (outcome === 'conflict') {
      throw new DomainError(
        'USAGE_BATCH_CONFLICT',
        `gateway_id ${body.gateway_id} sequence ${body.sequence} was counted before with other records: a gateway numbers each batch once`,
        { field: 'sequence' },
      );
    }
    const counted = outcome === 'counted';
    // Answered once the spent quotas are recorded: their feed records are then on their way.
    if (counted) await this.quotas.check(known.map((r) => r.keyUuid), context.requestId);
    return { counted, records: known.length, unknown_keys: unknown };
  }

  /**
   * The keys of a report this service never had, sorted: their records are not counted (nobody could
   * read them, and they would stay in the store). A key missing from this instance's views is looked
   * up in the event store before it is called unknown: on a fleet, a key just created on another
   * instance may not have reached these views yet. A deleted key is known: traffic let through before
   * its revocation reached the gateway is usage.
   */
  private async unknownKeys(keyUuids: readonly string[]): Promise<string[]> {
    const unknown: string[] = [];
    this.selectKey ??= this.db.prepare('SELECT 1 AS known FROM key_views WHERE key_uuid = ?');
    for (const keyUuid of new Set(keyUuids)) {
      if (this.selectKey.get(keyUuid)) continue;
      if ((await this.events.readStream(keyStreamId(keyUuid))).length === 0) unknown.push(keyUuid);
    }
    return unknown.sort();
  }
}
