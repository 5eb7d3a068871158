import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Record<string, unknown>;
  readonly status?: { code?: number };
  readonly service: string;
}

/** OTLP's SpanKind numbers (opentelemetry-proto trace.proto). */
export const OTLP_SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4 } as const;

/**
 * A small OTLP/HTTP receiver: what a collector does with POST /v1/traces in the JSON encoding
 * (https://opentelemetry.io/docs/specs/otlp/#otlphttp): it keeps every span and answers 200 {}.
 */
export async function startOtlpReceiver() {
  const spans: ReceivedSpan[] = [];
  const paths: string[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      paths.push(`${request.method} ${request.url} ${request.headers['content-type']}`);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceSpans: any[] };
      for (const resourceSpans of body.resourceSpans ?? []) {
        const service = resourceSpans.resource?.attributes?.find((a: any) => a.key === 'service.name')?.value?.stringValue;
        for (const scope of resourceSpans.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            const attributes: Record<string, unknown> = {};
            for (const a of span.attributes ?? []) attributes[a.key] = a.value.stringValue ?? a.value.intValue ?? a.value.boolValue ?? a.value.doubleValue;
            spans.push({ traceId: span.traceId, spanId: span.spanId, parentSpanId: span.parentSpanId || undefined, name: span.name, kind: span.kind, attributes, status: span.status, service });
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const waitFor = async (found: () => ReceivedSpan | undefined, what: string): Promise<ReceivedSpan> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const span = found();
      if (span !== undefined) return span;
      if (Date.now() > deadline) throw new Error(`no span ${what} among ${JSON.stringify(spans.map((s) => s.name))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { url, spans, paths, waitFor, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
