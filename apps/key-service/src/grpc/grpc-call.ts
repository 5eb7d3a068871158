import { Injectable } from '@nestjs/common';
import type { Metadata, ServerUnaryCall } from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import { DomainError } from '../common/domain-error';
import { RequestContext } from '../common/request-context';
import { grpcRequestId } from '../common/request-id';
import { activeTraceIds, parseTraceparent } from '../observability/tracing';
import { Principal, Role, rememberCallPrincipal } from '../auth/principal';
import { TokenSession } from '../auth/token.service';
import { CallerAuthentication, VerifiedCertificate, fromPeerCertificate } from '../auth/caller-authentication';
import { ModelScope } from '../keys/domain/model-access-key.events';
import { ModelAccessKey } from '../keys/domain/model-access-key.state';

export const MANAGEMENT_ROLES: readonly Role[] = ['owner', 'member', 'auditor'];

/** The gRPC side of what the HTTP guard and decorators do: the token from metadata, the call's context. */
@Injectable()
export class GrpcCall {
  constructor(private readonly authentication: CallerAuthentication) {}

  /** `call`: the call itself, for its verified client certificate (mutual TLS); without it, none is known. */
  async principal(metadata: Metadata, allowed: readonly Role[] = MANAGEMENT_ROLES, call?: WithAuthContext): Promise<Principal> {
    return (await this.session(metadata, allowed, call)).principal;
  }

  /** The principal with its token's (or certificate's) expiry: a streaming call must end then. */
  async session(metadata: Metadata, allowed: readonly Role[] = MANAGEMENT_ROLES, call?: WithAuthContext): Promise<TokenSession> {
    const header = metadata.get('authorization')[0];
    const session = await this.authentication.session(typeof header === 'string' ? header : undefined, verifiedCallCertificate(call));
    rememberCallPrincipal(metadata, session.principal);
    const { role } = session.principal;
    if (!allowed.includes(role)) throw new DomainError('FORBIDDEN', `role ${role} may not call this method`);
    return session;
  }

  context(metadata: Metadata, call?: ServerUnaryCall<unknown, unknown>): RequestContext {
    const agent = metadata.get('user-agent')[0];
    return {
      requestId: grpcRequestId(metadata),
      sourceIp: peerAddress(call?.getPeer?.()),
      userAgent: typeof agent === 'string' ? agent.slice(0, 512) : null,
      trace: activeTraceIds() ?? parseTraceparent(metadata.get('traceparent')[0]),
    };
  }
}

/** A gRPC call (unary or streaming): grpc-js gives its peer certificate only once the handshake verified it. */
export interface WithAuthContext {
  getAuthContext?(): { sslPeerCertificate?: PeerCertificate };
}

function verifiedCallCertificate(call: WithAuthContext | undefined): VerifiedCertificate | null {
  const certificate = call?.getAuthContext?.().sslPeerCertificate;
  return certificate ? fromPeerCertificate(certificate) : null;
}

/** proto3 has no "all" for a repeated field: an empty list with all_models = true. */
export function toGrpcKeyInfo(key: ModelAccessKey, secret?: string) {
  const models: ModelScope = key.models;
  return {
    uuid: key.keyUuid,
    name: key.name,
    secret_key: secret,
    created_at: key.createdAt,
    created_by: key.createdBy,
    deleted_at: key.deletedAt ?? undefined,
    updated_at: key.updatedAt,
    all_models: models === 'all',
    models: models === 'all' ? [] : [...models],
    vpc_uuid: key.vpcUuid ?? undefined,
    batch_inference_enabled: key.batchInferenceEnabled,
    legacy: key.legacy,
    description: key.description ?? undefined,
    deployment_names: [...key.deploymentNames],
    expires_at: key.expiresAt ?? undefined,
    secret_prefix: key.secretPrefix ?? undefined,
    limits: {
      requests_per_minute: key.limits.requestsPerMinute ?? undefined,
      tokens_per_minute: key.limits.tokensPerMinute ?? undefined,
      quota: key.limits.quota
        ? { requests: key.limits.quota.requests ?? undefined, tokens: key.limits.quota.tokens ?? undefined, period: key.limits.quota.period }
        : undefined,
    },
  };
}

/**
 * The address of a gRPC peer without its port, as HTTP records it: grpc-js gives `127.0.0.1:42928`,
 * `[::1]:42928` (or `ipv4:`/`ipv6:` forms); null when there is none.
 */
export function peerAddress(peer: string | undefined): string | null {
  if (!peer) return null;
  const bare = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(bare);
  if (bracketed) return bracketed[1];
  const v4 = /^([^:]+):\d+$/.exec(bare);
  return v4 ? v4[1] : bare;
}
