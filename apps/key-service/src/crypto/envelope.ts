import { Inject, Injectable } from '@nestjs/common';
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { DATA_KEY_STORE, DataKeyStore } from './data-key.store';
import { KEY_WRAPPER, KeyWrapper } from './key-wrapper.port';

/** What the event log holds for an encrypted secret: no key material, only the data key's id. */
export interface SealedSecret {
  readonly alg: 'A256GCM';
  readonly dataKeyId: string;
  /** base64: 12-byte nonce */
  readonly nonce: string;
  /** base64: ciphertext followed by the 16-byte tag */
  readonly ciphertext: string;
}

export class DataKeyDestroyedError extends Error {
  constructor(readonly dataKeyId: string) {
    super(`data key ${dataKeyId} was destroyed: the secret can no longer be decrypted`);
    this.name = 'DataKeyDestroyedError';
  }
}

/**
 * Envelope encryption: a fresh AES-256 data key per secret, the secret encrypted with it (the
 * ciphertext goes into the event), the data key wrapped by the master key and kept in the data-key
 * store. `aad` binds a ciphertext to its owner, so one key's ciphertext cannot be passed off as another's.
 */
@Injectable()
export class Envelope {
  constructor(
    @Inject(KEY_WRAPPER) private readonly wrapper: KeyWrapper,
    @Inject(DATA_KEY_STORE) private readonly dataKeys: DataKeyStore,
  ) {}

  async seal(plaintext: string, ownerId: string, aad: string, now: string): Promise<SealedSecret> {
    const dataKey = randomBytes(32);
    const dataKeyId = randomUUID();
    try {
      await this.dataKeys.put(dataKeyId, ownerId, await this.wrapper.wrap(dataKey, wrapContext(dataKeyId, ownerId)), now);
      const nonce = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', dataKey, nonce);
      cipher.setAAD(Buffer.from(aad));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return { alg: 'A256GCM', dataKeyId, nonce: nonce.toString('base64'), ciphertext: body.toString('base64') };
    } finally {
      dataKey.fill(0);
    }
  }

  async open(sealed: SealedSecret, ownerId: string, aad: string): Promise<string> {
    const wrapped = await this.dataKeys.get(sealed.dataKeyId);
    if (wrapped === null) throw new DataKeyDestroyedError(sealed.dataKeyId);
    const dataKey = await this.wrapper.unwrap(wrapped, wrapContext(sealed.dataKeyId, ownerId));
    try {
      const raw = Buffer.from(sealed.ciphertext, 'base64');
      const decipher = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(sealed.nonce, 'base64'));
      decipher.setAAD(Buffer.from(aad));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      return Buffer.concat([decipher.update(raw.subarray(0, raw.length - 16)), decipher.final()]).toString('utf8');
    } finally {
      dataKey.fill(0);
    }
  }

  /** Crypto-shredding: every ciphertext made with this data key is unreadable from now on. */
  destroy(dataKeyId: string): Promise<void> {
    return this.dataKeys.destroy(dataKeyId);
  }
}

const wrapContext = (dataKeyId: string, ownerId: string) => `data-key:${dataKeyId}:owner:${ownerId}`;
