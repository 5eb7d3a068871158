import { createHash } from 'node:crypto';
import { StoredEvent } from './event-store.port';

/**
 * The JSON Canonicalization Scheme, RFC 8785 (JCS): object members sorted by the UTF-16 code units
 * of their names, no whitespace, strings and numbers serialized as ECMAScript's JSON.stringify does
 * (RFC 8785 §3.2.2). Members whose value is undefined or a function are left out and such array
 * items are written `null`, as JSON.stringify does; a value with a toJSON method (a Date) is written
 * as what that returns.
 *
 * The input must be I-JSON (RFC 7493), as RFC 8785 requires: throws a TypeError on NaN, ±Infinity
 * and a string holding a lone surrogate. Request bodies with lone surrogates are refused with a 400
 * before they reach a command (common/json-body.ts), so no stored event holds one.
 *
 * Checked against RFC 8785's published examples and number vectors (Appendix B), and against the
 * `canonicalize` package by the RFC's co-author on generated values (event-hash.spec.ts). It is not
 * that package itself because the package is ESM-only: the versions for Node 20 cannot be
 * require()d, and the hash is computed synchronously on every append.
 */
export function canonicalJson(value: unknown): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`RFC 8785 (I-JSON) has no ${value}`);
    return JSON.stringify(value);
  }
  if (typeof value === 'string') {
    if (!value.isWellFormed()) throw new TypeError('RFC 8785 (I-JSON) has no string with a lone surrogate');
    return JSON.stringify(value);
  }
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return canonicalJson((value as { toJSON: () => unknown }).toJSON());
  if (Array.isArray(value)) {
    return `[${value.map((item) => (item === undefined || typeof item === 'function' || typeof item === 'symbol' ? 'null' : canonicalJson(item))).join(',')}]`;
  }
  const record = value as Record<string, unknown>;
  const members: string[] = [];
  for (const key of Object.keys(record).sort()) {
    const item = record[key];
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    members.push(`${canonicalJson(key)}:${canonicalJson(item)}`);
  }
  return `{${members.join(',')}}`;
}

export interface HashedContent {
  readonly type: string;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly revision: number;
}

/**
 * SHA-256, as 64 lower-case hex characters, over the UTF-8 bytes of the RFC 8785 canonical JSON of
 * `{prevHash, type, data, metadata, revision}` (prevHash null for a stream's first event). An
 * auditor recomputes it from an exported event with standard tools: see the README's "Audit".
 */
export function eventHash(prevHash: string | null, event: HashedContent): string {
  const text = canonicalJson({ prevHash, type: event.type, data: event.data, metadata: event.metadata, revision: event.revision });
  return createHash('sha256').update(text).digest('hex');
}

export interface ChainBreak {
  readonly streamId: string;
  readonly revision: number;
  readonly position: number;
  readonly field: 'prevHash' | 'hash' | 'revision';
  readonly expected: string;
  readonly found: string;
}

/**
 * Walks events in global order and checks each stream's chain: revisions contiguous from 0, each
 * event's prevHash the hash of the one before, and its hash the hash of its own content.
 */
export class ChainVerifier {
  private readonly heads = new Map<string, { revision: number; hash: string }>();
  private count = 0;

  get streams(): number {
    return this.heads.size;
  }

  get events(): number {
    return this.count;
  }

  check(event: StoredEvent): ChainBreak | null {
    this.count++;
    const head = this.heads.get(event.streamId);
    const expectedRevision = head ? head.revision + 1 : 0;
    const at = { streamId: event.streamId, revision: event.revision, position: event.position };
    if (event.revision !== expectedRevision) {
      return { ...at, field: 'revision', expected: String(expectedRevision), found: String(event.revision) };
    }
    const expectedPrev = head?.hash ?? null;
    if (event.prevHash !== expectedPrev) {
      return { ...at, field: 'prevHash', expected: String(expectedPrev), found: String(event.prevHash) };
    }
    const recomputed = eventHash(event.prevHash, event);
    if (event.hash !== recomputed) return { ...at, field: 'hash', expected: recomputed, found: event.hash };
    this.heads.set(event.streamId, { revision: event.revision, hash: event.hash });
    return null;
  }
}
