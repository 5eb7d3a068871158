import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Kafka, Producer } from 'kafkajs';
import { SpanKind, context, propagation } from '@opentelemetry/api';
import { APP_CONFIG, AppConfig, KafkaConfig } from '../../config/app.config';
import { KafkaSasl, kafkaCredentialsRefused } from '../../config/kafka-security.config';
import { ProjectionRunner } from '../../read-side/projection-runner';
import { RevocationsProjection } from '../revocations.projection';
import { kafkaLogCreator } from './kafka-logging';
import { Metrics } from '../../observability/metrics';
import { activeTracer, inSpan } from '../../observability/tracing';
import { Revocation } from '../revocation';
import { HeldLease, Leadership } from '../../fleet/leadership';

const BATCH = 500;
const MAX_BACKOFF_MS = 5000;
export const HEARTBEAT_KEY = '__heartbeat__';

/**
 * Relays the revocation feed to Kafka. It reads the feed from its own checkpoint, produces with the
 * idempotent producer (acks = all) keyed by key uuid, and stores the checkpoint only after the
 * broker acknowledged: a crash or an outage can repeat messages, never lose one. Consumers drop
 * what they have seen by `position`. Between revocations it produces heartbeats (key
 * `__heartbeat__`), so that a consumer can tell a quiet feed from a broken relay.
 *
 * One instance of a fleet relays (the `revocation-relay` lease, fleet/leadership.ts). The checkpoint
 * lives with the lease (PostgreSQL's `job_checkpoints`, KurrentDB's lease stream; `relay_checkpoints` in
 * read-models.db on SQLite), so a new leader resumes where the last acknowledged send ended. Before each
 * send the relay checks that its lease surely still holds, and the checkpoint write is fenced by the
 * lease's token: a leader paused past its lease sends nothing more and cannot move the checkpoint back.
 */
@Injectable()
export class RevocationRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RevocationRelay.name);
  private readonly kafka: KafkaConfig | null;
  private readonly heartbeatMs: number;
  private readonly name: string;
  private producer: Producer | null = null;
  private client: Kafka | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** The lease while this instance relays; null while another does (or none yet). */
  private lease: HeldLease | null = null;
  private wake: (() => void) | null = null;
  /** Set by every commit, so that one arriving while a send is under way is not slept through. */
  private pending = true;
  private relayed = 0;
  private lastHeartbeat = 0;
  private outageSince: number | null = null;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly revocations: RevocationsProjection,
    private readonly runner: ProjectionRunner,
    private readonly metrics: Metrics,
    private readonly leadership: Leadership,
  ) {
    this.kafka = config.kafka;
    if (this.kafka !== null) {
      // Only the leader relays: on the others both are 0, so a fleet's sum is the leader's figure.
      metrics.onScrape(() => {
        const leading = this.lease !== null;
        metrics.relayPosition.set(leading ? this.relayed : 0);
        metrics.relayLag.set(leading ? Math.max(0, this.runner.checkpoint - this.relayed) : 0);
      });
    }
    this.heartbeatMs = config.revocationHeartbeatMs;
    this.name = `kafka:${config.kafka?.revocationsTopic ?? ''}`;
  }

  /** What the broker has acknowledged. */
  get position(): number {
    return this.relayed;
  }

  get enabled(): boolean {
    return this.kafka !== null;
  }

  /** Whether this instance relays now (it holds the `revocation-relay` lease). */
  get leading(): boolean {
    return this.lease !== null;
  }

  /**
   * Starts the relay in the background: a broker outage delays revocations, never the service. With
   * SASL, the credentials are tried first: credentials the broker refuses are a configuration error,
   * and start-up stops naming KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD.
   */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.kafka) return;
    this.client = new Kafka({
      clientId: this.kafka.clientId,
      brokers: [...this.kafka.brokers],
      ...(this.kafka.ssl !== undefined ? { ssl: this.kafka.ssl } : {}),
      ...(this.kafka.sasl !== undefined ? { sasl: { ...this.kafka.sasl } } : {}),
      connectionTimeout: 3000,
      retry: { initialRetryTime: 100, maxRetryTime: 2000, retries: 3 },
      logCreator: kafkaLogCreator('kafkajs'),
    });
    if (this.kafka.sasl !== undefined) await this.checkCredentials(this.client, this.kafka.sasl);
    this.runner.onCommitted('notify', () => {
      this.pending = true;
      this.wake?.();
    });
    this.leadership.run({ name: 'revocation-relay', start: (lease) => this.lead(lease), stop: () => this.standDown() });
  }

  /** Elected: resume from the shared checkpoint, in the background. */
  private async lead(lease: HeldLease): Promise<void> {
    if (this.stopped) return;
    const kafka = this.kafka as KafkaConfig;
    this.relayed = (await lease.loadCheckpoint(this.name)) ?? 0;
    this.lease = lease;
    this.pending = true;
    this.logger.log(`relaying revocations to ${kafka.brokers.join(',')} topic ${kafka.revocationsTopic} from position ${this.relayed}`);
    this.running = this.loop(lease);
  }

  /** The lease is lost or given up: finish the send in flight, then produce nothing more. */
  private async standDown(): Promise<void> {
    this.lease = null;
    this.wake?.();
    await this.running;
    this.running = null;
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = null;
  }

  /** One connection, no retries: only a refusal of the credentials fails; an outage is the loop's to handle. */
  private async checkCredentials(client: Kafka, sasl: KafkaSasl): Promise<void> {
    const admin = client.admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
    } catch (error) {
      const refused = saslRefusal(error);
      if (refused !== null) throw kafkaCredentialsRefused(sasl, refused);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.standDown();
  }

  private async loop(lease: HeldLease): Promise<void> {
    let backoff = 100;
    const leading = () => !this.stopped && this.lease === lease;
    while (leading()) {
      try {
        // A renewal that is late (the lease store is slow or unreachable) pauses the relay: nothing is sent
        // unless the lease surely still holds. Leadership stops the loop if the lease is lost.
        if (!lease.isValid()) {
          await this.sleep(100, false);
          continue;
        }
        const producer = await this.connect();
        this.pending = false;
        const moved = await this.relayBatch(producer, lease);
        if (moved === 'fenced') {
          await this.sleep(100, false);
          continue;
        }
        await this.heartbeat(producer, lease);
        if (this.outageSince !== null) {
          this.logger.log(`Kafka is reachable again after ${Date.now() - this.outageSince} ms; relayed up to ${this.relayed}`);
          this.outageSince = null;
        }
        backoff = 100;
        if (!moved) await this.sleep(Math.max(0, this.lastHeartbeat + this.heartbeatMs - Date.now()));
      } catch (error) {
        if (!leading()) return;
        this.metrics.relayErrors.inc();
        if (this.outageSince === null) {
          this.outageSince = Date.now();
          this.logger.warn(`cannot relay to Kafka (${(error as Error).message}); retrying, revocations wait at position ${this.relayed}`);
        }
        await this.producer?.disconnect().catch(() => undefined);
        this.producer = null;
        await this.sleep(backoff, false);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  private async connect(): Promise<Producer> {
    if (this.producer) return this.producer;
    const kafka = this.kafka as KafkaConfig;
    const admin = (this.client as Kafka).admin();
    await admin.connect();
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic: kafka.revocationsTopic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
      });
    } finally {
      await admin.disconnect();
    }
    const producer = (this.client as Kafka).producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await producer.connect();
    this.producer = producer;
    return producer;
  }

  /** Sends what follows the checkpoint; true when it moved, 'fenced' when its checkpoint was refused. */
  private async relayBatch(producer: Producer, lease: HeldLease): Promise<boolean | 'fenced'> {
    const head = this.runner.checkpoint;
    if (head <= this.relayed) return false;
    const batch = this.revocations.after(this.relayed, BATCH);
    // Checked again right before producing: connecting may have taken long.
    if (!lease.isValid()) return 'fenced';
    if (batch.length > 0) {
      const topic = (this.kafka as KafkaConfig).revocationsTopic;
      const send = (headers: Record<string, string>) =>
        producer.send({
          topic,
          acks: -1,
          messages: batch.map((revocation) => ({
            key: revocation.key_uuid,
            value: JSON.stringify({ type: 'revocation', ...revocation }),
            // The lease's fencing token: in the topic's order it never goes down, so two relays never interleave.
            headers: { position: String(revocation.position), fencing_token: String(lease.fencingToken), ...headers },
          })),
        });
      if (activeTracer() === null) await send({});
      else await this.tracedSend(topic, batch, send);
      this.metrics.relayRecordsSent.inc(batch.length);
    }
    // A short batch read everything up to the head, so the checkpoint may move to the head itself.
    const reached = batch.length === BATCH ? batch[batch.length - 1].position : Math.max(head, this.relayed);
    if (!(await lease.saveCheckpoint(this.name, reached))) {
      // Fenced: another instance holds the lease now (or this one could not renew in time). What was sent is
      // sent again by whoever relays next (duplicates, never gaps); this loop sends nothing until it leads.
      this.logger.warn(`the relay checkpoint ${reached} was refused: the lease is no longer surely this instance's`);
      return 'fenced';
    }
    this.relayed = reached;
    return true;
  }

  /**
   * The send as a PRODUCER span `send {topic}` (messaging semantic conventions: messaging.system kafka,
   * messaging.destination.name, messaging.operation.type send, messaging.batch.message_count), with the
   * positions it carries; each message's headers carry the span's `traceparent`, so that a consumer's
   * trace continues from it.
   */
  private tracedSend(topic: string, batch: readonly Revocation[], send: (headers: Record<string, string>) => Promise<unknown>): Promise<unknown> {
    const attributes = {
      'messaging.system': 'kafka',
      'messaging.destination.name': topic,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.batch.message_count': batch.length,
      'event_store.first_position': batch[0].position,
      'event_store.position': batch[batch.length - 1].position,
    };
    return inSpan(`send ${topic}`, { kind: SpanKind.PRODUCER, attributes }, () => {
      const headers: Record<string, string> = {};
      propagation.inject(context.active(), headers);
      return send(headers);
    });
  }

  private async heartbeat(producer: Producer, lease: HeldLease): Promise<void> {
    if (Date.now() - this.lastHeartbeat < this.heartbeatMs || !lease.isValid()) return;
    await producer.send({
      topic: (this.kafka as KafkaConfig).revocationsTopic,
      acks: -1,
      messages: [
        {
          key: HEARTBEAT_KEY,
          value: JSON.stringify({ type: 'heartbeat', position: this.relayed, head_position: this.runner.checkpoint, time: new Date().toISOString() }),
        },
      ],
    });
    this.lastHeartbeat = Date.now();
  }

  /** Until `ms` passed, the relay stops, or (when `onCommit`) a batch commits. */
  private sleep(ms: number, onCommit = true): Promise<void> {
    if ((onCommit && this.pending) || this.stopped || this.lease === null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wake = null;
        resolve();
      }
      this.wake = onCommit ? done : () => (this.stopped || this.lease === null) && done();
    });
  }
}

/** The broker's refusal of the SASL credentials, found through kafkajs' wrapping errors; null for any other failure. */
export function saslRefusal(error: unknown): string | null {
  for (let e = error as { name?: string; message?: string; originalError?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.name === 'KafkaJSSASLAuthenticationError') return String(e.message);
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return null;
}
