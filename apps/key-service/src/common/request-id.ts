import { randomUUID } from 'node:crypto';
import { SECRET_PREFIX } from '../keys/shared/secret-generator';

/** What a caller's X-Request-Id (HTTP) or x-request-id (gRPC metadata) may be: 1-128 of [A-Za-z0-9_.-]. */
const REQUEST_ID = /^[\w.-]{1,128}$/;

/**
 * Prefixes of the secrets this service issues or holds (its own `mak_` keys; OpenAI's `sk-` and
 * Anthropic's `sk-ant-` provider keys). A request id is recorded in every event it causes and in every
 * log line, and the event log cannot be edited: a caller that passes a secret as its request id (by
 * mistake, or a client that reuses the wrong header) must not get it stored for good.
 */
const SECRET_LIKE = new RegExp(`^(?:${SECRET_PREFIX}|sk-)`, 'i');

/** The caller's request id when it is well formed and not secret-like, else null (a new one is made). */
export function callerRequestId(value: unknown): string | null {
  return typeof value === 'string' && REQUEST_ID.test(value) && !SECRET_LIKE.test(value) ? value : null;
}

const callIds = new WeakMap<object, string>();

/**
 * The request id of a gRPC call, by its metadata object: the caller's x-request-id when acceptable,
 * else a new uuid; the same for every reader of the call (its log line, its events' metadata).
 */
export function grpcRequestId(metadata: { get(key: string): unknown[] }): string {
  let id = callIds.get(metadata);
  if (id === undefined) {
    id = callerRequestId(metadata.get('x-request-id')[0]) ?? randomUUID();
    callIds.set(metadata, id);
  }
  return id;
}
