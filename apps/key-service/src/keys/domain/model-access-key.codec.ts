import { StoredEvent } from '@lib/event-store';
import { MODEL_ACCESS_KEY_EVENT_TYPES, ModelAccessKeyEvent } from './model-access-key.events';

/**
 * Stored form to domain form. Old shapes are upcast here, keyed by their stored type name, so that
 * decide, evolve and the projections only ever see the current shapes.
 */
const upcasters: Readonly<Record<string, (data: unknown) => ModelAccessKeyEvent>> = {};

export function decodeKeyEvent(stored: Pick<StoredEvent, 'type' | 'data'>): ModelAccessKeyEvent {
  const upcast = upcasters[stored.type];
  if (upcast) return upcast(stored.data);
  if (!MODEL_ACCESS_KEY_EVENT_TYPES.has(stored.type)) throw new Error(`Unknown stored event type ${stored.type}`);
  return { type: stored.type, data: stored.data } as ModelAccessKeyEvent;
}
