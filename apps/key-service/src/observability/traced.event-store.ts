import { SpanKind, Tracer } from '@opentelemetry/api';
import { ConcurrencyError, EventStore, EventStoreKind } from '@lib/event-store';
import { failSpan } from './tracing';

/** db.system.name as the database semantic conventions spell it (KurrentDB has no registered value). */
const DB_SYSTEM: Readonly<Record<EventStoreKind, string>> = { sqlite: 'sqlite', postgres: 'postgresql', kurrentdb: 'kurrentdb' };

/**
 * The event store with a CLIENT span around every append, named `append {stream category}`
 * (`append model_access_key`), a child of the command's span. Attributes: db.system.name,
 * db.operation.name (`append`), db.collection.name (the category), event_store.stream_id,
 * event_store.event_count, event_store.expected_revision and, once stored, event_store.position (the
 * global position of the last event). The span lasts from the call to the answer, a wait for the group
 * commit included. A concurrency conflict is an ERROR span of error.type ConcurrencyError. Only used when
 * tracing is on: reads are not traced (a command's read is part of its span).
 */
export function tracedEventStore(store: EventStore, kind: EventStoreKind, tracer: Tracer): EventStore {
  const appendToStream: EventStore['appendToStream'] = (streamId, events, expected) => {
    const category = streamId.slice(0, Math.max(0, streamId.indexOf('-'))) || streamId;
    return tracer.startActiveSpan(
      `append ${category}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system.name': DB_SYSTEM[kind],
          'db.operation.name': 'append',
          'db.collection.name': category,
          'event_store.stream_id': streamId,
          'event_store.event_count': events.length,
          'event_store.expected_revision': String(expected),
        },
      },
      async (span) => {
        try {
          const result = await store.appendToStream(streamId, events, expected);
          span.setAttribute('event_store.position', result.lastPosition);
          return result;
        } catch (error) {
          failSpan(span, error, error instanceof ConcurrencyError ? 'ConcurrencyError' : undefined);
          throw error;
        } finally {
          span.end();
        }
      },
    );
  };
  // Every other member is the store's own, called on the store itself (its state stays in one object).
  return new Proxy(store, {
    get(target, property) {
      if (property === 'appendToStream') return appendToStream;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
