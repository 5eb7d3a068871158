import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { Kafka, Producer } from 'kafkajs';
import { SpanKind, context, propagation } from '@opentelemetry/api';
import { APP_CONFIG, AppConfig, KafkaConfig } from '../../config/app.config';
import { KafkaSasl, kafkaCredentialsRefused } from '../../config/kafka-security.config';
import { ProjectionRunner } from '../../read-side/projection-runner';
import { READ_MODEL_DB } from '../../read-side/read-model.database';
import { RevocationsProjection } from '../revocations.projection';
import { kafkaLogCreator } from './kafka-logging';
import { Metrics } from '../../observability/metrics';
import { activeTracer, inSpan } from '../../observability/tracing';
import { Revocation } from '../revocation';

const BATCH = 500;
const MAX_BACKOFF_MS = 5000;
export const HEARTBEAT_KEY = '__heartbeat__';

/**
 * Relays the revocation feed to Kafka. It reads the feed from its own checkpoint, produces with the
 * idempotent producer (acks = all) keyed by key uuid, and stores the checkpoint only after the
 * broker acknowledged: a crash or an outage can repeat messages, never lose one. Consumers drop
 * what they have seen by `position`. Between revocations it produces heartbeats (key
 * `__heartbeat__`), so that a consumer can tell a quiet feed from a broken relay.
 */
@Injectable()
export class RevocationRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RevocationRelay.name);
  private readonly kafka: KafkaConfig | null;
  private readonly heartbeatMs: number;
  private readonly name: string;
  private readonly load: Database.Statement<[string], { position: number }>;
  private readonly save: Database.Statement<[string, number]>;
  private producer: Producer | null = null;
  private client: Kafka | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  /** Set by every commit, so that one arriving while a send is under way is not slept through. */
  private pending = true;
  private relayed = 0;
  private lastHeartbeat = 0;
  private outageSince: number | null = null;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(READ_MODEL_DB) db: Database.Database,
    private readonly revocations: RevocationsProjection,
    private readonly runner: ProjectionRunner,
    private readonly metrics: Metrics,
  ) {
    this.kafka = config.kafka;
    if (this.kafka !== null) {
      metrics.onScrape(() => {
        metrics.relayPosition.set(this.relayed);
        metrics.relayLag.set(Math.max(0, this.runner.checkpoint - this.relayed));
      });
    }
    this.heartbeatMs = config.revocationHeartbeatMs;
    this.name = `kafka:${config.kafka?.revocationsTopic ?? ''}`;
    db.exec('CREATE TABLE IF NOT EXISTS relay_checkpoints (name TEXT PRIMARY KEY, position INTEGER NOT NULL)');
    this.load = db.prepare('SELECT position FROM relay_checkpoints WHERE name = ?');
    this.save = db.prepare(
      'INSERT INTO relay_checkpoints (name, position) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET position = excluded.position',
    );
  }

  /** What the broker has acknowledged. */
  get position(): number {
    return this.relayed;
  }

  get enabled(): boolean {
    return this.kafka !== null;
  }

  /**
   * Starts the relay in the background: a broker outage delays revocations, never the service. With
   * SASL, the credentials are tried first: credentials the broker refuses are a configuration error,
   * and start-up stops naming KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD.
   */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.kafka) return;
    this.relayed = this.load.get(this.name)?.position ?? 0;
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
    this.logger.log(`relaying revocations to ${this.kafka.brokers.join(',')} topic ${this.kafka.revocationsTopic} from position ${this.relayed}`);
    this.running = this.loop();
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
    this.wake?.();
    await this.running;
    await this.producer?.disconnect().catch(() => undefined);
  }

  private async loop(): Promise<void> {
    let backoff = 100;
    while (!this.stopped) {
      try {
        const producer = await this.connect();
        this.pending = false;
        const moved = await this.relayBatch(producer);
        await this.heartbeat(producer);
        if (this.outageSince !== null) {
          this.logger.log(`Kafka is reachable again after ${Date.now() - this.outageSince} ms; relayed up to ${this.relayed}`);
          this.outageSince = null;
        }
        backoff = 100;
        if (!moved) await this.sleep(Math.max(0, this.lastHeartbeat + this.heartbeatMs - Date.now()));
      } catch (error) {
        if (this.stopped) return;
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

  /** Sends what follows the checkpoint; true when it moved. */
  private async relayBatch(producer: Producer): Promise<boolean> {
    const head = this.runner.checkpoint;
    if (head <= this.relayed) return false;
    const batch = this.revocations.after(this.relayed, BATCH);
    if (batch.length > 0) {
      const topic = (this.kafka as KafkaConfig).revocationsTopic;
      const send = (headers: Record<string, string>) =>
        producer.send({
          topic,
          acks: -1,
          messages: batch.map((revocation) => ({
            key: revocation.key_uuid,
            value: JSON.stringify({ type: 'revocation', ...revocation }),
            headers: { position: String(revocation.position), ...headers },
          })),
        });
      if (activeTracer() === null) await send({});
      else await this.tracedSend(topic, batch, send);
      this.metrics.relayRecordsSent.inc(batch.length);
    }
    // A short batch read everything up to the head, so the checkpoint may move to the head itself.
    const reached = batch.length === BATCH ? batch[batch.length - 1].position : Math.max(head, this.relayed);
    this.save.run(this.name, reached);
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

  private async heartbeat(producer: Producer): Promise<void> {
    if (Date.now() - this.lastHeartbeat < this.heartbeatMs) return;
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
    if ((onCommit && this.pending) || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wake = null;
        resolve();
      }
      this.wake = onCommit ? done : () => this.stopped && done();
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
