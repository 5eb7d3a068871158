/** Where a call came from; recorded with every event it causes, never a secret. */
export interface RequestContext {
  readonly requestId: string;
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
  /**
   * The W3C trace the call belongs to (32 hex digits) and the span that made it (16): the request's span
   * when tracing is on, else the caller's `traceparent`. Recorded with the events, next to correlationId,
   * so that an auditor can go from an event to its trace. Absent when neither is known.
   */
  readonly trace?: { readonly traceId: string; readonly spanId: string } | null;
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
    ...(context.trace ? { traceId: context.trace.traceId, spanId: context.trace.spanId } : {}),
  };
}
