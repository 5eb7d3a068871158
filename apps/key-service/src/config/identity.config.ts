import { ROLES, Role } from '../auth/principal';
import { ConfigError } from './config-error';

/** Tokens from a company's OpenID Connect provider, verified against its published keys (JWKS, RFC 7517). */
export interface IdentityProviderConfig {
  /** AUTH_JWKS_URL: the provider's JWK Set (`jwks_uri` of its `/.well-known/openid-configuration`). */
  readonly jwksUrl: string;
  /** AUTH_ISSUER: the exact `iss` its tokens carry. */
  readonly issuer: string;
  /** AUTH_AUDIENCE (comma-separated): a token's `aud` must hold one of them. */
  readonly audience: readonly string[];
  /** AUTH_TEAM_CLAIM (default `team_id`): the claim naming the team; a name or a dotted path. */
  readonly teamClaim: string;
  /** AUTH_USER_CLAIM (default `sub`): the claim naming the user. */
  readonly userClaim: string;
  /** AUTH_ROLE_CLAIM (default `role`): the claim holding the role or groups, a string or an array of them. */
  readonly roleClaim: string;
  /**
   * AUTH_ROLE_MAP (`provider-name:role,...`): the provider's role or group names and the service's role
   * each means. A value equal to a service role (`owner`, ...) means that role unless mapped otherwise.
   */
  readonly roleMap: ReadonlyMap<string, Role>;
  /** AUTH_JWKS_COOLDOWN_MS (default 30000): at least this long between two fetches for an unknown `kid`. */
  readonly jwksCooldownMs: number;
  /** AUTH_JWKS_CACHE_MAX_AGE_MS (default 600000): the key set is fetched again after this long. */
  readonly jwksCacheMaxAgeMs: number;
  /** AUTH_JWKS_TIMEOUT_MS (default 5000): a fetch of the key set gives up after this long. */
  readonly jwksTimeoutMs: number;
}

/** A claim name: a top-level name (`https://example.com/roles` too), or a dotted path (`realm_access.roles`). */
const CLAIM = /^[\x21-\x7e]{1,256}$/;

/**
 * AUTH_JWKS_URL with AUTH_ISSUER and AUTH_AUDIENCE; null when AUTH_JWKS_URL is unset (only the
 * service's own HS256 tokens are accepted then). Errors (ConfigError naming the variable): a URL that
 * is not http(s) (https with NODE_ENV=production), AUTH_ISSUER or AUTH_AUDIENCE missing, a claim name
 * with spaces or controls, an AUTH_ROLE_MAP entry that is not `name:role` with a known role, a mapping
 * variable set without AUTH_JWKS_URL, a duration out of bounds.
 */
export function identityProviderOf(env: NodeJS.ProcessEnv, production: boolean): IdentityProviderConfig | null {
  const raw = env.AUTH_JWKS_URL?.trim();
  if (!raw) {
    for (const name of ['AUTH_ISSUER', 'AUTH_AUDIENCE', 'AUTH_TEAM_CLAIM', 'AUTH_USER_CLAIM', 'AUTH_ROLE_CLAIM', 'AUTH_ROLE_MAP']) {
      if (env[name]?.trim()) throw new ConfigError(name, 'is set but AUTH_JWKS_URL is not: provider tokens need the provider\'s key set');
    }
    return null;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('AUTH_JWKS_URL', `must be an https URL (got "${raw}")`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && !production)) {
    throw new ConfigError('AUTH_JWKS_URL', `must be an https URL${production ? ' when NODE_ENV=production' : ''} (got "${raw}")`);
  }
  const issuer = env.AUTH_ISSUER?.trim();
  if (!issuer) throw new ConfigError('AUTH_ISSUER', 'is required with AUTH_JWKS_URL: the exact iss of the provider\'s tokens');
  const audience = (env.AUTH_AUDIENCE ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  if (audience.length === 0) throw new ConfigError('AUTH_AUDIENCE', 'is required with AUTH_JWKS_URL: the aud the provider puts in tokens for this service');
  return {
    jwksUrl: url.href,
    issuer,
    audience,
    teamClaim: claimOf(env, 'AUTH_TEAM_CLAIM', 'team_id'),
    userClaim: claimOf(env, 'AUTH_USER_CLAIM', 'sub'),
    roleClaim: claimOf(env, 'AUTH_ROLE_CLAIM', 'role'),
    roleMap: roleMapOf(env.AUTH_ROLE_MAP),
    jwksCooldownMs: durationOf(env, 'AUTH_JWKS_COOLDOWN_MS', 30_000, 0, 3_600_000),
    jwksCacheMaxAgeMs: durationOf(env, 'AUTH_JWKS_CACHE_MAX_AGE_MS', 600_000, 1000, 86_400_000),
    jwksTimeoutMs: durationOf(env, 'AUTH_JWKS_TIMEOUT_MS', 5000, 100, 60_000),
  };
}

function claimOf(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!CLAIM.test(raw) || raw.startsWith('.') || raw.endsWith('.')) {
    throw new ConfigError(name, `must be a claim name or a dotted path such as realm_access.roles, without spaces (got "${raw}")`);
  }
  return raw;
}

function roleMapOf(raw: string | undefined): ReadonlyMap<string, Role> {
  const map = new Map<string, Role>();
  for (const entry of (raw ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    // The provider's name may hold colons (an URN group); the role is after the last one.
    const at = entry.lastIndexOf(':');
    const name = at > 0 ? entry.slice(0, at).trim() : '';
    const role = at > 0 ? entry.slice(at + 1).trim() : '';
    if (name === '' || !(ROLES as readonly string[]).includes(role)) {
      throw new ConfigError('AUTH_ROLE_MAP', `entries must be provider-name:role with role one of ${ROLES.join(', ')} (got "${entry}")`);
    }
    if (map.has(name) && map.get(name) !== role) throw new ConfigError('AUTH_ROLE_MAP', `maps "${name}" twice`);
    map.set(name, role as Role);
  }
  return map;
}

function durationOf(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new ConfigError(name, `must be an integer from ${min} to ${max} (got "${raw}")`);
  return Number(raw);
}

/** The console's sign-in through the OpenID Connect provider (authorization code with PKCE, a public client). */
export interface ConsoleOidcConfig {
  /** AUTH_ISSUER, as an URL: discovery is `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** CONSOLE_OIDC_CLIENT_ID: the console's client at the provider, public (no secret), PKCE required. */
  readonly clientId: string;
  /** CONSOLE_OIDC_SCOPES (default `openid profile`): the scopes the console asks for; `openid` among them. */
  readonly scopes: readonly string[];
}

/** RFC 6749's scope-token: printable ASCII but space, double quote and backslash. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * CONSOLE_OIDC_CLIENT_ID and CONSOLE_OIDC_SCOPES; null when the client id is unset (the console then
 * offers no provider sign-in). Errors (ConfigError naming the variable): either set without
 * AUTH_JWKS_URL (the service could not check the tokens the console would get), AUTH_ISSUER not an http(s)
 * URL (https with NODE_ENV=production) without query or fragment, a client id with spaces or controls,
 * scopes without `openid` or with a character RFC 6749 does not allow.
 */
export function consoleOidcOf(env: NodeJS.ProcessEnv, provider: IdentityProviderConfig | null, production: boolean): ConsoleOidcConfig | null {
  const clientId = env.CONSOLE_OIDC_CLIENT_ID?.trim();
  const rawScopes = env.CONSOLE_OIDC_SCOPES?.trim();
  if (!clientId) {
    if (rawScopes) throw new ConfigError('CONSOLE_OIDC_SCOPES', 'is set but CONSOLE_OIDC_CLIENT_ID is not');
    return null;
  }
  if (provider === null) {
    throw new ConfigError('CONSOLE_OIDC_CLIENT_ID', 'is set but AUTH_JWKS_URL is not: the service could not check the provider\'s tokens the console signs in with');
  }
  if (!/^[\x21-\x7e]{1,256}$/.test(clientId)) throw new ConfigError('CONSOLE_OIDC_CLIENT_ID', `must be 1 to 256 printable characters without spaces (got "${clientId}")`);
  let issuer: URL | null = null;
  try {
    issuer = new URL(provider.issuer);
  } catch {
    // reported below
  }
  const secure = issuer?.protocol === 'https:' || (issuer?.protocol === 'http:' && !production);
  if (issuer === null || !secure || issuer.search !== '' || issuer.hash !== '' || issuer.username !== '' || issuer.password !== '') {
    throw new ConfigError(
      'AUTH_ISSUER',
      `must be an ${production ? 'https' : 'http or https'} URL without query or fragment when CONSOLE_OIDC_CLIENT_ID is set: the console discovers the provider from it (got "${provider.issuer}")`,
    );
  }
  const scopes = (rawScopes || 'openid profile').split(/\s+/);
  for (const scope of scopes) {
    if (!SCOPE_TOKEN.test(scope)) throw new ConfigError('CONSOLE_OIDC_SCOPES', `must be scope names separated by spaces (got "${scope}")`);
  }
  if (!scopes.includes('openid')) throw new ConfigError('CONSOLE_OIDC_SCOPES', `must include openid (got "${rawScopes}")`);
  return { issuer: provider.issuer, clientId, scopes: [...new Set(scopes)] };
}
