/**
 * Wraps and unwraps data keys with a master key that never leaves the wrapper. The local adapter
 * holds KEY_ENCRYPTION_KEY in memory; a cloud KMS adapter (AWS KMS Encrypt/Decrypt, GCP Cloud KMS,
 * Vault transit) implements the same two calls, which is why they are asynchronous.
 */
export const KEY_WRAPPER = Symbol('KEY_WRAPPER');

export interface KeyWrapper {
  /** `context` is bound to the result (authenticated, not secret): a wrapped key only unwraps under it. */
  wrap(dataKey: Buffer, context: string): Promise<string>;
  /** Throws when the wrapped key was not made by this master key or under this context. */
  unwrap(wrapped: string, context: string): Promise<Buffer>;
}
