/** Where a call came from; recorded with every event it causes, never a secret. */
export interface RequestContext {
  readonly requestId: string;
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
}

/** Who acted (a principal, or an operator tool such as keyctl) and from where. */
export function eventMetadata(actor: { readonly teamId: string; readonly userId: string; readonly role: string }, context: RequestContext) {
  return {
    actor: { userId: actor.userId, role: actor.role, teamId: actor.teamId },
    requestId: context.requestId,
    correlationId: context.requestId,
    causationId: null,
    sourceIp: context.sourceIp,
    userAgent: context.userAgent,
  };
}
