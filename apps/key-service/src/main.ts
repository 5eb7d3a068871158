import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from './config/app.config';
import { createApp, listen } from './http-app';
import { shutDownOnSignals } from './health/graceful-shutdown';
import { keepLogStreamsAlive } from './common/log-streams';
import { createAppLogger } from './observability/logging';

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
  // LOG_LEVEL and LOG_FORMAT from here on, start-up included (createApp then hands Nest the module's logger).
  Logger.overrideLogger(createAppLogger({ level: config.logLevel, format: config.logFormat }));
  if (config.jwtSecretIsDefault) {
    logger.warn('#############################################################################');
    logger.warn('AUTH_JWT_SECRET is not set: using the DEVELOPMENT secret. Anyone can mint tokens.');
    logger.warn('Set AUTH_JWT_SECRET (32+ characters) before this service holds real keys.');
    logger.warn('#############################################################################');
  }
  const app = await createApp(config);
  await listen(app, config);
  shutDownOnSignals(app, config);
  const scheme = config.tls === null ? 'http' : 'https';
  const security = [
    config.tls === null ? 'plain HTTP and gRPC' : `TLS on HTTP and gRPC${config.tls.clientCaFile ? ' with client certificates' : ''}`,
    config.identityProvider ? `identity-provider tokens from ${config.identityProvider.jwksUrl}` : null,
    config.trustProxy === false ? null : 'TRUST_PROXY set',
  ].filter((part) => part !== null);
  logger.log(`HTTP on ${scheme}://${config.host}:${config.port} (docs at /docs), gRPC on ${config.host}:${config.grpcPort}, data in ${config.dataDir}; ${security.join(', ')}`);
}

main().catch((error) => {
  console.error(`Start-up failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
