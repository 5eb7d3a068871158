import { Global, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { AppLogger, createAppLogger } from './logging';
import { GrpcLoggingInterceptor } from './logging.grpc';

/**
 * The logger (LOG_LEVEL, LOG_FORMAT), part of ObservabilityModule: createApp makes it Nest's
 * (app.useLogger), so every `new Logger(context)` of the application writes through it.
 */
@Global()
@Module({
  providers: [
    { provide: AppLogger, useFactory: (config: AppConfig) => createAppLogger({ level: config.logLevel, format: config.logFormat }), inject: [APP_CONFIG] },
    // One line per gRPC call (HTTP's are written by logging.http.ts).
    { provide: APP_INTERCEPTOR, useClass: GrpcLoggingInterceptor },
  ],
  exports: [AppLogger],
})
export class LoggingModule {}
