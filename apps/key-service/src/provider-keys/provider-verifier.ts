import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { DomainError } from '../common/domain-error';
import { Provider } from './domain/provider-key.events';

export const ANTHROPIC_VERSION = '2023-06-01';

/** What is read of, and kept from, a provider's model list; more than that is not a list we can trust. */
export const MAX_PROVIDER_BODY_BYTES = 1024 * 1024;
export const MAX_PROVIDER_MODELS = 1000;
const MAX_MODEL_ID_LENGTH = 200;
// C0, DEL, C1, and the bidirectional marks, embeddings, overrides and isolates: an id is shown to people.
const UNSHOWABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

/**
 * "Verify and Save": one authenticated `GET {base}/v1/models` with the provider's own scheme. A 401 or
 * 403 means the key is wrong (422); anything else that is not a 2xx, a timeout or a network failure
 * means the key could not be checked (502). Neither message repeats the key or the provider's body.
 * Redirects are not followed: Anthropic's key would go to another origin, and OpenAI's request would
 * lose its Authorization there and be "verified" by whoever answers; a 3xx is a 502 like any non-2xx.
 * A 2xx must be the provider's list (`{data: [{id: string}, ...]}`, at most 1 MiB and 1,000 entries),
 * else 502; ids that are not 1-200 well-formed, showable characters are dropped.
 */
@Injectable()
export class ProviderVerifier {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** The model ids the provider lists for the key. */
  async verify(provider: Provider, apiKey: string): Promise<string[]> {
    const base = provider === 'anthropic' ? this.config.providers.anthropicBaseUrl : this.config.providers.openaiBaseUrl;
    const headers: Record<string, string> =
      provider === 'anthropic' ? { 'x-api-key': apiKey, 'anthropic-version': ANTHROPIC_VERSION } : { authorization: `Bearer ${apiKey}` };
    let response: Response;
    try {
      response = await fetch(`${base}/v1/models`, {
        headers: { ...headers, accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(this.config.providers.verifyTimeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
      throw new DomainError('PROVIDER_UNREACHABLE', `could not reach ${provider} at ${base} to verify the key (${cause}); nothing was stored`);
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new DomainError('PROVIDER_KEY_REJECTED', `${provider} rejected the key (HTTP ${response.status}); nothing was stored`, { field: 'api_key' });
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new DomainError('PROVIDER_UNREACHABLE', `${provider} answered HTTP ${response.status} while verifying the key; nothing was stored`);
    }
    const ids = modelIdsOf(await readBounded(response));
    if (ids === null) {
      throw new DomainError('PROVIDER_UNREACHABLE', `${provider} answered HTTP ${response.status} without a model list while verifying the key; nothing was stored`);
    }
    return ids;
  }
}

/** The body as text, or null when it is larger than MAX_PROVIDER_BODY_BYTES or breaks off. */
async function readBounded(response: Response): Promise<string | null> {
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_PROVIDER_BODY_BYTES) {
        await reader.cancel();
        return null;
      }
      chunks.push(value);
    }
  } catch {
    return null;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The sorted, distinct, showable ids of `{data: [{id: string}, ...]}`; null for any other shape. */
export function modelIdsOf(text: string | null): string[] | null {
  if (text === null) return null;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return null;
  }
  const data = (body as { data?: unknown } | null)?.data;
  if (typeof body !== 'object' || body === null || !Array.isArray(data) || data.length > MAX_PROVIDER_MODELS) return null;
  const ids = new Set<string>();
  for (const entry of data as unknown[]) {
    const id = (entry as { id?: unknown } | null)?.id;
    if (typeof entry !== 'object' || entry === null || typeof id !== 'string') return null;
    const length = [...id].length;
    if (length >= 1 && length <= MAX_MODEL_ID_LENGTH && id.isWellFormed() && !UNSHOWABLE.test(id)) ids.add(id);
  }
  return [...ids].sort();
}
