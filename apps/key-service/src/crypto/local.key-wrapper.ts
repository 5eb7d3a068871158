import { KeyWrapper } from './key-wrapper.port';
import { SecretBox } from './secret-box';

/** KEY_ENCRYPTION_KEY in this process: AES-256-GCM under a key derived for wrapping data keys only. */
export class LocalKeyWrapper implements KeyWrapper {
  private readonly box: SecretBox;

  constructor(masterKey: Buffer) {
    this.box = SecretBox.derive(masterKey, 'data-key-wrapping');
  }

  async wrap(dataKey: Buffer, context: string): Promise<string> {
    return this.box.seal(dataKey.toString('base64'), context);
  }

  async unwrap(wrapped: string, context: string): Promise<Buffer> {
    return Buffer.from(this.box.open(wrapped, context), 'base64');
  }
}
