/** `service`: an internal caller that may read provider-key plaintexts (and nothing else). */
export const ROLES = ['owner', 'member', 'auditor', 'gateway', 'service'] as const;
export type Role = (typeof ROLES)[number];

/** Who is acting: taken from the bearer token of every request. */
export interface Principal {
  readonly teamId: string;
  readonly userId: string;
  readonly role: Role;
}
