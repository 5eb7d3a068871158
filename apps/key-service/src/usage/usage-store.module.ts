import { Inject, Module, OnModuleDestroy, Provider } from '@nestjs/common';
import type Database from 'better-sqlite3';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { READ_MODEL_DB } from '../read-side/read-model.database';
import { PostgresUsageStore } from './postgres.usage-store';
import { SqliteUsageStore } from './sqlite.usage-store';
import { USAGE_STORE, UsageStore } from './usage-store.port';

/**
 * Usage beside the events in PostgreSQL (every instance of a fleet counts every report), else in
 * read-models.db (each instance its own, as the embedded service has one).
 */
const usageStore: Provider = {
  provide: USAGE_STORE,
  useFactory: async (config: AppConfig, db: Database.Database): Promise<UsageStore> => {
    const settings = config.eventStore;
    if (settings.kind === 'postgres' && settings.databaseUrl !== null) return PostgresUsageStore.connect(settings.databaseUrl);
    return new SqliteUsageStore(db);
  },
  inject: [APP_CONFIG, READ_MODEL_DB],
};

/** The usage store alone, for the key reads (api_key_info) and the usage module, without a cycle between them. */
@Module({ providers: [usageStore], exports: [USAGE_STORE] })
export class UsageStoreModule implements OnModuleDestroy {
  constructor(@Inject(USAGE_STORE) private readonly store: UsageStore) {}

  async onModuleDestroy(): Promise<void> {
    await this.store.close();
  }
}
