import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from './config/app.config';
import { createApp, listen } from './http-app';
import { keepLogStreamsAlive } from './common/log-streams';

async function main(): Promise<void> {
  keepLogStreamsAlive();
  const logger = new Logger('KeyService');
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Invalid configuration: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  if (config.jwtSecretIsDefault) {
    logger.warn('#############################################################################');
    logger.warn('AUTH_JWT_SECRET is not set: using the DEVELOPMENT secret. Anyone can mint tokens.');
    logger.warn('Set AUTH_JWT_SECRET (32+ characters) before this service holds real keys.');
    logger.warn('#############################################################################');
  }
  const app = await createApp(config);
  await listen(app, config);
  logger.log(`HTTP on http://${config.host}:${config.port} (docs at /docs), gRPC on ${config.host}:${config.grpcPort}, data in ${config.dataDir}`);
}

main().catch((error) => {
  console.error(`Start-up failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
