import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * AES-256-GCM with a fresh 96-bit nonce per message. Output: version byte, nonce, tag, ciphertext,
 * as base64. `purpose` keys are derived from the master key with HKDF so that one use never
 * decrypts another's data.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  static derive(masterKey: Buffer, purpose: string): SecretBox {
    return new SecretBox(Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), purpose, 32)));
  }

  seal(plaintext: string, associatedData = ''): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    cipher.setAAD(Buffer.from(associatedData));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.from([1]), nonce, cipher.getAuthTag(), body]).toString('base64');
  }

  open(sealed: string, associatedData = ''): string {
    const raw = Buffer.from(sealed, 'base64');
    if (raw[0] !== 1) throw new Error('unknown sealed format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(1, 13));
    decipher.setAAD(Buffer.from(associatedData));
    decipher.setAuthTag(raw.subarray(13, 29));
    return Buffer.concat([decipher.update(raw.subarray(29)), decipher.final()]).toString('utf8');
  }
}
