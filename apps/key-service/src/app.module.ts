import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from './config/app.config';
import { HealthController } from './health/health.controller';
import { KeysModule } from './keys/keys.module';
import { GatewayModule } from './revocations/gateway.module';
import { AuditModule } from './audit/audit.module';
import { InferenceApiKeysModule } from './inference-api-keys/inference-api-keys.module';
import { ProviderKeysModule } from './provider-keys/provider-keys.module';
import { StorageModule, StorageOverrides } from './storage.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, overrides: StorageOverrides = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [StorageModule.forRoot(config, overrides), KeysModule, InferenceApiKeysModule, ProviderKeysModule, GatewayModule, AuditModule],
      controllers: [HealthController],
    };
  }
}
