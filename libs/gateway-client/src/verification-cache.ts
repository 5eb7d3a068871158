import { VerifyAnswer, VerifyTarget } from './types';

interface Entry {
  readonly answer: VerifyAnswer;
  readonly storedAt: number;
  readonly ttlMs: number;
  /** From the answer's expires_at: after it, a cached VALID becomes EXPIRED without a call. */
  readonly expiresAtMs: number;
}

const EXPIRED_FROM_CACHE = (answer: VerifyAnswer): VerifyAnswer => ({ ...answer, valid: false, code: 'EXPIRED', source: 'cache' });

/**
 * Answers by secret hash, then by call target. A revocation names hashes, so eviction drops every
 * answer for a hash at once. `generation` guards the race of an answer in flight while its hash is
 * revoked: such an answer is returned to its caller but never stored.
 */
export class VerificationCache {
  private readonly byHash = new Map<string, Map<string, Entry>>();
  private readonly revokedAt = new Map<string, number>();
  private entries = 0;
  private generationCounter = 0;

  constructor(
    private readonly options: { readonly validTtlMs: number; readonly invalidTtlMs: number; readonly maxEntries: number },
  ) {}

  static targetKey(target: VerifyTarget): string {
    return `${target.model ?? ''}\u0000${target.vpcUuid ?? ''}\u0000${target.deploymentName ?? ''}\u0000${target.batch === true ? 1 : 0}`;
  }

  get size(): number {
    return this.entries;
  }

  get generation(): number {
    return this.generationCounter;
  }

  get(hash: string, targetKey: string, now: number): VerifyAnswer | undefined {
    const entry = this.byHash.get(hash)?.get(targetKey);
    if (entry === undefined) return undefined;
    if (now - entry.storedAt > entry.ttlMs) {
      this.drop(hash, targetKey);
      return undefined;
    }
    if (now >= entry.expiresAtMs) return EXPIRED_FROM_CACHE(entry.answer);
    return entry.answer;
  }

  /** Stores an answer unless its hash was revoked since `generation` was read. */
  put(hash: string, targetKey: string, answer: VerifyAnswer, generation: number, now: number): void {
    if ((this.revokedAt.get(hash) ?? -1) > generation) return;
    if (this.entries >= this.options.maxEntries) this.evictOldest();
    let forHash = this.byHash.get(hash);
    if (!forHash) this.byHash.set(hash, (forHash = new Map()));
    if (!forHash.has(targetKey)) this.entries++;
    forHash.set(targetKey, {
      answer: { ...answer, source: 'cache' },
      storedAt: now,
      ttlMs: answer.valid ? this.options.validTtlMs : this.options.invalidTtlMs,
      expiresAtMs: answer.expiresAt ? Date.parse(answer.expiresAt) : Number.POSITIVE_INFINITY,
    });
  }

  /** Drops every answer for these hashes; returns how many. */
  evict(hashes: readonly string[]): number {
    const generation = ++this.generationCounter;
    let dropped = 0;
    for (const hash of hashes) {
      this.revokedAt.set(hash, generation);
      const forHash = this.byHash.get(hash);
      if (forHash) {
        dropped += forHash.size;
        this.entries -= forHash.size;
        this.byHash.delete(hash);
      }
    }
    // Only answers in flight need the revoked hashes; keep the most recent ones.
    if (this.revokedAt.size > 100_000) {
      for (const hash of [...this.revokedAt.keys()].slice(0, 50_000)) this.revokedAt.delete(hash);
    }
    return dropped;
  }

  clear(): void {
    this.byHash.clear();
    this.entries = 0;
  }

  private drop(hash: string, targetKey: string): void {
    const forHash = this.byHash.get(hash);
    if (forHash?.delete(targetKey)) this.entries--;
    if (forHash && forHash.size === 0) this.byHash.delete(hash);
  }

  /** Maps iterate in insertion order: the first hash is the oldest stored. */
  private evictOldest(): void {
    const oldest = this.byHash.keys().next();
    if (oldest.done) return;
    this.entries -= this.byHash.get(oldest.value)?.size ?? 0;
    this.byHash.delete(oldest.value);
  }
}
