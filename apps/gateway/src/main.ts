import { keepLogStreamsAlive } from '../../key-service/src/common/log-streams';
import { createRootLogger } from '../../key-service/src/observability/logging';
import { logRequests } from '../../key-service/src/observability/logging.http';
import { KafkaCredentialsRefusedError } from '@lib/gateway-client';
import { kafkaCredentialsRefused } from '../../key-service/src/config/kafka-security.config';
import { GatewayConfigError, loadGatewayConfig } from './gateway.config';
import { createGateway } from './gateway.server';

async function main(): Promise<void> {
  keepLogStreamsAlive();
  let config;
  try {
    config = loadGatewayConfig();
  } catch (error) {
    if (error instanceof GatewayConfigError) {
      console.error(`Invalid configuration: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  // The key service's log lines (observability/logging.ts): JSON lines, or text on a terminal (LOG_FORMAT).
  const root = createRootLogger({ level: 'log', format: config.logFormat, service: 'gateway' });
  const logger = { log: (message: string) => root.info(message), warn: (message: string) => root.warn(message) };
  const gateway = await createGateway(config, logger);
  // One line per request, as the key service's (no header, body or query), with the key's uuid once verified (never its secret).
  logRequests(gateway.app, root, {
    fields: (request) => {
      const keyUuid = gateway.keyUuidOf(request);
      return keyUuid !== null ? { key_uuid: keyUuid } : {};
    },
  });
  try {
    await gateway.client.start();
  } catch (error) {
    // Credentials the broker refuses are a configuration error: one line naming the variables.
    if (error instanceof KafkaCredentialsRefusedError && config.feed.kind === 'kafka' && config.feed.sasl !== undefined) {
      console.error(`Invalid configuration: ${kafkaCredentialsRefused(config.feed.sasl as Parameters<typeof kafkaCredentialsRefused>[0], error.brokerMessage).message}`);
      process.exit(1);
    }
    throw error;
  }
  await gateway.app.listen({ host: config.host, port: config.port });
  const address = gateway.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.log(`listening on http://${config.host}:${port}, forwarding to ${config.upstreamUrl}, key service ${config.serviceUrls.join(', ')}`);
  const shutdown = async (signal: string) => {
    logger.log(`${signal}: shutting down`);
    await gateway.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error) => {
  console.error(`gateway failed to start: ${(error as Error).message}`);
  process.exit(1);
});
