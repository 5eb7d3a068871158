/** Who is signed in: the token (in session storage, gone with the tab) and what it names. */
export type Role = 'owner' | 'member' | 'auditor' | 'gateway' | 'service';

export interface Session {
  readonly token: string;
  readonly teamId: string;
  readonly userId: string;
  readonly role: Role;
}

const STORAGE_KEY = 'model-keys-console.token';
const ROLES: readonly Role[] = ['owner', 'member', 'auditor', 'gateway', 'service'];

/**
 * The team, user and role a token names, read from its payload for the screens (which tabs, which
 * buttons). Only the service checks the signature: a forged payload gains nothing but a wrong screen.
 */
export function sessionOf(token: string): Session | null {
  const parts = token.trim().split('.');
  if (parts.length !== 3) return null;
  try {
    // base64url of UTF-8: atob yields one character per byte, TextDecoder makes them text again.
    const binary = atob(parts[1].replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(parts[1].length / 4) * 4, '='));
    const json = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    const payload = JSON.parse(json) as { team_id?: unknown; sub?: unknown; role?: unknown };
    if (typeof payload.team_id !== 'string' || typeof payload.sub !== 'string' || !ROLES.includes(payload.role as Role)) return null;
    return { token: token.trim(), teamId: payload.team_id, userId: payload.sub, role: payload.role as Role };
  } catch {
    return null;
  }
}

export function storedSession(): Session | null {
  const token = sessionStorage.getItem(STORAGE_KEY);
  return token === null ? null : sessionOf(token);
}

export function storeSession(session: Session | null): void {
  if (session === null) sessionStorage.removeItem(STORAGE_KEY);
  else sessionStorage.setItem(STORAGE_KEY, session.token);
}
