import { Logger, Module, Provider } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { ChangeLimitsGrpcController } from './change-limits/change-limits.grpc.controller';
import { ChangeLimitsHandler } from './change-limits/change-limits.handler';
import { ChangeLimitsHttpController } from './change-limits/change-limits.http.controller';
import { CreateKeyGrpcController } from './create-key/create-key.grpc.controller';
import { CreateKeyHandler } from './create-key/create-key.handler';
import { CreateKeyHttpController } from './create-key/create-key.http.controller';
import { DeleteKeyGrpcController } from './delete-key/delete-key.grpc.controller';
import { DeleteKeyHandler } from './delete-key/delete-key.handler';
import { DeleteKeyHttpController } from './delete-key/delete-key.http.controller';
import { ChangeDeploymentHandler } from './deployments/deployment.handler';
import { DeploymentsGrpcController } from './deployments/deployments.grpc.controller';
import { DeploymentsHttpController } from './deployments/deployments.http.controller';
import { GetKeyGrpcController } from './get-key/get-key.grpc.controller';
import { GetKeyHandler } from './get-key/get-key.handler';
import { GetKeyHttpController } from './get-key/get-key.http.controller';
import { ImportLegacyKeyHandler } from './import-legacy-key/import-legacy-key.handler';
import { ListKeysGrpcController } from './list-keys/list-keys.grpc.controller';
import { ListKeysHandler } from './list-keys/list-keys.handler';
import { ListKeysHttpController } from './list-keys/list-keys.http.controller';
import { KeyViewsQuery } from './key-views.query';
import { RegenerateKeyGrpcController } from './regenerate-key/regenerate-key.grpc.controller';
import { RegenerateKeyHandler } from './regenerate-key/regenerate-key.handler';
import { RegenerateKeyHttpController } from './regenerate-key/regenerate-key.http.controller';
import { RenameKeyGrpcController } from './rename-key/rename-key.grpc.controller';
import { RenameKeyHandler } from './rename-key/rename-key.handler';
import { RenameKeyHttpController } from './rename-key/rename-key.http.controller';
import { ExpiryScheduler } from '../expiry/expiry.scheduler';
import { IdempotencyService } from './shared/idempotency.service';
import { IDEMPOTENCY_RECORDS, IdempotencyRecords, PostgresIdempotencyRecords, SqliteIdempotencyRecords } from './shared/idempotency-records';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { KeyCommandExecutor } from './shared/key-command.executor';
import { KeyNames } from './shared/key-names';
import { NameRegistry } from '../names/name-registry.service';
import { UsageStoreModule } from '../usage/usage-store.module';

const commandHandlers = [
  CreateKeyHandler,
  ImportLegacyKeyHandler,
  RenameKeyHandler,
  RegenerateKeyHandler,
  DeleteKeyHandler,
  ChangeDeploymentHandler,
  ChangeLimitsHandler,
];
const queryHandlers = [GetKeyHandler, ListKeysHandler];
const httpControllers = [
  CreateKeyHttpController,
  ListKeysHttpController,
  GetKeyHttpController,
  RenameKeyHttpController,
  RegenerateKeyHttpController,
  DeleteKeyHttpController,
  DeploymentsHttpController,
  ChangeLimitsHttpController,
];
const grpcControllers = [
  CreateKeyGrpcController,
  ListKeysGrpcController,
  GetKeyGrpcController,
  RenameKeyGrpcController,
  RegenerateKeyGrpcController,
  DeleteKeyGrpcController,
  DeploymentsGrpcController,
  ChangeLimitsGrpcController,
];
const services = [KeyCommandExecutor, KeyViewsQuery, IdempotencyService, ExpiryScheduler, NameRegistry, KeyNames];

/** Idempotency records beside the events in PostgreSQL (every instance replays), else in DATA_DIR. */
const idempotencyRecords: Provider = {
  provide: IDEMPOTENCY_RECORDS,
  useFactory: async (config: AppConfig): Promise<IdempotencyRecords> => {
    const logger = new Logger('Idempotency');
    const settings = config.eventStore;
    if (settings.kind === 'postgres' && settings.databaseUrl !== null) return PostgresIdempotencyRecords.connect(settings.databaseUrl);
    return SqliteIdempotencyRecords.open(config.dataDir, (line) => logger.error(line));
  },
  inject: [APP_CONFIG],
};

@Module({
  imports: [CqrsModule, UsageStoreModule],
  controllers: [...httpControllers, ...grpcControllers],
  providers: [...commandHandlers, ...queryHandlers, ...services, idempotencyRecords],
  exports: [KeyCommandExecutor, KeyNames, NameRegistry, KeyViewsQuery],
})
export class KeysModule {}
