import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import type { Metadata } from '@grpc/grpc-js';
import { Observable } from 'rxjs';
import { DomainError } from '../common/domain-error';
import { GrpcCall, WithAuthContext } from '../grpc/grpc-call';
import { VerificationLookup } from '../verification/verification.lookup';
import { parseVerifyKeyRequest, toVerifyResponse } from '../verification/verify-key.wire';
import { Revocation } from './revocation';
import { FeedEndReason, FeedSink, RevocationFeed } from './revocation-feed';

const GATEWAY_SERVICE = 'Gateway';
const GATEWAY_ONLY = ['gateway'] as const;

type FeedItem =
  | {
      revocation: Omit<Revocation, 'position' | 'secret_hashes' | 'deployment_name'> & {
        position: string;
        secret_hashes: string[];
        deployment_name?: string;
      };
    }
  | { heartbeat: { position: string; head_position: string; time: string } };

@Controller()
export class GatewayGrpcController {
  constructor(
    private readonly lookup: VerificationLookup,
    private readonly feed: RevocationFeed,
    private readonly grpc: GrpcCall,
  ) {}

  @GrpcMethod(GATEWAY_SERVICE, 'VerifyKey')
  async verifyKey(message: Record<string, unknown>, metadata: Metadata, call: WithAuthContext) {
    await this.grpc.principal(metadata, GATEWAY_ONLY, call);
    // proto3 `optional` fields come with synthetic oneof markers (_model, ...): only the fields count.
    const { key, model, vpc_uuid, deployment_name, batch } = message;
    const request = parseVerifyKeyRequest(
      Object.fromEntries(Object.entries({ key, model, vpc_uuid, deployment_name, batch }).filter(([, v]) => v !== undefined)),
    );
    const answer = toVerifyResponse(this.lookup.verify(request.key, request.target));
    const limits = answer.limits ?? null;
    return {
      ...answer,
      expires_at: answer.expires_at ?? undefined,
      resets_at: answer.resets_at ?? undefined,
      limits:
        limits === null
          ? undefined
          : {
              requests_per_minute: limits.requests_per_minute ?? undefined,
              tokens_per_minute: limits.tokens_per_minute ?? undefined,
              quota: limits.quota ? { requests: limits.quota.requests ?? undefined, tokens: limits.quota.tokens ?? undefined, period: limits.quota.period } : undefined,
            },
    };
  }

  @GrpcMethod(GATEWAY_SERVICE, 'WatchRevocations')
  async watchRevocations(message: { after?: string | number }, metadata: Metadata, call: WithAuthContext): Promise<Observable<FeedItem>> {
    const { expiresAtMs } = await this.grpc.session(metadata, GATEWAY_ONLY, call);
    const after = Number(message.after ?? 0);
    if (!Number.isSafeInteger(after) || after < 0) {
      throw new DomainError('VALIDATION_FAILED', 'after must be a position (an integer >= 0)', { field: 'after' });
    }
    return new Observable<FeedItem>((subscriber) => {
      const sink: FeedSink = {
        transport: 'grpc',
        get closed() {
          return subscriber.closed;
        },
        revocation: (r) =>
          subscriber.next({
            revocation: { ...r, position: String(r.position), secret_hashes: [...r.secret_hashes], deployment_name: r.deployment_name ?? undefined },
          }),
        heartbeat: (position, head) =>
          subscriber.next({ heartbeat: { position: String(position), head_position: String(head), time: new Date().toISOString() } }),
        // Nest's gRPC transport buffers what the call cannot take yet and writes it on 'drain'.
        drain: () => Promise.resolve(),
        end: (reason: FeedEndReason) => (reason === 'token_expired' ? subscriber.error(tokenExpired()) : subscriber.complete()),
      };
      let unsubscribe: (() => void) | null = null;
      void this.feed.subscribe(after, sink, expiresAtMs).then((stop) => {
        if (subscriber.closed) stop();
        else unsubscribe = stop;
      });
      return () => unsubscribe?.();
    });
  }
}

/** The call ends as an unauthenticated one would start (the filter maps it): a new token is needed to resume. */
const tokenExpired = () =>
  new DomainError('UNAUTHENTICATED', 'token expired: the token this call was opened with has expired; call again with a new one');
