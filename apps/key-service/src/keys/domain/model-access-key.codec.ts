import { StoredEvent } from '@lib/event-store';
import { MODEL_ACCESS_KEY_EVENT_TYPES, ModelAccessKeyEvent, ModelScope } from './model-access-key.events';

type Upcaster = (data: Record<string, unknown>) => ModelAccessKeyEvent;

/**
 * Stored form to domain form. Old shapes are upcast here, keyed by their stored type name, so that
 * decide, evolve and the projections only ever see the current shapes. A type name is never renamed;
 * a field added later gets its default here, for the events stored before it.
 */
const upcasters: Readonly<Record<string, Upcaster>> = {
  // The first shape had no description, expiry, VPC or batch flag, and a single `model` or none.
  ModelAccessKeyCreated: ({ model, ...data }) => ({
    type: 'ModelAccessKeyCreated',
    data: {
      ...(data as unknown as Extract<ModelAccessKeyEvent, { type: 'ModelAccessKeyCreated' }>['data']),
      models: (data.models as ModelScope | undefined) ?? (typeof model === 'string' ? [model] : 'all'),
      vpcUuid: (data.vpcUuid as string | null | undefined) ?? null,
      batchInferenceEnabled: (data.batchInferenceEnabled as boolean | undefined) ?? false,
      description: (data.description as string | null | undefined) ?? null,
      expiresAt: (data.expiresAt as string | null | undefined) ?? null,
    },
  }),
  // Imports made before display prefixes were kept.
  LegacyModelAccessKeyImported: (data) => ({
    type: 'LegacyModelAccessKeyImported',
    data: {
      ...(data as unknown as Extract<ModelAccessKeyEvent, { type: 'LegacyModelAccessKeyImported' }>['data']),
      secretPrefix: (data.secretPrefix as string | null | undefined) ?? null,
    },
  }),
};

export function decodeKeyEvent(stored: Pick<StoredEvent, 'type' | 'data'>): ModelAccessKeyEvent {
  const upcast = upcasters[stored.type];
  if (upcast) return upcast(stored.data as Record<string, unknown>);
  if (!MODEL_ACCESS_KEY_EVENT_TYPES.has(stored.type)) throw new Error(`Unknown stored event type ${stored.type}`);
  return { type: stored.type, data: stored.data } as ModelAccessKeyEvent;
}
