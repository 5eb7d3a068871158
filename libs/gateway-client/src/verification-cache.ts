import { VerifyAnswer, VerifyTarget } from './types';

interface Entry {
  readonly model: string | undefined;
  readonly vpcUuid: string | undefined;
  readonly deploymentName: string | undefined;
  readonly batch: boolean;
  readonly answer: VerifyAnswer;
  readonly storedAt: number;
  readonly ttlMs: number;
  /** From the answer's expires_at: after it, a cached VALID becomes EXPIRED without a call. */
  readonly expiresAtMs: number;
  /** From the answer's secret_ends_at (a regenerate's overlap): after it, the secret is NOT_FOUND without a call. */
  readonly secretEndsAtMs: number;
  /**
   * From a USAGE_EXCEEDED answer's resets_at: an answer stored before it is dropped at it, so the next
   * call asks the service again, without waiting for the quota_reset feed record or the answer's TTL.
   */
  readonly resetsAtMs: number;
}

/** Answers kept per secret; a gateway asks about few targets per secret. */
const MAX_TARGETS_PER_SECRET = 16;

const sameTarget = (entry: Entry, target: VerifyTarget): boolean =>
  entry.model === target.model &&
  entry.deploymentName === target.deploymentName &&
  entry.vpcUuid === target.vpcUuid &&
  entry.batch === (target.batch === true);

/**
 * Answers by secret hash, then by call target (compared field by field: no key string is built on
 * the hot path). A revocation names hashes, so eviction drops every answer for a hash at once.
 * `generation` guards the race of an answer in flight while its hash is revoked: such an answer is
 * returned to its caller but never stored.
 */
export class VerificationCache {
  private readonly byHash = new Map<string, Entry[]>();
  private readonly revokedAt = new Map<string, number>();
  private entries = 0;
  private generationCounter = 0;

  constructor(
    private readonly options: { readonly validTtlMs: number; readonly invalidTtlMs: number; readonly maxEntries: number },
  ) {}

  get size(): number {
    return this.entries;
  }

  get generation(): number {
    return this.generationCounter;
  }

  get(hash: string, target: VerifyTarget, now: number): VerifyAnswer | undefined {
    const forHash = this.byHash.get(hash);
    if (forHash === undefined) return undefined;
    for (let i = 0; i < forHash.length; i++) {
      const entry = forHash[i];
      if (!sameTarget(entry, target)) continue;
      // A denial stored after its resets_at (the gateway's clock behind the service's) lives its TTL.
      if (now - entry.storedAt > entry.ttlMs || (now >= entry.resetsAtMs && entry.storedAt < entry.resetsAtMs)) {
        this.dropAt(hash, forHash, i);
        return undefined;
      }
      if (now >= entry.secretEndsAtMs) return { valid: false, code: 'NOT_FOUND', source: 'cache' };
      return now >= entry.expiresAtMs ? { ...entry.answer, valid: false, code: 'EXPIRED' } : entry.answer;
    }
    return undefined;
  }

  /** Stores an answer unless its hash was revoked after `generation` was read. */
  put(hash: string, target: VerifyTarget, answer: VerifyAnswer, generation: number, now: number): void {
    if ((this.revokedAt.get(hash) ?? -1) > generation) return;
    let forHash = this.byHash.get(hash);
    if (!forHash) {
      if (this.entries >= this.options.maxEntries) this.evictOldest();
      this.byHash.set(hash, (forHash = []));
    }
    const existing = forHash.findIndex((entry) => sameTarget(entry, target));
    if (existing >= 0) this.dropAt(hash, forHash, existing);
    else if (forHash.length >= MAX_TARGETS_PER_SECRET) this.dropAt(hash, forHash, 0);
    if (!this.byHash.has(hash)) this.byHash.set(hash, forHash);
    forHash.push({
      model: target.model,
      vpcUuid: target.vpcUuid,
      deploymentName: target.deploymentName,
      batch: target.batch === true,
      answer: { ...answer, source: 'cache' },
      storedAt: now,
      ttlMs: answer.valid ? this.options.validTtlMs : this.options.invalidTtlMs,
      expiresAtMs: answer.expiresAt ? Date.parse(answer.expiresAt) : Number.POSITIVE_INFINITY,
      secretEndsAtMs: answer.secretEndsAt ? Date.parse(answer.secretEndsAt) : Number.POSITIVE_INFINITY,
      resetsAtMs: answer.code === 'USAGE_EXCEEDED' && answer.resetsAt ? Date.parse(answer.resetsAt) : Number.POSITIVE_INFINITY,
    });
    this.entries++;
  }

  /** Drops every answer for these hashes; returns how many. */
  evict(hashes: readonly string[]): number {
    const generation = ++this.generationCounter;
    let dropped = 0;
    for (const hash of hashes) {
      this.revokedAt.set(hash, generation);
      const forHash = this.byHash.get(hash);
      if (forHash) {
        dropped += forHash.length;
        this.entries -= forHash.length;
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

  private dropAt(hash: string, forHash: Entry[], index: number): void {
    forHash.splice(index, 1);
    this.entries--;
    if (forHash.length === 0) this.byHash.delete(hash);
  }

  /** Maps iterate in insertion order: the first hash is the oldest stored. */
  private evictOldest(): void {
    const oldest = this.byHash.keys().next();
    if (oldest.done) return;
    this.entries -= this.byHash.get(oldest.value)?.length ?? 0;
    this.byHash.delete(oldest.value);
  }
}
