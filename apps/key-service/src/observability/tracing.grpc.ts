import { CallHandler, ExecutionContext, NestInterceptor } from '@nestjs/common';
import type { Metadata } from '@grpc/grpc-js';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TextMapGetter, Tracer, context as otelContext, propagation, trace } from '@opentelemetry/api';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Observable } from 'rxjs';
import { grpcRoute, onGrpcSettled } from './grpc-call-outcome';

/** Reads `traceparent` and `tracestate` from gRPC metadata (string values; binary keys end in -bin). */
const METADATA_GETTER: TextMapGetter<Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const values = metadata.get(key).filter((value): value is string => typeof value === 'string');
    return values.length === 0 ? undefined : values;
  },
};

/**
 * A SERVER span for every gRPC call, named after its path (`package.Service/Method`), with the RPC
 * semantic conventions' attributes (rpc.system, rpc.service, rpc.method, rpc.grpc.status_code); the
 * caller's `traceparent` metadata is its parent, and the handler runs inside it. A stream's span lasts
 * to its end. Installed (app.useGlobalInterceptors) only when tracing is on; HTTP passes through.
 */
export class GrpcTracingInterceptor implements NestInterceptor {
  constructor(private readonly tracer: Tracer) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') return next.handle();
    const route = grpcRoute(context);
    const [service, method] = route.replace(/^\//, '').split('/');
    const metadata = context.getArgByIndex(1) as Metadata | undefined;
    const parent = metadata && typeof metadata.getMap === 'function' ? propagation.extract(ROOT_CONTEXT, metadata, METADATA_GETTER) : ROOT_CONTEXT;
    const span = this.tracer.startSpan(
      route.replace(/^\//, ''),
      { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.service': service, ...(method ? { 'rpc.method': method } : {}) } },
      parent,
    );
    const active = trace.setSpan(parent, span);
    return onGrpcSettled(
      next,
      (status) => {
        const code = (GrpcStatus as unknown as Record<string, number>)[status] ?? GrpcStatus.UNKNOWN;
        span.setAttribute('rpc.grpc.status_code', code);
        // The server-side rule of the RPC conventions: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
        // UNAVAILABLE and DATA_LOSS are errors; a client's mistake (INVALID_ARGUMENT, NOT_FOUND, ...) is not.
        if ([2, 4, 12, 13, 14, 15].includes(code)) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      },
      (run) => otelContext.with(active, run),
    );
  }
}
