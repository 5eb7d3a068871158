import { EventStore } from './event-store.port';
import { SqliteEventStore } from './sqlite.event-store';

export const EVENT_STORE_KINDS = ['sqlite', 'postgres', 'kurrentdb'] as const;
export type EventStoreKind = (typeof EVENT_STORE_KINDS)[number];

export interface EventStoreSettings {
  readonly kind: EventStoreKind;
  /** sqlite: the file. */
  readonly sqliteFile: string;
  /** postgres: DATABASE_URL. */
  readonly databaseUrl: string | null;
  /** kurrentdb: KURRENTDB_CONNECTION_STRING. */
  readonly kurrentdbConnectionString: string | null;
}

/**
 * The configured adapter, connected and checked. The server adapters are loaded only when chosen, so
 * the embedded default never loads the PostgreSQL or KurrentDB client.
 */
export async function openEventStore(settings: EventStoreSettings): Promise<EventStore> {
  switch (settings.kind) {
    case 'sqlite':
      return new SqliteEventStore(settings.sqliteFile);
    case 'postgres': {
      const { PostgresEventStore } = await import('./postgres.event-store');
      return PostgresEventStore.connect(required(settings.databaseUrl, 'DATABASE_URL'));
    }
    case 'kurrentdb': {
      const { KurrentDbEventStore } = await import('./kurrentdb.event-store');
      return KurrentDbEventStore.connect(required(settings.kurrentdbConnectionString, 'KURRENTDB_CONNECTION_STRING'));
    }
    default: {
      const unknownKind: never = settings.kind;
      throw new Error(`Unknown event store ${unknownKind as string}`);
    }
  }
}

function required(value: string | null, variable: string): string {
  if (value === null) throw new Error(`${variable} is required for this event store`);
  return value;
}
