import { randomUUID } from 'node:crypto';
import { Consumer, Kafka, logLevel } from 'kafkajs';

/**
 * Every revocation the relay produced to a topic, read from the beginning by an independent consumer
 * group, in the topic's order (one partition): its position and the `fencing_token` header of the relay
 * that sent it. Heartbeats are left out.
 */
export class TopicWatcher {
  readonly positions = new Set<number>();
  readonly revocations: Array<{ position: number; fencingToken: number }> = [];
  private consumer: Consumer | null = null;

  constructor(
    private readonly brokers: string,
    private readonly topic: string,
  ) {}

  async start(): Promise<void> {
    const kafka = new Kafka({ clientId: 'test-watcher', brokers: this.brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 1000, maxRetryTime: 1000 } });
    this.consumer = kafka.consumer({ groupId: `watcher-${randomUUID()}`, maxWaitTimeInMs: 100, retry: { retries: 1000, maxRetryTime: 1000 } });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        const item = JSON.parse(message.value!.toString());
        if (item.type !== 'revocation') return;
        this.positions.add(item.position);
        this.revocations.push({ position: item.position, fencingToken: Number(message.headers?.fencing_token?.toString()) });
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}
