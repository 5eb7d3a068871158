import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '../config/app.config';
import { DomainError } from '../common/domain-error';
import { Provider } from './domain/provider-key.events';

export const ANTHROPIC_VERSION = '2023-06-01';

/**
 * "Verify and Save": one authenticated `GET {base}/v1/models` with the provider's own scheme. A 401 or
 * 403 means the key is wrong (422); anything else that is not a 2xx, a timeout or a network failure
 * means the key could not be checked (502). Neither message repeats the key or the provider's body.
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
      response = await fetch(`${base}/v1/models`, { headers: { ...headers, accept: 'application/json' }, signal: AbortSignal.timeout(this.config.providers.verifyTimeoutMs) });
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
    const body = (await response.json().catch(() => null)) as { data?: Array<{ id?: unknown }> } | null;
    return (body?.data ?? []).map((m) => m.id).filter((id): id is string => typeof id === 'string').sort();
  }
}
