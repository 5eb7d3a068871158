import { Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventStoreObserver } from '@lib/event-store';
import { toErrorAnswer } from '../http/app-exception.filter';

/**
 * Latency buckets in seconds, from 100 µs (a verify answered from memory) to 10 s (a command waiting
 * on a slow disk or a retried conflict).
 */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Verify decisions are answered from an in-memory lookup: the buckets are finer at the low end. */
const VERIFY_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05];

/** Appends per group commit: powers of two up to the batch limits of the adapters. */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** What a command ended with, from the status its error maps to (see commandOutcomeOf). */
export type CommandOutcome =
  | 'ok'
  | 'invalid'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'precondition_failed'
  | 'upstream_error'
  | 'store_unavailable'
  | 'error';

/** A stream transport of the revocation feed. */
export type FeedTransport = 'sse' | 'grpc';

/**
 * The service's one metrics registry (prom-client), owned by the observability module: features
 * record facts through the families here and never build their own, so that every name, unit and
 * label set is reviewed in one file. Labels take few values (a route template, a code, an outcome);
 * never a key uuid, a team id or a secret. One registry per application instance, not prom-client's
 * global one, so that several instances in one process (the integration specs) do not collide.
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();
  private readonly logger = new Logger('Metrics');
  private readonly scrapeHooks: Array<() => void | Promise<void>> = [];

  // --- HTTP and gRPC --------------------------------------------------------------------------

  /** Seconds from a request's arrival to its answer, by method, route template and status (the `_count` is the request count). */
  readonly httpRequestDuration = new Histogram({
    name: 'key_service_http_request_duration_seconds',
    help: 'HTTP requests by method, route template and status: seconds from arrival to the last byte of the answer.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  /**
   * Requests answered before a route could see them: Node's client errors (408 a request that did not
   * arrive in time, 431 headers too large, 400 not HTTP) and the router's (400 a path that is not
   * percent-encoded UTF-8, 414 a parameter over its limit). A slow-client or scanning attack shows here.
   */
  readonly httpRejectedRequests = new Counter({
    name: 'key_service_http_rejected_requests_total',
    help: 'HTTP requests answered before any route ran (timeouts, oversized headers, unparsable requests or paths), by status.',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  /** Seconds per gRPC call, by method (the proto's method name) and gRPC status name (OK, NOT_FOUND, ...). */
  readonly grpcRequestDuration = new Histogram({
    name: 'key_service_grpc_request_duration_seconds',
    help: 'gRPC calls by method and status: seconds from the call to its answer (a stream: to its end).',
    labelNames: ['method', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  // --- verification (the gateways' hot path) ---------------------------------------------------

  /** Verify verdicts by code (VALID, NOT_FOUND, EXPIRED, ...): requests refused before a verdict (400, 401, 403) are in the HTTP family. */
  readonly verifyDecisions = new Counter({
    name: 'key_service_verify_decisions_total',
    help: 'Verify verdicts by code (VALID, NOT_FOUND, EXPIRED, VPC_DENIED, ...).',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });

  /** Seconds the service spends on one verify verdict: token, input and lookup, without the transport. */
  readonly verifyDuration = new Histogram({
    name: 'key_service_verify_duration_seconds',
    help: 'Seconds spent deciding one verify request (token check, input parsing, lookup), transport excluded.',
    buckets: VERIFY_BUCKETS,
    registers: [this.registry],
  });

  // --- commands and the event store ------------------------------------------------------------

  /** Seconds per command, by command type and outcome; includes waiting for the views (read-your-writes). */
  readonly commandDuration = new Histogram({
    name: 'key_service_command_duration_seconds',
    help: 'Commands by type and outcome: seconds from the call until the views include its events.',
    labelNames: ['command', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  /** Seconds per append to the event store, its wait for a group commit included, by outcome (ok, conflict, error). */
  readonly appendDuration = new Histogram({
    name: 'key_service_event_store_append_duration_seconds',
    help: 'Event-store appends by outcome (ok, conflict, error): seconds from the call to the commit, queueing for the group commit included.',
    labelNames: ['outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  /** Appends written by one group commit (one transaction) of the SQLite or PostgreSQL store. */
  readonly groupCommitAppends = new Histogram({
    name: 'key_service_event_store_group_commit_appends',
    help: 'Appends written together by one group commit (one transaction).',
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });

  /** The global position of the store's last event, sampled at scrape time. */
  readonly storeHead = new Gauge({
    name: 'key_service_event_store_head_position',
    help: "Global position of the event store's last event, read at scrape time.",
    registers: [this.registry],
  });

  /** 1 when the event store answered the scrape's head read, 0 when it failed. */
  readonly storeUp = new Gauge({
    name: 'key_service_event_store_up',
    help: 'Whether the event store answered at scrape time (1) or not (0).',
    registers: [this.registry],
  });

  // --- projections -----------------------------------------------------------------------------

  /** Each projection's checkpoint: the global position of the last event it applied. */
  readonly projectionPosition = new Gauge({
    name: 'key_service_projection_position',
    help: 'Global position of the last event each projection applied.',
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });

  /** Events each projection is behind the store's head (head position minus checkpoint). */
  readonly projectionLag = new Gauge({
    name: 'key_service_projection_lag_events',
    help: "Positions each projection is behind the event store's head.",
    labelNames: ['projection'] as const,
    registers: [this.registry],
  });

  // --- revocation feed and Kafka relay ---------------------------------------------------------

  /** Open revocation streams, by transport (sse, grpc). */
  readonly feedSubscribers = new Gauge({
    name: 'key_service_revocation_feed_subscribers',
    help: 'Open revocation-feed streams by transport (sse, grpc).',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  /** Revocation records sent on the streams, by transport; heartbeats are not counted. */
  readonly feedRecordsSent = new Counter({
    name: 'key_service_revocation_feed_records_sent_total',
    help: 'Revocation records sent on the revocation streams, by transport (heartbeats excluded).',
    labelNames: ['transport'] as const,
    registers: [this.registry],
  });

  /** 1 while this instance leads the singleton job named by `lease` (fleet/leadership.ts), else 0. */
  readonly leaseHeld = new Gauge({
    name: 'key_service_lease_held',
    help: 'Whether this instance holds the lease of a singleton job (1) or not (0).',
    labelNames: ['lease'] as const,
    registers: [this.registry],
  });

  /** Leases taken, lost (another instance took over, or renewal failed past the lease) and given up. */
  readonly leaseTransitions = new Counter({
    name: 'key_service_lease_transitions_total',
    help: 'Lease changes of this instance, by lease and transition (acquired, lost, released).',
    labelNames: ['lease', 'transition'] as const,
    registers: [this.registry],
  });

  /** The Kafka relay's checkpoint: the feed position the broker has acknowledged. */
  readonly relayPosition = new Gauge({
    name: 'key_service_kafka_relay_position',
    help: 'Feed position up to which the Kafka broker acknowledged the revocations.',
    registers: [this.registry],
  });

  /** Positions between the views' checkpoint and what the broker acknowledged. */
  readonly relayLag = new Gauge({
    name: 'key_service_kafka_relay_lag_events',
    help: 'Positions the Kafka relay is behind the revocation feed (views checkpoint minus relay checkpoint).',
    registers: [this.registry],
  });

  /** Revocation records the broker acknowledged. */
  readonly relayRecordsSent = new Counter({
    name: 'key_service_kafka_relay_records_sent_total',
    help: 'Revocation records the Kafka broker acknowledged (heartbeats excluded).',
    registers: [this.registry],
  });

  /** Failed connects or sends to the broker (each is retried with backoff). */
  readonly relayErrors = new Counter({
    name: 'key_service_kafka_relay_errors_total',
    help: 'Failed Kafka connects or sends of the relay (each retried with backoff).',
    registers: [this.registry],
  });

  // --- expiry scheduler ------------------------------------------------------------------------

  /** Unix time in seconds of the soonest expiry not yet recorded; absent when no key expires. */
  readonly expiryNextDue = new Gauge({
    name: 'key_service_expiry_next_due_timestamp_seconds',
    help: 'Unix time (seconds) of the soonest expires_at not yet recorded as expired; absent when none.',
    registers: [this.registry],
  });

  /** Keys whose expires_at has passed but whose expiry is not yet recorded. */
  readonly expiryBacklog = new Gauge({
    name: 'key_service_expiry_backlog_keys',
    help: 'Keys past their expires_at whose expiry event is not yet written.',
    registers: [this.registry],
  });

  /** Keys the scheduler failed to expire (retried at the next scan). */
  readonly expiryFailures = new Counter({
    name: 'key_service_expiry_failures_total',
    help: 'Expire commands that failed (retried at the next scan).',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Runs `hook` before every scrape: for gauges that are cheaper to read when asked than to keep up to
   * date (positions, backlogs). A hook that throws is logged and the scrape goes on.
   */
  onScrape(hook: () => void | Promise<void>): void {
    this.scrapeHooks.push(hook);
  }

  /** The Prometheus text exposition of every family, with its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    await Promise.all(
      this.scrapeHooks.map(async (hook) => {
        try {
          await hook();
        } catch (error) {
          this.logger.warn(`a metrics sampler failed: ${(error as Error).message}`);
        }
      }),
    );
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** What the event-store adapters report (see EventStoreObserver in libs/event-store). */
  readonly eventStoreObserver: EventStoreObserver = {
    appended: (seconds, outcome) => this.appendDuration.labels(outcome).observe(seconds),
    groupCommitted: (appends) => this.groupCommitAppends.observe(appends),
  };

  /** Times `run` as a command of this type, labelled with its outcome. */
  async timeCommand<T>(command: string, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await run();
      this.commandDuration.labels(command, 'ok').observe((performance.now() - started) / 1000);
      return result;
    } catch (error) {
      this.commandDuration.labels(command, commandOutcomeOf(error)).observe((performance.now() - started) / 1000);
      throw error;
    }
  }
}

/**
 * The outcome label of a failed command, from the HTTP status its error is answered with (the
 * exception filter maps every domain code to one), so that the label has a fixed set of values.
 */
export function commandOutcomeOf(error: unknown): CommandOutcome {
  switch (toErrorAnswer(error).status) {
    case 400:
    case 422:
      return 'invalid';
    case 401:
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 412:
      return 'precondition_failed';
    case 502:
      return 'upstream_error';
    case 503:
      return 'store_unavailable';
    default:
      return 'error';
  }
}
