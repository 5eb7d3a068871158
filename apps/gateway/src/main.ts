import { GatewayConfigError, loadGatewayConfig } from './gateway.config';
import { createGateway } from './gateway.server';

const logger = {
  log: (message: string) => console.log(`${new Date().toISOString()} gateway: ${message}`),
  warn: (message: string) => console.warn(`${new Date().toISOString()} gateway WARN: ${message}`),
};

async function main(): Promise<void> {
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
  const gateway = await createGateway(config, logger);
  await gateway.client.start();
  await gateway.app.listen({ host: config.host, port: config.port });
  const address = gateway.app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.log(`listening on http://${config.host}:${port}, forwarding to ${config.upstreamUrl}, key service ${config.serviceUrl}`);
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
