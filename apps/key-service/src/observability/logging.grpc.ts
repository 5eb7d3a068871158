import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { Observable } from 'rxjs';
import { grpcRoute, onGrpcSettled } from './grpc-call-outcome';
import { AppLogger, requestLogContext } from './logging';
import { callPrincipal } from '../auth/principal';
import { grpcRequestId } from '../common/request-id';

/**
 * One line per gRPC call, as logging.http.ts writes one per HTTP request: `transport: "grpc"`, the
 * call's path as `route` (`/package.Service/Method`), `grpc_status` (the name of the status the
 * exception filter answers with; CANCELLED for a stream the client left), `duration_ms`, `team_id` and
 * `user_id` once the call's token was accepted, and its `request_id` (the caller's x-request-id, or a
 * new one: the one its events record), which every line written while the call is handled carries too. A stream's
 * line is written when it ends. No metadata (the token) and no message is logged. HTTP passes through.
 */
@Injectable()
export class GrpcLoggingInterceptor implements NestInterceptor {
  constructor(private readonly logger: AppLogger) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') return next.handle();
    const route = grpcRoute(context);
    const metadata = context.getArgByIndex(1) as { get(key: string): unknown[] } | undefined;
    const requestId = metadata && typeof metadata.get === 'function' ? grpcRequestId(metadata) : randomUUID();
    const started = performance.now();
    const pino = this.logger.pino;
    const line = (grpcStatus: string) => {
      const level = grpcStatus === 'INTERNAL' || grpcStatus === 'UNKNOWN' ? 'error' : 'info';
      if (!pino.isLevelEnabled(level)) return;
      const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
      const principal = callPrincipal(context.getArgByIndex(1));
      pino[level](
        {
          request_id: requestId,
          transport: 'grpc',
          route,
          grpc_status: grpcStatus,
          duration_ms: durationMs,
          ...(principal ? { team_id: principal.teamId, user_id: principal.userId } : {}),
        },
        `gRPC ${route} ${grpcStatus}`,
      );
    };
    // Every line written while the call is handled carries its request id.
    return onGrpcSettled(next, line, (run) => requestLogContext.run({ requestId }, run));
  }
}
