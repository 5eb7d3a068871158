import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { grpcRoute, onGrpcSettled } from './grpc-call-outcome';
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
    const method = grpcRoute(context);
    const started = performance.now();
    return onGrpcSettled(next, (status) => this.metrics.grpcRequestDuration.labels(method, status).observe((performance.now() - started) / 1000));
  }
}
