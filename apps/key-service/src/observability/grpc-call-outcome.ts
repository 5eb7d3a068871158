import { CallHandler, ExecutionContext } from '@nestjs/common';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Observable } from 'rxjs';
import { GRPC_CODES, toErrorAnswer } from '../http/app-exception.filter';

/** The call's path (`/package.Service/Method`, a fixed set), or the handler's name when grpc-js gives none. */
export function grpcRoute(context: ExecutionContext): string {
  const call = context.getArgByIndex(2) as { getPath?: () => string } | undefined;
  return call?.getPath?.() ?? `${context.getClass().name}.${context.getHandler().name}`;
}

/**
 * The handler's answer, passed through, with `settled` called once with the gRPC status name it ends
 * in: the one the exception filter answers with for an error, OK when it completes, CANCELLED for a
 * stream the client left. The metrics and the log line of a call both hang on this.
 */
export function onGrpcSettled(next: CallHandler, settled: (grpcStatus: string) => void, around: <T>(run: () => T) => T = (run) => run()): Observable<unknown> {
  return new Observable((subscriber) => {
    let done = false;
    const subscription = around(() =>
      next.handle().subscribe({
        next: (value) => subscriber.next(value),
        error: (error: unknown) => {
          done = true;
          settled(GrpcStatus[GRPC_CODES[toErrorAnswer(error).status] ?? GrpcStatus.UNKNOWN]);
          subscriber.error(error);
        },
        complete: () => {
          done = true;
          settled('OK');
          subscriber.complete();
        },
      }),
    );
    return () => {
      if (!done) settled('CANCELLED');
      subscription.unsubscribe();
    };
  });
}
