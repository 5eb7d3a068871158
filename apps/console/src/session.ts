/** Who is signed in: the token (in session storage, gone with the tab) and what it names. */
export type Role = 'owner' | 'member' | 'auditor' | 'gateway' | 'service';

export interface Session {
  readonly token: string;
  readonly teamId: string;
  readonly userId: string;
  readonly role: Role;
}

/**
 * Where a provider's token names the team, the user and the role, as the service reads it
 * (AUTH_TEAM_CLAIM, AUTH_USER_CLAIM, AUTH_ROLE_CLAIM, AUTH_ROLE_MAP), from GET /v1/console/config.
 */
export interface ProviderClaims {
  readonly team: string;
  readonly user: string;
  readonly role: string;
  readonly role_map: Readonly<Record<string, string>>;
}

const STORAGE_KEY = 'model-keys-console.token';
const CLAIMS_KEY = 'model-keys-console.claims';
/** The service's order (principal.ts): when several of a token's groups map, the first of these wins. */
const ROLES: readonly Role[] = ['owner', 'member', 'auditor', 'gateway', 'service'];

function payloadOf(token: string): Record<string, unknown> | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    // base64url of UTF-8: atob yields one character per byte, TextDecoder makes them text again.
    const binary = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(parts[1].length / 4) * 4, '='));
    const json = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    const payload: unknown = JSON.parse(json);
    return payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? (payload as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * A claim by name, as the service's claimAt (token.service.ts): a top-level claim of that exact name
 * first (namespaced claims hold dots), else a dotted path through nested objects. Own properties only.
 */
export function claimAt(payload: Readonly<Record<string, unknown>>, name: string): unknown {
  if (Object.hasOwn(payload, name)) return payload[name];
  let node: unknown = payload;
  for (const part of name.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** The service's role for a provider's role claim: each value mapped (or itself if a role), the first in ROLES' order. */
export function roleOf(raw: unknown, roleMap: Readonly<Record<string, string>>): Role | null {
  const names = (Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === 'string');
  const mapped = new Set(names.map((name) => (Object.hasOwn(roleMap, name) ? roleMap[name] : name)));
  return ROLES.find((r) => mapped.has(r)) ?? null;
}

/**
 * The team, user and role a token names, read from its payload for the screens (which tabs, which
 * buttons): the service's own token (`team_id`, `sub`, `role`), or, given the provider's claims, a
 * provider's token. Only the service checks the signature: a forged payload gains nothing but a wrong screen.
 */
export function sessionOf(token: string, provider: ProviderClaims | null = null): Session | null {
  const trimmed = token.trim();
  const payload = payloadOf(trimmed);
  if (payload === null) return null;
  const own = (teamId: unknown, userId: unknown, role: unknown): Session | null =>
    typeof teamId === 'string' && typeof userId === 'string' && ROLES.includes(role as Role) ? { token: trimmed, teamId, userId, role: role as Role } : null;
  // The service tells its own tokens (HS256) from a provider's by the algorithm; the console can only
  // try both readings: the own one first, as the service's claims are fixed.
  const mine = own(payload.team_id, payload.sub, payload.role);
  if (mine !== null || provider === null) return mine;
  return own(claimAt(payload, provider.team), claimAt(payload, provider.user), roleOf(claimAt(payload, provider.role), provider.role_map));
}

/**
 * The token to use with the service, from the provider's answer: the access token when it is a JWT
 * (the provider issued it for the service's audience), else the ID token (whose aud is the client id,
 * which AUTH_AUDIENCE must then hold). Null when neither is there.
 */
export function bearerOf(answer: { access_token?: string; id_token?: string }): string | null {
  const jwt = (value: string | undefined) => typeof value === 'string' && /^[\w-]+\.[\w-]+\.[\w-]+$/.test(value);
  if (jwt(answer.access_token)) return answer.access_token!;
  if (jwt(answer.id_token)) return answer.id_token!;
  return null;
}

export function storedSession(): Session | null {
  const token = sessionStorage.getItem(STORAGE_KEY);
  if (token === null) return null;
  let claims: ProviderClaims | null = null;
  try {
    claims = JSON.parse(sessionStorage.getItem(CLAIMS_KEY) ?? 'null') as ProviderClaims | null;
  } catch {
    // a damaged entry: read the token as the service's own
  }
  return sessionOf(token, claims);
}

/** Keeps the token, and how it was read (a reload reads it the same way before the config arrives). */
export function storeSession(session: Session | null, claims: ProviderClaims | null = null): void {
  if (session === null) {
    sessionStorage.removeItem(STORAGE_KEY);
    sessionStorage.removeItem(CLAIMS_KEY);
    return;
  }
  sessionStorage.setItem(STORAGE_KEY, session.token);
  if (claims === null) sessionStorage.removeItem(CLAIMS_KEY);
  else sessionStorage.setItem(CLAIMS_KEY, JSON.stringify(claims));
}
