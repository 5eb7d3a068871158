import { DomainError } from '../../common/domain-error';

/**
 * DigitalOcean's rule (1-100 lowercase letters, digits, hyphens, periods), and not shaped like a key:
 * no `sk-` at the start, no segment (between `.` and `-`) of 24 or more letters and digits mixed, as
 * provider keys' random parts are. Lookaheads only, so the pattern reads the same in ECMA-262 and in
 * Python (schema-driven clients generate from the OpenAPI document's copy of it).
 */
export const PROVIDER_KEY_NAME = /^(?!sk-)(?!(?:.*[.-])?(?=[a-z0-9]*[a-z])(?=[a-z0-9]*[0-9])[a-z0-9]{24})[a-z0-9.-]{1,100}$/;
export const PROVIDER_KEY_NAME_RULE =
  'name must be 1-100 lowercase letters, digits, hyphens and periods, and not look like an API key (no sk- at the start, no run of 24 or more letters and digits mixed)';

/**
 * The name rule, then "never the key itself": a name that contains the key given with it, or is part
 * of it, is refused (422 NAME_CONTAINS_KEY, a rule across two fields), so a pasted secret does not end
 * up in every listing and log line that shows names.
 */
export function checkProviderKeyName(name: string, apiKey: string | null): string {
  if (!PROVIDER_KEY_NAME.test(name)) throw new DomainError('INVALID_NAME', PROVIDER_KEY_NAME_RULE, { field: 'name' });
  const lowerKey = apiKey?.toLowerCase() ?? null;
  if (lowerKey !== null && lowerKey.length >= 8 && (name.includes(lowerKey) || (name.length >= 8 && lowerKey.includes(name)))) {
    throw new DomainError('NAME_CONTAINS_KEY', 'name contains the API key or is part of it; give the key a name, not the key itself', { field: 'name' });
  }
  return name;
}
