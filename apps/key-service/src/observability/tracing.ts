import { Logger } from '@nestjs/common';
import { Attributes, DiagLogLevel, Span, SpanKind, SpanStatusCode, Tracer, diag, isSpanContextValid, trace } from '@opentelemetry/api';
import type { TracingConfig } from '../config/app.config';

/**
 * OpenTelemetry traces, exported over OTLP/HTTP (JSON) when OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (see TracingConfig). Spans: every HTTP request
 * (tracing.http.ts) and gRPC call (tracing.grpc.ts), each command, each event-store append
 * (traced.event-store.ts) and each send of the Kafka relay. An incoming W3C `traceparent` (HTTP header
 * or gRPC metadata) is the parent, and the trace and span id of the command are recorded in the
 * metadata of the events it appends (`traceId`, `spanId`, next to `correlationId`).
 *
 * Without the variable the SDK is never loaded and no span code runs: callers test `activeTracer()`
 * (a module variable) and take the plain path when it is null, and the HTTP and gRPC hooks are not
 * even installed, so the verify route pays nothing (bench:gateway measures both).
 */

let tracer: Tracer | null = null;
let provider: { shutdown(): Promise<void>; forceFlush(): Promise<void> } | null = null;

/** The service's tracer, or null when tracing is off. */
export function activeTracer(): Tracer | null {
  return tracer;
}

/**
 * Loads the SDK and registers it as the process's tracer provider, with the W3C trace-context
 * propagator and the AsyncLocalStorage context manager (so that a span started while a request is
 * served is its child). Once per process; a second call returns the first tracer.
 */
export function startTracing(config: TracingConfig): Tracer {
  if (tracer !== null) return tracer;
  /* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
  const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node') as typeof import('@opentelemetry/sdk-trace-node');
  const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
  const { ATTR_SERVICE_NAME } = require('@opentelemetry/semantic-conventions') as typeof import('@opentelemetry/semantic-conventions');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const sdk = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: config.tracesUrl }), { scheduledDelayMillis: config.exportDelayMs })],
  });
  // The SDK reports a failed export (a collector that is down, a 4xx) through its diagnostic logger: to ours, as warnings.
  const logger = new Logger('Tracing');
  diag.setLogger(
    {
      error: (message, ...args) => logger.warn(`${message} ${args.map(String).join(' ')}`.trim()),
      warn: (message, ...args) => logger.warn(`${message} ${args.map(String).join(' ')}`.trim()),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    DiagLogLevel.WARN,
  );
  sdk.register();
  provider = sdk;
  tracer = trace.getTracer('model-keys');
  logger.log(`exporting traces to ${config.tracesUrl} as ${config.serviceName}`);
  return tracer;
}

/** Sends the spans still buffered and stops exporting (at shutdown). Resolves at once when tracing is off. */
export async function stopTracing(): Promise<void> {
  const current = provider;
  provider = null;
  tracer = null;
  if (current === null) return;
  try {
    await current.shutdown();
  } catch (error) {
    new Logger('Tracing').warn(`the last spans could not be exported: ${(error as Error).message}`);
  }
}

/**
 * Runs `run` inside a new span (a child of the active one), ending it when `run` settles; a thrown or
 * rejected error marks the span as failed with the error's name (never its message, which may quote
 * input). With tracing off, `run()` itself.
 */
export async function inSpan<T>(name: string, options: { kind?: SpanKind; attributes?: Attributes }, run: (span: Span | null) => Promise<T>): Promise<T> {
  const current = tracer;
  if (current === null) return run(null);
  return current.startActiveSpan(name, options, async (span) => {
    try {
      return await run(span);
    } catch (error) {
      failSpan(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Marks a span as failed (status ERROR, `error.type` as the semantic conventions name it). */
export function failSpan(span: Span, error: unknown, type?: string): void {
  const code = type ?? ((error as { code?: unknown })?.code !== undefined ? String((error as { code: unknown }).code) : error instanceof Error ? error.name : 'Error');
  span.setAttribute('error.type', code);
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/** The trace and span of the active span, in the W3C form (32 and 16 lower-case hex digits); null when none. */
export function activeTraceIds(): { traceId: string; spanId: string } | null {
  if (tracer === null) return null;
  const span = trace.getActiveSpan();
  if (span === undefined) return null;
  const { traceId, spanId } = span.spanContext();
  return isSpanContextValid(span.spanContext()) ? { traceId, spanId } : null;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/**
 * The trace and parent span named by a W3C `traceparent` value (https://www.w3.org/TR/trace-context/,
 * version 00; all-zero ids are invalid), or null. Used when tracing is off, so that an event still
 * names the caller's trace.
 */
export function parseTraceparent(value: unknown): { traceId: string; spanId: string } | null {
  if (typeof value !== 'string') return null;
  const match = TRACEPARENT.exec(value.trim());
  if (match === null || /^0+$/.test(match[1]) || /^0+$/.test(match[2])) return null;
  return { traceId: match[1], spanId: match[2] };
}
