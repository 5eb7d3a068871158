import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from './config/app.config';
import { HealthController } from './health/health.controller';
import { GrpcHealth } from './health/grpc-health';
import { Readiness } from './health/readiness';
import { KeysModule } from './keys/keys.module';
import { GatewayModule } from './revocations/gateway.module';
import { AuditModule } from './audit/audit.module';
import { InferenceApiKeysModule } from './inference-api-keys/inference-api-keys.module';
import { ProviderKeysModule } from './provider-keys/provider-keys.module';
import { StorageModule, StorageOverrides } from './storage.module';
import { ObservabilityModule } from './observability/observability.module';
import { UsageModule } from './usage/usage.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, overrides: StorageOverrides = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [ObservabilityModule, StorageModule.forRoot(config, overrides), KeysModule, InferenceApiKeysModule, ProviderKeysModule, GatewayModule, AuditModule, UsageModule],
      controllers: [HealthController],
      providers: [Readiness, GrpcHealth],
    };
  }
}
