/** `service`: an internal caller that may read provider-key plaintexts (and nothing else). */
export const ROLES = ['owner', 'member', 'auditor', 'gateway', 'service'] as const;
export type Role = (typeof ROLES)[number];

/** Who is acting: taken from the bearer token of every request. */
export interface Principal {
  readonly teamId: string;
  readonly userId: string;
  readonly role: Role;
}

/**
 * A team id is an address too (Gcore's `project_id` in `/cloud/v3/inference/{project_id}/...`):
 * 1-128 ASCII letters, digits, and `.`, `_`, `:`, `@`, `-`, starting with a letter or digit.
 */
export const TEAM_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
/** A user id (a token's `sub`): 1-256 printable characters, no whitespace, controls or bidirectional marks. */
export const USER_ID = /^[\x21-\x7e\u00a1-\u061b\u061d-\u200a\u2010-\u2027\u2030-\u205e\u2070-\ud7ff\ue000-\ufefe\uff00-\ufffc]{1,256}$/;

/** What is wrong with a token's team id or user id, or null: stored in every event, both must be clean. */
export function principalProblem(teamId: string, userId: string): string | null {
  if (!TEAM_ID.test(teamId)) return 'team_id must be 1-128 letters, digits, ".", "_", ":", "@" or "-", starting with a letter or digit';
  if (!USER_ID.test(userId)) return 'sub must be 1-256 printable characters without whitespace, controls or bidirectional marks';
  return null;
}

/**
 * The principal of a gRPC call, once its token was accepted, by the call's metadata object: what the
 * HTTP side keeps on the request (request.principal), for the call's log line (team_id, user_id).
 */
const callPrincipals = new WeakMap<object, Principal>();

export function rememberCallPrincipal(metadata: object, principal: Principal): void {
  callPrincipals.set(metadata, principal);
}

/** The principal rememberCallPrincipal kept for this metadata object, if any. */
export function callPrincipal(metadata: unknown): Principal | undefined {
  return typeof metadata === 'object' && metadata !== null ? callPrincipals.get(metadata) : undefined;
}
