import { Principal } from '../auth/principal';

/** Where a call came from; recorded with every event it causes, never a secret. */
export interface RequestContext {
  readonly requestId: string;
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
}

export function eventMetadata(actor: Pick<Principal, 'teamId' | 'userId' | 'role'> | { userId: string; role: string; teamId: string }, context: RequestContext) {
  return {
    actor: { userId: actor.userId, role: actor.role, teamId: actor.teamId },
    requestId: context.requestId,
    correlationId: context.requestId,
    causationId: null,
    sourceIp: context.sourceIp,
    userAgent: context.userAgent,
  };
}
