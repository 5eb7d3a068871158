import { AuditEventsProjection } from '../audit/audit-events.projection';
import { KeyViewsProjection } from '../keys/key-views.projection';
import { KeyPreviousSecretsProjection } from '../keys/key-previous-secrets.projection';
import { Projection } from './projection';
import { ProviderKeyViewsProjection } from '../provider-keys/provider-key-views.projection';
import { ProviderKeyAgentsProjection } from '../provider-keys/provider-key-agents.projection';
import { ProviderKeyReadsProjection } from '../provider-keys/provider-key-reads.projection';
import { RevocationsProjection } from '../revocations/revocations.projection';

/** Every read model built from the log: what the runner follows, and what a rebuild builds. */
export const PROJECTION_CLASSES: ReadonlyArray<new () => Projection> = [
  KeyViewsProjection,
  RevocationsProjection,
  AuditEventsProjection,
  ProviderKeyViewsProjection,
  KeyPreviousSecretsProjection,
  ProviderKeyAgentsProjection,
  ProviderKeyReadsProjection,
];
