import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Observable } from 'rxjs';
import { GRPC_CODES, toErrorAnswer } from '../http/app-exception.filter';
import { Metrics } from './metrics';

/**
 * Times every gRPC call into key_service_grpc_request_duration_seconds by method (the call's path,
 * `/package.Service/Method`: a fixed set) and status name, the status being the one the exception filter
 * answers with. A stream is timed to its end; one the client cancelled is CANCELLED. HTTP passes through:
 * the Fastify hook records it (metrics.http.ts).
 */
@Injectable()
export class GrpcMetricsInterceptor implements NestInterceptor {
  constructor(private readonly metrics: Metrics) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') return next.handle();
    const call = context.getArgByIndex(2) as { getPath?: () => string } | undefined;
    const method = call?.getPath?.() ?? `${context.getClass().name}.${context.getHandler().name}`;
    const started = performance.now();
    const record = (status: string) => this.metrics.grpcRequestDuration.labels(method, status).observe((performance.now() - started) / 1000);
    return new Observable((subscriber) => {
      let settled = false;
      const subscription = next.handle().subscribe({
        next: (value) => subscriber.next(value),
        error: (error: unknown) => {
          settled = true;
          record(GrpcStatus[GRPC_CODES[toErrorAnswer(error).status] ?? GrpcStatus.UNKNOWN]);
          subscriber.error(error);
        },
        complete: () => {
          settled = true;
          record('OK');
          subscriber.complete();
        },
      });
      return () => {
        if (!settled) record('CANCELLED');
        subscription.unsubscribe();
      };
    });
  }
}
