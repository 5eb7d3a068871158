import { KEY_STREAM_PREFIX } from './keys/domain/model-access-key.events';
import { NAME_STREAM_PREFIX } from './names/domain/name-registry.events';
import { PROVIDER_KEY_STREAM_PREFIX } from './provider-keys/domain/provider-key.events';

/**
 * Every stream category this service writes. The read side, replay and `keyctl audit verify` read the
 * global order through this filter: a KurrentDB server may hold other applications' streams too, and
 * it filters them out on the server.
 */
export const SERVICE_STREAM_PREFIXES: readonly string[] = [KEY_STREAM_PREFIX, NAME_STREAM_PREFIX, PROVIDER_KEY_STREAM_PREFIX];
