import { createHash } from 'node:crypto';
import { StoredEvent } from './event-store.port';

/**
 * Canonical JSON: object keys sorted by code unit, no whitespace, what JSON.stringify drops dropped
 * (undefined, functions) and numbers as JSON.stringify writes them. The same value gives the same
 * text whether it comes from the command or is read back from any store.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const entries = Object.keys(value as object)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined && typeof (value as Record<string, unknown>)[key] !== 'function')
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(',')}}`;
}

export interface HashedContent {
  readonly type: string;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly revision: number;
}

/** SHA-256 (hex) over the canonical JSON of (previous hash, type, data, metadata, revision). */
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
