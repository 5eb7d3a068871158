import { Consumer, Kafka, KafkaConfig, SASLOptions, logLevel } from 'kafkajs';
import { Feed, FeedListener, Revocation } from '../types';

export interface KafkaFeedOptions {
  readonly brokers: readonly string[];
  readonly topic?: string;
  /** One group per gateway instance: each instance must see every revocation. */
  readonly groupId: string;
  readonly clientId?: string;
  /** kafkajs' `ssl`: true (the system's CAs) or TLS options such as `{ ca, cert, key }` (PEM contents). */
  readonly ssl?: KafkaConfig['ssl'];
  /** kafkajs' `sasl`: `{ mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512', username, password }`. */
  readonly sasl?: SASLOptions;
}

/** The broker refused the SASL credentials: retrying cannot help, so start() rejects with this. */
export class KafkaCredentialsRefusedError extends Error {
  constructor(
    readonly mechanism: string,
    readonly username: string,
    readonly brokerMessage: string,
  ) {
    super(`the Kafka broker refused the ${mechanism.toUpperCase()} credentials of user "${username}" (${brokerMessage})`);
    this.name = 'KafkaCredentialsRefusedError';
  }
}

export const DEFAULT_REVOCATIONS_TOPIC = 'model-keys.revocations.v1';

/**
 * Follows the revocation topic the service's relay produces. Offsets are committed by the group,
 * so a restarted gateway resumes where it stopped; delivery is at least once, and the client drops
 * what it has seen by position. Heartbeat messages (key `__heartbeat__`) prove the whole path,
 * relay included, is alive.
 */
export class KafkaFeed implements Feed {
  private consumer: Consumer | null = null;
  private stopped = false;
  private starting: Promise<void> | null = null;

  constructor(private readonly options: KafkaFeedOptions) {}

  /**
   * Returns at once: the consumer connects in the background, and the client verifies online
   * meanwhile. The position is not needed here: the group's committed offsets are the resume point,
   * and the client drops what it has already seen. With SASL, one connection tries the credentials
   * first: rejects with KafkaCredentialsRefusedError when the broker refuses them (an outage does not
   * reject; the background loop retries it).
   */
  async start(_position: number, listener: FeedListener): Promise<void> {
    if (this.options.sasl !== undefined) await this.checkCredentials(this.options.sasl);
    this.starting = (async () => {
      for (let backoff = 200; !this.stopped; backoff = Math.min(backoff * 2, 5000)) {
        try {
          await this.connect(listener);
          return;
        } catch (error) {
          listener.connected(false, `cannot start the Kafka consumer: ${(error as Error).message}`);
          await this.consumer?.disconnect().catch(() => undefined);
          this.consumer = null;
          await new Promise((resolve) => setTimeout(resolve, backoff));
        }
      }
    })();
  }

  private client(retries: number): Kafka {
    return new Kafka({
      clientId: this.options.clientId ?? 'model-keys-gateway',
      brokers: [...this.options.brokers],
      ...(this.options.ssl !== undefined ? { ssl: this.options.ssl } : {}),
      ...(this.options.sasl !== undefined ? { sasl: this.options.sasl } : {}),
      connectionTimeout: 3000,
      logLevel: logLevel.NOTHING,
      retry: { initialRetryTime: 100, maxRetryTime: 2000, retries },
    });
  }

  private async checkCredentials(sasl: SASLOptions): Promise<void> {
    const admin = this.client(0).admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
    } catch (error) {
      for (let e = error as { name?: string; message?: string; originalError?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
        if (e.name === 'KafkaJSSASLAuthenticationError') {
          throw new KafkaCredentialsRefusedError(sasl.mechanism, 'username' in sasl ? String(sasl.username) : '', String(e.message));
        }
        e = (e.originalError ?? e.cause) as typeof e;
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  private async connect(listener: FeedListener): Promise<void> {
    const kafka = this.client(5);
    const consumer = kafka.consumer({ groupId: this.options.groupId, maxWaitTimeInMs: 100, retry: { retries: Number.MAX_SAFE_INTEGER } });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, () => listener.connected(true));
    consumer.on(consumer.events.DISCONNECT, () => listener.connected(false, 'disconnected from Kafka'));
    consumer.on(consumer.events.CRASH, (event) => listener.connected(false, `the Kafka consumer crashed: ${String(event.payload.error)}`));
    consumer.on(consumer.events.REQUEST_TIMEOUT, () => listener.connected(false, 'a Kafka request timed out'));
    await consumer.connect();
    await consumer.subscribe({ topic: this.options.topic ?? DEFAULT_REVOCATIONS_TOPIC, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (!message.value) return;
        const item = JSON.parse(message.value.toString()) as
          | ({ type: 'revocation' } & Revocation)
          | { type: 'heartbeat'; position: number; head_position: number };
        if (item.type === 'revocation') {
          listener.revocation(item);
        } else if (item.type === 'heartbeat') {
          listener.connected(true);
          listener.heartbeat(item.position, item.head_position);
        }
      },
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting;
    await this.consumer?.disconnect();
    this.consumer = null;
  }
}
