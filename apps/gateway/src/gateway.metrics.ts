import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { GatewayClient } from '@lib/gateway-client';

/** Upstream latency buckets in seconds: inference calls take from milliseconds to minutes. */
const UPSTREAM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/**
 * The reference gateway's metrics, on its own registry and served at GET /metrics on its port (no
 * token, as Prometheus scrapes; no secret, key uuid or team id in any label). The verification figures
 * are read from the gateway client's status when Prometheus scrapes, so that the hot path records
 * nothing twice; the upstream's latency is observed per forwarded call.
 */
export class GatewayMetrics {
  readonly registry = new Registry();

  /** Seconds per forwarded call, by route and the upstream's status (`error` when it could not be reached). */
  readonly upstreamDuration = new Histogram({
    name: 'gateway_upstream_request_duration_seconds',
    help: 'Calls forwarded upstream by route and upstream status (error: unreachable): seconds until the answer headers.',
    labelNames: ['route', 'status'] as const,
    buckets: UPSTREAM_BUCKETS,
    registers: [this.registry],
  });

  constructor(client: GatewayClient) {
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const status = () => client.status();
    // Totals kept by the client: each scrape sets the counter to it.
    const total = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    const gauge = (name: string, help: string, read: () => number | null) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const value = read();
          if (value === null) this.reset();
          else this.set(value);
        },
      });
    total('gateway_verify_cache_hits_total', 'Verifications answered from the local cache.', () => status().cacheHits);
    total('gateway_verify_cache_misses_total', 'Verifications sent to the key service (not in the cache, or the cache not trusted).', () => status().serviceCalls);
    total('gateway_verify_fail_closed_total', 'Verifications refused with 503 because the key service could not answer (fail closed).', () => status().failClosed);
    gauge('gateway_verify_cache_entries', 'Answers held in the verification cache.', () => status().cacheSize);
    gauge('gateway_feed_position', 'Last revocation-feed position applied (every revocation up to it is evicted).', () => status().position);
    gauge('gateway_feed_head_position', "The feed's own position, from its last heartbeat.", () => status().headPosition);
    gauge('gateway_feed_lag_events', 'Feed positions not yet applied (head minus position).', () => status().lag);
    gauge('gateway_feed_connected', 'Whether the revocation feed is connected (1) or not (0).', () => (status().feedConnected ? 1 : 0));
    gauge(
      'gateway_feed_last_contact_age_seconds',
      'Seconds since the last revocation or heartbeat; absent (0) before the first.',
      () => {
        const age = status().lastContactAgeMs;
        return age === null ? null : age / 1000;
      },
    );
    gauge(
      'gateway_fail_closed',
      'Whether the cache is bypassed because the feed is silent or down past its bound (1): every call then needs the key service, and fails closed without it.',
      () => (status().feedFresh ? 0 : 1),
    );
    total(
      'gateway_key_service_failovers_total',
      'Times the gateway left a failing key service instance (refused, reset, timed out, 5xx) for the next one of KEY_SERVICE_URL.',
      () => status().serviceMoves,
    );
    gauge('gateway_token_refused', 'Whether the key service refused the gateway token (expired, invalid) since the feed last connected.', () => (status().tokenRefused === null ? 0 : 1));
  }

  /** GET /metrics in Prometheus' text format. */
  register(app: FastifyInstance): void {
    app.get('/metrics', async (_request, reply) => reply.header('content-type', this.registry.contentType).send(await this.registry.metrics()));
  }
}
