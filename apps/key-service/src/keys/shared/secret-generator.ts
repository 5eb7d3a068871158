import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SecretDigest } from '../domain/model-access-key.commands';

export const SECRET_GENERATOR = Symbol('SECRET_GENERATOR');

/** Recognisable in logs, in code search and by secret scanners. */
export const SECRET_PREFIX = 'mak_';
const SECRET_BYTES = 32;
const DISPLAY_PREFIX_LENGTH = SECRET_PREFIX.length + 8;

export interface GeneratedSecret {
  readonly plaintext: string;
  readonly digest: SecretDigest;
}

export interface SecretGenerator {
  newSecret(): GeneratedSecret;
  newKeyUuid(): string;
}

export function hashSecret(plaintext: string): string {
  return createHash('sha256').update(plaintext).digest('hex');
}

/** 256 bits from the CSPRNG, base64url; only the hash and the first characters are kept. */
export const cryptoSecretGenerator: SecretGenerator = {
  newSecret() {
    const plaintext = SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64url');
    return { plaintext, digest: { hash: hashSecret(plaintext), prefix: plaintext.slice(0, DISPLAY_PREFIX_LENGTH) } };
  },
  newKeyUuid: () => randomUUID(),
};

/** A uuid derived from a hash: the same idempotent create always names the same stream. */
export function uuidFromHash(hex: string): string {
  const h = hex.slice(0, 32).split('');
  h[12] = '8'; // version 8: custom
  h[16] = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16); // RFC 4122 variant
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}
