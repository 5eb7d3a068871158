import { Global, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { LoggingModule } from './logging.module';
import { Metrics } from './metrics';
import { GrpcMetricsInterceptor } from './metrics.grpc';
import { MetricsServer } from './metrics.http';

/**
 * The cross-cutting operations concerns: the metrics registry (and its own port, METRICS_PORT), and the
 * logger (LoggingModule).
 * Global, so that every feature records through the one Metrics instance.
 */
@Global()
@Module({
  imports: [LoggingModule],
  providers: [Metrics, MetricsServer, { provide: APP_INTERCEPTOR, useClass: GrpcMetricsInterceptor }],
  exports: [Metrics, MetricsServer, LoggingModule],
})
export class ObservabilityModule {}
