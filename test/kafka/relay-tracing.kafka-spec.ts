import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import { ServiceProcess, api, startService } from '../support/service-process';
import { OTLP_SPAN_KIND, startOtlpReceiver } from '../support/otlp-receiver';

const KEYS = '/v2/gen-ai/models/api_keys';
const BROKERS = process.env.KAFKA_BROKERS;
if (!BROKERS) throw new Error('KAFKA_BROKERS is not set: run these tests with `npm run test:kafka`, which starts a broker (scripts/kafka.sh)');

/** Issue 16, section 3: the Kafka relay's sends are PRODUCER spans, and the messages carry their traceparent. */
describe("the relay's sends, traced", () => {
  const topic = `revocations-traced-${randomUUID()}`;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let service: ServiceProcess;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    service = await startService({
      env: { KAFKA_BROKERS: BROKERS, KAFKA_REVOCATIONS_TOPIC: topic, REVOCATION_HEARTBEAT_MS: '200', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' },
    });
  });
  afterAll(async () => {
    await service.kill();
    fs.rmSync(service.dataDir, { recursive: true, force: true });
    await receiver.close();
  });

  it('a revocation is relayed under a `send {topic}` span whose context the message headers carry', async () => {
    const owner = service.token('team-relay', 'u1', 'owner');
    const created = await api(service.baseUrl, 'POST', KEYS, owner, { name: 'relayed' });
    expect(created.status).toBe(200);
    expect((await api(service.baseUrl, 'DELETE', `${KEYS}/${created.body.api_key_info.uuid}`, owner)).status).toBe(200);

    const send = await receiver.waitFor(() => receiver.spans.find((s) => s.name === `send ${topic}`), 'for the send');
    expect(send).toMatchObject({
      kind: OTLP_SPAN_KIND.PRODUCER,
      attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': topic, 'messaging.operation.type': 'send', 'messaging.batch.message_count': 1 },
    });
    expect(Number(send.attributes['event_store.position'])).toBeGreaterThan(0);

    const kafka = new Kafka({ clientId: 'trace-reader', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `trace-reader-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const traceparent = await new Promise<string>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          const header = message.headers?.traceparent;
          if (JSON.parse(message.value!.toString()).type === 'revocation' && header) resolve(header.toString());
        },
      });
    });
    await consumer.disconnect();
    expect(traceparent).toBe(`00-${send.traceId}-${send.spanId}-01`);
  });
});
