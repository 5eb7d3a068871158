import { Global, Inject, Injectable, Module, OnApplicationShutdown, Provider } from '@nestjs/common';
import type Database from 'better-sqlite3';
import * as fs from 'node:fs';
import { EVENT_STORE, EventStore, openEventStore } from '@lib/event-store';
import { APP_CONFIG, AppConfig } from './config/app.config';
import { CLOCK, systemClock } from './common/clock';
import { MASTER_KEY, loadMasterKey } from './crypto/master-key';
import { DATA_KEY_STORE, DataKeyStore, SqliteDataKeyStore } from './crypto/data-key.store';
import { KEY_WRAPPER, KeyWrapper } from './crypto/key-wrapper.port';
import { LocalKeyWrapper } from './crypto/local.key-wrapper';
import { PROJECTIONS, Projection } from './read-side/projection';
import { PROJECTION_CLASSES } from './read-side/read-models';
import { ProjectionRunner } from './read-side/projection-runner';
import { READ_MODEL_DB, openReadModelDatabase } from './read-side/read-model.database';
import { SECRET_GENERATOR, cryptoSecretGenerator } from './keys/shared/secret-generator';
import { TokenService } from './auth/token.service';
import { CallerAuthentication } from './auth/caller-authentication';
import { GrpcCall } from './grpc/grpc-call';
import { LEASE_STORE, LeaseStore, ProcessLeaseStore } from './fleet/lease-store';
import { EventStreamLeaseStore } from './fleet/event-stream.lease-store';
import { Leadership } from './fleet/leadership';
import { StorageHealth } from './health/storage-health';
import { Metrics } from './observability/metrics';
import { activeTracer } from './observability/tracing';
import { tracedEventStore } from './observability/traced.event-store';

/** Closes the stores after everything that reads or writes them has stopped. */
@Injectable()
class StorageLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(READ_MODEL_DB) private readonly readModels: Database.Database,
    @Inject(DATA_KEY_STORE) private readonly dataKeys: DataKeyStore,
    private readonly runner: ProjectionRunner,
    private readonly leadership: Leadership,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    // Nest runs one module's hooks together: the singleton jobs and the runner's batch in flight must end
    // before the store closes.
    await this.leadership.onApplicationShutdown();
    await this.runner.onApplicationShutdown();
    await this.store.close();
    if (this.readModels.open) this.readModels.close();
    await this.dataKeys.close();
  }
}

/**
 * Next to the events when they are in PostgreSQL, so that every instance reads what any encrypted;
 * otherwise in DATA_DIR (a KurrentDB stream cannot be truly deleted, which crypto-shredding needs).
 */
async function openDataKeyStore(config: AppConfig, wrapper: KeyWrapper): Promise<DataKeyStore> {
  if (config.eventStore.kind === 'postgres' && config.eventStore.databaseUrl !== null) {
    const { PostgresDataKeyStore } = await import('./crypto/postgres.data-key.store');
    return PostgresDataKeyStore.open(config.eventStore.databaseUrl, wrapper);
  }
  return SqliteDataKeyStore.open(config.dataDir, wrapper);
}

export interface StorageOverrides {
  readonly eventStore?: EventStore;
  readonly clock?: typeof systemClock;
}

/** Leases where the events are: PostgreSQL rows, KurrentDB streams, or the process itself on SQLite. */
async function openLeaseStore(config: AppConfig, store: EventStore, readModels: Database.Database): Promise<LeaseStore> {
  const settings = config.eventStore;
  if (settings.kind === 'postgres' && settings.databaseUrl !== null) {
    const { PostgresLeaseStore } = await import('./fleet/postgres.lease-store');
    return PostgresLeaseStore.connect(settings.databaseUrl);
  }
  if (settings.kind === 'kurrentdb') return new EventStreamLeaseStore(store);
  return new ProcessLeaseStore(readModels);
}

/** Config, the event store, the read side and the process-wide ports, for every module. */
@Global()
@Module({})
export class StorageModule {
  static forRoot(config: AppConfig, overrides: StorageOverrides = {}) {
    fs.mkdirSync(config.dataDir, { recursive: true });
    const providers: Provider[] = [
      { provide: APP_CONFIG, useValue: config },
      { provide: CLOCK, useValue: overrides.clock ?? systemClock },
      { provide: SECRET_GENERATOR, useValue: cryptoSecretGenerator },
      { provide: MASTER_KEY, useFactory: () => loadMasterKey(config) },
      { provide: KEY_WRAPPER, useFactory: (masterKey: Buffer) => new LocalKeyWrapper(masterKey), inject: [MASTER_KEY] },
      // Opening proves the master key against the stored data keys: a wrong one stops start-up here.
      { provide: DATA_KEY_STORE, useFactory: (wrapper: KeyWrapper) => openDataKeyStore(config, wrapper), inject: [KEY_WRAPPER] },
      {
        provide: EVENT_STORE,
        useFactory: async (metrics: Metrics) => {
          const store = overrides.eventStore ?? (await openEventStore(config.eventStore));
          store.observe?.(metrics.eventStoreObserver);
          const tracer = activeTracer();
          return tracer === null ? store : tracedEventStore(store, config.eventStore.kind, tracer);
        },
        inject: [Metrics],
      },
      { provide: READ_MODEL_DB, useFactory: () => openReadModelDatabase(config.dataDir) },
      {
        provide: LEASE_STORE,
        useFactory: (store: EventStore, readModels: Database.Database) => openLeaseStore(config, store, readModels),
        inject: [EVENT_STORE, READ_MODEL_DB],
      },
      Leadership,
      ...PROJECTION_CLASSES,
      { provide: PROJECTIONS, useFactory: (...projections: Projection[]) => projections, inject: [...PROJECTION_CLASSES] },
      StorageHealth,
      ProjectionRunner,
      StorageLifecycle,
      TokenService,
      CallerAuthentication,
      GrpcCall,
    ];
    return {
      module: StorageModule,
      providers,
      exports: providers.filter((p) => p !== StorageLifecycle).map((p) => ('provide' in p ? p.provide : p)),
    };
  }
}
