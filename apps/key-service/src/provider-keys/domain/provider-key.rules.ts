import { DomainError } from '../../common/domain-error';

export const PROVIDER_KEY_NAME = /^[a-z0-9.-]{1,100}$/;
export const PROVIDER_KEY_NAME_RULE = 'name must be 1-100 lowercase letters, digits, hyphens and periods';

/**
 * DigitalOcean's rule (lowercase letters, digits, hyphens, periods) and "never the key itself": a
 * name that is, contains or starts like a provider key is refused, so a pasted secret does not end up
 * in every listing and log line that shows names.
 */
export function checkProviderKeyName(name: string, apiKey: string | null): string {
  if (!PROVIDER_KEY_NAME.test(name)) throw new DomainError('INVALID_NAME', PROVIDER_KEY_NAME_RULE, { field: 'name' });
  const lowerKey = apiKey?.toLowerCase() ?? null;
  const looksLikeKey =
    /^sk-/.test(name) ||
    (lowerKey !== null && lowerKey.length >= 8 && (name.includes(lowerKey) || (name.length >= 8 && lowerKey.includes(name)))) ||
    name.split(/[.-]/).some((part) => part.length >= 24 && /[a-z]/.test(part) && /[0-9]/.test(part));
  if (looksLikeKey) {
    throw new DomainError('INVALID_NAME', 'name looks like an API key; give the key a name, not the key itself', { field: 'name' });
  }
  return name;
}
