import { Principal } from '../../auth/principal';

/** The fields of a key that decide who may see and manage it. */
export interface KeyOwnership {
  readonly teamId: string;
  readonly createdBy: string;
  readonly legacy: boolean;
}

/**
 * Owners and auditors see every key of their team; members see the keys they created and the
 * team's legacy keys; gateways and internal services see none through the management API.
 */
export function canSee(actor: Principal, key: KeyOwnership): boolean {
  if (actor.teamId !== key.teamId) return false;
  switch (actor.role) {
    case 'owner':
    case 'auditor':
      return true;
    case 'member':
      return key.createdBy === actor.userId || key.legacy;
    case 'gateway':
    case 'service':
      return false;
    default: {
      const role: never = actor.role;
      throw new Error(`Unknown role ${role as string}`);
    }
  }
}

/** Owners manage any key of their team; members only the keys they created; auditors and gateways none. */
export function canManage(actor: Principal, key: KeyOwnership): boolean {
  if (actor.teamId !== key.teamId) return false;
  if (actor.role === 'owner') return true;
  return actor.role === 'member' && key.createdBy === actor.userId;
}

export function canCreate(actor: Principal): boolean {
  return actor.role === 'owner' || actor.role === 'member';
}
