import { loadConfig } from './app.config';

const load = (env: NodeJS.ProcessEnv) => loadConfig({ NODE_ENV: 'test', DATA_DIR: '/tmp/unused', ...env });

describe('tracing configuration (OpenTelemetry variables)', () => {
  it('is off unless an OTLP endpoint is set', () => {
    expect(load({}).tracing).toBeNull();
    expect(load({ OTEL_SERVICE_NAME: 'x' }).tracing).toBeNull();
  });

  it('OTEL_EXPORTER_OTLP_ENDPOINT is a base URL to which /v1/traces is appended; the traces endpoint is taken whole', () => {
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({ tracesUrl: 'http://collector:4318/v1/traces', serviceName: 'key-service', exportDelayMs: 5000 });
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/otlp/traces' }).tracing?.tracesUrl).toBe('https://b/otlp/traces');
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_SERVICE_NAME: 'keys-eu', OTEL_BSP_SCHEDULE_DELAY: '250' }).tracing).toMatchObject({ serviceName: 'keys-eu', exportDelayMs: 250 });
  });

  it('OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it off again', () => {
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_SDK_DISABLED: 'true' }).tracing).toBeNull();
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_TRACES_EXPORTER: 'none' }).tracing).toBeNull();
  });

  it('a bad value stops start-up, naming the variable', () => {
    expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(/^OTEL_EXPORTER_OTLP_ENDPOINT: must be an http or https URL/);
    expect(() => load({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'ftp://x' })).toThrow(/^OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: /);
    expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/^OTEL_EXPORTER_OTLP_PROTOCOL: must be http\/json/);
    expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/^OTEL_TRACES_EXPORTER: must be one of otlp, none/);
    expect(() => load({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(/^OTEL_TRACES_EXPORTER: /);
    expect(() => load({ OTEL_SDK_DISABLED: 'yes' })).toThrow(/^OTEL_SDK_DISABLED: must be one of true, false/);
    // The SDK's own variables, which it would otherwise ignore when wrong.
    expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_EXPORTER_OTLP_HEADERS: 'garbage-no-equals' })).toThrow(/^OTEL_EXPORTER_OTLP_HEADERS: must be key=value pairs/);
    expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_EXPORTER_OTLP_TIMEOUT: 'abc' })).toThrow(/^OTEL_EXPORTER_OTLP_TIMEOUT: /);
    expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_BSP_MAX_QUEUE_SIZE: 'abc' })).toThrow(/^OTEL_BSP_MAX_QUEUE_SIZE: /);
    expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_TRACES_SAMPLER: 'bogus' })).toThrow(/^OTEL_TRACES_SAMPLER: /);
    expect(load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abc,dd-site=eu', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio' }).tracing).not.toBeNull();
  });

  it('an endpoint with credentials, a query or a fragment is refused without echoing it (an API key goes in OTEL_EXPORTER_OTLP_HEADERS)', () => {
    for (const bad of ['http://user:s3cretpass@collector:4318', 'http://collector:4318/?api_key=APIKEYLEAK', 'http://collector:4318/#x']) {
      expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: bad })).toThrow(/^OTEL_EXPORTER_OTLP_ENDPOINT: must be an http or https URL without credentials, query or fragment/);
      try {
        load({ OTEL_EXPORTER_OTLP_ENDPOINT: bad });
      } catch (error) {
        expect((error as Error).message).not.toMatch(/s3cretpass|APIKEYLEAK/);
      }
    }
    expect(() => load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a', OTEL_BSP_SCHEDULE_DELAY: 'soon' })).toThrow(/^OTEL_BSP_SCHEDULE_DELAY: /);
  });
});
